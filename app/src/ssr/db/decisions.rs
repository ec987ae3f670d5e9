//! The engine's memory: undecided episodes, per-target history (cooldown, breaker and its
//! resets) and the stored decisions.
use sqlx::{SqliteConnection, SqliteExecutor};

use crate::ssr::heal::{Decision, TargetHistory};

/// An alert episode the engine has not decided on yet.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct UndecidedAlert {
    pub id: i64,
    pub status: String,
    pub labels: String,
    pub starts_at: String,
}

/// The oldest undecided episodes first, at most `limit`.
pub async fn undecided_alerts(
    ex: impl SqliteExecutor<'_>,
    limit: i64,
) -> Result<Vec<UndecidedAlert>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, status, labels, starts_at FROM alerts WHERE decided_at IS NULL ORDER BY id LIMIT ?",
    )
    .bind(limit)
    .fetch_all(ex)
    .await
}

/// Raw history of one (rule, target): whether a run is in flight (for the target, any rule),
/// when the last engine run of this rule began, and how many began since `since` (the window
/// start, or the last breaker reset if later).
pub async fn target_history(
    conn: &mut SqliteConnection,
    rule: &str,
    target: &str,
    window_start: &str,
) -> Result<RawHistory, sqlx::Error> {
    let (active, last, attempts): (bool, Option<String>, i64) = sqlx::query_as(TARGET_HISTORY_SQL)
        .bind(rule)
        .bind(target)
        .bind(window_start)
        .fetch_one(&mut *conn)
        .await?;
    Ok((active, last, u32::try_from(attempts).unwrap_or(u32::MAX)))
}

/// [`target_history`]'s query (the inbox writer runs it too, on its own connection):
/// parameters rule, target, window start; columns in flight, last start, attempts.
pub const TARGET_HISTORY_SQL: &str = "SELECT \
    EXISTS (SELECT 1 FROM heal_runs WHERE target = ?2 AND status IN ('queued', 'awaiting_approval', 'running')), \
    (SELECT max(created_at) FROM heal_runs WHERE rule = ?1 AND target = ?2 AND requested_by = 'engine'), \
    (SELECT count(*) FROM heal_runs WHERE rule = ?1 AND target = ?2 AND requested_by = 'engine' \
       AND created_at >= max(?3, coalesce((SELECT max(reset_at) FROM breaker_resets \
                                          WHERE rule = ?1 AND target = ?2), '')))";

/// What [`target_history`] returns: run in flight, last engine run's start, attempts in window.
pub type RawHistory = (bool, Option<String>, u32);

/// [`target_history`] remembered within one transaction: under a storm most alerts of a batch
/// share a handful of targets, and each read held the write lock the inbox waits for. Only a
/// run queued in the same transaction changes what the read returns, so the caller forgets the
/// target's entries when it queues one ([`HistoryCache::forget_target`]). Valid for one
/// transaction only (other writers change history between transactions).
#[derive(Debug, Default)]
pub struct HistoryCache {
    seen: std::collections::HashMap<(String, String, String), RawHistory>,
}

impl HistoryCache {
    /// [`target_history`], read once per (rule, target, window start).
    pub async fn get(
        &mut self,
        conn: &mut SqliteConnection,
        rule: &str,
        target: &str,
        window_start: &str,
    ) -> Result<RawHistory, sqlx::Error> {
        let key = (rule.to_owned(), target.to_owned(), window_start.to_owned());
        if let Some(h) = self.seen.get(&key) {
            return Ok(h.clone());
        }
        let h = target_history(conn, rule, target, window_start).await?;
        self.seen.insert(key, h.clone());
        Ok(h)
    }

    /// A run for `target` was queued: its "in flight", and its rule's last start and attempts,
    /// are stale for every rule.
    pub fn forget_target(&mut self, target: &str) {
        self.seen.retain(|(_, t, _), _| t != target);
    }
}

/// One decision about one alert, to store with [`record_decisions`].
#[derive(Clone, Copy, Debug)]
pub struct DecisionRow<'a> {
    pub alert_id: i64,
    pub rule: Option<&'a str>,
    pub decision: &'a Decision,
    pub run_id: Option<i64>,
}

/// Rows per multi-row statement: 7 parameters each, far below SQLite's 32,766.
const DECISION_ROWS_PER_STATEMENT: usize = 256;

/// Stores decisions and marks their alerts decided: two statements per chunk of rows, not two
/// per alert (each statement is a round trip to the connection's thread, under the write lock).
pub async fn record_decisions(
    conn: &mut SqliteConnection,
    rows: &[DecisionRow<'_>],
    now: &str,
) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(DECISION_ROWS_PER_STATEMENT) {
        let mut insert = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT INTO decisions (alert_id, at, rule, outcome, reason, detail, run_id) ",
        );
        insert.push_values(chunk, |mut b, row| {
            let (outcome, reason, detail) = decision_columns(row.decision);
            b.push_bind(row.alert_id)
                .push_bind(now)
                .push_bind(row.rule)
                .push_bind(outcome)
                .push_bind(reason)
                .push_bind(detail)
                .push_bind(row.run_id);
        });
        insert.build().execute(&mut *conn).await?;
        let mut update = sqlx::QueryBuilder::<sqlx::Sqlite>::new("UPDATE alerts SET decided_at = ");
        update.push_bind(now).push(" WHERE id IN (");
        let mut ids = update.separated(", ");
        for row in chunk {
            ids.push_bind(row.alert_id);
        }
        update.push(")");
        update.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// A decision as the `decisions` table stores it: outcome, reason, detail.
pub fn decision_columns(decision: &Decision) -> (&'static str, &'static str, String) {
    match decision {
        Decision::Run(p) => (
            "enqueued",
            "enqueued",
            format!("{} on {} ({})", p.playbook, p.limit.as_deref().unwrap_or(&p.target), p.mode.as_str()),
        ),
        Decision::Skip(s) => ("skipped", s.reason.as_str(), s.detail.clone()),
    }
}

/// Converts raw history into what `decide` needs, given now.
pub fn history_from(
    active: bool,
    last: Option<&str>,
    attempts: u32,
    now: time::OffsetDateTime,
) -> TargetHistory {
    let since_last_attempt = last
        .and_then(|t| time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok())
        .map(|t| (now - t).try_into().unwrap_or_default());
    TargetHistory { active_run: active, since_last_attempt, attempts_in_window: attempts }
}

/// An alert's status, labels and start, for heal now and replay.
pub async fn alert_for_action(
    ex: impl SqliteExecutor<'_>,
    alert_id: i64,
) -> Result<Option<UndecidedAlert>, sqlx::Error> {
    sqlx::query_as("SELECT id, status, labels, starts_at FROM alerts WHERE id = ?")
        .bind(alert_id)
        .fetch_optional(ex)
        .await
}

/// Records an operator's breaker reset for (rule, target).
pub async fn reset_breaker(
    ex: impl SqliteExecutor<'_>,
    rule: &str,
    target: &str,
    by: &str,
    now: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO breaker_resets (rule, target, reset_at, reset_by) VALUES (?, ?, ?, ?)")
        .bind(rule)
        .bind(target)
        .bind(now)
        .bind(by)
        .execute(ex)
        .await?;
    Ok(())
}

/// One target of a rule as its circuit breaker sees it.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct BreakerRow {
    pub target: String,
    /// Engine attempts in the window since the target's last reset: what the breaker counts.
    pub attempts: i64,
    /// The latest engine attempt in the window.
    pub last_attempt: String,
    pub last_reset: Option<String>,
}

/// Every target of one rule with engine attempts since the window start, by target: the
/// attempts that count (those since the target's last breaker reset, if later), the last
/// attempt and the last reset.
pub async fn breaker_states(
    ex: impl SqliteExecutor<'_>,
    rule: &str,
    window_start: &str,
) -> Result<Vec<BreakerRow>, sqlx::Error> {
    sqlx::query_as(
        // The window as its own range predicate, so only the window's runs are visited (on
        // (rule, created_at)); the reset lookup then runs for those few.
        "SELECT target, sum(created_at >= coalesce(reset_at, '')) AS attempts, \
                max(created_at) AS last_attempt, max(reset_at) AS last_reset \
         FROM (SELECT r.target, r.created_at, \
                      (SELECT max(reset_at) FROM breaker_resets b WHERE b.rule = ?1 AND b.target = r.target) \
                      AS reset_at \
               FROM heal_runs r WHERE r.rule = ?1 AND r.requested_by = 'engine' AND r.created_at >= ?2) \
         GROUP BY target ORDER BY target",
    )
    .bind(rule)
    .bind(window_start)
    .fetch_all(ex)
    .await
}
