//! Maintenance windows while serving: the config's kept in step with the database (at start
//! and on each reload), and the episodes a window held decided again once no window covers
//! them — checked every [`CHECK_EVERY`], off the request path.
use std::time::Duration;

use sqlx::SqlitePool;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use app::ssr::alert::{format_utc, Labels};
use app::ssr::db::inbox::HELD_EPISODES_SQL;
use app::ssr::db::windows;
use app::ssr::heal::window::{covering, Window};

use crate::intake::Inbox;

/// How often held episodes are looked at: a window's end is acted on within this.
pub const CHECK_EVERY: Duration = Duration::from_secs(2);

/// Puts the config's windows in force (see [`windows::sync_config`]).
pub async fn sync_config(pool: &SqlitePool, config: &[Window]) -> anyhow::Result<usize> {
    let mut tx = app::ssr::db::begin_write(pool).await?;
    let changed = windows::sync_config(&mut tx, config, &format_utc(OffsetDateTime::now_utc())).await?;
    tx.commit().await?;
    Ok(changed)
}

/// Decides again each held episode no window in force covers now; returns how many.
pub async fn redecide_held(pool: &SqlitePool, inbox: &Inbox) -> anyhow::Result<usize> {
    let held: Vec<(i64, String)> = sqlx::query_as(HELD_EPISODES_SQL).fetch_all(pool).await?;
    if held.is_empty() {
        return Ok(0);
    }
    let in_force = windows::in_force(pool).await?;
    let now = OffsetDateTime::now_utc();
    let over: Vec<(i64, String)> = held
        .into_iter()
        .filter(|(_, labels)| Labels::parse(labels).map_or(true, |l| covering(&in_force, &l, now).is_none()))
        .collect();
    if over.is_empty() {
        return Ok(0);
    }
    Ok(inbox.redecide(over).await?)
}

/// [`redecide_held`] every [`CHECK_EVERY`] until `stop`; failures are logged and retried.
pub async fn run(pool: SqlitePool, inbox: Inbox, stop: CancellationToken) {
    loop {
        match redecide_held(&pool, &inbox).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(episodes = n, "maintenance over: held episodes decided again"),
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "cannot decide held episodes again; will retry")
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(CHECK_EVERY) => {}
        }
    }
}
