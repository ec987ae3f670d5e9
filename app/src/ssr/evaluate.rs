//! One alert through today's rules against the stored history: the shared first half of the
//! engine's decision, of replay, and of the inbox's decisions at intake.
use std::collections::BTreeMap;

use sqlx::SqliteConnection;
use time::OffsetDateTime;

use crate::ssr::alert::{format_utc, AlertStatus};
use crate::ssr::db::decisions::{self, HistoryCache, UndecidedAlert};
use crate::ssr::heal::{
    plan, precheck, weigh, Decision, KnownHosts, Plan, Rule, Skip, SkipReason, TargetHistory,
};

/// What the rules say about an alert now.
#[derive(Debug)]
pub struct Evaluation<'r> {
    pub rule: Option<&'r Rule>,
    pub decision: Decision,
    pub history: TargetHistory,
    pub labels: BTreeMap<String, String>,
}

/// What the rules say about an alert before its target's history is read. Pure, so the
/// webhook handler works it out on its own thread and the inbox writer only reads history.
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

/// Evaluates `alert` under `rules` with the history read through `conn`, or remembered in
/// `cache` from earlier in the same transaction.
pub async fn evaluate<'r>(
    conn: &mut SqliteConnection,
    cache: &mut HistoryCache,
    rules: &'r [Rule],
    hosts: &KnownHosts,
    alert: &UndecidedAlert,
    now: OffsetDateTime,
) -> Result<Evaluation<'r>, sqlx::Error> {
    let labels: BTreeMap<String, String> = serde_json::from_str(&alert.labels).unwrap_or_default();
    let status = if alert.status == "resolved" { AlertStatus::Resolved } else { AlertStatus::Firing };
    let (rule, decision, history) = match prejudge(rules, hosts, status, &labels) {
        Prejudged::Skip { rule, skip } => {
            (rule.map(|i| &rules[i]), Decision::Skip(skip), TargetHistory::default())
        }
        Prejudged::Check { rule, plan } => {
            let r = &rules[rule];
            let window_start = format_utc(now - r.config.window).unwrap_or_default();
            let (active, last, attempts) = cache.get(conn, r.name(), &plan.target, &window_start).await?;
            let history = decisions::history_from(active, last.as_deref(), attempts, now);
            (Some(r), weigh(r, &plan, history), history)
        }
    };
    Ok(Evaluation { rule, decision, history, labels })
}

#[cfg(test)]
#[path = "evaluate_tests.rs"]
mod tests;
