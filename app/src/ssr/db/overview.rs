//! The overview's counts and the navigation's: a handful of index look-ups each.
use super::backend::{dialect, on_backend, Ex};

use crate::model::{DecisionReason, RunMode, RunStatus, Verification};
use crate::ssr::db::lists::LATEST_DECISION;

/// The overview's counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct OverviewCounts {
    /// Kept by triggers in `alert_counts`.
    pub firing_alerts: i64,
    pub runs_in_flight: i64,
    pub awaiting_approval: i64,
    /// Runs queued in the last 24 h, by the rules or by people.
    pub runs_24h: i64,
    /// Rule-started runs of the last 24 h whose outcome is known: the playbook ended (not a dry
    /// run, not cancelled before it ran) and its verification, if any, has a verdict. The
    /// verified rate is over these, not over runs still in flight or waiting for a verdict.
    pub concluded_24h: i64,
    /// Of those, the verified ones.
    pub verified_24h: i64,
    /// Runs of the last 24 h that failed, timed out, or ran but did not fix it.
    pub failed_24h: i64,
    /// Firing alerts whose latest decision is that no rule matches: nothing heals them.
    pub firing_no_rule: i64,
}

/// Counts for the overview ([`OverviewCounts`]) since `since`.
pub async fn overview_counts<'c>(ex: impl Into<Ex<'c>>, since: &str) -> Result<OverviewCounts, sqlx::Error> {
    let sql = format!(
        "SELECT coalesce((SELECT CAST(sum(n) AS BIGINT) FROM alert_counts WHERE status = 'firing'), 0) AS firing_alerts, \
                (SELECT count(*) FROM heal_runs WHERE status IN ($2, $3)) AS runs_in_flight, \
                (SELECT count(*) FROM heal_runs WHERE status = $4) AS awaiting_approval, \
                (SELECT count(*) FROM heal_runs WHERE created_at >= $1) AS runs_24h, \
                (SELECT count(*) FROM heal_runs WHERE created_at >= $1 AND +requested_by = $9 \
                   AND +status IN ($10, $6, $7, $11) AND mode <> $12 AND verification IS NOT $13) \
                   AS concluded_24h, \
                (SELECT count(*) FROM heal_runs WHERE created_at >= $1 AND requested_by = $9 \
                   AND verification = $5) AS verified_24h, \
                (SELECT count(*) FROM heal_runs WHERE created_at >= $1 \
                   AND (status IN ($6, $7) OR verification = $8)) AS failed_24h, \
                (SELECT count(*) FROM alerts a INDEXED BY alerts_firing_no_rule \
                   WHERE a.status = 'firing' AND a.no_rule = 1 AND {LATEST_DECISION} = $14) AS firing_no_rule",
    );
    on_backend!(ex, |e, pg| sqlx::query_as(&dialect(&sql, pg))
        .bind(since)
        .bind(RunStatus::Queued)
        .bind(RunStatus::Running)
        .bind(RunStatus::AwaitingApproval)
        .bind(Verification::Verified)
        .bind(RunStatus::Failed)
        .bind(RunStatus::TimedOut)
        .bind(Verification::NotFixed)
        .bind(crate::ssr::db::inbox::RULES_REQUESTER)
        .bind(RunStatus::Succeeded)
        .bind(RunStatus::Interrupted)
        .bind(RunMode::DryRun)
        .bind(Verification::Pending)
        .bind(DecisionReason::NoRule)
        .fetch_one(e)
        .await)
}

/// The navigation's counts: two index look-ups (the firing count is kept by triggers).
pub async fn nav_counts<'c>(ex: impl Into<Ex<'c>>) -> Result<(i64, i64), sqlx::Error> {
    on_backend!(ex, |e| sqlx::query_as(
        "SELECT coalesce((SELECT CAST(sum(n) AS BIGINT) FROM alert_counts WHERE status = 'firing'), 0), \
                (SELECT count(*) FROM heal_runs WHERE status = $1)",
    )
    .bind(RunStatus::AwaitingApproval)
    .fetch_one(e)
    .await)
}

/// Stored alert episodes per status (kept by triggers in `alert_counts`): (firing, resolved).
pub async fn alert_status_counts<'c>(ex: impl Into<Ex<'c>>) -> Result<(i64, i64), sqlx::Error> {
    on_backend!(ex, |e| sqlx::query_as(
        "SELECT coalesce((SELECT CAST(sum(n) AS BIGINT) FROM alert_counts WHERE status = 'firing'), 0), \
                coalesce((SELECT CAST(sum(n) AS BIGINT) FROM alert_counts WHERE status = 'resolved'), 0)",
    )
    .fetch_one(e)
    .await)
}
