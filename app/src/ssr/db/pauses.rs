//! The kill switch's table: the pauses in force (`migrations/…_create_pauses.sql`).
use sqlx::SqliteExecutor;

use crate::model::PauseView;
use crate::ssr::heal::pause::{Paused, EVERYTHING};

/// The scopes of the pauses in force; the inbox writer reads it too, on its own connection.
pub const PAUSED_SCOPES_SQL: &str = "SELECT scope FROM pauses";

/// The pauses in force, for the decision.
pub async fn paused(ex: impl SqliteExecutor<'_>) -> Result<Paused, sqlx::Error> {
    let scopes: Vec<String> = sqlx::query_scalar(PAUSED_SCOPES_SQL).fetch_all(ex).await?;
    Ok(Paused::of(scopes))
}

/// The pauses in force, as people see them, everything first.
pub async fn list_pauses(ex: impl SqliteExecutor<'_>) -> Result<Vec<PauseView>, sqlx::Error> {
    sqlx::query_as("SELECT scope, reason, paused_by, paused_at FROM pauses ORDER BY scope <> ?, scope")
        .bind(EVERYTHING)
        .fetch_all(ex)
        .await
}

/// Pauses `scope` (or restates who and why, when it is paused already).
pub async fn pause(
    ex: impl SqliteExecutor<'_>,
    scope: &str,
    reason: &str,
    by: &str,
    now: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO pauses (scope, reason, paused_by, paused_at) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (scope) DO UPDATE SET reason = ?2, paused_by = ?3, paused_at = ?4",
    )
    .bind(scope)
    .bind(reason)
    .bind(by)
    .bind(now)
    .execute(ex)
    .await?;
    Ok(())
}

/// Ends the pause of `scope`; returns whether there was one.
pub async fn resume(ex: impl SqliteExecutor<'_>, scope: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM pauses WHERE scope = ?").bind(scope).execute(ex).await?;
    Ok(done.rows_affected() == 1)
}
