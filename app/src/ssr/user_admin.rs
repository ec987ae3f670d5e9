//! User administration from the dashboard — add, change role, disable or enable, reset the
//! password — each in one write transaction with its audit entry, behind the guards an SRE
//! expects: nobody disables or demotes themselves, and the last active admin stays one.
use crate::ssr::db::backend::{on_pool, PoolRef, WritePool};

use crate::error::AppError;
use crate::model::{CurrentUser, IssuedPassword, Role, UserSource};
use crate::ssr::actions::audit;
use crate::ssr::auth::{self, PasswordHash};
use crate::ssr::db::users::{self, UserRow};
use crate::ssr::{internal, respond_with};

/// What an admin does to an existing user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserChange {
    Role(Role),
    Disable,
    Enable,
    ResetPassword,
}

/// Whether the principal `actor_id` may make `change` to `target` while `active_admins` admins
/// are enabled; the refusal says why. Pure: the caller holds the write lock while it asks.
pub fn check_change(
    actor_id: i64,
    target: &UserRow,
    change: UserChange,
    active_admins: i64,
) -> Result<(), String> {
    let name = &target.username;
    let is_self = actor_id == target.id;
    let demotes = matches!(change, UserChange::Role(r) if r < target.role);
    match change {
        UserChange::Disable if target.disabled => return Err(format!("{name} is already disabled")),
        UserChange::Enable if !target.disabled => return Err(format!("{name} is already enabled")),
        UserChange::Role(r) if r == target.role => return Err(format!("{name} already has role {r}")),
        UserChange::Disable if is_self => return Err("you cannot disable yourself".to_owned()),
        UserChange::Role(_) if is_self && demotes => {
            return Err("you cannot demote yourself: another admin has to".to_owned())
        }
        UserChange::ResetPassword if target.source != UserSource::Local => {
            return Err(format!(
                "{name} signs in through {}: their password is the directory's, not selfheal's",
                target.source.label()
            ))
        }
        UserChange::Role(_) if target.source != UserSource::Local => {
            return Err(format!(
                "{name}'s role comes from their {} groups: change the groups, or the role map in the config",
                target.source.label()
            ))
        }
        UserChange::ResetPassword if is_self => {
            return Err("reset your own password with `selfheal user passwd` (this would end your session)"
                .to_owned())
        }
        _ => {}
    }
    let removes_admin = matches!(change, UserChange::Disable) || demotes;
    if removes_admin && target.role == Role::Admin && !target.disabled && active_admins <= 1 {
        return Err(format!("{name} is the last active admin: make another user admin first"));
    }
    Ok(())
}

fn db(e: sqlx::Error) -> AppError {
    internal("user administration failed", e)
}

/// Hashes a password off the async threads (argon2 takes tens of milliseconds on purpose).
pub(crate) async fn hash(password: String) -> Result<PasswordHash, AppError> {
    tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await
        .map_err(|e| internal("hashing task failed", e))?
        .map_err(|e| internal("hashing failed", e))
}

/// Adds a user; with an empty `password` one is generated and returned (the only time it is
/// shown). A taken name (compared case-insensitively) is a conflict.
pub async fn add_user(
    pool: impl Into<PoolRef<'_>>,
    admin: &CurrentUser,
    username: &str,
    role: Role,
    password: &str,
    source: Option<&str>,
) -> Result<IssuedPassword, AppError> {
    let pool: PoolRef<'_> = pool.into();
    auth::validate_new_username(username).map_err(|e| respond_with(AppError::Invalid(e)))?;
    let generated = password.is_empty().then(auth::generate_password);
    let password = generated.clone().unwrap_or_else(|| password.to_owned());
    auth::validate_password(&password, username).map_err(|e| respond_with(AppError::Invalid(e)))?;
    let hashed = hash(password).await?;
    on_pool!(pool, |pool| {
        let mut tx = pool.begin_write().await.map_err(db)?;
        if users::find_user_by_name(&mut *tx, username).await.map_err(db)?.is_some() {
            return Err(respond_with(AppError::Conflict(format!("user {username} already exists"))));
        }
        users::insert_user(&mut *tx, username, &hashed, role).await.map_err(db)?;
        let how = if generated.is_some() { "password generated" } else { "password set" };
        audit(&mut tx, &admin.username, "user.add", username, &format!("role {role}, {how}"), source).await?;
        tx.commit().await.map_err(db)?;
        Ok(IssuedPassword { username: username.to_owned(), role, password: generated })
    })
}

/// Makes `change` to the user `username` after the guards: the user as they are now, with the
/// new password of a reset.
pub async fn change_user(
    pool: impl Into<PoolRef<'_>>,
    admin: &CurrentUser,
    username: &str,
    change: UserChange,
    source: Option<&str>,
) -> Result<IssuedPassword, AppError> {
    let pool: PoolRef<'_> = pool.into();
    let new_password = match change {
        UserChange::ResetPassword => Some(auth::generate_password()),
        _ => None,
    };
    let hashed = match &new_password {
        Some(p) => Some(hash(p.clone()).await?),
        None => None,
    };
    on_pool!(pool, |pool| {
        let mut tx = pool.begin_write().await.map_err(db)?;
        let target = users::find_user_by_name(&mut *tx, username)
            .await
            .map_err(db)?
            .ok_or_else(|| respond_with(AppError::NotFound))?;
        let admins = users::count_active_admins(&mut *tx).await.map_err(db)?;
        check_change(admin.id, &target, change, admins).map_err(|e| respond_with(AppError::Conflict(e)))?;
        let name = target.username.as_str();
        let mut role = target.role;
        let (action, detail) = match (change, &hashed) {
            (UserChange::Role(new_role), _) => {
                users::set_role(&mut *tx, name, new_role).await.map_err(db)?;
                role = new_role;
                ("user.role", format!("role {} → {new_role}", target.role))
            }
            (UserChange::Disable | UserChange::Enable, _) => {
                let disable = change == UserChange::Disable;
                users::set_disabled(&mut *tx, name, disable).await.map_err(db)?;
                let what = if disable { "disabled; sessions ended" } else { "enabled" };
                (if disable { "user.disable" } else { "user.enable" }, what.to_owned())
            }
            (UserChange::ResetPassword, Some(hashed)) => {
                users::set_password(&mut *tx, name, hashed).await.map_err(db)?;
                ("user.password_reset", "password reset; sessions ended".to_owned())
            }
            (UserChange::ResetPassword, None) => return Err(internal("reset without a password", "none")),
        };
        audit(&mut tx, &admin.username, action, name, &detail, source).await?;
        tx.commit().await.map_err(db)?;
        Ok(IssuedPassword { username: target.username, role, password: new_password })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i64, role: Role, disabled: bool) -> UserRow {
        UserRow {
            id,
            username: format!("u{id}"),
            password_hash: PasswordHash::from_stored("h".to_owned()),
            role,
            disabled,
            session_epoch: 0,
            source: UserSource::Local,
            disabled_by_directory: false,
        }
    }

    fn ldap_user(id: i64) -> UserRow {
        UserRow { source: UserSource::Ldap, ..user(id, Role::Viewer, false) }
    }

    /// (case, actor id, target, change, active admins, a word of the refusal or None).
    type Case = (&'static str, i64, UserRow, UserChange, i64, Option<&'static str>);

    #[test]
    fn guards_keep_an_admin_in_charge() {
        use Role::{Admin, Operator, Viewer};
        use UserChange::{Disable, Enable, ResetPassword};
        let cases: &[Case] = &[
            ("disable another", 1, user(2, Operator, false), Disable, 1, None),
            ("disable yourself", 1, user(1, Admin, false), Disable, 2, Some("yourself")),
            ("demote yourself", 1, user(1, Admin, false), UserChange::Role(Operator), 2, Some("demote")),
            ("reset your own password", 1, user(1, Admin, false), ResetPassword, 2, Some("your own")),
            ("reset another's", 1, user(2, Viewer, false), ResetPassword, 1, None),
            ("demote another admin", 1, user(2, Admin, false), UserChange::Role(Viewer), 2, None),
            ("disable another admin", 1, user(2, Admin, false), Disable, 2, None),
            ("last admin demoted", -7, user(2, Admin, false), UserChange::Role(Operator), 1, Some("last")),
            ("last admin disabled", -7, user(2, Admin, false), Disable, 1, Some("last")),
            ("promote", 1, user(2, Viewer, false), UserChange::Role(Admin), 1, None),
            ("promote a disabled admin's peer", 1, user(2, Operator, true), UserChange::Role(Admin), 1, None),
            ("enable a disabled admin", 1, user(2, Admin, true), Enable, 1, None),
            ("demote a disabled admin", 1, user(2, Admin, true), UserChange::Role(Viewer), 1, None),
            ("same role", 1, user(2, Viewer, false), UserChange::Role(Viewer), 1, Some("already")),
            ("disable twice", 1, user(2, Viewer, true), Disable, 1, Some("already")),
            ("enable twice", 1, user(2, Viewer, false), Enable, 1, Some("already")),
            ("reset a directory user's", 1, ldap_user(2), ResetPassword, 1, Some("directory's")),
            ("set a directory user's role", 1, ldap_user(2), UserChange::Role(Admin), 1, Some("groups")),
            ("disable a directory user", 1, ldap_user(2), Disable, 1, None),
        ];
        for (case, actor, target, change, admins, refused) in cases {
            let got = check_change(*actor, target, *change, *admins);
            match refused {
                None => assert_eq!(got, Ok(()), "{case}"),
                Some(word) => {
                    let err = got.expect_err(case);
                    assert!(err.contains(word), "{case}: {err}");
                }
            }
        }
    }
}
