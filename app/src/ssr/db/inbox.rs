//! The inbox's write path: one synchronous SQLite connection owned by the inbox writer thread.
//! Rows go in multi-row cached prepared statements run in-process, so a group commit of
//! thousands of rows costs a few statements and no thread hop per statement (sqlx's SQLite driver
//! sends every statement to a worker thread and back, which dominated intake's profile).
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::types::ToSql;
use rusqlite::{OpenFlags, OptionalExtension, Transaction, TransactionBehavior};
use time::OffsetDateTime;

pub use rusqlite::{Connection, Error};

use super::alerts::{NewNotification, StoredNotification};
use super::notifications::StoredBody;
use crate::ssr::alert::{format_utc, AlertStatus, NewAlert};
use crate::ssr::heal::blast::KnownTargets;
use crate::ssr::heal::guard::{self, GuardAnswers};
use crate::ssr::heal::{KnownHosts, RuleSet};
use crate::ssr::inventory::InventoryHosts;

mod decide;
mod gates;
mod pg;
mod redecide;
mod statements;
mod store;

use decide::decide_and_store;
pub use decide::{verdict_of, Decided, NewEpisode, NewIds, ENGINE, RULES_REQUESTER};
pub use pg::{decide_leftovers_pg, redecide_pg, write_batch_pg, write_reconciled_pg};
pub use redecide::{redecide, HELD_EPISODES_SQL};
use store::{at_once, SqliteTx};

use statements::{
    bind_all, chunk_sizes, statement_sql, ALERT_COLUMNS, ALERT_CONFLICT, ALERT_ROW, ALERT_SQL,
    NOTIFICATION_COLUMNS, NOTIFICATION_CONFLICT, NOTIFICATION_ROW, NOTIFICATION_SQL, RECONCILED_ALERT_SQL,
};
#[cfg(test)]
use statements::{
    AUDIT_COLUMNS, AUDIT_ROW, AUDIT_SQL, DECISION_COLUMNS, DECISION_ROW, DECISION_SQL, ROWS_PER_STATEMENT,
    SHAPES,
};

/// Same as the pool's: ride out other writers (the engine, the worker), fail visibly if stuck.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Size the WAL file is truncated to when it starts over (bytes).
const WAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

/// How often the writer retries SQLite's write lock while another connection holds it.
/// SQLite's own busy handler backs off to 100 ms sleeps, which a webhook sender would see as
/// latency; the lock is usually free again within a millisecond.
const BUSY_RETRY: Duration = Duration::from_micros(250);

/// Prepared statements kept per connection: four statements times seven shapes, and the
/// history query.
const STATEMENT_CACHE: usize = 40;

/// Opens the writer's connection to an existing, migrated database with the pool's settings:
/// WAL, `synchronous=NORMAL` (a commit survives a crash of the process), foreign keys on.
pub fn open_writer(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    configure(&conn)?;
    Ok(conn)
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_handler(Some(retry_busy))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.pragma_update(None, "journal_mode", "wal")?;
    conn.pragma_update(None, "synchronous", "normal")?;
    conn.pragma_update(None, "foreign_keys", "on")?;
    // Never checkpoint inside a group commit (an fsync would stall it): the server's
    // checkpointer task copies most of the WAL, and the writer finishes the job between two
    // group commits (`checkpoint_between_commits`).
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    // When the WAL starts over, its file is cut back to this size rather than left at its peak.
    conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
    // Statement journals in memory: each upsert in a group commit keeps one (it may need to
    // undo itself alone), and SQLite spills those over 64 KiB to a temp file otherwise.
    conn.pragma_update(None, "temp_store", "memory")?;
    Ok(())
}

/// The writer's busy handler: retry every [`BUSY_RETRY`] until [`BUSY_TIMEOUT`] has passed.
fn retry_busy(attempt: i32) -> bool {
    let waited = BUSY_RETRY * u32::try_from(attempt).unwrap_or(u32::MAX);
    if waited >= BUSY_TIMEOUT {
        return false;
    }
    std::thread::sleep(BUSY_RETRY);
    true
}

/// Copies the WAL into the database file from the writer's own connection, between two of its
/// group commits (`PASSIVE`: it never waits for readers or other writers). A checkpointer on
/// another connection chases a WAL the writer keeps appending to and never reaches its end;
/// here nothing is appended meanwhile (unless the engine commits), so it usually copies every
/// frame, and the writer's next commit starts the WAL over with no wait. Most frames were
/// already copied by that other checkpointer, so this is the tail and two syncs.
/// Returns the frames in the WAL and how many of them are now in the database file.
pub fn checkpoint_between_commits(conn: &Connection) -> rusqlite::Result<(i64, i64)> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| Ok((r.get(1)?, r.get(2)?)))
}

/// What one group commit stored and decided.
#[derive(Debug, Default)]
pub struct Written {
    /// One per notification, in batch order.
    pub stored: Vec<StoredNotification>,
    /// Every new episode, decided in the same commit.
    pub decided: Vec<Decided>,
}

/// Stores `batch` in one IMMEDIATE transaction (the write lock is taken up front, so a busy
/// database waits in the busy handler rather than failing at the first write), and decides
/// every episode it creates in the same commit ([`decide_and_store`]): all or nothing. An
/// alert without a verdict is prejudged here, against the inventory's hosts (`hosts`).
pub fn write_batch(
    conn: &mut Connection,
    rules: &RuleSet,
    hosts: &InventoryHosts,
    batch: &[NewNotification<'_>],
    known_targets: &Arc<KnownTargets>,
) -> rusqlite::Result<Written> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let now = OffsetDateTime::now_utc();
    let now_text = format_utc(now);
    let (stored, ids) = record_with_ids(&tx, batch, Some(&now_text))?;
    let episodes = episodes_of(rules, hosts, batch, &ids);
    let decided =
        at_once(decide_and_store(&mut SqliteTx(&tx), rules, &episodes, now, &now_text, known_targets))?;
    tx.commit()?;
    Ok(Written { stored, decided })
}

/// The episodes a batch created (`ids`: per notification, its alerts' new row ids), each with
/// its verdict: the one the webhook handler made, or one made here against the inventory's
/// hosts (`hosts`, read only then).
fn episodes_of<'b>(
    rules: &RuleSet,
    hosts: &InventoryHosts,
    batch: &'b [NewNotification<'b>],
    ids: &[NewIds],
) -> Vec<NewEpisode<'b>> {
    let mut known: Option<std::sync::Arc<KnownHosts>> = None;
    let mut episodes = Vec::new();
    for (n, ids) in batch.iter().zip(ids) {
        for (i, (a, id)) in n.alerts.iter().zip(ids).enumerate() {
            let Some(alert_id) = *id else { continue };
            let verdict = match n.verdicts.get(i) {
                Some(v) => std::borrow::Cow::Borrowed(v),
                None => {
                    let hosts = known.get_or_insert_with(|| hosts.current());
                    let mut verdict = verdict_of(rules, hosts, a.status, &a.labels);
                    guard::fill(&mut verdict, n.guard_answers);
                    std::borrow::Cow::Owned(verdict)
                }
            };
            episodes.push(NewEpisode { alert_id, starts_at: &a.starts_at, labels: &a.labels, verdict });
        }
    }
    episodes
}

/// A firing alert found by polling Alertmanager, with the receiver it was routed to.
#[derive(Clone, Debug)]
pub struct ReconciledAlert {
    pub alert: NewAlert,
    pub receiver: Option<String>,
}

/// Stores the alerts reconciliation found, each unless its episode is already known (then
/// nothing changes: reconciliation never counts as a delivery), and decides the new ones in
/// the same commit, as [`write_batch`] does. Returns the decided new episodes.
pub fn write_reconciled(
    conn: &mut Connection,
    rules: &RuleSet,
    hosts: &KnownHosts,
    alerts: &[ReconciledAlert],
    guard_answers: &GuardAnswers,
    known: &Arc<KnownTargets>,
) -> rusqlite::Result<Vec<Decided>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let now = OffsetDateTime::now_utc();
    let now_text = format_utc(now);
    let mut ids = Vec::with_capacity(alerts.len());
    {
        let mut stmt = tx.prepare_cached(RECONCILED_ALERT_SQL)?;
        for r in alerts {
            let a = &r.alert;
            let id: Option<i64> = stmt
                .query_row(
                    rusqlite::params![
                        a.fingerprint,
                        a.starts_at,
                        a.alertname,
                        a.severity,
                        a.instance,
                        a.labels,
                        a.annotations,
                        a.generator_url,
                        r.receiver,
                        now_text,
                        now_text,
                        now_text,
                    ],
                    |row| row.get(0),
                )
                .optional()?;
            ids.push(id);
        }
    }
    let episodes = reconciled_episodes(rules, hosts, alerts, &ids, guard_answers);
    let decided = at_once(decide_and_store(&mut SqliteTx(&tx), rules, &episodes, now, &now_text, known))?;
    tx.commit()?;
    Ok(decided)
}

/// The episodes reconciliation stored (`ids`: each alert's new row, if it made one), each with
/// its verdict as a firing alert.
fn reconciled_episodes<'a>(
    rules: &RuleSet,
    hosts: &KnownHosts,
    alerts: &'a [ReconciledAlert],
    ids: &[Option<i64>],
    guard_answers: &GuardAnswers,
) -> Vec<NewEpisode<'a>> {
    alerts
        .iter()
        .zip(ids)
        .filter_map(|(r, id)| {
            let a = &r.alert;
            let mut verdict = verdict_of(rules, hosts, AlertStatus::Firing, &a.labels);
            guard::fill(&mut verdict, guard_answers);
            id.map(|alert_id| NewEpisode {
                alert_id,
                starts_at: &a.starts_at,
                labels: &a.labels,
                verdict: std::borrow::Cow::Owned(verdict),
            })
        })
        .collect()
}

/// Decides the episodes an earlier version stored undecided (it left them to a separate
/// engine), oldest first, in one commit. Run once by the writer before it takes deliveries.
pub fn decide_leftovers(
    conn: &mut Connection,
    rules: &RuleSet,
    hosts: &KnownHosts,
    known: &Arc<KnownTargets>,
) -> rusqlite::Result<Vec<Decided>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let rows: Vec<Leftover> = tx
        .prepare("SELECT id, status, labels, starts_at FROM alerts WHERE decided_at IS NULL ORDER BY id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<rusqlite::Result<_>>()?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let now = OffsetDateTime::now_utc();
    let now_text = format_utc(now);
    let episodes = leftover_episodes(rules, hosts, &rows);
    let decided = at_once(decide_and_store(&mut SqliteTx(&tx), rules, &episodes, now, &now_text, known))?;
    tx.execute("UPDATE alerts SET decided_at = ?1 WHERE decided_at IS NULL", [&now_text])?;
    tx.commit()?;
    Ok(decided)
}

/// An undecided alert as read back: id, status, labels, start.
type Leftover = (i64, String, String, String);

/// The undecided alerts' episodes, each with its verdict by its own status.
fn leftover_episodes<'a>(rules: &RuleSet, hosts: &KnownHosts, rows: &'a [Leftover]) -> Vec<NewEpisode<'a>> {
    rows.iter()
        .map(|(alert_id, status, labels, starts_at)| {
            let status = if status == "resolved" { AlertStatus::Resolved } else { AlertStatus::Firing };
            let verdict = verdict_of(rules, hosts, status, labels);
            NewEpisode { alert_id: *alert_id, starts_at, labels, verdict: std::borrow::Cow::Owned(verdict) }
        })
        .collect()
}

/// Stores a batch of notifications and upserts each of their alerts, by its own status, in
/// `tx` (the caller commits). The same bytes again count as a delivery of the first row; an
/// episode (fingerprint, startsAt) seen again counts as a duplicate. A resolved episode stays
/// resolved: a late, retried "firing" cannot reopen it.
pub fn record_notifications(
    tx: &Transaction<'_>,
    batch: &[NewNotification<'_>],
) -> rusqlite::Result<Vec<StoredNotification>> {
    Ok(record_with_ids(tx, batch, None)?.0)
}

/// [`record_notifications`], and for each notification its alerts' row ids where this batch
/// created the row (`None` for an episode seen before). New rows are stored decided at
/// `decided_at`, when given (the caller decides them in the same transaction).
fn record_with_ids(
    tx: &Transaction<'_>,
    batch: &[NewNotification<'_>],
    decided_at: Option<&str>,
) -> rusqlite::Result<(Vec<StoredNotification>, Vec<NewIds>)> {
    // Notifications first: their ids go into the alert rows.
    let mut returned: Vec<(i64, i64)> = Vec::with_capacity(batch.len());
    let mut rest = batch;
    for size in chunk_sizes(batch.len()) {
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        let sql = statement_sql(
            &NOTIFICATION_SQL,
            NOTIFICATION_COLUMNS,
            NOTIFICATION_ROW,
            NOTIFICATION_CONFLICT,
            size,
        );
        let mut stmt = tx.prepare_cached(sql)?;
        let mut at = 0;
        for n in chunk {
            let count = n.alerts.len() as i64;
            let payload: &dyn ToSql = match n.payload {
                StoredBody::Text(text) => text,
                StoredBody::Packed(bytes) => bytes,
            };
            bind_all(
                &mut stmt,
                &mut at,
                &[
                    &newest_start(n),
                    &n.payload_sha256,
                    &n.received_at,
                    &n.received_at,
                    &n.source.as_str(),
                    &n.receiver,
                    &n.status.as_str(),
                    &n.group_key,
                    &n.external_url,
                    &count,
                    &n.truncated_alerts,
                    payload,
                    &n.payload.encoding(),
                ],
            )?;
        }
        returned.extend(read_returned(
            stmt.raw_query(),
            size,
            |i, row| Ok(row.get_ref(0)?.as_str()? == chunk[i].payload_sha256),
            |row| row.get::<_, String>(0),
            |i| chunk[i].payload_sha256.to_owned(),
            |row| Ok((row.get(2)?, row.get(1)?)),
        )?);
    }
    let mut stored = stored_notifications(returned);

    let alerts: Vec<(&NewNotification<'_>, i64, &NewAlert)> = batch
        .iter()
        .zip(&stored)
        .flat_map(|(n, s)| n.alerts.iter().map(move |a| (n, s.notification_id, a)))
        .collect();
    let mut returned: Vec<(i64, AlertReturned)> = Vec::with_capacity(alerts.len());
    let mut rest = alerts.as_slice();
    for size in chunk_sizes(alerts.len()) {
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        let mut stmt =
            tx.prepare_cached(statement_sql(&ALERT_SQL, ALERT_COLUMNS, ALERT_ROW, ALERT_CONFLICT, size))?;
        let mut at = 0;
        for (n, nid, a) in chunk {
            let resolved_at = (a.status == AlertStatus::Resolved).then_some(n.received_at);
            bind_all(
                &mut stmt,
                &mut at,
                &[
                    &a.fingerprint,
                    &a.starts_at,
                    &a.status.as_str(),
                    &a.alertname,
                    &a.severity,
                    &a.instance,
                    &a.labels,
                    &a.annotations,
                    &a.ends_at,
                    &a.generator_url,
                    &n.group_key,
                    &n.receiver,
                    &n.source.as_str(),
                    &n.received_at,
                    &n.received_at,
                    &resolved_at,
                    nid,
                    &decided_at,
                ],
            )?;
        }
        returned.extend(read_returned(
            stmt.raw_query(),
            size,
            |i, row| {
                let a = chunk[i].2;
                Ok(row.get_ref(0)?.as_str()? == a.fingerprint && row.get_ref(1)?.as_str()? == a.starts_at)
            },
            |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)),
            |i| (chunk[i].2.fingerprint.clone(), chunk[i].2.starts_at.clone()),
            |row| Ok((row.get(2)?, (row.get(3)?, row.get(4)?))),
        )?);
    }
    let ids = tally_alerts(batch, &mut stored, returned)
        .ok_or_else(|| missing_row("an alert row was not returned"))?;
    Ok((stored, ids))
}

/// What each notification's upsert returned (delivery count, row id), in batch order, as
/// what storing it did.
fn stored_notifications(returned: Vec<(i64, i64)>) -> Vec<StoredNotification> {
    returned
        .into_iter()
        .map(|(deliveries, id)| StoredNotification {
            notification_id: id,
            duplicate_notification: deliveries > 1,
            ..Default::default()
        })
        .collect()
}

/// Counts what each alert's upsert returned (delivery count, resolved_at, row id; in batch
/// order) into its notification's `stored`: new, duplicate, resolved now. Returns the new
/// rows' ids per notification; `None` when a row is missing.
fn tally_alerts(
    batch: &[NewNotification<'_>],
    stored: &mut [StoredNotification],
    returned: Vec<(i64, AlertReturned)>,
) -> Option<Vec<NewIds>> {
    let mut returned = returned.into_iter();
    let mut ids = Vec::with_capacity(batch.len());
    for (n, s) in batch.iter().zip(stored.iter_mut()) {
        let mut new_ids = Vec::with_capacity(n.alerts.len());
        for a in n.alerts {
            let (deliveries, (resolved_at, id)) = returned.next()?;
            new_ids.push((deliveries == 1).then_some(id));
            if deliveries == 1 {
                s.new_alerts += 1;
            } else {
                s.duplicate_alerts += 1;
            }
            if a.status == AlertStatus::Resolved && resolved_at.as_deref() == Some(n.received_at) {
                s.resolved_now += 1;
            }
        }
        ids.push(new_ids);
    }
    Some(ids)
}

/// The first half of a notification's dedup key: the newest startsAt among its alerts ('' for
/// none). The same bytes carry the same alerts, so the key still makes them one row, and new
/// notifications land together at the right edge of the unique index instead of on a random
/// leaf each (the hash alone is random).
fn newest_start<'a>(n: &NewNotification<'a>) -> &'a str {
    n.alerts.iter().map(|a| a.starts_at.as_str()).max().unwrap_or("")
}

/// An invariant of RETURNING broken (never expected): logged, and fails the batch like a
/// database error.
fn missing_row(what: &str) -> rusqlite::Error {
    tracing::error!("{what}");
    rusqlite::Error::QueryReturnedNoRows
}

/// What an alert upsert returns besides its key and delivery count: resolved_at, row id.
type AlertReturned = (Option<String>, i64);

/// The RETURNING rows of one multi-row upsert of `rows` input rows, one per input row, in
/// input order: what `value` keeps of each (the delivery count first). SQLite returns them in
/// the order it wrote the rows, but does not promise to: `is_input` checks each row's key
/// against its input row's without copying it, and if any differs, the rows are matched by
/// their owned keys (`row_key`, `input_key`) instead; the same key twice in one statement
/// gives the lowest delivery count to the first.
fn read_returned<Key: Ord, V>(
    mut returned: rusqlite::Rows<'_>,
    rows: usize,
    is_input: impl Fn(usize, &rusqlite::Row<'_>) -> rusqlite::Result<bool>,
    row_key: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<Key>,
    input_key: impl Fn(usize) -> Key,
    value: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<(i64, V)>,
) -> rusqlite::Result<Vec<(i64, V)>> {
    let mut in_order = Vec::with_capacity(rows);
    let mut stray = Vec::new();
    while let Some(row) = returned.next()? {
        let i = in_order.len();
        if stray.is_empty() && i < rows && is_input(i, row)? {
            in_order.push(value(row)?);
        } else {
            stray.push((row_key(row)?, value(row)?));
        }
    }
    if stray.is_empty() && in_order.len() == rows {
        return Ok(in_order);
    }
    let matched = in_order.into_iter().enumerate().map(|(i, v)| (input_key(i), v));
    let mut by_key = group_sorted(matched.chain(stray).collect());
    (0..rows)
        .map(|i| {
            by_key
                .get_mut(&input_key(i))
                .and_then(Vec::pop)
                .ok_or_else(|| missing_row("an upserted row was not returned"))
        })
        .collect()
}

/// Groups `(key, (order, value))` pairs by key, each group sorted by `order` descending, so
/// that popping yields the lowest order first.
fn group_sorted<K: Ord, O: Ord, V>(items: Vec<(K, (O, V))>) -> BTreeMap<K, Vec<(O, V)>> {
    let mut map: BTreeMap<K, Vec<(O, V)>> = BTreeMap::new();
    for (k, v) in items {
        map.entry(k).or_default().push(v);
    }
    for group in map.values_mut() {
        group.sort_by(|a, b| b.0.cmp(&a.0));
    }
    map
}

/// A migrated temp-file database open both ways, for tests: the pool (reads, other tables)
/// and the writer's connection (the inbox write path).
#[cfg(test)]
pub struct TestDb {
    pub pool: sqlx::SqlitePool,
    pub conn: Connection,
    _dir: tempfile::TempDir,
}

#[cfg(test)]
pub async fn test_db() -> TestDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("selfheal.db");
    let pool = super::connect(&path).await.expect("database opens");
    super::migrate(&pool).await.expect("migrations apply");
    let conn = open_writer(&path).expect("writer opens");
    TestDb { pool, conn, _dir: dir }
}

/// Stores one fixture payload (as the webhook would) in its own transaction, for tests.
#[cfg(test)]
pub fn store_fixture(db: &mut TestDb, raw: &str, at: &str) -> StoredNotification {
    use crate::ssr::alert::{normalise_payload, WebhookPayload};
    let p: WebhookPayload = serde_json::from_str(raw).expect("fixture parses");
    let alerts = normalise_payload(&p).expect("fixture is valid");
    let hash = format!("{:x}", raw.len() as u64 * 31 + raw.bytes().map(u64::from).sum::<u64>());
    let stored = crate::ssr::db::notifications::pack(raw).expect("packs");
    let n = NewNotification {
        payload_sha256: &hash,
        received_at: at,
        source: super::alerts::Source::Webhook,
        receiver: &p.receiver,
        status: p.status,
        group_key: &p.group_key,
        external_url: p.external_url.as_deref(),
        truncated_alerts: p.truncated_alerts as i64,
        payload: &stored,
        alerts: &alerts,
        verdicts: &[],
        guard_answers: &guard::NO_ANSWERS,
    };
    let tx = db.conn.transaction().expect("begin");
    let stored = record_notifications(&tx, std::slice::from_ref(&n)).expect("stored").remove(0);
    tx.commit().expect("commit");
    stored
}

#[cfg(test)]
#[path = "inbox_tests.rs"]
mod tests;
