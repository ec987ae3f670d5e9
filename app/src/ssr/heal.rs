//! The healing domain, pure (no I/O): the rules (`rule.rs`) and their matchers (`matcher.rs`),
//! the plan a rule makes of an alert and the weighing of it against its target's history
//! (here), the circuit breaker (`breaker.rs`), the decision on new episodes before history
//! (`prejudge.rs`) and on a batch of them with history (`decide.rs`), the rules' PromQL guards
//! (`guard.rs`), the kill switch (`pause.rs`) and the inventory's hosts a `--limit` must name
//! (`hosts.rs`). The run's states
//! live in `crate::model::run`, shared with the pages.
pub mod blast;
pub mod breaker;
mod decide;
pub mod guard;
mod hosts;
pub mod matcher;
pub mod pause;
mod prejudge;
mod rule;
mod rule_set;
pub mod simulate;
pub mod window;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

pub use decide::{decide_batch, Gates, Judged};
pub use hosts::KnownHosts;
pub use prejudge::{prejudge, Prejudged};
pub use rule::{Rule, RuleConfig, DEFAULT_VERIFY_HOLD};
pub use rule_set::{LiveRules, RuleSet};

use crate::model::{DecisionReason, RunMode};
use crate::ssr::alert::AlertStatus;

/// Longest label value passed to a playbook as a variable.
const MAX_VAR_LEN: usize = 1024;

/// How a rule acts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuleMode {
    /// Run the playbook.
    #[default]
    Auto,
    /// Queue the run until an operator approves it.
    Approval,
    /// Record what would have run; run nothing.
    Shadow,
    /// Run with `--check`: Ansible reports what it would change.
    DryRun,
}

impl RuleMode {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleMode::Auto => RunMode::Auto.as_str(),
            RuleMode::Approval => RunMode::Approval.as_str(),
            RuleMode::Shadow => "shadow",
            RuleMode::DryRun => RunMode::DryRun.as_str(),
        }
    }
}

/// The first rule (in file order) whose matchers hold.
pub fn select_rule<'r>(rules: &'r [Rule], labels: &BTreeMap<String, String>) -> Option<&'r Rule> {
    rules.iter().find(|r| r.matches(labels))
}

/// What a run for this alert would do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub rule: String,
    pub playbook: String,
    pub target: String,
    pub limit: Option<String>,
    /// Label values for the playbook; always passed as unsafe (never templated) data.
    pub extra_vars: BTreeMap<String, String>,
    pub mode: RuleMode,
    /// The rule's blast scope this alert falls in (`job="api"`; `""` for the whole rule),
    /// when the rule has a blast radius.
    pub blast_scope: Option<String>,
    /// Why the run waits for approval although the rule would run it: its blast radius
    /// tripped ([`blast::check`]), or a maintenance window routes its heals to approval.
    pub held: Option<Hold>,
}

/// Why a run the rules queue waits for approval: the decision's reason and its sentence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hold {
    pub reason: DecisionReason,
    pub detail: String,
}

impl Hold {
    /// Held by the blast radius, the scope it tripped in.
    pub fn is_blast_radius(&self) -> bool {
        self.reason == DecisionReason::BlastRadius
    }
}

/// Why nothing runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkipReason {
    Resolved,
    NoRule,
    InvalidLabels,
    RunInProgress,
    Cooldown,
    BreakerOpen,
    Shadow,
    /// An operator paused healing (everywhere, or for this rule).
    Paused,
    /// A guard of the rule returned no sample.
    GuardFailed,
    /// A guard of the rule could not be answered.
    GuardUnknown,
    /// A maintenance window holding heals covers the alert.
    InMaintenance,
}

impl SkipReason {
    /// The reason stored with the decision.
    pub fn reason(self) -> DecisionReason {
        match self {
            SkipReason::Resolved => DecisionReason::Resolved,
            SkipReason::NoRule => DecisionReason::NoRule,
            SkipReason::InvalidLabels => DecisionReason::InvalidLabels,
            SkipReason::RunInProgress => DecisionReason::RunInProgress,
            SkipReason::Cooldown => DecisionReason::Cooldown,
            SkipReason::BreakerOpen => DecisionReason::BreakerOpen,
            SkipReason::Shadow => DecisionReason::Shadow,
            SkipReason::Paused => DecisionReason::Paused,
            SkipReason::GuardFailed => DecisionReason::GuardFailed,
            SkipReason::GuardUnknown => DecisionReason::GuardUnknown,
            SkipReason::InMaintenance => DecisionReason::InMaintenance,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.reason().as_str()
    }
}

/// A skip with its reason and a sentence for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skip {
    pub reason: SkipReason,
    pub detail: String,
}

fn skip(reason: SkipReason, detail: impl Into<String>) -> Skip {
    Skip { reason, detail: detail.into() }
}

/// Builds the plan for an alert under a rule: target, `--limit` and extra vars, every value
/// checked. Values may contain anything printable (they reach Ansible as unsafe data); a value
/// that starts an option, names a host pattern, a group or `all`, or a host `hosts` (the
/// inventory's) does not have, can never become `--limit`.
pub fn plan(rule: &Rule, labels: &BTreeMap<String, String>, hosts: &KnownHosts) -> Result<Plan, Skip> {
    let cfg = &rule.config;
    let target = labels.get(&cfg.target_label).filter(|v| !v.is_empty()).ok_or_else(|| {
        skip(SkipReason::InvalidLabels, format!("label `{}` (the target) is missing", cfg.target_label))
    })?;
    let limit = match &cfg.limit_from {
        None => None,
        Some(label) => {
            let raw = labels.get(label).ok_or_else(|| {
                skip(SkipReason::InvalidLabels, format!("label `{label}` (for --limit) is missing"))
            })?;
            let host = limit_host(raw).ok_or_else(|| {
                skip(SkipReason::InvalidLabels, format!("label `{label}` is not a plain host name: {raw:?}"))
            })?;
            hosts.check(&host).map_err(|why| {
                skip(SkipReason::InvalidLabels, format!("label `{label}` cannot be --limit: {why}"))
            })?;
            Some(host)
        }
    };
    let mut extra_vars = BTreeMap::new();
    for name in &cfg.vars_from_labels {
        let Some(value) = labels.get(name) else { continue };
        if value.len() > MAX_VAR_LEN || value.contains('\0') {
            return Err(skip(
                SkipReason::InvalidLabels,
                format!("label `{name}` is too long or contains NUL"),
            ));
        }
        if let Some(re) = rule.var_patterns.get(name) {
            if !re.is_match(value) {
                return Err(skip(
                    SkipReason::InvalidLabels,
                    format!("label `{name}` does not match its var_patterns entry"),
                ));
            }
        }
        extra_vars.insert(name.clone(), value.clone());
    }
    Ok(Plan {
        rule: cfg.name.clone(),
        playbook: cfg.playbook.clone(),
        target: target.clone(),
        limit,
        extra_vars,
        mode: cfg.mode,
        blast_scope: cfg.blast_radius.as_ref().map(|b| b.scope_of(labels)),
        held: None,
    })
}

/// A label value as an Ansible `--limit`: a trailing `:port` dropped, then letters, digits,
/// `.`, `_`, `-` only, not starting with `-` (no option, no pattern, no list). Whether it is a
/// host of the inventory (not a group, not `all`) is [`KnownHosts::check`]'s question.
pub fn limit_host(raw: &str) -> Option<String> {
    let host = match raw.rsplit_once(':') {
        Some((h, port)) if !port.is_empty() && port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => raw,
    };
    let ok = !host.is_empty()
        && host.len() <= 253
        && !host.starts_with(['-', '.'])
        && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    ok.then(|| host.to_owned())
}

/// What the database knows about earlier runs of one (rule, target).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TargetHistory {
    /// A run for this target is queued, awaiting approval or running.
    pub active_run: bool,
    /// That run, when it is stored (a run an earlier episode of the same batch queued has no
    /// id yet: the writer names it).
    pub in_flight: Option<i64>,
    /// Seconds since the last engine-started run of this rule on this target began.
    pub since_last_attempt: Option<Duration>,
    /// Engine-started runs in the rule's window (since the last breaker reset, if later).
    pub attempts_in_window: u32,
}

/// What a skip for a run in flight says: the run that covers the alert, when known.
pub fn in_flight_detail(target: &str, run: Option<i64>) -> String {
    match run {
        Some(id) => format!("a run for {target} is already in flight: run #{id}"),
        None => format!("a run for {target} is already in flight"),
    }
}

/// The engine's verdict on one alert episode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Run(Plan),
    Skip(Skip),
}

/// Decides on an alert episode given its rule's plan (or why there is none) and the target's
/// history. Order matters: resolved first (never heal a healthy thing), then a run already in
/// flight, the breaker (max attempts in window), the cooldown, and shadow mode last, so a
/// shadow rule records exactly what an auto rule would have done.
pub fn decide(
    status: AlertStatus,
    rule: Option<&Rule>,
    plan: Result<Plan, Skip>,
    history: TargetHistory,
) -> Decision {
    match (rule, precheck(status, rule, plan)) {
        (Some(rule), Ok(plan)) => weigh(rule, &plan, history),
        (_, Err(s)) => Decision::Skip(s),
        (None, Ok(_)) => Decision::Skip(no_rule()),
    }
}

/// The half of [`decide`] that needs no history: resolved, no rule, or the plan's refusal; the
/// plan when the alert is worth weighing against its target's history.
pub fn precheck(status: AlertStatus, rule: Option<&Rule>, plan: Result<Plan, Skip>) -> Result<Plan, Skip> {
    if status == AlertStatus::Resolved {
        return Err(skip(SkipReason::Resolved, "the alert is resolved: nothing to heal"));
    }
    if rule.is_none() {
        return Err(no_rule());
    }
    plan
}

fn no_rule() -> Skip {
    skip(SkipReason::NoRule, "no rule matches this alert's labels")
}

/// The half of [`decide`] that weighs a firing alert's plan against its target's history
/// (the plan is copied only into a run).
pub fn weigh(rule: &Rule, plan: &Plan, history: TargetHistory) -> Decision {
    let cfg = &rule.config;
    if history.active_run {
        return Decision::Skip(skip(
            SkipReason::RunInProgress,
            in_flight_detail(&plan.target, history.in_flight),
        ));
    }
    if breaker::is_open(rule, history.attempts_in_window) {
        return Decision::Skip(skip(
            SkipReason::BreakerOpen,
            format!(
                "breaker open: {} attempts on {} within {} (max {}); an operator can reset it",
                history.attempts_in_window,
                plan.target,
                humantime_serde::re::humantime::format_duration(cfg.window),
                cfg.max_attempts
            ),
        ));
    }
    if let Some(since) = history.since_last_attempt.filter(|s| *s < cfg.cooldown) {
        return Decision::Skip(skip(
            SkipReason::Cooldown,
            format!(
                "cooldown: last attempt on {} was {}s ago (cooldown {})",
                plan.target,
                since.as_secs(),
                humantime_serde::re::humantime::format_duration(cfg.cooldown)
            ),
        ));
    }
    if plan.mode == RuleMode::Shadow {
        return Decision::Skip(skip(
            SkipReason::Shadow,
            format!(
                "shadow mode: would have run {} on {}",
                plan.playbook,
                plan.limit.as_deref().unwrap_or(&plan.target)
            ),
        ));
    }
    Decision::Run(plan.clone())
}

#[cfg(test)]
#[path = "heal_tests.rs"]
mod tests;
