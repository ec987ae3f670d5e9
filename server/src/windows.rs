//! Maintenance windows while serving: the config's kept in step with the database (at start
//! and on each reload), and the episodes a window held decided again once no window covers
//! them — checked every [`CHECK_EVERY`], off the request path.
use std::time::Duration;

use app::ssr::db::backend::{on_backend, on_pool, Db, WritePool};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use app::ssr::alert::{format_utc, Labels};
use app::ssr::db::inbox::HELD_EPISODES_SQL;
use app::ssr::db::windows;
use app::ssr::heal::window::{covering, Window};

use crate::intake::Inbox;
use crate::silence::Silencer;

/// How often held episodes are looked at: a window's end is acted on within this.
pub const CHECK_EVERY: Duration = Duration::from_secs(2);

/// Puts the config's windows in force (see [`windows::sync_config`]).
pub async fn sync_config(pool: &Db, config: &[Window]) -> anyhow::Result<usize> {
    Ok(on_pool!(pool, |p| {
        let mut tx = p.begin_write().await?;
        let changed = windows::sync_config(&mut tx, config, &format_utc(OffsetDateTime::now_utc())).await?;
        tx.commit().await?;
        Ok::<_, sqlx::Error>(changed)
    })?)
}

/// Decides again each held episode no window in force covers now; returns how many.
pub async fn redecide_held(pool: &Db, inbox: &Inbox) -> anyhow::Result<usize> {
    let held: Vec<(i64, String)> =
        on_backend!(pool, |e| sqlx::query_as(HELD_EPISODES_SQL).fetch_all(e).await)?;
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

/// Keeps the silences of the windows that ask for one (`silence = true`): one per open
/// occurrence, from now to its end, made once (the end it was made for is stored); a
/// cancelled window's silence is expired. Returns how many silences were made or expired.
/// A failing Alertmanager is logged and tried again at the next check.
pub async fn keep_silences(pool: &Db, silencer: &Silencer) -> anyhow::Result<usize> {
    let now = OffsetDateTime::now_utc();
    let mut done = 0;
    for row in windows::silences(pool).await? {
        if row.cancelled {
            if let Some(id) = &row.silence_id {
                let ended = row.silenced_until.as_deref().is_some_and(|u| u <= format_utc(now).as_str());
                if !ended {
                    silencer.expire(id).await.map_err(anyhow::Error::msg)?;
                    done += 1;
                }
                windows::set_silence(pool, row.id, None, None).await?;
            }
            continue;
        }
        let Some(window) = windows::windows_from([row.spec.clone()]).pop() else { continue };
        let Some(end) = window.open_until(now) else { continue };
        let until = format_utc(end);
        if row.silenced_until.as_deref() == Some(until.as_str()) {
            continue;
        }
        let id = silencer.silence_window(&window, end).await.map_err(anyhow::Error::msg)?;
        tracing::info!(window = window.name(), silence = %id, until, "maintenance window silenced in Alertmanager");
        windows::set_silence(pool, row.id, Some(&id), Some(&until)).await?;
        done += 1;
    }
    Ok(done)
}

/// [`redecide_held`] (and [`keep_silences`], with an Alertmanager) every [`CHECK_EVERY`] until
/// `stop`; failures are logged and retried.
pub async fn run(pool: Db, inbox: Inbox, silencer: Option<Silencer>, stop: CancellationToken) {
    loop {
        match redecide_held(&pool, &inbox).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(episodes = n, "maintenance over: held episodes decided again"),
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "cannot decide held episodes again; will retry")
            }
        }
        if let Some(silencer) = &silencer {
            if let Err(e) = keep_silences(&pool, silencer).await {
                tracing::warn!(error = %format!("{e:#}"), "cannot keep the maintenance windows' silences; will retry");
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(CHECK_EVERY) => {}
        }
    }
}
