//! Blast-radius trips (`migrations/…_create_blast_radius.sql`): the history the decision reads
//! of a (rule, scope), the trip it records, and the trips in force people see and reset.
use super::backend::{on_backend, Ex};

use crate::model::BlastTripView;

/// A (rule, scope)'s heals the rules queued since `?3` (the window's start) and its last reset,
/// not counting runs waiting for approval or cancelled; and whether a trip is in force.
pub const BLAST_HISTORY_SQL: &str = "SELECT \
       (SELECT count(*) FROM heal_runs \
        WHERE rule = ?1 AND blast_scope = ?2 AND requested_by = 'engine' AND created_at >= ?3 \
          AND created_at >= coalesce((SELECT max(reset_at) FROM blast_trips WHERE rule = ?1 AND scope = ?2), '') \
          AND status NOT IN ('awaiting_approval', 'cancelled')), \
       EXISTS (SELECT 1 FROM blast_trips WHERE rule = ?1 AND scope = ?2 AND reset_at IS NULL)";

/// Records a trip of (rule, scope) unless one is in force; a row changed: it tripped now.
pub const RECORD_TRIP_SQL: &str = "INSERT INTO blast_trips (rule, scope, tripped_at, detail) \
     VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING";

/// The trips in force, oldest first.
pub async fn trips<'c>(ex: impl Into<Ex<'c>>) -> Result<Vec<BlastTripView>, sqlx::Error> {
    on_backend!(ex, |e| {
        sqlx::query_as(
        "SELECT rule, scope, tripped_at, detail FROM blast_trips WHERE reset_at IS NULL ORDER BY tripped_at, id",
    )
    .fetch_all(e)
    .await
    })
}

/// Ends the trip of (rule, scope) in `by`'s name; returns whether one was in force. Heals
/// before now stop counting.
pub async fn reset<'c>(
    ex: impl Into<Ex<'c>>,
    rule: &str,
    scope: &str,
    by: &str,
    now: &str,
) -> Result<bool, sqlx::Error> {
    let done = on_backend!(ex, |e| {
        sqlx::query(
        "UPDATE blast_trips SET reset_at = $3, reset_by = $4 WHERE rule = $1 AND scope = $2 AND reset_at IS NULL",
    )
    .bind(rule)
    .bind(scope)
    .bind(now)
    .bind(by)
    .execute(e)
    .await
    .map(|d| d.rows_affected())
    })?;
    Ok(done == 1)
}
