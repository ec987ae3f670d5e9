//! The inbox's write path on PostgreSQL: a group commit stores its notifications and alerts
//! and decides every new episode in one transaction, as the SQLite writer does
//! ([`super::write_batch`]), with the same decision code ([`decide_and_store`]). Several
//! replicas write at once: the episode key's unique index makes a delivery at another replica a
//! duplicate, and the decision locks each target (and blast-radius scope) it decides on until
//! the commit, so one run per episode and one active run per target hold across replicas.
use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::Hash;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use sqlx::{PgConnection, PgPool, Row};
use time::OffsetDateTime;

use super::decide::{decide_and_store, Decided, NewIds};
use super::redecide::{held_episodes, Held, STILL_HELD_SQL};
use super::statements::{
    ALERT_COLUMNS, ALERT_CONFLICT, NOTIFICATION_COLUMNS, NOTIFICATION_CONFLICT, RECONCILED_ALERT_SQL,
};
use super::store::{AuditRow, DecisionRow, DecisionTx, ACTIVE_RUN_SQL, BREAKER_TOLD_SQL};
use super::{
    episodes_of, leftover_episodes, newest_start, reconciled_episodes, stored_notifications, tally_alerts,
    AlertReturned, Leftover, ReconciledAlert, Written,
};
use crate::ssr::alert::{format_utc, AlertStatus};
use crate::ssr::db::alerts::NewNotification;
use crate::ssr::db::backend::pg_sql;
use crate::ssr::db::blast::{BLAST_HISTORY_SQL, RECORD_TRIP_SQL};
use crate::ssr::db::decisions::TARGET_HISTORY_SQL;
use crate::ssr::db::notifications::StoredBody;
use crate::ssr::db::pauses::PAUSED_SCOPES_SQL;
use crate::ssr::db::runs::{NewRun, ENQUEUE_RUN_SQL};
use crate::ssr::db::windows::WINDOWS_IN_FORCE_SQL;
use crate::ssr::heal::blast::KnownTargets;
use crate::ssr::heal::guard::GuardAnswers;
use crate::ssr::heal::{KnownHosts, RuleSet};
use crate::ssr::inventory::InventoryHosts;

/// How often a group commit is tried again after PostgreSQL broke a deadlock or a
/// serialisation conflict by failing it (two replicas storing the same episodes in another
/// order): nothing of it was written, so it is simply tried again.
const RETRIES: u32 = 5;

/// The notifications' multi-row upsert from arrays (one statement of any size): the same
/// columns and conflict rule as SQLite's, returning the key with each row. Rows go in in the
/// order of their key: two replicas given the same notifications (both Alertmanagers deliver to
/// both) take the key's index locks in one order, so their commits wait for each other instead
/// of deadlocking (PostgreSQL would break it after its 1 s `deadlock_timeout`).
static NOTIFICATIONS_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{} SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
         $7::text[], $8::text[], $9::text[], $10::bigint[], $11::bigint[], $12::bytea[], $13::text[]) \
         ORDER BY 1, 2{}",
        NOTIFICATION_COLUMNS.trim_end().trim_end_matches("VALUES"),
        returning_key(NOTIFICATION_CONFLICT, "newest_starts_at, payload_sha256, id, deliveries"),
    )
});

/// The alerts' multi-row upsert from arrays, as [`NOTIFICATIONS_SQL`] (in the order of the key
/// too).
static ALERTS_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{} SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
         $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], \
         $14::text[], $15::text[], $16::text[], $17::bigint[], $18::text[]) ORDER BY 1, 2{}",
        ALERT_COLUMNS.trim_end().trim_end_matches("VALUES"),
        returning_key(ALERT_CONFLICT, "fingerprint, starts_at, deliveries, resolved_at, id"),
    )
});

/// `conflict` (SQLite's ON CONFLICT clause) with its RETURNING list replaced by `returning`.
fn returning_key(conflict: &str, returning: &str) -> String {
    let clause = conflict.split(" RETURNING ").next().unwrap_or(conflict);
    format!("{clause} RETURNING {returning}")
}

/// Stores `batch` and decides every episode it creates in one transaction on `pool`, as
/// [`super::write_batch`] does on SQLite; tried again from the start when PostgreSQL fails it
/// to break a deadlock with another replica's commit.
pub async fn write_batch_pg(
    pool: &PgPool,
    rules: &RuleSet,
    hosts: &InventoryHosts,
    batch: &[NewNotification<'_>],
    known: &Arc<KnownTargets>,
) -> Result<Written, sqlx::Error> {
    with_retries(|| try_write_batch(pool, rules, hosts, batch, known)).await
}

/// Stores the alerts reconciliation found and decides the new ones in one transaction, as
/// [`super::write_reconciled`] does on SQLite (an episode another replica stored first is
/// left alone).
pub async fn write_reconciled_pg(
    pool: &PgPool,
    rules: &RuleSet,
    hosts: &KnownHosts,
    alerts: &[ReconciledAlert],
    guard_answers: &GuardAnswers,
    known: &Arc<KnownTargets>,
) -> Result<Vec<Decided>, sqlx::Error> {
    with_retries(|| async {
        let mut tx = pool.begin().await?;
        let now = OffsetDateTime::now_utc();
        let now_text = format_utc(now);
        let mut ids = Vec::with_capacity(alerts.len());
        for r in alerts {
            let a = &r.alert;
            let id: Option<i64> = sqlx::query_scalar(pg_sql!(RECONCILED_ALERT_SQL))
                .bind(&a.fingerprint)
                .bind(&a.starts_at)
                .bind(&a.alertname)
                .bind(&a.severity)
                .bind(&a.instance)
                .bind(&a.labels)
                .bind(&a.annotations)
                .bind(&a.generator_url)
                .bind(&r.receiver)
                .bind(&now_text)
                .bind(&now_text)
                .bind(&now_text)
                .fetch_optional(&mut *tx)
                .await?;
            ids.push(id);
        }
        let episodes = reconciled_episodes(rules, hosts, alerts, &ids, guard_answers);
        let decided = decide_and_store(&mut PgTx(&mut tx), rules, &episodes, now, &now_text, known).await?;
        tx.commit().await?;
        Ok(decided)
    })
    .await
}

/// Decides the alerts stored undecided (copied from a SQLite database an earlier version left
/// them in), as [`super::decide_leftovers`] does; each is taken by one replica
/// (`FOR UPDATE SKIP LOCKED`).
pub async fn decide_leftovers_pg(
    pool: &PgPool,
    rules: &RuleSet,
    hosts: &KnownHosts,
    known: &Arc<KnownTargets>,
) -> Result<Vec<Decided>, sqlx::Error> {
    with_retries(|| async {
        let mut tx = pool.begin().await?;
        let rows: Vec<Leftover> = sqlx::query_as(
            "SELECT id, status, labels, starts_at FROM alerts WHERE decided_at IS NULL ORDER BY id \
             FOR UPDATE SKIP LOCKED",
        )
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let now = OffsetDateTime::now_utc();
        let now_text = format_utc(now);
        let episodes = leftover_episodes(rules, hosts, &rows);
        let decided = decide_and_store(&mut PgTx(&mut tx), rules, &episodes, now, &now_text, known).await?;
        sqlx::query("UPDATE alerts SET decided_at = $1 WHERE id = ANY($2)")
            .bind(&now_text)
            .bind(rows.iter().map(|r| r.0).collect::<Vec<_>>())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(decided)
    })
    .await
}

/// Decides held episodes again once no window covers them, as [`super::redecide`] does. Each
/// alert is locked first, so two replicas deciding it at once decide it once: the second reads
/// the first's decision and finds it no longer held.
pub async fn redecide_pg(
    pool: &PgPool,
    rules: &RuleSet,
    hosts: &KnownHosts,
    alert_ids: &[i64],
    guard_answers: &GuardAnswers,
    known: &Arc<KnownTargets>,
) -> Result<Vec<Decided>, sqlx::Error> {
    with_retries(|| async {
        let mut tx = pool.begin().await?;
        let keys: BTreeSet<String> = alert_ids.iter().map(|id| format!("alert {id}")).collect();
        PgTx(&mut tx).lock(&keys).await?;
        let mut rows: Vec<Held> = Vec::new();
        for id in alert_ids {
            let row: Option<Held> =
                sqlx::query_as(pg_sql!(STILL_HELD_SQL)).bind(id).fetch_optional(&mut *tx).await?;
            rows.extend(row);
        }
        let now = OffsetDateTime::now_utc();
        let now_text = format_utc(now);
        let episodes = held_episodes(rules, hosts, &rows, guard_answers);
        let decided = if episodes.is_empty() {
            Vec::new()
        } else {
            decide_and_store(&mut PgTx(&mut tx), rules, &episodes, now, &now_text, known).await?
        };
        tx.commit().await?;
        Ok(decided)
    })
    .await
}

/// Runs `attempt` until it succeeds, fails for good, or [`RETRIES`] retries have passed: a
/// commit PostgreSQL failed to break a deadlock wrote nothing and is simply tried again.
async fn with_retries<T, F, Fut>(mut attempt: F) -> Result<T, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
{
    let mut retried = 0;
    loop {
        match attempt().await {
            Err(e) if retried < RETRIES && must_retry(&e) => {
                retried += 1;
                tracing::debug!(retried, "commit tried again: {e}");
                tokio::time::sleep(Duration::from_millis(u64::from(retried) * 5)).await;
            }
            result => return result,
        }
    }
}

/// A deadlock broken or a serialisation failure: the transaction did nothing, try it again.
fn must_retry(e: &sqlx::Error) -> bool {
    e.as_database_error().and_then(|d| d.code()).is_some_and(|code| code == "40P01" || code == "40001")
}

async fn try_write_batch(
    pool: &PgPool,
    rules: &RuleSet,
    hosts: &InventoryHosts,
    batch: &[NewNotification<'_>],
    known: &Arc<KnownTargets>,
) -> Result<Written, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let now = OffsetDateTime::now_utc();
    let now_text = format_utc(now);
    let (stored, ids) = record(&mut tx, batch, Some(&now_text)).await?;
    let episodes = episodes_of(rules, hosts, batch, &ids);
    let decided: Vec<Decided> =
        decide_and_store(&mut PgTx(&mut tx), rules, &episodes, now, &now_text, known).await?;
    tx.commit().await?;
    Ok(Written { stored, decided })
}

/// Stores a batch's notifications and alerts in `conn`'s transaction, as SQLite's writer does:
/// what storing each did, and each notification's new alert rows.
async fn record(
    conn: &mut PgConnection,
    batch: &[NewNotification<'_>],
    decided_at: Option<&str>,
) -> Result<(Vec<crate::ssr::db::alerts::StoredNotification>, Vec<NewIds>), sqlx::Error> {
    let mut returned = Vec::with_capacity(batch.len());
    for rows in distinct_runs(batch, |n| (newest_start(n), n.payload_sha256)) {
        let chunk = &batch[rows];
        let mut by_key: HashMap<(String, String), (i64, i64)> = sqlx::query(&NOTIFICATIONS_SQL)
            .bind(chunk.iter().map(|n| newest_start(n)).collect::<Vec<_>>())
            .bind(chunk.iter().map(|n| n.payload_sha256).collect::<Vec<_>>())
            .bind(chunk.iter().map(|n| n.received_at).collect::<Vec<_>>())
            .bind(chunk.iter().map(|n| n.received_at).collect::<Vec<_>>())
            .bind(chunk.iter().map(|n| n.source.as_str()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|n| n.receiver).collect::<Vec<_>>())
            .bind(chunk.iter().map(|n| n.status.as_str()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|n| n.group_key).collect::<Vec<_>>())
            .bind(chunk.iter().map(|n| n.external_url).collect::<Vec<_>>())
            .bind(chunk.iter().map(|n| n.alerts.len() as i64).collect::<Vec<_>>())
            .bind(chunk.iter().map(|n| n.truncated_alerts).collect::<Vec<_>>())
            .bind(chunk.iter().map(|n| body_bytes(n.payload)).collect::<Vec<_>>())
            .bind(chunk.iter().map(|n| n.payload.encoding()).collect::<Vec<_>>())
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .map(|r| Ok(((r.try_get(0)?, r.try_get(1)?), (r.try_get(3)?, r.try_get(2)?))))
            .collect::<Result<_, sqlx::Error>>()?;
        for n in chunk {
            let key = (newest_start(n).to_owned(), n.payload_sha256.to_owned());
            returned
                .push(by_key.remove(&key).ok_or_else(|| missing_row("a notification row was not returned"))?);
        }
    }
    let mut stored = stored_notifications(returned);

    let alerts: Vec<(&NewNotification<'_>, i64, &crate::ssr::alert::NewAlert)> = batch
        .iter()
        .zip(&stored)
        .flat_map(|(n, s)| n.alerts.iter().map(move |a| (n, s.notification_id, a)))
        .collect();
    let mut returned: Vec<(i64, AlertReturned)> = Vec::with_capacity(alerts.len());
    for rows in distinct_runs(&alerts, |(_, _, a)| (a.fingerprint.as_str(), a.starts_at.as_str())) {
        let chunk = &alerts[rows];
        type Key = (String, String);
        let mut by_key: HashMap<Key, (i64, AlertReturned)> = sqlx::query(&ALERTS_SQL)
            .bind(chunk.iter().map(|(_, _, a)| a.fingerprint.as_str()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(_, _, a)| a.starts_at.as_str()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(_, _, a)| a.status.as_str()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(_, _, a)| a.alertname.as_str()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(_, _, a)| a.severity.as_deref()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(_, _, a)| a.instance.as_deref()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(_, _, a)| a.labels.as_str()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(_, _, a)| a.annotations.as_str()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(_, _, a)| a.ends_at.as_deref()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(_, _, a)| a.generator_url.as_deref()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(n, _, _)| n.group_key).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(n, _, _)| n.receiver).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(n, _, _)| n.source.as_str()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(n, _, _)| n.received_at).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(n, _, _)| n.received_at).collect::<Vec<_>>())
            .bind(
                chunk
                    .iter()
                    .map(|(n, _, a)| (a.status == AlertStatus::Resolved).then_some(n.received_at))
                    .collect::<Vec<_>>(),
            )
            .bind(chunk.iter().map(|(_, id, _)| *id).collect::<Vec<_>>())
            .bind(chunk.iter().map(|_| decided_at).collect::<Vec<_>>())
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .map(|r| Ok(((r.try_get(0)?, r.try_get(1)?), (r.try_get(2)?, (r.try_get(3)?, r.try_get(4)?)))))
            .collect::<Result<_, sqlx::Error>>()?;
        for (_, _, a) in chunk {
            let key = (a.fingerprint.clone(), a.starts_at.clone());
            returned.push(by_key.remove(&key).ok_or_else(|| missing_row("an alert row was not returned"))?);
        }
    }
    let ids = tally_alerts(batch, &mut stored, returned)
        .ok_or_else(|| missing_row("an alert row was not returned"))?;
    Ok((stored, ids))
}

/// `items` cut into runs in which no key repeats: PostgreSQL's upsert cannot touch one row
/// twice in a statement (SQLite's can), so the same episode twice in a group commit (both
/// Alertmanagers delivered it to this replica) goes into two statements, in order.
fn distinct_runs<'i, T, K: Eq + Hash + 'i>(
    items: &'i [T],
    key: impl Fn(&'i T) -> K,
) -> Vec<std::ops::Range<usize>> {
    let mut runs = Vec::new();
    let mut start = 0;
    let mut seen = HashSet::new();
    for (i, item) in items.iter().enumerate() {
        if !seen.insert(key(item)) {
            runs.push(start..i);
            start = i;
            seen.clear();
            seen.insert(key(item));
        }
    }
    if start < items.len() {
        runs.push(start..items.len());
    }
    runs
}

/// A stored body's bytes: the text as received, or the packed frame.
fn body_bytes(body: &StoredBody) -> &[u8] {
    match body {
        StoredBody::Text(text) => text.as_bytes(),
        StoredBody::Packed(bytes) => bytes,
    }
}

/// An invariant of RETURNING broken (never expected): logged, and fails the batch.
fn missing_row(what: &str) -> sqlx::Error {
    tracing::error!("{what}");
    sqlx::Error::RowNotFound
}

/// A PostgreSQL transaction as a [`DecisionTx`].
pub(crate) struct PgTx<'a>(pub &'a mut PgConnection);

impl DecisionTx for PgTx<'_> {
    type Error = sqlx::Error;

    /// One transaction-level advisory lock per key, in the order of the keys' hashes (one order
    /// for every replica, so two commits never wait on each other in a circle); held until the
    /// commit. The sorted subquery is not flattened, so the locks are taken in its order.
    async fn lock(&mut self, keys: &BTreeSet<String>) -> Result<(), sqlx::Error> {
        sqlx::query(
            "SELECT count(pg_advisory_xact_lock(k)) FROM \
             (SELECT hashtextextended(key, 0) AS k FROM unnest($1::text[]) AS key ORDER BY 1) AS keys",
        )
        .bind(keys.iter().map(String::as_str).collect::<Vec<_>>())
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn paused_scopes(&mut self) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query_scalar(pg_sql!(PAUSED_SCOPES_SQL)).fetch_all(&mut *self.0).await
    }

    async fn window_specs(&mut self) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query_scalar(pg_sql!(WINDOWS_IN_FORCE_SQL)).fetch_all(&mut *self.0).await
    }

    async fn blast_history(
        &mut self,
        rule: &str,
        scope: &str,
        since: &str,
    ) -> Result<(i64, bool), sqlx::Error> {
        sqlx::query_as(pg_sql!(BLAST_HISTORY_SQL))
            .bind(rule)
            .bind(scope)
            .bind(since)
            .fetch_one(&mut *self.0)
            .await
    }

    async fn target_history(
        &mut self,
        rule: &str,
        target: &str,
        window_start: &str,
    ) -> Result<(Option<i64>, Option<String>, i64), sqlx::Error> {
        sqlx::query_as(pg_sql!(*TARGET_HISTORY_SQL))
            .bind(rule)
            .bind(target)
            .bind(window_start)
            .fetch_one(&mut *self.0)
            .await
    }

    async fn breaker_told(&mut self, rule: &str, target: &str, opening: &str) -> Result<bool, sqlx::Error> {
        sqlx::query_scalar(pg_sql!(BREAKER_TOLD_SQL))
            .bind(rule)
            .bind(target)
            .bind(opening)
            .fetch_one(&mut *self.0)
            .await
    }

    async fn enqueue(&mut self, run: &NewRun<'_>) -> Result<Option<i64>, sqlx::Error> {
        let (mode, status) = run.mode_and_status();
        let vars =
            serde_json::to_string(&run.plan.extra_vars).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        sqlx::query_scalar(pg_sql!(ENQUEUE_RUN_SQL))
            .bind(run.alert_id)
            .bind(&run.plan.rule)
            .bind(&run.plan.playbook)
            .bind(&run.plan.target)
            .bind(&run.plan.limit)
            .bind(mode.as_str())
            .bind(status.as_str())
            .bind(run.requested_by)
            .bind(vars)
            .bind(run.timeout_ms)
            .bind(run.verify_expr)
            .bind(run.verify_within_ms)
            .bind(run.alert_starts_at)
            .bind(run.now)
            .bind(&run.plan.blast_scope)
            .fetch_optional(&mut *self.0)
            .await
    }

    async fn active_run_on(&mut self, target: &str) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar(pg_sql!(ACTIVE_RUN_SQL)).bind(target).fetch_optional(&mut *self.0).await
    }

    async fn record_trip(
        &mut self,
        rule: &str,
        scope: &str,
        now: &str,
        why: &str,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(pg_sql!(RECORD_TRIP_SQL))
            .bind(rule)
            .bind(scope)
            .bind(now)
            .bind(why)
            .execute(&mut *self.0)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Two statements from arrays, whatever the number of rows.
    async fn store(
        &mut self,
        decisions: &[DecisionRow<'_>],
        audits: &[AuditRow<'_>],
    ) -> Result<(), sqlx::Error> {
        if !decisions.is_empty() {
            sqlx::query(
                "INSERT INTO decisions (alert_id, at, rule, outcome, reason, detail, run_id, rules_hash) \
                 SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], \
                 $6::text[], $7::bigint[], $8::text[])",
            )
            .bind(decisions.iter().map(|d| d.alert_id).collect::<Vec<_>>())
            .bind(decisions.iter().map(|d| d.at).collect::<Vec<_>>())
            .bind(decisions.iter().map(|d| d.rule).collect::<Vec<_>>())
            .bind(decisions.iter().map(|d| d.outcome).collect::<Vec<_>>())
            .bind(decisions.iter().map(|d| d.reason).collect::<Vec<_>>())
            .bind(decisions.iter().map(|d| d.detail.as_ref()).collect::<Vec<_>>())
            .bind(decisions.iter().map(|d| d.run_id).collect::<Vec<_>>())
            .bind(decisions.iter().map(|d| d.rules_hash).collect::<Vec<_>>())
            .execute(&mut *self.0)
            .await?;
        }
        if !audits.is_empty() {
            sqlx::query(
                "INSERT INTO audit_events (actor, action, target, detail, source) \
                 SELECT actor, action, target, detail, 'intake' \
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS a(actor, action, target, detail)",
            )
            .bind(audits.iter().map(|a| a.0).collect::<Vec<_>>())
            .bind(audits.iter().map(|a| a.1).collect::<Vec<_>>())
            .bind(audits.iter().map(|a| a.2.as_str()).collect::<Vec<_>>())
            .bind(audits.iter().map(|a| a.3.as_ref()).collect::<Vec<_>>())
            .execute(&mut *self.0)
            .await?;
        }
        Ok(())
    }
}
