//! Directory users' roles kept fresh: every `role_refresh` each enabled LDAP user is looked up
//! again (as the service account), and each OpenID Connect user's groups read again with the
//! refresh token their provider gave (none: they sign in again), so a user removed from a group loses its role, and one the
//! directory no longer knows (or no longer maps) is disabled — their sessions end and their API
//! tokens stop — without waiting for their session to end. A directory that does not answer
//! changes nothing (roles are kept, asked again at the next check): an outage must not lock
//! the team out of the tool that heals it.
use std::sync::Arc;
use std::time::Duration;

use app::ssr::db::backend::{on_pool, Db, WritePool};
use tokio_util::sync::CancellationToken;

use app::model::{Role, UserSource};
use app::ssr::db::audit::{record_audit, NewAuditEvent};
use app::ssr::db::directory_users;
use app::ssr::directory::ldap::Ldap;
use app::ssr::directory::oidc::{Oidc, OidcError};
use app::ssr::directory::roles::Granted;

/// What one refresh did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Refreshed {
    pub confirmed: usize,
    pub changed: usize,
    pub withdrawn: usize,
    /// The directory did not answer: the rest wait for the next check.
    pub unavailable: bool,
}

/// What the directory says of one user now.
enum Verdict {
    /// Still given a role (perhaps another).
    Granted(Granted),
    /// No longer given one: why.
    Withdrawn(String),
    /// The directory did not answer.
    Unavailable,
}

fn groups_text(groups: &[String]) -> String {
    if groups.is_empty() {
        "none".into()
    } else {
        groups.join(", ")
    }
}

async fn ldap_verdict(ldap: &Ldap, username: &str) -> Verdict {
    match ldap.lookup(username).await {
        Err(e) => {
            tracing::warn!(error = %e, "directory roles not refreshed: kept as they are");
            Verdict::Unavailable
        }
        Ok(None) => Verdict::Withdrawn("LDAP: no longer found (deleted or disabled there)".into()),
        Ok(Some(user)) => match ldap.config().roles.role_for(&user.groups) {
            Some(granted) => Verdict::Granted(granted),
            None => Verdict::Withdrawn(format!(
                "LDAP: no group maps to a role (groups: {})",
                groups_text(&user.groups)
            )),
        },
    }
}

async fn oidc_verdict(pool: &Db, oidc: &Oidc, username: &str) -> anyhow::Result<Verdict> {
    let Some(token) = directory_users::refresh_token(pool, username).await? else {
        return Ok(Verdict::Withdrawn(
            "OpenID Connect: no refresh token to read the groups again (sign in again)".into(),
        ));
    };
    Ok(match oidc.refresh(&token).await {
        Err(OidcError::Unavailable(e)) => {
            tracing::warn!(error = e, "OpenID Connect roles not refreshed: kept as they are");
            Verdict::Unavailable
        }
        Err(e) => Verdict::Withdrawn(format!("OpenID Connect: {e}")),
        Ok(user) if user.username != username => {
            Verdict::Withdrawn(format!("OpenID Connect: the provider now names them {:?}", user.username))
        }
        Ok(user) => {
            directory_users::set_refresh_token(
                pool,
                username,
                user.refresh_token.as_deref().or(Some(&token)),
            )
            .await?;
            match oidc.config().roles.role_for(&user.groups) {
                Some(granted) => Verdict::Granted(granted),
                None => Verdict::Withdrawn(format!(
                    "OpenID Connect: no group maps to a role (groups: {})",
                    groups_text(&user.groups)
                )),
            }
        }
    })
}

/// Applies what the directory said of `username` (who had `role`); returns whether it was
/// confirmed, changed or withdrawn.
async fn apply(
    pool: &Db,
    username: &str,
    role: Role,
    verdict: Verdict,
    label: &str,
    done: &mut Refreshed,
) -> anyhow::Result<()> {
    on_pool!(pool, |pool| {
        let mut tx = pool.begin_write().await?;
        let (action, detail) = match verdict {
            Verdict::Unavailable => {
                done.unavailable = true;
                return Ok(());
            }
            Verdict::Granted(granted) => {
                directory_users::confirm_role(&mut *tx, username, &granted).await?;
                if granted.role == role {
                    done.confirmed += 1;
                    tx.commit().await?;
                    return Ok(());
                }
                done.changed += 1;
                (
                    "user.role_changed",
                    format!("{role} → {} ({label} groups: {})", granted.role, granted.by.join(", ")),
                )
            }
            Verdict::Withdrawn(why) => {
                if !directory_users::withdraw(&mut *tx, username).await? {
                    return Ok(());
                }
                done.withdrawn += 1;
                ("user.directory_withdrawn", why)
            }
        };
        let event = NewAuditEvent {
            actor: "directory",
            action,
            target: Some(username),
            detail: Some(&detail),
            source: None,
        };
        record_audit(&mut *tx, &event).await?;
        tx.commit().await?;
        tracing::info!(user = username, action, detail, "directory changed a user");
        Ok(())
    })
}

/// Reads again the role of every directory user not confirmed within `every` and applies it;
/// a directory that does not answer stops its round (the rest wait for the next check).
pub async fn refresh_roles(
    pool: &Db,
    directories: &Directories,
    every: Duration,
) -> anyhow::Result<Refreshed> {
    let mut done = Refreshed::default();
    if let Some(ldap) = &directories.ldap {
        for (username, role) in
            directory_users::due_for_refresh(pool, UserSource::Ldap, every.as_secs()).await?
        {
            let verdict = ldap_verdict(ldap, &username).await;
            let stop = matches!(verdict, Verdict::Unavailable);
            apply(pool, &username, role, verdict, "LDAP", &mut done).await?;
            if stop {
                break;
            }
        }
    }
    if let Some(oidc) = &directories.oidc {
        for (username, role) in
            directory_users::due_for_refresh(pool, UserSource::Oidc, every.as_secs()).await?
        {
            let verdict = oidc_verdict(pool, oidc, &username).await?;
            let stop = matches!(verdict, Verdict::Unavailable);
            apply(pool, &username, role, verdict, "OpenID Connect", &mut done).await?;
            if stop {
                break;
            }
        }
    }
    Ok(done)
}

/// The directories users sign in through.
#[derive(Clone, Debug, Default)]
pub struct Directories {
    pub ldap: Option<Arc<Ldap>>,
    pub oidc: Option<Arc<Oidc>>,
}

/// Refreshes roles until `stop`, checking at least every half `every` (at most every 30 s) who
/// is due.
pub async fn keep_roles_fresh(pool: Db, directories: Directories, every: Duration, stop: CancellationToken) {
    let tick = (every / 2).clamp(Duration::from_millis(500), Duration::from_secs(30));
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = interval.tick() => {}
        }
        if let Err(e) = refresh_roles(&pool, &directories, every).await {
            tracing::error!(error = %e, "directory roles refresh failed");
        }
    }
}
