//! Users the organisation's directory vouches for: created or updated at each sign-in with the
//! role their groups give, read again every `role_refresh`, disabled when the directory stops
//! giving them a role and enabled again when it gives one back (an admin's disable stays).
use super::backend::{on_backend, on_conn, Conn, Ex};
use crate::ssr::alert::now_utc;
use crate::ssr::utc::Utc;

use crate::model::{Role, UserSource};
use crate::ssr::db::users::{UserRow, USER_COLUMNS};
use crate::ssr::directory::roles::Granted;

/// What a directory user's password hash holds: not a PHC string, so no password matches it.
pub const NO_LOCAL_PASSWORD: &str = "!directory";

/// How a directory sign-in was taken.
#[derive(Debug)]
pub enum Recorded {
    /// The user as stored now, and their role before when it changed.
    SignedIn { user: UserRow, was: Option<Role> },
    /// An admin disabled them here: the directory's word does not undo that.
    DisabledHere,
    /// The name belongs to a user of another source (a local account, say): never merged.
    NameTaken(UserSource),
}

/// Creates or updates `username` of `source` after the directory vouched for them with
/// `granted`; `external_id` is their DN or subject.
pub async fn record_sign_in<'c>(
    conn: impl Into<Conn<'c>>,
    source: UserSource,
    username: &str,
    external_id: &str,
    granted: &Granted,
) -> Result<Recorded, sqlx::Error> {
    let by_name = format!("SELECT {USER_COLUMNS} FROM users WHERE lower(username) = lower($1)");
    let by_id = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
    let (groups, now) = (granted.by.join("\n"), now_utc());
    on_conn!(conn, |e| {
        let existing: Option<UserRow> =
            sqlx::query_as(&by_name).bind(username).fetch_optional(&mut *e).await?;
        let (id, was) = match existing {
            Some(row) if row.source != source => return Ok(Recorded::NameTaken(row.source)),
            Some(row) if row.disabled && !row.disabled_by_directory => return Ok(Recorded::DisabledHere),
            Some(row) => {
                sqlx::query(
                    "UPDATE users SET role = $1, role_groups = $2, external_id = $3, disabled = 0, \
                     disabled_by_directory = 0, last_login_at = $4, role_checked_at = $4, updated_at = $4 \
                     WHERE id = $5",
                )
                .bind(granted.role)
                .bind(&groups)
                .bind(external_id)
                .bind(&now)
                .bind(row.id)
                .execute(&mut *e)
                .await?;
                (row.id, (row.role != granted.role).then_some(row.role))
            }
            None => {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO users (username, password_hash, role, source, external_id, role_groups, \
                     last_login_at, role_checked_at, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $7, $7) RETURNING id",
                )
                .bind(username)
                .bind(NO_LOCAL_PASSWORD)
                .bind(granted.role)
                .bind(source)
                .bind(external_id)
                .bind(&groups)
                .bind(&now)
                .fetch_one(&mut *e)
                .await?;
                (id, None)
            }
        };
        let user = sqlx::query_as(&by_id).bind(id).fetch_one(&mut *e).await?;
        Ok(Recorded::SignedIn { user, was })
    })
}

/// The enabled users of `source` whose role was last confirmed more than `older_than_secs`
/// ago (or never), by name, with their role.
pub async fn due_for_refresh<'c>(
    ex: impl Into<Ex<'c>>,
    source: UserSource,
    older_than_secs: u64,
) -> Result<Vec<(String, Role)>, sqlx::Error> {
    let checked_before = Utc::now().minus(std::time::Duration::from_secs(older_than_secs)).to_string();
    on_backend!(ex, |e| sqlx::query_as(
        "SELECT username, role FROM users WHERE source = $1 AND disabled = 0 \
         AND (role_checked_at IS NULL OR role_checked_at < $2) ORDER BY lower(username)",
    )
    .bind(source)
    .bind(&checked_before)
    .fetch_all(e)
    .await)
}

/// Keeps the refresh token an OpenID Provider gave `username` (or forgets it: `None`).
pub async fn set_refresh_token<'c>(
    ex: impl Into<Ex<'c>>,
    username: &str,
    token: Option<&str>,
) -> Result<(), sqlx::Error> {
    on_backend!(ex, |e| sqlx::query(
        "UPDATE users SET oidc_refresh_token = $1 WHERE lower(username) = lower($2)"
    )
    .bind(token)
    .bind(username)
    .execute(e)
    .await
    .map(|_| ()))
}

/// The refresh token kept for `username`, if any.
pub async fn refresh_token<'c>(ex: impl Into<Ex<'c>>, username: &str) -> Result<Option<String>, sqlx::Error> {
    let token: Option<Option<String>> = on_backend!(ex, |e| sqlx::query_scalar(
        "SELECT oidc_refresh_token FROM users WHERE lower(username) = lower($1)"
    )
    .bind(username)
    .fetch_optional(e)
    .await)?;
    Ok(token.flatten())
}

/// The directory confirmed `username` with `granted` (the role may have changed: it holds
/// from their next request, sessions and tokens alike).
pub async fn confirm_role<'c>(
    ex: impl Into<Ex<'c>>,
    username: &str,
    granted: &Granted,
) -> Result<(), sqlx::Error> {
    on_backend!(ex, |e| sqlx::query(
        "UPDATE users SET role = $1, role_groups = $2, role_checked_at = $3, updated_at = $3 \
         WHERE lower(username) = lower($4) AND disabled = 0",
    )
    .bind(granted.role)
    .bind(granted.by.join("\n"))
    .bind(now_utc())
    .bind(username)
    .execute(e)
    .await
    .map(|_| ()))
}

/// The directory no longer gives `username` a role (gone, disabled there, or in no mapped
/// group): disabled, their sessions end and their API tokens stop. Returns whether they were
/// enabled.
pub async fn withdraw<'c>(ex: impl Into<Ex<'c>>, username: &str) -> Result<bool, sqlx::Error> {
    let done = on_backend!(ex, |e| {
        sqlx::query(
        "UPDATE users SET disabled = 1, disabled_by_directory = 1, role_groups = NULL, oidc_refresh_token = NULL, \
         session_epoch = session_epoch + 1, role_checked_at = $1, updated_at = $1 \
         WHERE lower(username) = lower($2) AND disabled = 0",
    )
    .bind(now_utc())
    .bind(username)
    .execute(e)
    .await
    .map(|d| d.rows_affected())
    })?;
    Ok(done == 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssr::auth::{hash_password, verify_password};
    use crate::ssr::db::test_pool;
    use crate::ssr::db::users::{find_user_by_name, insert_user, set_disabled};

    fn granted(role: Role, by: &[&str]) -> Granted {
        Granted { role, by: by.iter().map(|s| s.to_string()).collect() }
    }

    #[tokio::test]
    async fn a_directory_user_is_created_updated_withdrawn_and_given_back() {
        let pool = test_pool().await;
        let mut conn = pool.acquire().await.unwrap();
        let dn = "uid=ann,ou=people,dc=example,dc=org";
        let first =
            record_sign_in(&mut conn, UserSource::Ldap, "ann", dn, &granted(Role::Operator, &["sre"])).await;
        let Ok(Recorded::SignedIn { user, was: None }) = first else { panic!("{first:?}") };
        assert_eq!((user.role, user.source, user.disabled), (Role::Operator, UserSource::Ldap, false));
        assert!(!verify_password("", &user.password_hash), "no local password matches");

        let again =
            record_sign_in(&mut conn, UserSource::Ldap, "ann", dn, &granted(Role::Admin, &["sre-leads"]))
                .await;
        let Ok(Recorded::SignedIn { user: same, was: Some(Role::Operator) }) = again else {
            panic!("{again:?}")
        };
        assert_eq!((same.id, same.role), (user.id, Role::Admin));

        assert!(withdraw(&mut *conn, "ann").await.unwrap());
        assert!(!withdraw(&mut *conn, "ann").await.unwrap(), "once");
        let row = find_user_by_name(&mut *conn, "ann").await.unwrap().unwrap();
        assert!(row.disabled && row.disabled_by_directory);
        assert_eq!(row.session_epoch, user.session_epoch + 1, "their sessions end");

        let back =
            record_sign_in(&mut conn, UserSource::Ldap, "ann", dn, &granted(Role::Viewer, &["eng"])).await;
        assert!(
            matches!(back, Ok(Recorded::SignedIn { user: ref u, .. }) if !u.disabled && u.role == Role::Viewer)
        );

        set_disabled(&mut *conn, "ann", true).await.unwrap();
        let refused =
            record_sign_in(&mut conn, UserSource::Ldap, "ann", dn, &granted(Role::Viewer, &["eng"])).await;
        assert!(matches!(refused, Ok(Recorded::DisabledHere)), "an admin's disable stays: {refused:?}");
    }

    #[tokio::test]
    async fn a_local_name_is_never_taken_over_by_a_directory() {
        let pool = test_pool().await;
        let mut conn = pool.acquire().await.unwrap();
        insert_user(&mut *conn, "admin", &hash_password("x").unwrap(), Role::Admin).await.unwrap();
        let taken = record_sign_in(
            &mut conn,
            UserSource::Ldap,
            "ADMIN",
            "uid=admin",
            &granted(Role::Viewer, &["eng"]),
        )
        .await;
        assert!(matches!(taken, Ok(Recorded::NameTaken(UserSource::Local))), "{taken:?}");
    }

    #[tokio::test]
    async fn only_enabled_users_of_the_source_not_checked_lately_are_due() {
        let pool = test_pool().await;
        let mut conn = pool.acquire().await.unwrap();
        for name in ["ann", "bob", "cid"] {
            record_sign_in(&mut conn, UserSource::Ldap, name, name, &granted(Role::Viewer, &["eng"]))
                .await
                .unwrap();
        }
        insert_user(&mut *conn, "local", &hash_password("x").unwrap(), Role::Viewer).await.unwrap();
        assert!(due_for_refresh(&mut *conn, UserSource::Ldap, 60).await.unwrap().is_empty(), "just checked");
        sqlx::query("UPDATE users SET role_checked_at = '2020-01-01T00:00:00.000Z'")
            .execute(&mut *conn)
            .await
            .unwrap();
        withdraw(&mut *conn, "cid").await.unwrap();
        let due = due_for_refresh(&mut *conn, UserSource::Ldap, 60).await.unwrap();
        assert_eq!(due, vec![("ann".to_owned(), Role::Viewer), ("bob".to_owned(), Role::Viewer)]);
        confirm_role(&mut *conn, "ann", &granted(Role::Operator, &["sre"])).await.unwrap();
        let ann = find_user_by_name(&mut *conn, "ann").await.unwrap().unwrap();
        assert_eq!(ann.role, Role::Operator);
        assert_eq!(due_for_refresh(&mut *conn, UserSource::Ldap, 60).await.unwrap().len(), 1);
    }
}
