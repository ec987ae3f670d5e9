//! One alert episode with everything that happened to it: its row, decisions and runs.
use super::backend::{on_backend, Ex};

use crate::model::{AlertSummary, RunSummary};

/// The alert's own columns beyond the list's.
#[derive(Debug, sqlx::FromRow)]
pub struct AlertExtra {
    pub annotations: String,
    pub generator_url: Option<String>,
    pub group_key: Option<String>,
    pub receiver: Option<String>,
    pub first_seen_at: String,
    pub external_url: Option<String>,
    /// The notification that last carried the alert, while retention keeps it.
    pub last_notification_id: Option<i64>,
}

/// A stored decision about the alert.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct DecisionRow {
    pub at: String,
    pub rule: Option<String>,
    pub outcome: String,
    pub reason: String,
    pub detail: String,
    pub run_id: Option<i64>,
    /// The rule set it was made under (none before it was recorded).
    pub rules_hash: Option<String>,
}

/// The list columns of one alert, by id.
pub async fn alert_summary<'c>(ex: impl Into<Ex<'c>>, id: i64) -> Result<Option<AlertSummary>, sqlx::Error> {
    let sql = format!("{} WHERE a.id = $1", super::alerts::ALERT_SUMMARY_FROM);
    on_backend!(ex, |e| sqlx::query_as(&sql).bind(id).fetch_optional(e).await)
}

/// The detail columns of one alert, by id.
pub async fn alert_extra<'c>(ex: impl Into<Ex<'c>>, id: i64) -> Result<Option<AlertExtra>, sqlx::Error> {
    on_backend!(ex, |e| sqlx::query_as(
        "SELECT a.annotations, a.generator_url, a.group_key, a.receiver, a.first_seen_at, n.external_url, \
         n.id AS last_notification_id \
         FROM alerts a LEFT JOIN notifications n ON n.id = a.last_notification_id WHERE a.id = $1",
    )
    .bind(id)
    .fetch_optional(e)
    .await)
}

/// Every decision about the alert, oldest first.
pub async fn alert_decisions<'c>(ex: impl Into<Ex<'c>>, id: i64) -> Result<Vec<DecisionRow>, sqlx::Error> {
    on_backend!(ex, |e| {
        sqlx::query_as(
        "SELECT at, rule, outcome, reason, detail, run_id, rules_hash FROM decisions WHERE alert_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(e)
    .await
    })
}

/// Runs for the alert, newest first (at most `limit`).
pub async fn alert_runs<'c>(
    ex: impl Into<Ex<'c>>,
    id: i64,
    limit: i64,
) -> Result<Vec<RunSummary>, sqlx::Error> {
    let sql = format!(
        "SELECT {} FROM heal_runs WHERE alert_id = $1 ORDER BY id DESC LIMIT $2",
        super::runs::RUN_COLUMNS
    );
    on_backend!(ex, |e| sqlx::query_as(&sql).bind(id).bind(limit).fetch_all(e).await)
}
