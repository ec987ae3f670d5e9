//! The `users` table.
use super::backend::{on_backend, Ex};
use crate::ssr::alert::now_utc;

use crate::model::{Role, UserSource, UserSummary};
use crate::ssr::auth::PasswordHash;

/// A user row including the password hash; server-side only, never serialised.
#[derive(Debug, sqlx::FromRow)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub password_hash: PasswordHash,
    pub role: Role,
    pub disabled: bool,
    /// Bumped by a password change, disable or enable; a session from an older one has ended.
    pub session_epoch: i64,
    /// Where they sign in: only `local` users have a password here.
    pub source: UserSource,
    /// `disabled` was set because the directory no longer gives them a role.
    pub disabled_by_directory: bool,
}

/// The columns of a [`UserRow`].
/// Flags are 0/1 integers on both backends, read as booleans (`<> 0`: a boolean on
/// PostgreSQL, 0/1 on SQLite), written as integers.
pub(crate) const USER_COLUMNS: &str = "id, username, password_hash, role, (disabled <> 0) AS disabled, \
     session_epoch, source, (disabled_by_directory <> 0) AS disabled_by_directory";

/// Inserts a user and returns its id. Fails with a unique violation if the name is taken
/// (names compare case-insensitively).
pub async fn insert_user<'c>(
    ex: impl Into<Ex<'c>>,
    username: &str,
    hash: &PasswordHash,
    role: Role,
) -> Result<i64, sqlx::Error> {
    let now = now_utc();
    on_backend!(ex, |e| sqlx::query_scalar(
        "INSERT INTO users (username, password_hash, role, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4) RETURNING id"
    )
    .bind(username)
    .bind(hash)
    .bind(role)
    .bind(&now)
    .fetch_one(e)
    .await)
}

/// The user with this name (in any case), if any (SQLite's column is `COLLATE NOCASE`; PostgreSQL's
/// unique index is on `lower(username)`).
pub async fn find_user_by_name<'c>(
    ex: impl Into<Ex<'c>>,
    username: &str,
) -> Result<Option<UserRow>, sqlx::Error> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE lower(username) = lower($1)");
    on_backend!(ex, |e| sqlx::query_as(&sql).bind(username).fetch_optional(e).await)
}

/// The user with this id, if any.
pub async fn find_user_by_id<'c>(ex: impl Into<Ex<'c>>, id: i64) -> Result<Option<UserRow>, sqlx::Error> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
    on_backend!(ex, |e| sqlx::query_as(&sql).bind(id).fetch_optional(e).await)
}

/// Every user, by name.
pub async fn list_users<'c>(ex: impl Into<Ex<'c>>) -> Result<Vec<UserSummary>, sqlx::Error> {
    on_backend!(ex, |e| sqlx::query_as(
        "SELECT id, username, role, (disabled <> 0) AS disabled, created_at, source, last_login_at, \
         role_groups, (disabled_by_directory <> 0) AS disabled_by_directory FROM users \
         ORDER BY lower(username)",
    )
    .fetch_all(e)
    .await)
}

/// How many users exist (the first start creates the bootstrap admin when there are none).
pub async fn count_users<'c>(ex: impl Into<Ex<'c>>) -> Result<i64, sqlx::Error> {
    on_backend!(ex, |e| sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(e).await)
}

/// Runs an `UPDATE users … WHERE …` with `binds` after the update time (`$1`); how many rows.
macro_rules! update_users {
    ($ex:expr, $sql:expr $(, $bind:expr)*) => {
        on_backend!($ex, |e| sqlx::query($sql)
            .bind(now_utc())
            $(.bind($bind))*
            .execute(e)
            .await
            .map(|d| d.rows_affected()))
    };
}

/// Replaces a user's password hash and ends their sessions; returns whether the user exists.
pub async fn set_password<'c>(
    ex: impl Into<Ex<'c>>,
    username: &str,
    hash: &PasswordHash,
) -> Result<bool, sqlx::Error> {
    let done = update_users!(
        ex,
        "UPDATE users SET updated_at = $1, password_hash = $2, session_epoch = session_epoch + 1 \
         WHERE lower(username) = lower($3)",
        hash,
        username
    )?;
    Ok(done == 1)
}

/// Disables or re-enables a user; returns whether the user exists. Either way the sessions
/// opened before end at their next request (a disabled user's are refused anyway). The admin's
/// word: a directory user disabled here stays so whatever the directory says.
pub async fn set_disabled<'c>(
    ex: impl Into<Ex<'c>>,
    username: &str,
    disabled: bool,
) -> Result<bool, sqlx::Error> {
    let done = update_users!(
        ex,
        "UPDATE users SET updated_at = $1, disabled = $2, disabled_by_directory = 0, \
         session_epoch = session_epoch + 1 WHERE lower(username) = lower($3)",
        i64::from(disabled),
        username
    )?;
    Ok(done == 1)
}

/// Changes a user's role; returns whether the user exists. Takes effect at their next request.
pub async fn set_role<'c>(ex: impl Into<Ex<'c>>, username: &str, role: Role) -> Result<bool, sqlx::Error> {
    let done = update_users!(
        ex,
        "UPDATE users SET updated_at = $1, role = $2 WHERE lower(username) = lower($3)",
        role,
        username
    )?;
    Ok(done == 1)
}

/// Notes a sign-in (shown on the users page).
pub async fn record_login<'c>(ex: impl Into<Ex<'c>>, id: i64) -> Result<(), sqlx::Error> {
    update_users!(ex, "UPDATE users SET last_login_at = $1 WHERE id = $2", id)?;
    Ok(())
}

/// How many admins are enabled (the last one may be neither disabled nor demoted).
pub async fn count_active_admins<'c>(ex: impl Into<Ex<'c>>) -> Result<i64, sqlx::Error> {
    on_backend!(ex, |e| sqlx::query_scalar(
        "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0"
    )
    .fetch_one(e)
    .await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssr::db::test_pool;

    fn hash(s: &str) -> PasswordHash {
        PasswordHash::from_stored(s.to_owned())
    }

    #[tokio::test]
    async fn users_round_trip() {
        let pool = test_pool().await;
        assert_eq!(count_users(&pool).await.unwrap(), 0);
        let id = insert_user(&pool, "Alice", &hash("h1"), Role::Operator).await.unwrap();

        let by_name = find_user_by_name(&pool, "alice").await.unwrap().expect("case-insensitive");
        assert_eq!((by_name.id, by_name.role, by_name.disabled), (id, Role::Operator, false));
        assert_eq!(by_name.password_hash.as_str(), "h1");
        assert!(find_user_by_id(&pool, id).await.unwrap().is_some());
        assert!(find_user_by_id(&pool, id + 1).await.unwrap().is_none());

        assert!(insert_user(&pool, "ALICE", &hash("h2"), Role::Viewer).await.is_err(), "dup name");

        assert_eq!(find_user_by_id(&pool, id).await.unwrap().unwrap().session_epoch, 0);
        assert!(set_password(&pool, "alice", &hash("h3")).await.unwrap());
        assert_eq!(find_user_by_id(&pool, id).await.unwrap().unwrap().session_epoch, 1, "sessions end");
        assert!(!set_password(&pool, "bob", &hash("h3")).await.unwrap());
        assert!(set_disabled(&pool, "alice", true).await.unwrap());
        assert!(!set_disabled(&pool, "bob", true).await.unwrap());

        let row = find_user_by_id(&pool, id).await.unwrap().unwrap();
        assert_eq!(row.password_hash.as_str(), "h3");
        assert!(row.disabled);
        assert_eq!(row.session_epoch, 2, "disabling ends the sessions too");
        let list = list_users(&pool).await.unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].username, "Alice");
        assert_eq!(count_users(&pool).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn roles_change_and_only_enabled_admins_count() {
        let pool = test_pool().await;
        insert_user(&pool, "ada", &hash("h"), Role::Admin).await.unwrap();
        insert_user(&pool, "bob", &hash("h"), Role::Viewer).await.unwrap();
        assert_eq!(count_active_admins(&pool).await.unwrap(), 1);
        assert!(set_role(&pool, "BOB", Role::Admin).await.unwrap());
        assert!(!set_role(&pool, "nobody", Role::Admin).await.unwrap());
        assert_eq!(find_user_by_name(&pool, "bob").await.unwrap().unwrap().role, Role::Admin);
        assert_eq!(count_active_admins(&pool).await.unwrap(), 2);
        set_disabled(&pool, "ada", true).await.unwrap();
        assert_eq!(count_active_admins(&pool).await.unwrap(), 1, "a disabled admin does not count");
    }

    #[tokio::test]
    async fn roles_outside_the_check_constraint_are_refused() {
        let pool = test_pool().await;
        let res = sqlx::query("INSERT INTO users (username, password_hash, role) VALUES ('x','h','root')")
            .execute(&pool)
            .await;
        assert!(res.is_err());
    }
}
