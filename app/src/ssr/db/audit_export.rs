//! Audit exports (`audit_exports`): which sealed events the next export holds, and recording an
//! export together with pruning the events it holds. The file itself is written by the server.
use super::backend::{on_backend, on_pool, Ex, PoolRef, WritePool};

use crate::model::AuditEvent;
use crate::ssr::db::audit_chain::audit_anchor;

/// A sealed audit event with its chain hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedEvent {
    pub event: AuditEvent,
    pub hash: String,
}

/// The oldest sealed audit events after the last export, up to the first one recorded at or
/// after `before` (or not sealed), at most `limit`, never the newest: what the next export holds.
pub async fn exportable_audit<'p>(
    pool: impl Into<PoolRef<'p>>,
    before: &str,
    limit: i64,
) -> Result<Vec<SealedEvent>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        event: AuditEvent,
        hash: Option<String>,
    }
    let rows: Vec<Row> = on_pool!(pool, |p| {
        let (anchor, _) = audit_anchor(p).await?;
        sqlx::query_as(
            "SELECT e.id, e.at, e.actor, e.action, e.target, e.detail, e.source, c.hash \
             FROM audit_events e LEFT JOIN audit_chain c ON c.event_id = e.id \
             WHERE e.id > $1 AND e.id < (SELECT max(id) FROM audit_events) ORDER BY e.id LIMIT $2",
        )
        .bind(anchor)
        .bind(limit)
        .fetch_all(p)
        .await
    })?;
    Ok(rows
        .into_iter()
        .map_while(|r| match r.hash {
            Some(hash) if r.event.at.as_str() < before => Some(SealedEvent { event: r.event, hash }),
            _ => None,
        })
        .collect())
}

/// An export written to disk, about to be recorded.
#[derive(Clone, Debug)]
pub struct NewAuditExport<'a> {
    /// The previous export's last event (0 before the first): the export must follow it.
    pub after_event_id: i64,
    pub from_event_id: i64,
    pub up_to_event_id: i64,
    pub events: i64,
    pub file: &'a str,
    pub sha256: &'a str,
    /// Chain hash of `up_to_event_id`.
    pub last_hash: &'a str,
}

/// Records an export and deletes the events it holds (and their seals), in one transaction.
/// `Ok(None)`, with nothing changed, when the log moved since the export was read: another
/// export was recorded, or the range now holds other events than the exported ones.
pub async fn commit_audit_export<'p>(
    pool: impl Into<PoolRef<'p>>,
    e: &NewAuditExport<'_>,
) -> Result<Option<u64>, sqlx::Error> {
    on_pool!(pool, |p| {
        let mut tx = p.begin_write().await?;
        if audit_anchor(&mut tx).await?.0 != e.after_event_id {
            return Ok(None);
        }
        sqlx::query(
            "INSERT INTO audit_exports (from_event_id, up_to_event_id, events, file, sha256, last_hash) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(e.from_event_id)
        .bind(e.up_to_event_id)
        .bind(e.events)
        .bind(e.file)
        .bind(e.sha256)
        .bind(e.last_hash)
        .execute(&mut *tx)
        .await?;
        let range =
            |table: &str, column: &str| format!("DELETE FROM {table} WHERE {column} > $1 AND {column} <= $2");
        let seals = sqlx::query(&range("audit_chain", "event_id"))
            .bind(e.after_event_id)
            .bind(e.up_to_event_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let events = sqlx::query(&range("audit_events", "id"))
            .bind(e.after_event_id)
            .bind(e.up_to_event_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if seals != events || events != e.events as u64 {
            return Ok(None); // dropped: rolled back
        }
        tx.commit().await?;
        Ok(Some(events))
    })
}

/// A recorded audit export.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditExport {
    pub from_event_id: i64,
    pub up_to_event_id: i64,
    pub file: String,
    pub sha256: String,
}

/// Every recorded audit export, oldest first.
pub async fn list_audit_exports<'c>(ex: impl Into<Ex<'c>>) -> Result<Vec<AuditExport>, sqlx::Error> {
    on_backend!(ex, |e| sqlx::query_as(
        "SELECT from_event_id, up_to_event_id, file, sha256 FROM audit_exports ORDER BY up_to_event_id",
    )
    .fetch_all(e)
    .await)
}

#[cfg(test)]
#[path = "audit_export_tests.rs"]
mod tests;
