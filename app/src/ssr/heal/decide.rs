//! The one decision on new alert episodes, second half: with what [`super::prejudge`] settled on the
//! webhook request's own thread, [`decide_batch`] weighs the rest against each target's history
//! at one instant, in the order the episodes were stored. Pure: the caller reads the history,
//! in the transaction that stores the episodes, their runs and their decisions.
use std::collections::{HashMap, HashSet};
use std::time::Duration;

use super::guard::{self, Guard};
use super::pause::{self, Paused};
use super::{weigh, Decision, Prejudged, Rule, Skip, SkipReason, TargetHistory};

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

/// Decides `verdicts` (the new episodes, in the order stored) under `rules`: a plan of a rule a
/// pause covers (`paused`) is `paused`; each other checked plan is weighed ([`weigh`]) against
/// its (rule, target)'s history, which `history` reads once per pair. A run decided here
/// counts for the episodes after it, as if already stored: its target has a run in flight (for
/// every rule) and its rule one more attempt, just now.
pub fn decide_batch<'v, E>(
    rules: &[Rule],
    verdicts: impl IntoIterator<Item = &'v Prejudged>,
    paused: &Paused,
    mut history: impl FnMut(&Rule, &str) -> Result<TargetHistory, E>,
) -> Result<Vec<Judged>, E> {
    let mut seen: HashMap<(usize, &'v str), TargetHistory> = HashMap::new();
    let mut queued: HashSet<&'v str> = HashSet::new();
    let mut judged = Vec::new();
    for verdict in verdicts {
        let (index, plan, guards) = match verdict {
            Prejudged::Skip { rule, skip } => {
                judged.push(Judged {
                    rule: *rule,
                    decision: Decision::Skip(skip.clone()),
                    attempts: 0,
                    covered_by: None,
                });
                continue;
            }
            Prejudged::Check { rule, plan, guards } => (*rule, plan, guards),
        };
        let Some(rule) = rules.get(index) else {
            // A verdict made under other rules (never expected): no rule of these applies.
            let skip =
                Skip { reason: SkipReason::NoRule, detail: "no rule matches this alert's labels".into() };
            judged.push(Judged { rule: None, decision: Decision::Skip(skip), attempts: 0, covered_by: None });
            continue;
        };
        if let Some(skip) = closed_gate(rule, paused, guards) {
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
        let decision = weigh(rule, plan, known);
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

/// The first gate before history that stops a plan, in order: the kill switch (a pause of
/// everything or of the rule), then the rule's guards.
fn closed_gate(rule: &Rule, paused: &Paused, guards: &[Guard]) -> Option<Skip> {
    if let Some(scope) = paused.covering(rule) {
        let detail = if scope == pause::EVERYTHING {
            "healing is paused everywhere: nothing runs until an operator resumes it".to_owned()
        } else {
            format!("healing is paused for rule {scope}: nothing of it runs until an operator resumes it")
        };
        return Some(Skip { reason: SkipReason::Paused, detail });
    }
    guard::verdict(guards)
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
