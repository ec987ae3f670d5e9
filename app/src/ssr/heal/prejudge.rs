//! The one decision on new alert episodes, first half: what the rules make of an alert before
//! its target's history is read. Pure, so the webhook handler works it out on its own thread and
//! the inbox writer only reads history ([`super::decide_batch`]).
use std::collections::BTreeMap;

use super::guard::Guard;
use super::window::WindowHit;
use super::{plan, precheck, KnownHosts, Plan, Rule, Skip, SkipReason};
use crate::ssr::alert::AlertStatus;

/// What the rules say about an alert before its target's history is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Prejudged {
    /// Decided on the alert alone: resolved, no rule matches, or labels the rule refuses.
    /// `rule` indexes the rules the verdict was made under.
    Skip { rule: Option<usize>, skip: Skip },
    /// Rule `rule` matched a firing alert and gave this plan: weigh it against the history and
    /// the rule's guards (rendered for this alert; answered before the decision), and the
    /// maintenance window covering it (found by the writer, which reads the windows).
    Check { rule: usize, plan: Plan, guards: Vec<Guard>, window: Option<Box<WindowHit>> },
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
        (Some(i), Ok(plan)) => {
            let guards = rules[i].guards.iter().map(|g| g.render(labels)).collect();
            Prejudged::Check { rule: i, plan, guards, window: None }
        }
        (selected, checked) => Prejudged::Skip {
            rule: selected,
            skip: checked.err().unwrap_or(Skip { reason: SkipReason::NoRule, detail: String::new() }),
        },
    }
}
