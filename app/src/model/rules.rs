//! The rules page's types: each loaded rule as configured, with its breaker per target.
use serde::{Deserialize, Serialize};

/// A `[[rules]]` entry as loaded at start (never its notification URLs: they may carry
/// credentials).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleView {
    pub name: String,
    /// Label matchers in Alertmanager's syntax, `match` entries first.
    pub matchers: Vec<String>,
    pub playbook: String,
    /// `auto`, `approval`, `shadow` or `dry-run`.
    pub mode: String,
    pub target_label: String,
    pub limit_from: Option<String>,
    pub vars_from_labels: Vec<String>,
    /// Durations in humantime form (`2m`, `30m`).
    pub cooldown: String,
    pub max_attempts: i64,
    pub window: String,
    pub timeout: String,
    /// The PromQL that must hold for "verified"; none: the alert no longer firing.
    pub verify: Option<String>,
    pub verify_within: String,
    pub verify_hold: String,
    pub silence: bool,
    /// How many notification targets the rule has.
    pub notify_targets: usize,
    /// Its guards, in order: (name, PromQL as written).
    pub guards: Vec<(String, String)>,
    /// Its blast radius in words, if it has one.
    pub blast_radius: Option<String>,
    /// Targets with engine attempts in the window, by target.
    pub breakers: Vec<BreakerState>,
}

/// The circuit breaker of one (rule, target).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakerState {
    pub target: String,
    /// Open: the engine skips this target until the window passes or an operator resets it.
    pub open: bool,
    /// Engine attempts in the window since the last reset.
    pub attempts: i64,
    pub max_attempts: i64,
    pub last_attempt: String,
    pub last_reset: Option<String>,
}
