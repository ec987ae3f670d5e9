//! The audit log's hash chain (`audit_chain`): sealing new events, verifying the whole chain
//! (from the latest audit export's anchor once old events were pruned).
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::backend::{on_backend, on_conn, on_pool, Conn, Ex, PoolRef, WritePool};

use crate::model::AuditEvent;

/// The hash before the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Events sealed per transaction: bounds one write while a backlog (e.g. from the CLI) is sealed.
const SEAL_BATCH: i64 = 500;

/// The chained hash of `event` after `prev`: SHA-256 of a JSON array of both, so no field can
/// bleed into another. The array is serialised straight from a tuple (the same bytes as a
/// `serde_json::Value` array, without building one) and hex-encoded in one go: the sealer
/// hashes every audit entry, and a storm of refused alerts writes one each.
pub fn chain_hash(prev: &str, e: &AuditEvent) -> String {
    let canonical = (prev, e.id, &e.at, &e.actor, &e.action, &e.target, &e.detail, &e.source);
    // Serialising strings, integers and options to memory cannot fail.
    let bytes = serde_json::to_vec(&canonical).unwrap_or_default();
    format!("{:x}", Sha256::digest(&bytes))
}

/// Where the chain in the database starts: the last event of the latest export and its hash
/// (`(0, GENESIS)` while nothing was exported). Every older event has left the database.
pub async fn audit_anchor<'c>(ex: impl Into<Ex<'c>>) -> Result<(i64, String), sqlx::Error> {
    let row: Option<(i64, String)> = on_backend!(ex, |e| sqlx::query_as(
        "SELECT up_to_event_id, last_hash FROM audit_exports ORDER BY up_to_event_id DESC LIMIT 1",
    )
    .fetch_optional(e)
    .await)?;
    Ok(row.unwrap_or((0, GENESIS.to_owned())))
}

/// The newest sealed event and its hash; the anchor when none is left (before the first event,
/// or when every sealed one was exported and pruned).
async fn head<'c>(conn: impl Into<Conn<'c>>) -> Result<(i64, String), sqlx::Error> {
    on_conn!(conn, |c| {
        let row: Option<(i64, String)> =
            sqlx::query_as("SELECT event_id, hash FROM audit_chain ORDER BY event_id DESC LIMIT 1")
                .fetch_optional(&mut *c)
                .await?;
        match row {
            Some(row) => Ok(row),
            None => audit_anchor(c).await,
        }
    })
}

/// How long the PostgreSQL sealer waits for the transactions that may still commit an event
/// below its horizon; past it, it seals nothing this time and the next round tries again.
const HORIZON_WAIT: Duration = Duration::from_secs(5);

/// The highest event id the sealer may chain on PostgreSQL, where ids are handed out at insert
/// and committed in any order: the last id handed out, once every transaction that could hold
/// one below it has ended. An event's id is taken after its transaction has an id
/// (`audit_event_id()`), so such a transaction is running in a snapshot taken after reading the
/// sequence, and it has ended once the oldest running transaction is newer than that
/// snapshot's horizon. `None` when they did not end within [`HORIZON_WAIT`].
async fn sealing_horizon(pool: &sqlx::PgPool) -> Result<Option<i64>, sqlx::Error> {
    let (last, called): (i64, bool) =
        sqlx::query_as("SELECT last_value, is_called FROM audit_events_id_seq").fetch_one(pool).await?;
    let last = if called { last } else { 0 };
    let horizon: i64 = sqlx::query_scalar("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
        .fetch_one(pool)
        .await?;
    let deadline = Instant::now() + HORIZON_WAIT;
    loop {
        let oldest: i64 = sqlx::query_scalar("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            .fetch_one(pool)
            .await?;
        if oldest >= horizon {
            return Ok(Some(last));
        }
        if Instant::now() >= deadline {
            tracing::warn!("audit sealing waits for a long transaction; trying again later");
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Seals every event not sealed yet, in id order; returns how many. Each batch is read and
/// hashed outside the write lock, which is then held for a check and one insert: under a storm
/// of refused alerts (an audit entry each) the sealer runs back to back, and the webhooks'
/// group commits wait for every write lock it holds. When another sealer (the CLI's, beside
/// the server's) moved the head meanwhile, the batch is dropped and read again. On PostgreSQL
/// it seals only up to [`sealing_horizon`], and sealers take turns on an advisory lock.
pub async fn seal_audit<'p>(pool: impl Into<PoolRef<'p>>) -> Result<usize, sqlx::Error> {
    let pool = pool.into();
    let pg = matches!(pool, PoolRef::Pg(_));
    let up_to = match pool {
        PoolRef::Pg(pg) => match sealing_horizon(pg).await? {
            Some(last) => last,
            None => return Ok(0),
        },
        PoolRef::Sqlite(_) => i64::MAX,
    };
    on_pool!(pool, |p| {
        let mut sealed = 0;
        loop {
            let mut conn = p.acquire().await?;
            let start = head(&mut conn).await?;
            let (last_id, mut prev) = start.clone();
            let events: Vec<AuditEvent> = sqlx::query_as(
                "SELECT id, at, actor, action, target, detail, source FROM audit_events \
                 WHERE id > $1 AND id <= $2 ORDER BY id LIMIT $3",
            )
            .bind(last_id)
            .bind(up_to)
            .bind(SEAL_BATCH)
            .fetch_all(&mut *conn)
            .await?;
            drop(conn);
            if events.is_empty() {
                return Ok(sealed);
            }
            let mut links = Vec::with_capacity(events.len());
            for e in &events {
                prev = chain_hash(&prev, e);
                links.push((e.id, prev.clone()));
            }
            // One multi-row statement: a statement per event was a round trip each under the lock.
            let mut tx = p.begin_write().await?;
            if pg {
                sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('audit sealer', 0))")
                    .execute(&mut *tx)
                    .await?;
            }
            if head(&mut tx).await? != start {
                continue;
            }
            let mut insert = sqlx::QueryBuilder::new("INSERT INTO audit_chain (event_id, hash) ");
            insert.push_values(&links, |mut b, (id, hash)| {
                b.push_bind(*id).push_bind(hash.as_str());
            });
            insert.build().execute(&mut *tx).await?;
            tx.commit().await?;
            sealed += events.len();
        }
    })
}

/// What `verify_audit` found.
#[derive(Debug, PartialEq, Eq)]
pub enum ChainReport {
    /// Every sealed event matches; `unsealed` newer events are not covered yet.
    Intact { sealed: i64, unsealed: i64, head: String },
    /// The first event (by id) where the chain breaks, and how.
    Broken { event_id: i64, reason: String },
}

/// Recomputes the chain from the first event (after a prune: from the latest export's hash) and
/// reports the first break: an edited event (its hash no longer matches), a deleted one (a
/// sealed id without its event), an edited chain (a stored hash that does not follow from the
/// one before), or an event older than the latest export.
pub async fn verify_audit<'p>(pool: impl Into<PoolRef<'p>>) -> Result<ChainReport, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        event_id: i64,
        hash: String,
        id: Option<i64>,
        at: Option<String>,
        actor: Option<String>,
        action: Option<String>,
        target: Option<String>,
        detail: Option<String>,
        source: Option<String>,
    }
    on_pool!(pool, |pool| {
        // After a prune the chain resumes from the latest export; nothing older may be left.
        let (mut after, mut prev) = audit_anchor(pool).await?;
        let older: Option<i64> = sqlx::query_scalar("SELECT min(id) FROM audit_events WHERE id <= $1")
            .bind(after)
            .fetch_one(pool)
            .await?;
        if let Some(event_id) = older {
            return Ok(ChainReport::Broken {
                event_id,
                reason: "the event is older than the last export".into(),
            });
        }
        let mut sealed = 0;
        loop {
            let rows: Vec<Row> = sqlx::query_as(
                "SELECT c.event_id, c.hash, e.id, e.at, e.actor, e.action, e.target, e.detail, e.source \
                 FROM audit_chain c LEFT JOIN audit_events e ON e.id = c.event_id \
                 WHERE c.event_id > $1 ORDER BY c.event_id LIMIT 1000",
            )
            .bind(after)
            .fetch_all(pool)
            .await?;
            let Some(last) = rows.last() else { break };
            after = last.event_id;
            for r in rows {
                let Some(id) = r.id else {
                    return Ok(ChainReport::Broken {
                        event_id: r.event_id,
                        reason: "the event was deleted".into(),
                    });
                };
                let event = AuditEvent {
                    id,
                    at: r.at.unwrap_or_default(),
                    actor: r.actor.unwrap_or_default(),
                    action: r.action.unwrap_or_default(),
                    target: r.target,
                    detail: r.detail,
                    source: r.source,
                };
                let expected = chain_hash(&prev, &event);
                if expected != r.hash {
                    return Ok(ChainReport::Broken {
                        event_id: id,
                        reason: "the event or the chain before it was changed".into(),
                    });
                }
                prev = r.hash;
                sealed += 1;
            }
        }
        let (unsealed, gaps): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM audit_events WHERE id > $1), \
                    (SELECT count(*) FROM audit_events e WHERE e.id <= $1 \
                     AND NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.event_id = e.id))",
        )
        .bind(after)
        .fetch_one(pool)
        .await?;
        if gaps > 0 {
            let first: i64 = sqlx::query_scalar(
                "SELECT min(e.id) FROM audit_events e WHERE e.id <= $1 \
                 AND NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.event_id = e.id)",
            )
            .bind(after)
            .fetch_one(pool)
            .await?;
            return Ok(ChainReport::Broken {
                event_id: first,
                reason: "the event was inserted later".into(),
            });
        }
        Ok(ChainReport::Intact { sealed, unsealed, head: prev })
    })
}

#[cfg(test)]
#[path = "audit_chain_tests.rs"]
mod tests;
