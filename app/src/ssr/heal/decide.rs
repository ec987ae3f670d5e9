//! The one decision on new alert episodes. [`prejudge`] settles what needs no history (on the
//! webhook request's own thread); [`decide_batch`] weighs the rest against each target's
//! history at one instant, in the order the episodes were stored. Pure: the caller reads the
//! history, in the transaction that stores the episodes, their runs and their decisions.
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use super::{plan, precheck, weigh, Decision, KnownHosts, Plan, Rule, Skip, SkipReason, TargetHistory};
use crate::ssr::alert::AlertStatus;

/// What the rules say about an alert before its target's history is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Prejudged {
    /// Decided on the alert alone: resolved, no rule matches, or labels the rule refuses.
    /// `rule` indexes the rules the verdict was made under.
    Skip { rule: Option<usize>, skip: Skip },
    /// Rule `rule` matched a firing alert and gave this plan: weigh it against the history.
    Check { rule: usize, plan: Plan },
}

/// The first rule matching `labels`, and what it makes of the alert without history (`hosts`:
/// the inventory's, which a `--limit` must name).
pub fn prejudge(
    rules: &[Rule],
    hosts: &KnownHosts,
    status: AlertStatus,
    labels: &BTreeMap<String, String>,
) -> Prejudged {
    let selected = rules.iter().position(|r| r.matches(labels));
    let rule = selected.map(|i| &rules[i]);
    let planned = match rule {
        Some(r) => plan(r, labels, hosts),
        None => Err(Skip { reason: SkipReason::NoRule, detail: String::new() }),
    };
    match (selected, precheck(status, rule, planned)) {
        (Some(i), Ok(plan)) => Prejudged::Check { rule: i, plan },
        (selected, checked) => Prejudged::Skip {
            rule: selected,
            skip: checked.err().unwrap_or(Skip { reason: SkipReason::NoRule, detail: String::new() }),
        },
    }
}

/// One episode decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Judged {
    /// The rule, as an index into the rules decided under.
    pub rule: Option<usize>,
    pub decision: Decision,
    /// Attempts in the rule's window the breaker counted (0 when no history was read).
    pub attempts: u32,
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

/// Decides `verdicts` (the new episodes, in the order stored) under `rules`: each checked plan
/// is weighed ([`weigh`]) against its (rule, target)'s history, which `history` reads once per
/// pair. A run decided here counts for the episodes after it, as if already stored: its target
/// has a run in flight (for every rule) and its rule one more attempt, just now.
pub fn decide_batch<'v, E>(
    rules: &[Rule],
    verdicts: impl IntoIterator<Item = &'v Prejudged>,
    mut history: impl FnMut(&Rule, &str) -> Result<TargetHistory, E>,
) -> Result<Vec<Judged>, E> {
    let mut seen: HashMap<(usize, &'v str), TargetHistory> = HashMap::new();
    let mut queued: HashSet<&'v str> = HashSet::new();
    let mut judged = Vec::new();
    for verdict in verdicts {
        let (index, plan) = match verdict {
            Prejudged::Skip { rule, skip } => {
                judged.push(Judged { rule: *rule, decision: Decision::Skip(skip.clone()), attempts: 0 });
                continue;
            }
            Prejudged::Check { rule, plan } => (*rule, plan),
        };
        let Some(rule) = rules.get(index) else {
            // A verdict made under other rules (never expected): no rule of these applies.
            let skip =
                Skip { reason: SkipReason::NoRule, detail: "no rule matches this alert's labels".into() };
            judged.push(Judged { rule: None, decision: Decision::Skip(skip), attempts: 0 });
            continue;
        };
        let target = plan.target.as_str();
        let known = match seen.get(&(index, target)) {
            Some(h) => *h,
            None => {
                let mut h = history(rule, target)?;
                h.active_run |= queued.contains(target);
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
                }
            }
            if let Some(h) = seen.get_mut(&(index, target)) {
                h.attempts_in_window = h.attempts_in_window.saturating_add(1);
                h.since_last_attempt = Some(Duration::ZERO);
            }
        }
        judged.push(Judged { rule: Some(index), decision, attempts: known.attempts_in_window });
    }
    Ok(judged)
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
