//! The kill switch's table: the pauses in force (`migrations/…_create_pauses.sql`). Both
//! backends (`backend`).
use super::backend::{on_backend, Ex};

use crate::model::PauseView;
use crate::ssr::heal::pause::{Paused, EVERYTHING};

/// The scopes of the pauses in force; the inbox writer reads it too, on its own connection.
pub const PAUSED_SCOPES_SQL: &str = "SELECT scope FROM pauses";

/// The pauses in force, for the decision.
pub async fn paused<'c>(ex: impl Into<Ex<'c>>) -> Result<Paused, sqlx::Error> {
    let scopes: Vec<String> = on_backend!(ex, |e| sqlx::query_scalar(PAUSED_SCOPES_SQL).fetch_all(e).await)?;
    Ok(Paused::of(scopes))
}

/// The pauses in force, as people see them, everything first.
pub async fn list_pauses<'c>(ex: impl Into<Ex<'c>>) -> Result<Vec<PauseView>, sqlx::Error> {
    on_backend!(ex, |e| {
        sqlx::query_as("SELECT scope, reason, paused_by, paused_at FROM pauses ORDER BY scope <> $1, scope")
            .bind(EVERYTHING)
            .fetch_all(e)
            .await
    })
}

/// Pauses `scope` (or restates who and why, when it is paused already).
pub async fn pause<'c>(
    ex: impl Into<Ex<'c>>,
    scope: &str,
    reason: &str,
    by: &str,
    now: &str,
) -> Result<(), sqlx::Error> {
    on_backend!(ex, |e| {
        sqlx::query(
            "INSERT INTO pauses (scope, reason, paused_by, paused_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (scope) DO UPDATE SET reason = $2, paused_by = $3, paused_at = $4",
        )
        .bind(scope)
        .bind(reason)
        .bind(by)
        .bind(now)
        .execute(e)
        .await
        .map(|_| ())
    })
}

/// Ends the pause of `scope`; returns whether there was one.
pub async fn resume<'c>(ex: impl Into<Ex<'c>>, scope: &str) -> Result<bool, sqlx::Error> {
    let done = on_backend!(ex, |e| sqlx::query("DELETE FROM pauses WHERE scope = $1")
        .bind(scope)
        .execute(e)
        .await
        .map(|d| d.rows_affected()))?;
    Ok(done == 1)
}
