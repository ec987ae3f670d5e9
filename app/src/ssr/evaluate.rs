//! One alert through today's rules against the stored history: the shared first half of the
//! engine's decision and of replay.
use std::collections::BTreeMap;

use sqlx::SqliteConnection;
use time::OffsetDateTime;

use crate::ssr::alert::{format_utc, AlertStatus};
use crate::ssr::db::decisions::{self, HistoryCache, UndecidedAlert};
use crate::ssr::heal::{decide, plan, select_rule, Decision, Rule, Skip, SkipReason, TargetHistory};

/// What the rules say about an alert now.
#[derive(Debug)]
pub struct Evaluation<'r> {
    pub rule: Option<&'r Rule>,
    pub decision: Decision,
    pub history: TargetHistory,
    pub labels: BTreeMap<String, String>,
}

/// Evaluates `alert` under `rules` with the history read through `conn`, or remembered in
/// `cache` from earlier in the same transaction.
pub async fn evaluate<'r>(
    conn: &mut SqliteConnection,
    cache: &mut HistoryCache,
    rules: &'r [Rule],
    alert: &UndecidedAlert,
    now: OffsetDateTime,
) -> Result<Evaluation<'r>, sqlx::Error> {
    let labels: BTreeMap<String, String> = serde_json::from_str(&alert.labels).unwrap_or_default();
    let status = if alert.status == "resolved" { AlertStatus::Resolved } else { AlertStatus::Firing };
    let rule = select_rule(rules, &labels);
    let planned = match rule {
        Some(r) => plan(r, &labels),
        None => Err(Skip { reason: SkipReason::NoRule, detail: String::new() }),
    };
    let history = match (rule, &planned) {
        (Some(r), Ok(p)) if status == AlertStatus::Firing => {
            let window_start = format_utc(now - r.config.window).unwrap_or_default();
            let (active, last, attempts) = cache.get(conn, r.name(), &p.target, &window_start).await?;
            decisions::history_from(active, last.as_deref(), attempts, now)
        }
        _ => TargetHistory::default(),
    };
    let decision = decide(status, rule, planned, history);
    Ok(Evaluation { rule, decision, history, labels })
}
