//! `[[rules]]`: the configuration form and its validation (matchers parsed, playbook inside
//! the allowlist, variable names safe).
use std::collections::BTreeMap;
use std::path::{Component, Path};
use std::time::Duration;

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::blast::BlastConfig;
use super::guard::{GuardConfig, GuardTemplate};
use super::matcher::Matcher;
use super::RuleMode;

/// A `[[rules]]` entry as written in `selfheal.toml` (serialised only to hash a rule set).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    pub name: String,
    /// Label equality, e.g. `{ alertname = "NginxDown" }`.
    #[serde(default, rename = "match")]
    pub match_labels: BTreeMap<String, String>,
    /// More matchers in Alertmanager's syntax, e.g. `['severity=~"crit.*"', 'env!="dev"']`.
    #[serde(default)]
    pub matchers: Vec<String>,
    /// Playbook file, relative to `[ansible] dir` (the allowlist).
    pub playbook: String,
    /// Label naming the thing healed: one run at a time per value, breaker per (rule, value).
    #[serde(default = "default_target_label")]
    pub target_label: String,
    /// Label whose value (without a `:port`) becomes `--limit`; none runs on the inventory.
    #[serde(default)]
    pub limit_from: Option<String>,
    /// Labels handed to the playbook as extra vars (as untrusted data, never templated).
    #[serde(default)]
    pub vars_from_labels: Vec<String>,
    /// Per-label regex a value must match fully to be passed on.
    #[serde(default)]
    pub var_patterns: BTreeMap<String, String>,
    #[serde(default)]
    pub mode: RuleMode,
    #[serde(default = "default_cooldown", with = "humantime_serde")]
    pub cooldown: Duration,
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    #[serde(default = "default_window", with = "humantime_serde")]
    pub window: Duration,
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// PromQL that must return a sample for the heal to count as verified; default: the
    /// alert no longer firing.
    #[serde(default)]
    pub verify: Option<String>,
    #[serde(default = "default_verify_within", with = "humantime_serde")]
    pub verify_within: Duration,
    /// How long the condition must keep holding before the heal counts as verified: at least
    /// one scrape plus one evaluation interval, so a momentary gap in the data is not a fix.
    /// Unset: the alerting rule's `for` plus its evaluation interval, as Prometheus reports them
    /// (never less than [`DEFAULT_VERIFY_HOLD`]), so a heal is not verified sooner than the
    /// alert could have fired again.
    #[serde(default, with = "humantime_serde::option")]
    pub verify_hold: Option<Duration>,
    /// Silence the alert in Alertmanager while the run is in flight.
    #[serde(default)]
    pub silence: bool,
    /// Notification targets for run finished, not fixed, breaker opened: http(s) URLs (a JSON
    /// POST) or `file:PATH` (one JSON line appended per event; a relative PATH is beside the
    /// database).
    #[serde(default)]
    pub notify: Vec<String>,
    /// PromQL that must return a sample when an alert is decided, each with a name
    /// (`[[rules.guard]]`); see [`super::guard`]. (Left out of the rule set's hash when
    /// there are none, so that hash did not change for rules written before guards.)
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guard: Vec<GuardConfig>,
    /// At most so many heals of one scope within a window (`[rules.blast_radius]`); see
    /// [`super::blast`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blast_radius: Option<BlastConfig>,
}

fn default_target_label() -> String {
    "instance".to_owned()
}
fn default_cooldown() -> Duration {
    Duration::from_secs(120)
}
fn default_max_attempts() -> u32 {
    3
}
fn default_window() -> Duration {
    Duration::from_secs(1800)
}
fn default_timeout() -> Duration {
    Duration::from_secs(300)
}
/// `verify_hold` unless a rule says otherwise: covers a 1 s..2 s scrape and evaluation cycle
/// a few times over; production-like profiles (15 s scrapes) want 30s or more.
pub const DEFAULT_VERIFY_HOLD: Duration = Duration::from_secs(5);

fn default_verify_within() -> Duration {
    Duration::from_secs(60)
}

/// A validated rule.
#[derive(Clone, Debug)]
pub struct Rule {
    pub config: RuleConfig,
    matchers: Vec<Matcher>,
    pub(super) var_patterns: BTreeMap<String, Regex>,
    pub(super) guards: Vec<GuardTemplate>,
}

impl Rule {
    /// Validates a rule; `playbook_exists` answers for a path relative to the ansible dir.
    pub fn from_config(config: RuleConfig, playbook_exists: impl Fn(&Path) -> bool) -> Result<Rule, String> {
        let at = |field: &str| format!("rule `{}`: {field}", config.name);
        if config.name.trim().is_empty() {
            return Err("rule: name must not be empty".to_owned());
        }
        let mut matchers: Vec<Matcher> =
            config.match_labels.iter().map(|(k, v)| Matcher::equal(k, v)).collect();
        for m in &config.matchers {
            matchers.push(Matcher::parse(m).map_err(|e| format!("{}: {e}", at("matchers")))?);
        }
        if matchers.is_empty() {
            return Err(format!(
                "{}: needs `match` or `matchers` (a rule matching everything is refused)",
                at("match")
            ));
        }
        let playbook = Path::new(&config.playbook);
        let inside = playbook.components().all(|c| matches!(c, Component::Normal(_)));
        if config.playbook.is_empty() || !inside {
            return Err(format!("{}: must be a relative path inside the ansible dir", at("playbook")));
        }
        if !playbook_exists(playbook) {
            return Err(format!("{}: `{}` not found in the ansible dir", at("playbook"), config.playbook));
        }
        let mut var_patterns = BTreeMap::new();
        for (name, pattern) in &config.var_patterns {
            if !config.vars_from_labels.contains(name) {
                return Err(format!("{}: `{name}` is not in vars_from_labels", at("var_patterns")));
            }
            let re = Regex::new(&format!("^(?:{pattern})$"))
                .map_err(|e| format!("{}: {e}", at("var_patterns")))?;
            var_patterns.insert(name.clone(), re);
        }
        for name in &config.vars_from_labels {
            if !is_identifier(name) {
                return Err(format!("{}: `{name}` is not a valid variable name", at("vars_from_labels")));
            }
            // ansible_* variables steer connections (ansible_host, ansible_ssh_common_args...):
            // an alert label must never choose them.
            if name.starts_with("ansible_") || name == "selfheal" {
                return Err(format!(
                    "{}: `{name}` is reserved (ansible_* steers connections)",
                    at("vars_from_labels")
                ));
            }
        }
        for (i, target) in config.notify.iter().enumerate() {
            // The entry itself is not repeated: a chat webhook's URL is its secret.
            let file = target.strip_prefix("file:").map(|p| p.trim_start_matches('/'));
            let web = ["http://", "https://"].iter().any(|scheme| {
                target.get(..scheme.len()).is_some_and(|s| s.eq_ignore_ascii_case(scheme))
                    && target.len() > scheme.len()
            });
            if file.is_some_and(str::is_empty) || (file.is_none() && !web) {
                return Err(format!(
                    "{}: entry {} is neither an http(s) URL nor file:PATH (a file beside the database unless absolute)",
                    at("notify"),
                    i + 1
                ));
            }
        }
        if config.max_attempts == 0 {
            return Err(format!("{}: must be at least 1", at("max_attempts")));
        }
        if config.timeout.is_zero() || config.window.is_zero() {
            return Err(format!("{}: timeout and window must be positive", at("timeout")));
        }
        if let Some(blast) = &config.blast_radius {
            blast.validate().map_err(|e| format!("{}: {e}", at("blast_radius")))?;
        }
        let mut guards: Vec<GuardTemplate> = Vec::new();
        for g in &config.guard {
            let guard = GuardTemplate::parse(g).map_err(|e| format!("{}: {e}", at("guard")))?;
            if guards.iter().any(|other| other.name() == guard.name()) {
                return Err(format!("{}: two guards are named `{}`", at("guard"), guard.name()));
            }
            guards.push(guard);
        }
        Ok(Rule { config, matchers, var_patterns, guards })
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Whether alerts of this rule wait for guards' answers.
    pub fn has_guards(&self) -> bool {
        !self.guards.is_empty()
    }

    /// Its guards' names, in order.
    pub fn guard_names(&self) -> impl Iterator<Item = &str> {
        self.guards.iter().map(GuardTemplate::name)
    }

    /// Whether every matcher of the rule holds for these labels.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matchers.iter().all(|m| m.matches(labels))
    }
}

fn is_identifier(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}
