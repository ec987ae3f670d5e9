//! The one decision on new alert episodes, second half: with what [`super::prejudge`] settled on the
//! webhook request's own thread, [`decide_batch`] weighs the rest against each target's history
//! at one instant, in the order the episodes were stored. Pure: the caller reads the history,
//! in the transaction that stores the episodes, their runs and their decisions.
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use super::blast::{self, BlastHistory, KnownTargets};
use super::guard::{self, Guard};
use super::pause::{self, Paused};
use super::window::{WindowAction, WindowHit};
use super::{weigh, Decision, Hold, Plan, Prejudged, Rule, RuleMode, Skip, SkipReason, TargetHistory};
use crate::model::DecisionReason;

/// One episode decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Judged {
    /// The rule, as an index into the rules decided under.
    pub rule: Option<usize>,
    pub decision: Decision,
    /// Attempts in the rule's window the breaker counted (0 when no history was read).
    pub attempts: u32,
    /// The stored run in flight that covers this episode (a `run_in_progress` skip).
    pub covered_by: Option<i64>,
}

impl Judged {
    /// This decision is the one that found the breaker open (attempts exactly at the maximum):
    /// people are told once, not at every re-fire while it stays open.
    pub fn opens_breaker(&self, rules: &[Rule]) -> bool {
        let max = self.rule.and_then(|i| rules.get(i)).map(|r| r.config.max_attempts);
        matches!(&self.decision, Decision::Skip(s) if s.reason == SkipReason::BreakerOpen)
            && max == Some(self.attempts)
    }
}

/// The fleet-wide state a decision weighs besides each target's history: the pauses in force,
/// the blast-radius histories of the scopes the batch touches (read by the caller, since the
/// scopes are known from the plans), and the known targets per scope.
#[derive(Clone, Debug, Default)]
pub struct Gates {
    pub paused: Paused,
    pub blast: BTreeMap<(String, String), BlastHistory>,
    pub known: Arc<KnownTargets>,
}

impl Gates {
    /// Only these pauses (no blast history, no known targets).
    pub fn paused(paused: Paused) -> Gates {
        Gates { paused, ..Gates::default() }
    }
}

/// Decides `verdicts` (the new episodes, in the order stored) under `rules`: a plan of a rule a
/// pause covers (`gates.paused`) is `paused`; each other checked plan is weighed ([`weigh`]) against
/// its (rule, target)'s history, which `history` reads once per pair. A run decided here
/// counts for the episodes after it, as if already stored: its target has a run in flight (for
/// every rule) and its rule one more attempt, just now.
pub fn decide_batch<'v, E>(
    rules: &[Rule],
    verdicts: impl IntoIterator<Item = &'v Prejudged>,
    gates: &Gates,
    mut history: impl FnMut(&Rule, &str) -> Result<TargetHistory, E>,
) -> Result<Vec<Judged>, E> {
    let mut seen: HashMap<(usize, &'v str), TargetHistory> = HashMap::new();
    // Blast-radius histories as this batch changes them (its own heals count, its trips hold).
    let mut blast_seen: BTreeMap<(String, String), BlastHistory> = BTreeMap::new();
    let mut queued: HashSet<&'v str> = HashSet::new();
    let mut judged = Vec::new();
    for verdict in verdicts {
        let (index, plan, guards, window) = match verdict {
            Prejudged::Skip { rule, skip } => {
                judged.push(Judged {
                    rule: *rule,
                    decision: Decision::Skip(skip.clone()),
                    attempts: 0,
                    covered_by: None,
                });
                continue;
            }
            Prejudged::Check { rule, plan, guards, window } => (*rule, plan, guards, window),
        };
        let Some(rule) = rules.get(index) else {
            // A verdict made under other rules (never expected): no rule of these applies.
            let skip =
                Skip { reason: SkipReason::NoRule, detail: "no rule matches this alert's labels".into() };
            judged.push(Judged { rule: None, decision: Decision::Skip(skip), attempts: 0, covered_by: None });
            continue;
        };
        if let Some(skip) = closed_gate(rule, &gates.paused, window.as_deref(), guards) {
            judged.push(Judged {
                rule: Some(index),
                decision: Decision::Skip(skip),
                attempts: 0,
                covered_by: None,
            });
            continue;
        }
        let target = plan.target.as_str();
        let known = match seen.get(&(index, target)) {
            Some(h) => *h,
            None => {
                let mut h = history(rule, target)?;
                if queued.contains(target) {
                    // In flight by this batch's own run, which has no id yet.
                    h.active_run = true;
                    h.in_flight = None;
                }
                seen.insert((index, target), h);
                h
            }
        };
        let decision = match weigh(rule, plan, known) {
            Decision::Run(mut plan) => match window {
                // A window routing heals to approval: parked, and no heal the blast radius counts.
                Some(w) => {
                    plan.mode = RuleMode::Approval;
                    plan.held = Some(Hold { reason: DecisionReason::InMaintenance, detail: in_window(w) });
                    Decision::Run(plan)
                }
                None => Decision::Run(within_blast_radius(rule, plan, gates, &mut blast_seen)),
            },
            skip => skip,
        };
        if matches!(decision, Decision::Run(_)) {
            queued.insert(target);
            for ((_, t), h) in seen.iter_mut() {
                if *t == target {
                    h.active_run = true;
                    h.in_flight = None;
                }
            }
            if let Some(h) = seen.get_mut(&(index, target)) {
                h.attempts_in_window = h.attempts_in_window.saturating_add(1);
                h.since_last_attempt = Some(Duration::ZERO);
            }
        }
        let covered_by = match &decision {
            Decision::Skip(s) if s.reason == SkipReason::RunInProgress => known.in_flight,
            _ => None,
        };
        judged.push(Judged { rule: Some(index), decision, attempts: known.attempts_in_window, covered_by });
    }
    Ok(judged)
}

/// `plan` as its rule's blast radius lets it run: parked for approval (with why) when the
/// scope tripped before or trips now; else one more heal of the scope.
fn within_blast_radius(
    rule: &Rule,
    mut plan: Plan,
    gates: &Gates,
    seen: &mut BTreeMap<(String, String), BlastHistory>,
) -> Plan {
    let (Some(cfg), Some(scope)) = (rule.config.blast_radius.as_ref(), plan.blast_scope.clone()) else {
        return plan;
    };
    let key = (rule.name().to_owned(), scope);
    let known = gates.known.get(&key).copied();
    let h = seen.entry(key.clone()).or_insert_with(|| gates.blast.get(&key).copied().unwrap_or_default());
    match blast::check(rule.name(), cfg, &key.1, *h, known) {
        Some(why) => {
            plan.mode = RuleMode::Approval;
            plan.held = Some(Hold { reason: DecisionReason::BlastRadius, detail: why });
            h.tripped = true;
        }
        // A rule's own approvals are no heals until approved (as the history counts them).
        None if plan.mode != RuleMode::Approval => h.heals = h.heals.saturating_add(1),
        None => {}
    }
    plan
}

/// "in maintenance window W until T", and what it does.
fn in_window(w: &WindowHit) -> String {
    let until = crate::ssr::alert::format_utc(w.until);
    match w.action {
        WindowAction::Hold => {
            format!(
                "in maintenance window {} until {until}: held, decided again when it ends if still firing",
                w.name
            )
        }
        WindowAction::Approval => {
            format!("in maintenance window {} until {until}: heals wait for approval", w.name)
        }
    }
}

/// The first gate before history that stops a plan, in order: the kill switch (a pause of
/// everything or of the rule), a maintenance window that holds heals, then the rule's guards.
fn closed_gate(rule: &Rule, paused: &Paused, window: Option<&WindowHit>, guards: &[Guard]) -> Option<Skip> {
    if let Some(scope) = paused.covering(rule) {
        let detail = if scope == pause::EVERYTHING {
            "healing is paused everywhere: nothing runs until an operator resumes it".to_owned()
        } else {
            format!("healing is paused for rule {scope}: nothing of it runs until an operator resumes it")
        };
        return Some(Skip { reason: SkipReason::Paused, detail });
    }
    if let Some(w) = window.filter(|w| w.action == WindowAction::Hold) {
        return Some(Skip { reason: SkipReason::InMaintenance, detail: in_window(w) });
    }
    guard::verdict(guards)
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
