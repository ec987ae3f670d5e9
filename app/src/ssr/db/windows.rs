//! Maintenance windows (`migrations/…_create_maintenance_windows.sql`): those in force for the
//! decision, the history for the page, opening and cancelling, the config's kept in step.
use super::backend::{on_backend, on_conn, Conn, Ex};

use crate::ssr::heal::window::{Window, WindowConfig};

/// The specs (JSON) of the windows not cancelled; the inbox writer reads it too.
pub const WINDOWS_IN_FORCE_SQL: &str =
    "SELECT spec FROM maintenance_windows WHERE cancelled_at IS NULL ORDER BY id";

/// Windows from their stored specs; a spec that no longer reads (never expected: it was checked
/// when stored) is left out, and logged.
pub fn windows_from(specs: impl IntoIterator<Item = String>) -> Vec<Window> {
    specs
        .into_iter()
        .filter_map(|spec| {
            let window = serde_json::from_str::<WindowConfig>(&spec)
                .map_err(|e| e.to_string())
                .and_then(Window::from_config);
            window
                .map_err(|e| tracing::warn!(error = %e, "a stored maintenance window does not read; ignored"))
                .ok()
        })
        .collect()
}

/// The windows in force (not cancelled; open or not).
pub async fn in_force<'c>(ex: impl Into<Ex<'c>>) -> Result<Vec<Window>, sqlx::Error> {
    let specs: Vec<String> =
        on_backend!(ex, |e| sqlx::query_scalar(WINDOWS_IN_FORCE_SQL).fetch_all(e).await)?;
    Ok(windows_from(specs))
}

/// One stored window, as the page lists it.
#[derive(Debug, sqlx::FromRow)]
pub struct StoredWindow {
    pub id: i64,
    pub spec: String,
    pub source: String,
    pub created_by: String,
    pub created_at: String,
    pub cancelled_by: Option<String>,
    pub cancelled_at: Option<String>,
}

/// Every window, newest first, at most `limit`.
pub async fn history<'c>(ex: impl Into<Ex<'c>>, limit: i64) -> Result<Vec<StoredWindow>, sqlx::Error> {
    on_backend!(ex, |e| sqlx::query_as(
        "SELECT id, spec, source, created_by, created_at, cancelled_by, cancelled_at \
         FROM maintenance_windows ORDER BY id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(e)
    .await)
}

/// Stores a checked window; `false` when one of its name is in force.
pub async fn open<'c>(
    ex: impl Into<Ex<'c>>,
    window: &Window,
    source: &str,
    by: &str,
    now: &str,
) -> Result<bool, sqlx::Error> {
    let spec = serde_json::to_string(&window.config).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let done = on_backend!(ex, |e| {
        sqlx::query(
        "INSERT INTO maintenance_windows (name, spec, source, created_by, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT DO NOTHING",
    )
    .bind(window.name())
    .bind(&spec)
    .bind(source)
    .bind(by)
    .bind(now)
    .execute(e)
    .await
    .map(|d| d.rows_affected())
    })?;
    Ok(done == 1)
}

/// Cancels the window `name` in force (of `source`, when given); whether there was one.
pub async fn cancel<'c>(
    ex: impl Into<Ex<'c>>,
    name: &str,
    source: Option<&str>,
    by: &str,
    now: &str,
) -> Result<bool, sqlx::Error> {
    let done = on_backend!(ex, |e| sqlx::query(
        "UPDATE maintenance_windows SET cancelled_at = $3, cancelled_by = $4 \
         WHERE name = $1 AND cancelled_at IS NULL AND ($2 IS NULL OR source = $2)",
    )
    .bind(name)
    .bind(source)
    .bind(now)
    .bind(by)
    .execute(e)
    .await
    .map(|d| d.rows_affected()))?;
    Ok(done == 1)
}

/// Puts the config file's windows in force as written: each one new or changed is stored (a
/// changed one replaces the old, which stays in the history), each one gone from the file is
/// cancelled. A window of the same name opened through the API is left alone (and the
/// config's is not stored). Returns how many rows changed.
pub async fn sync_config<'c>(
    conn: impl Into<Conn<'c>>,
    windows: &[Window],
    now: &str,
) -> Result<usize, sqlx::Error> {
    on_conn!(conn, |conn| {
        let stored: Vec<(String, String, String)> =
            sqlx::query_as("SELECT name, spec, source FROM maintenance_windows WHERE cancelled_at IS NULL")
                .fetch_all(&mut *conn)
                .await?;
        let mut changed = 0;
        for (name, spec, source) in &stored {
            let kept = windows.iter().find(|w| w.name() == name);
            let same = kept.is_some_and(|w| serde_json::to_string(&w.config).is_ok_and(|s| &s == spec));
            if source == "config" && !same {
                changed += usize::from(cancel(&mut *conn, name, Some("config"), "config", now).await?);
            }
        }
        for w in windows {
            if !stored.iter().any(|(name, spec, _)| {
                name == w.name() && serde_json::to_string(&w.config).is_ok_and(|s| &s == spec)
            }) {
                changed += usize::from(open(&mut *conn, w, "config", "config", now).await?);
            }
        }
        Ok(changed)
    })
}

/// A window's Alertmanager silence, as last made: the row, its spec, the silence and the end it
/// was made for.
#[derive(Debug, sqlx::FromRow)]
pub struct WindowSilence {
    pub id: i64,
    pub spec: String,
    pub silence_id: Option<String>,
    pub silenced_until: Option<String>,
    pub cancelled: bool,
}

/// The windows in force that silence, and the cancelled ones whose silence is not expired yet.
pub async fn silences<'c>(ex: impl Into<Ex<'c>>) -> Result<Vec<WindowSilence>, sqlx::Error> {
    on_backend!(ex, |e, pg| {
        let silences = if pg {
            "(spec::jsonb -> 'silence') = 'true'::jsonb"
        } else {
            "json_extract(spec, '$.silence') = 1"
        };
        sqlx::query_as(&format!(
            "SELECT id, spec, silence_id, silenced_until, cancelled_at IS NOT NULL AS cancelled \
             FROM maintenance_windows WHERE (cancelled_at IS NULL AND {silences}) \
                OR (cancelled_at IS NOT NULL AND silence_id IS NOT NULL) ORDER BY id"
        ))
        .fetch_all(e)
        .await
    })
}

/// Records the window's silence (`None`: expired) and the end it was made for.
pub async fn set_silence<'c>(
    ex: impl Into<Ex<'c>>,
    id: i64,
    silence_id: Option<&str>,
    until: Option<&str>,
) -> Result<(), sqlx::Error> {
    on_backend!(ex, |e| sqlx::query(
        "UPDATE maintenance_windows SET silence_id = $2, silenced_until = $3 WHERE id = $1"
    )
    .bind(id)
    .bind(silence_id)
    .bind(until)
    .execute(e)
    .await
    .map(|_| ()))
}
