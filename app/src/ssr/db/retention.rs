//! Retention SQL: old history deleted in bounded batches, children before parents (the audit
//! log leaves only through exports: `audit_export`).
use super::backend::{dialect, on_conn, on_pool, Conn, PoolRef, WritePool};

use crate::model::RunStatus;

/// Rows deleted (or scanned) per transaction: the write lock is held for milliseconds, so intake
/// commits between two batches, while a million-row backlog still takes only a few hundred.
pub const PRUNE_BATCH: i64 = 5_000;

/// Run statuses that are still work: such a run, and its alert, are never pruned.
/// The statuses of runs in flight, as an SQL list: their output, alert and row are kept.
fn active_run_statuses() -> String {
    RunStatus::sql_list(&RunStatus::ACTIVE)
}

/// Everything older than these UTC timestamps (as stored) may go.
#[derive(Clone, Debug)]
pub struct Cutoffs {
    /// Resolved alerts last seen before this.
    pub alerts: String,
    /// At most this many alerts: beyond it, the oldest resolved ones go whatever their age.
    pub alerts_max: i64,
    /// Notifications last received before this, once no alert refers to them.
    pub notifications: String,
    /// Output of runs finished before this.
    pub run_output: String,
    /// Runs finished before this (once their alert is gone), their outgoing notifications, and
    /// breaker resets.
    pub runs: String,
    /// Audit events recorded before this (exported first, by `audit_export`).
    pub audit: String,
    /// Now, stored as the time output was pruned.
    pub now: String,
}

/// One pruning step. [`Step::ALL`] is the order: every child row goes before its parent.
///
/// The newest row of a table is never pruned (`id < max(id)` in every selection): SQLite gives
/// a new row `max(id) + 1`, so a pruned id would otherwise be handed out again, and a new audit
/// event could land below the last export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// `run_output` of finished runs (the run is marked `output_pruned_at`).
    RunOutput,
    /// Old resolved alerts with their decisions; their runs stay, detached (`alert_id` NULL).
    Alerts,
    /// The oldest resolved alerts beyond `alerts_max`.
    AlertsOverCap,
    /// Old finished runs whose alert is gone, with their outgoing notifications.
    Runs,
    /// Old outgoing notifications.
    Outbound,
    /// Old breaker resets.
    BreakerResets,
    /// Old notifications no alert refers to any more.
    Notifications,
}

impl Step {
    pub const ALL: [Step; 7] = [
        Step::RunOutput,
        Step::Alerts,
        Step::AlertsOverCap,
        Step::Runs,
        Step::Outbound,
        Step::BreakerResets,
        Step::Notifications,
    ];
}

/// Rows deleted, by table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub run_output: u64,
    pub alerts: u64,
    pub decisions: u64,
    pub heal_runs: u64,
    pub outbound_notifications: u64,
    pub breaker_resets: u64,
    pub notifications: u64,
    pub audit_events: u64,
}

impl Pruned {
    /// `(table, rows)` for every table.
    pub fn by_table(&self) -> [(&'static str, u64); 8] {
        [
            ("run_output", self.run_output),
            ("alerts", self.alerts),
            ("decisions", self.decisions),
            ("heal_runs", self.heal_runs),
            ("outbound_notifications", self.outbound_notifications),
            ("breaker_resets", self.breaker_resets),
            ("notifications", self.notifications),
            ("audit_events", self.audit_events),
        ]
    }

    pub fn total(&self) -> u64 {
        self.by_table().iter().map(|(_, n)| n).sum()
    }

    pub fn add(&mut self, other: &Pruned) {
        self.run_output += other.run_output;
        self.alerts += other.alerts;
        self.decisions += other.decisions;
        self.heal_runs += other.heal_runs;
        self.outbound_notifications += other.outbound_notifications;
        self.breaker_resets += other.breaker_resets;
        self.notifications += other.notifications;
        self.audit_events += other.audit_events;
    }
}

/// What one batch did, and where its step goes on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Batch {
    pub pruned: Pruned,
    /// The cursor (an id) to pass to the step's next batch; `None` once the step is done.
    pub next: Option<i64>,
}

/// One batch of `step` in its own `BEGIN IMMEDIATE` transaction (so what it selects cannot
/// change before it deletes): at most `limit` rows deleted and, for the steps that walk a table,
/// at most `limit` rows looked at, from the cursor `from` on (0 to start).
pub async fn prune_batch<'p>(
    pool: impl Into<PoolRef<'p>>,
    step: Step,
    cut: &Cutoffs,
    from: i64,
    limit: i64,
) -> Result<Batch, sqlx::Error> {
    on_pool!(pool.into(), |p| {
        let mut tx = p.begin_write().await?;
        let batch = prune_in(&mut tx, step, cut, from, limit).await?;
        tx.commit().await?;
        Ok(batch)
    })
}

/// [`prune_batch`]'s work, in the caller's transaction.
async fn prune_in(
    tx: impl Into<Conn<'_>>,
    step: Step,
    cut: &Cutoffs,
    from: i64,
    limit: i64,
) -> Result<Batch, sqlx::Error> {
    let mut tx: Conn<'_> = tx.into();
    let mut pruned = Pruned::default();
    let more = |n: u64| (n >= limit as u64).then_some(0);
    let next = match step {
        Step::RunOutput => prune_run_output(&mut tx, cut, limit, &mut pruned).await?,
        Step::Alerts => {
            pruned = prune_alerts(&mut tx, Some(&cut.alerts), limit).await?;
            more(pruned.alerts)
        }
        Step::AlertsOverCap => {
            let count: i64 = on_conn!(&mut tx, |e| sqlx::query_scalar("SELECT count(*) FROM alerts")
                .fetch_one(&mut *e)
                .await)?;
            let excess = count - cut.alerts_max;
            if excess > 0 {
                pruned = prune_alerts(&mut tx, None, excess.min(limit)).await?;
            }
            // Done once under the cap, or when what is left over it may not go (firing, active).
            (excess > limit && pruned.alerts == limit as u64).then_some(0)
        }
        Step::Runs => prune_runs(&mut tx, &cut.runs, from, limit, &mut pruned).await?,
        Step::Outbound => {
            pruned.outbound_notifications =
                delete_oldest(&mut tx, "outbound_notifications", "at", &cut.runs, limit).await?;
            more(pruned.outbound_notifications)
        }
        Step::BreakerResets => {
            pruned.breaker_resets =
                delete_oldest(&mut tx, "breaker_resets", "reset_at", &cut.runs, limit).await?;
            more(pruned.breaker_resets)
        }
        Step::Notifications => {
            prune_notifications(&mut tx, &cut.notifications, from, limit, &mut pruned).await?
        }
    };
    Ok(Batch { pruned, next })
}

/// Deletes the output of runs finished before the cutoff, oldest first, at most `limit` lines;
/// a run whose output is all gone is marked.
async fn prune_run_output(
    conn: &mut Conn<'_>,
    cut: &Cutoffs,
    limit: i64,
    pruned: &mut Pruned,
) -> Result<Option<i64>, sqlx::Error> {
    let active = active_run_statuses();
    let pg = conn.is_pg();
    let sql = format!(
        // Pinned to the one index holding only runs whose output is left, whatever the statistics.
        "SELECT id FROM heal_runs INDEXED BY heal_runs_output_kept \
         WHERE output_pruned_at IS NULL AND finished_at < $1 \
         AND status NOT IN {active} ORDER BY finished_at LIMIT $2"
    );
    let runs: Vec<i64> = on_conn!(&mut *conn, |e| sqlx::query_scalar(&dialect(&sql, pg))
        .bind(&cut.run_output)
        .bind(limit)
        .fetch_all(&mut *e)
        .await)?;
    let mut budget = limit;
    for id in &runs {
        let deleted = on_conn!(&mut *conn, |e| sqlx::query(
            "DELETE FROM run_output WHERE run_id = $1 \
             AND seq IN (SELECT seq FROM run_output WHERE run_id = $1 ORDER BY seq LIMIT $2)",
        )
        .bind(id)
        .bind(budget)
        .execute(&mut *e)
        .await
        .map(|d| d.rows_affected()))?;
        pruned.run_output += deleted;
        if (deleted as i64) < budget {
            on_conn!(&mut *conn, |e| sqlx::query(
                "UPDATE heal_runs SET output_pruned_at = $1 WHERE id = $2"
            )
            .bind(&cut.now)
            .bind(id)
            .execute(&mut *e)
            .await
            .map(|_| ()))?;
        }
        budget -= deleted as i64;
        if budget == 0 {
            return Ok(Some(0));
        }
    }
    Ok((runs.len() as i64 >= limit).then_some(0))
}

/// Deletes up to `limit` resolved, decided alerts without an active run, last seen before
/// `seen_before` (any age when `None`), oldest first, with their decisions; their runs are kept
/// and detached.
async fn prune_alerts(
    conn: &mut Conn<'_>,
    seen_before: Option<&str>,
    limit: i64,
) -> Result<Pruned, sqlx::Error> {
    let active = active_run_statuses();
    let pg = conn.is_pg();
    let sql = format!(
        // Pinned to its index: without statistics the planner prefers (status, id), then sorts
        // every resolved alert.
        "SELECT id FROM alerts INDEXED BY alerts_resolved_last_seen \
         WHERE status = 'resolved' AND last_seen_at < coalesce($1, '9999') \
         AND decided_at IS NOT NULL AND id < (SELECT max(id) FROM alerts) \
         AND id NOT IN (SELECT alert_id FROM heal_runs \
                        WHERE status IN {active} AND alert_id IS NOT NULL) \
         ORDER BY last_seen_at LIMIT $2"
    );
    let ids: Vec<i64> = on_conn!(&mut *conn, |e| sqlx::query_scalar(&dialect(&sql, pg))
        .bind(seen_before)
        .bind(limit)
        .fetch_all(&mut *e)
        .await)?;
    let mut pruned = Pruned::default();
    if ids.is_empty() {
        return Ok(pruned);
    }
    update_ids(conn, "UPDATE heal_runs SET alert_id = NULL WHERE alert_id", &ids).await?;
    pruned.decisions = delete_ids(conn, "decisions", "alert_id", &ids).await?;
    pruned.alerts = delete_ids(conn, "alerts", "id", &ids).await?;
    Ok(pruned)
}

/// Walks runs by id from `from`, up to the first one created after the cutoff, and deletes the
/// finished ones whose alert and decisions are gone, with their outgoing notifications.
async fn prune_runs(
    conn: &mut Conn<'_>,
    before: &str,
    from: i64,
    limit: i64,
    pruned: &mut Pruned,
) -> Result<Option<i64>, sqlx::Error> {
    let active = active_run_statuses();
    let sql = format!(
        "SELECT r.id, r.created_at < $1, \
           r.finished_at < $1 AND r.alert_id IS NULL AND r.status NOT IN {active} \
           AND NOT EXISTS (SELECT 1 FROM decisions d WHERE d.run_id = r.id) \
           AND r.id < (SELECT max(id) FROM heal_runs) \
         FROM heal_runs r WHERE r.id > $2 ORDER BY r.id LIMIT $3"
    );
    let rows: Vec<(i64, bool, bool)> = on_conn!(&mut *conn, |e| sqlx::query_as(&sql)
        .bind(before)
        .bind(from)
        .bind(limit)
        .fetch_all(&mut *e)
        .await)?;
    let (ids, next) = walk(&rows, limit);
    if !ids.is_empty() {
        pruned.outbound_notifications += delete_ids(conn, "outbound_notifications", "run_id", &ids).await?;
        pruned.run_output += delete_ids(conn, "run_output", "run_id", &ids).await?;
        pruned.heal_runs += delete_ids(conn, "heal_runs", "id", &ids).await?;
    }
    Ok(next)
}

/// Walks notifications by id from `from`, up to the first one received after the cutoff, and
/// deletes those no alert refers to.
async fn prune_notifications(
    conn: &mut Conn<'_>,
    before: &str,
    from: i64,
    limit: i64,
    pruned: &mut Pruned,
) -> Result<Option<i64>, sqlx::Error> {
    let rows: Vec<(i64, bool, bool)> = on_conn!(&mut *conn, |e| sqlx::query_as(
        "SELECT n.id, n.received_at < $1, \
           n.last_received_at < $1 AND n.id < (SELECT max(id) FROM notifications) \
           AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.last_notification_id = n.id) \
         FROM notifications n WHERE n.id > $2 ORDER BY n.id LIMIT $3",
    )
    .bind(before)
    .bind(from)
    .bind(limit)
    .fetch_all(&mut *e)
    .await)?;
    let (ids, next) = walk(&rows, limit);
    if !ids.is_empty() {
        pruned.notifications += delete_ids(conn, "notifications", "id", &ids).await?;
    }
    Ok(next)
}

/// From `(id, old, prunable)` rows in id order: the prunable ids up to the first row that is
/// not old (ids follow time, so the rest is newer), and the cursor to go on from (`None` when
/// a new row or the end of the table was reached).
fn walk(rows: &[(i64, bool, bool)], limit: i64) -> (Vec<i64>, Option<i64>) {
    let mut ids = Vec::new();
    for &(id, old, prunable) in rows {
        if !old {
            return (ids, None);
        }
        if prunable {
            ids.push(id);
        }
    }
    let next = rows.last().filter(|_| rows.len() as i64 >= limit).map(|r| r.0);
    (ids, next)
}

/// Deletes the `limit` oldest rows of `table` whose `column` is before `before`.
async fn delete_oldest(
    conn: &mut Conn<'_>,
    table: &str,
    column: &str,
    before: &str,
    limit: i64,
) -> Result<u64, sqlx::Error> {
    let sql = format!(
        "DELETE FROM {table} WHERE id IN \
         (SELECT id FROM {table} WHERE {column} < $1 ORDER BY {column} LIMIT $2)"
    );
    on_conn!(&mut *conn, |e| sqlx::query(&sql)
        .bind(before)
        .bind(limit)
        .execute(&mut *e)
        .await
        .map(|d| d.rows_affected()))
}

/// Deletes the rows of `table` whose `column` is one of `ids`.
async fn delete_ids(conn: &mut Conn<'_>, table: &str, column: &str, ids: &[i64]) -> Result<u64, sqlx::Error> {
    update_ids(conn, &format!("DELETE FROM {table} WHERE {column}"), ids).await
}

/// Runs `statement` (ending in the column to match) for the rows whose column is one of `ids`:
/// SQLite takes them as one JSON array (it limits the number of parameters), PostgreSQL as an
/// array.
async fn update_ids(conn: &mut Conn<'_>, statement: &str, ids: &[i64]) -> Result<u64, sqlx::Error> {
    Ok(match conn {
        Conn::Sqlite(e) => sqlx::query(&format!("{statement} IN (SELECT value FROM json_each($1))"))
            .bind(serde_json::to_string(ids).unwrap_or_else(|_| "[]".to_owned()))
            .execute(&mut **e)
            .await?
            .rows_affected(),
        Conn::Pg(e) => {
            sqlx::query(&format!("{statement} = ANY($1)")).bind(ids).execute(&mut **e).await?.rows_affected()
        }
    })
}

/// After a large prune on SQLite: refresh the planner's statistics where they drifted (bounded
/// by SQLite's own analysis limit) and give the grown WAL file back to the disk.
pub async fn tidy_after_prune<'p>(pool: impl Into<PoolRef<'p>>) -> Result<(), sqlx::Error> {
    match pool.into() {
        PoolRef::Sqlite(pool) => {
            let mut conn = pool.acquire().await?;
            // 0x10002: ANALYZE where useful, looking at every table, not only those this
            // connection used.
            sqlx::query("PRAGMA optimize = 0x10002").execute(&mut *conn).await?;
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut *conn).await?;
        }
        // PostgreSQL's autovacuum keeps its statistics and reuses the space.
        PoolRef::Pg(_) => {}
    }
    Ok(())
}

#[cfg(test)]
#[path = "retention_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "retention_plan_tests.rs"]
mod plan_tests;
