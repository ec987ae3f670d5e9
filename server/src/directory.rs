//! Directory users' roles kept fresh: every `role_refresh` each enabled LDAP user is looked up
//! again (as the service account), so a user removed from a group loses its role, and one the
//! directory no longer knows (or no longer maps) is disabled — their sessions end and their API
//! tokens stop — without waiting for their session to end. A directory that does not answer
//! changes nothing (roles are kept, asked again at the next check): an outage must not lock
//! the team out of the tool that heals it.
use std::sync::Arc;
use std::time::Duration;

use sqlx::SqlitePool;
use tokio_util::sync::CancellationToken;

use app::model::UserSource;
use app::ssr::db::audit::{record_audit, NewAuditEvent};
use app::ssr::db::directory_users::{confirm_role, due_for_refresh, withdraw};
use app::ssr::directory::ldap::Ldap;

/// What one refresh did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Refreshed {
    pub confirmed: usize,
    pub changed: usize,
    pub withdrawn: usize,
    /// The directory did not answer: the rest wait for the next check.
    pub unavailable: bool,
}

/// Looks up every LDAP user not confirmed within `every` and applies what the directory says.
pub async fn refresh_roles(pool: &SqlitePool, ldap: &Ldap, every: Duration) -> anyhow::Result<Refreshed> {
    let mut done = Refreshed::default();
    for (username, role) in due_for_refresh(pool, UserSource::Ldap, every.as_secs()).await? {
        let found = match ldap.lookup(&username).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(error = %e, "directory roles not refreshed: kept as they are");
                done.unavailable = true;
                return Ok(done);
            }
        };
        let granted = found.as_ref().and_then(|u| ldap.config().roles.role_for(&u.groups));
        let mut tx = app::ssr::db::begin_write(pool).await?;
        let (action, detail) = match (&found, &granted) {
            (_, Some(granted)) => {
                confirm_role(&mut *tx, &username, granted).await?;
                if granted.role == role {
                    done.confirmed += 1;
                    tx.commit().await?;
                    continue;
                }
                done.changed += 1;
                (
                    "user.role_changed",
                    format!("{role} → {} (LDAP groups: {})", granted.role, granted.by.join(", ")),
                )
            }
            (None, None) => {
                if !withdraw(&mut *tx, &username).await? {
                    continue;
                }
                done.withdrawn += 1;
                ("user.directory_withdrawn", "LDAP: no longer found (deleted or disabled there)".to_owned())
            }
            (Some(user), None) => {
                if !withdraw(&mut *tx, &username).await? {
                    continue;
                }
                done.withdrawn += 1;
                let groups = if user.groups.is_empty() { "none".into() } else { user.groups.join(", ") };
                ("user.directory_withdrawn", format!("LDAP: no group maps to a role (groups: {groups})"))
            }
        };
        let event = NewAuditEvent {
            actor: "directory",
            action,
            target: Some(&username),
            detail: Some(&detail),
            source: None,
        };
        record_audit(&mut *tx, &event).await?;
        tx.commit().await?;
        tracing::info!(user = username, action, detail, "directory changed a user");
    }
    Ok(done)
}

/// Refreshes roles until `stop`, checking at least every half `every` (at most every 30 s) who
/// is due.
pub async fn keep_roles_fresh(pool: SqlitePool, ldap: Arc<Ldap>, every: Duration, stop: CancellationToken) {
    let tick = (every / 2).clamp(Duration::from_millis(500), Duration::from_secs(30));
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = interval.tick() => {}
        }
        if let Err(e) = refresh_roles(&pool, &ldap, every).await {
            tracing::error!(error = %e, "directory roles refresh failed");
        }
    }
}
