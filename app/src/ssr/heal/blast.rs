//! Blast-radius limits, pure: a rule may heal at most `max_heals` targets of one scope (the
//! values of its `scope` labels, e.g. `job="api"`; the whole rule without) within `window`,
//! and at most `max_percent` of the scope's known targets (counted by a PromQL query the server
//! asks every 15 s). Past either, the scope trips: its further heals are parked for approval
//! (reason `blast_radius`) until an operator resets it. When the known targets are unknown
//! (Prometheus has not answered for 10 minutes, or never), `max_heals` alone applies: the
//! absolute cap always holds.
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// `[rules.blast_radius]`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BlastConfig {
    /// At most this many heals of the scope within `window` (required: the cap that holds
    /// whatever Prometheus says).
    pub max_heals: u32,
    /// At most this share (1..100) of the scope's known targets within `window`.
    #[serde(default)]
    pub max_percent: Option<u32>,
    #[serde(default = "default_window", with = "humantime_serde")]
    pub window: Duration,
    /// Label names whose values make the scope; none: the whole rule is one scope.
    #[serde(default)]
    pub scope: Vec<String>,
    /// PromQL giving the known targets per scope: one series per scope, labelled with the
    /// scope labels, its value the count (e.g. `count by (job) (up)`). Needed by `max_percent`.
    #[serde(default)]
    pub known_targets: Option<String>,
}

fn default_window() -> Duration {
    Duration::from_secs(600)
}

impl BlastConfig {
    /// Checks the limits make sense together.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_heals == 0 {
            return Err("max_heals must be at least 1".to_owned());
        }
        if self.max_percent.is_some_and(|p| !(1..=100).contains(&p)) {
            return Err("max_percent must be between 1 and 100".to_owned());
        }
        if self.max_percent.is_some() != self.known_targets.as_deref().is_some_and(|q| !q.trim().is_empty()) {
            return Err("max_percent and known_targets go together (a share of what?)".to_owned());
        }
        if self.window.is_zero() {
            return Err("window must be positive".to_owned());
        }
        if let Some(bad) = self.scope.iter().find(|l| !is_label_name(l)) {
            return Err(format!("scope: `{bad}` is not a label name"));
        }
        Ok(())
    }

    /// The scope of an alert with `labels`: `job="api",dc="eu"` in the configured order (a
    /// missing label counts as empty); `""` for a rule without scope labels.
    pub fn scope_of(&self, labels: &BTreeMap<String, String>) -> String {
        scope_key(self.scope.iter().map(|name| (name.as_str(), labels.get(name).map_or("", String::as_str))))
    }
}

/// `name="value",...`, values quoted as Rust/PromQL strings.
pub fn scope_key<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    pairs.map(|(name, value)| format!("{name}={value:?}")).collect::<Vec<_>>().join(",")
}

/// How a scope is shown to people.
pub fn scope_text(scope: &str) -> &str {
    if scope.is_empty() {
        "all its targets"
    } else {
        scope
    }
}

fn is_label_name(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// What the decision reads of a (rule, scope): its heals in the window (since its last reset),
/// and whether a trip is in force.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlastHistory {
    pub heals: u32,
    pub tripped: bool,
}

/// Known targets by (rule, scope), as last counted.
pub type KnownTargets = BTreeMap<(String, String), u32>;

/// The known targets in force, replaced whole by the server's counter; cheap to read.
#[derive(Clone, Debug, Default)]
pub struct LiveKnownTargets(Arc<RwLock<Arc<KnownTargets>>>);

impl LiveKnownTargets {
    pub fn current(&self) -> Arc<KnownTargets> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn replace(&self, known: KnownTargets) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(known);
    }
}

/// Why one more heal of `rule` in `scope` must wait for approval, or `None`: a trip in force,
/// `max_heals` reached, or `max_percent` of the `known` targets reached (unknown: the cap
/// alone).
pub fn check(
    rule: &str,
    cfg: &BlastConfig,
    scope: &str,
    history: BlastHistory,
    known: Option<u32>,
) -> Option<String> {
    let window = humantime_serde::re::humantime::format_duration(cfg.window);
    let scope = scope_text(scope);
    if history.tripped {
        return Some(format!(
            "blast radius of rule {rule} tripped for {scope}: its heals wait for approval until an operator resets it"
        ));
    }
    let next = history.heals.saturating_add(1);
    if next > cfg.max_heals {
        return Some(format!(
            "blast radius: heal {next} of rule {rule} in {scope} within {window} would pass max_heals {}",
            cfg.max_heals
        ));
    }
    if let (Some(percent), Some(known)) = (cfg.max_percent, known) {
        if u64::from(next) * 100 > u64::from(percent) * u64::from(known) {
            return Some(format!(
                "blast radius: heal {next} of rule {rule} in {scope} within {window} would pass max_percent {percent} of its {known} known targets"
            ));
        }
    }
    None
}

#[cfg(test)]
#[path = "blast_tests.rs"]
mod tests;
