//! Whose password it is: a local user's is checked here (argon2); a name that is not a local
//! user's goes to the directory (`[auth.ldap]`) when one is configured, and the directory's
//! groups give the role. A local account always wins its name: the bootstrap admin stays the
//! way in when the directory is down.
use crate::ssr::db::backend::{on_pool, PoolRef, WritePool};

use crate::model::UserSource;
use crate::ssr::auth;
use crate::ssr::db::audit::{record_audit, NewAuditEvent};
use crate::ssr::db::directory_users::{self, Recorded};
use crate::ssr::db::users::{self, UserRow};
use crate::ssr::directory::ldap::{Ldap, LdapLogin};

/// What the check found.
#[derive(Debug)]
pub enum Checked {
    /// Signed in, as this user (their role as it is now).
    Granted { user: UserRow, via: UserSource },
    /// Unknown name, wrong password or disabled: one answer for all.
    Refused,
    /// The directory vouched for the password, but no group of theirs maps to a role.
    NoRole { username: String, groups: Vec<String> },
    /// The directory could not be asked.
    DirectoryDown(String),
}

/// Checks `password` for `username`. Refusals that a person should look into (no role, a
/// directory user an admin disabled, a directory name that is a local user's) are audited here.
pub async fn check_password(
    pool: impl Into<PoolRef<'_>>,
    ldap: Option<&Ldap>,
    username: &str,
    password: &str,
    source: Option<&str>,
) -> Result<Checked, sqlx::Error> {
    let pool: PoolRef<'_> = pool.into();
    let row = match auth::validate_username(username) {
        Ok(()) => users::find_user_by_name(pool, username).await?,
        Err(_) => None,
    };
    let ldap = match (row.as_ref().map(|r| r.source), ldap) {
        // Local users, and every name when no directory is configured: the local check (which
        // costs the same for names that do not exist).
        (Some(UserSource::Local), _) | (None, None) => {
            return Ok(match auth::authenticate(pool, username, password).await? {
                Some(user) => Checked::Granted { user, via: UserSource::Local },
                None => Checked::Refused,
            });
        }
        (Some(UserSource::Ldap) | None, Some(ldap)) => ldap,
        // A directory user whose directory is no longer configured, or who signs in elsewhere.
        _ => {
            let _ = auth::authenticate(pool, "", password).await?;
            return Ok(Checked::Refused);
        }
    };
    if auth::validate_username(username).is_err() || password.len() > auth::MAX_PASSWORD_LEN {
        return Ok(Checked::Refused);
    }
    let found = match ldap.authenticate(username, password).await {
        Ok(LdapLogin::Authenticated(found)) => found,
        Ok(LdapLogin::UnknownUser | LdapLogin::WrongPassword) => return Ok(Checked::Refused),
        Err(e) => {
            tracing::warn!(error = %e, "LDAP sign-in could not be checked");
            return Ok(Checked::DirectoryDown(e.0));
        }
    };
    let refuse = |why: String| async move {
        let event = NewAuditEvent {
            actor: "anonymous",
            action: "auth.login_refused",
            target: auth::validate_username(username).is_ok().then_some(username),
            detail: Some(&why),
            source,
        };
        record_audit(pool, &event).await.map(|()| Checked::Refused)
    };
    if auth::validate_username(&found.username).is_err() || auth::is_reserved_username(&found.username) {
        return refuse(format!(
            "LDAP: the directory's name {:?} cannot be a selfheal user name",
            found.username
        ))
        .await;
    }
    let Some(granted) = ldap.config().roles.role_for(&found.groups) else {
        let event = NewAuditEvent {
            actor: "anonymous",
            action: "auth.login_refused",
            target: Some(&found.username),
            detail: Some(&format!("LDAP: no group maps to a role (groups: {})", list(&found.groups))),
            source,
        };
        record_audit(pool, &event).await?;
        return Ok(Checked::NoRole { username: found.username, groups: found.groups });
    };
    on_pool!(pool, |pool| {
        let mut tx = pool.begin_write().await?;
        let recorded =
            directory_users::record_sign_in(&mut tx, UserSource::Ldap, &found.username, &found.dn, &granted)
                .await?;
        let checked = match recorded {
            Recorded::SignedIn { user, was } => {
                if let Some(was) = was {
                    let detail = format!("{was} → {} (LDAP groups: {})", granted.role, list(&granted.by));
                    let event = NewAuditEvent {
                        actor: "directory",
                        action: "user.role_changed",
                        target: Some(&user.username),
                        detail: Some(&detail),
                        source,
                    };
                    record_audit(&mut *tx, &event).await?;
                }
                Checked::Granted { user, via: UserSource::Ldap }
            }
            Recorded::DisabledHere => {
                tx.commit().await?;
                return refuse("LDAP: disabled in selfheal by an admin".into()).await;
            }
            Recorded::NameTaken(other) => {
                tx.commit().await?;
                return refuse(format!("LDAP: the name belongs to a {} user", other.label())).await;
            }
        };
        tx.commit().await?;
        Ok(checked)
    })
}

fn list(groups: &[String]) -> String {
    if groups.is_empty() {
        "none".into()
    } else {
        groups.join(", ")
    }
}
