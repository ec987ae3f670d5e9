//! The `api_tokens` table: bearer tokens by the SHA-256 of their text. Both backends.
use super::backend::{on_backend, Ex};
use crate::ssr::alert::now_utc;

use crate::model::{ApiTokenSummary, Role};

/// A token that may be used: not revoked.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ActiveToken {
    pub id: i64,
    pub name: String,
    pub role: Role,
}

/// Stores a new token (by its hash) and returns its id.
pub async fn insert_token<'c>(
    ex: impl Into<Ex<'c>>,
    name: &str,
    role: Role,
    token_sha256: &str,
    created_by: &str,
) -> Result<i64, sqlx::Error> {
    on_backend!(ex, |e| {
        sqlx::query_scalar(
            "INSERT INTO api_tokens (name, role, token_sha256, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(name)
        .bind(role)
        .bind(token_sha256)
        .bind(created_by)
        .bind(now_utc())
        .fetch_one(e)
        .await
    })
}

/// The unrevoked token with this hash, marking it used now; only while its creator is an
/// enabled user whose role is at least the token's (a disabled or demoted admin's tokens stop).
/// Names compare in any case on both backends (SQLite's column is `COLLATE NOCASE`).
pub async fn use_token<'c>(
    ex: impl Into<Ex<'c>>,
    token_sha256: &str,
) -> Result<Option<ActiveToken>, sqlx::Error> {
    on_backend!(ex, |e| {
        sqlx::query_as(
        "UPDATE api_tokens SET last_used_at = $1 \
         WHERE token_sha256 = $2 AND revoked_at IS NULL \
         AND EXISTS (SELECT 1 FROM users u WHERE lower(u.username) = lower(api_tokens.created_by) AND u.disabled = 0 \
             AND (CASE u.role WHEN 'admin' THEN 3 WHEN 'operator' THEN 2 ELSE 1 END) \
              >= (CASE api_tokens.role WHEN 'admin' THEN 3 WHEN 'operator' THEN 2 ELSE 1 END)) \
         RETURNING id, name, role",
    )
    .bind(now_utc())
    .bind(token_sha256)
    .fetch_optional(e)
    .await
    })
}

/// Revokes a token; returns whether one was active.
pub async fn revoke_token<'c>(ex: impl Into<Ex<'c>>, id: i64) -> Result<bool, sqlx::Error> {
    let done = on_backend!(ex, |e| sqlx::query(
        "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL"
    )
    .bind(now_utc())
    .bind(id)
    .execute(e)
    .await
    .map(|d| d.rows_affected()))?;
    Ok(done == 1)
}

/// Every token, newest first (never the token text: it is not stored).
pub async fn list_tokens<'c>(ex: impl Into<Ex<'c>>) -> Result<Vec<ApiTokenSummary>, sqlx::Error> {
    on_backend!(ex, |e| {
        sqlx::query_as(
        "SELECT id, name, role, created_by, created_at, last_used_at, revoked_at FROM api_tokens ORDER BY id DESC",
    )
    .fetch_all(e)
    .await
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssr::db::test_pool;

    async fn add_admin(pool: &sqlx::SqlitePool, name: &str) {
        let hash = crate::ssr::auth::PasswordHash::from_stored("x".into());
        crate::ssr::db::users::insert_user(pool, name, &hash, Role::Admin).await.unwrap();
    }

    #[tokio::test]
    async fn a_token_works_only_while_its_creator_is_enabled_and_holds_its_role() {
        use crate::ssr::db::users::{set_disabled, set_role};
        let pool = test_pool().await;
        add_admin(&pool, "ada").await;
        let admin_token = insert_token(&pool, "ops", Role::Admin, "a1", "ADA").await.unwrap();
        let viewer_token = insert_token(&pool, "read", Role::Viewer, "v1", "ada").await.unwrap();
        insert_token(&pool, "orphan", Role::Viewer, "o1", "nobody").await.unwrap();
        assert_eq!(use_token(&pool, "a1").await.unwrap().map(|t| t.id), Some(admin_token), "any case");
        assert_eq!(use_token(&pool, "o1").await.unwrap(), None, "no such creator");
        assert!(set_role(&pool, "ada", Role::Operator).await.unwrap());
        assert_eq!(use_token(&pool, "a1").await.unwrap(), None, "the creator lost the admin role");
        assert_eq!(use_token(&pool, "v1").await.unwrap().map(|t| t.id), Some(viewer_token), "still a viewer");
        assert!(set_disabled(&pool, "ada", true).await.unwrap());
        assert_eq!(use_token(&pool, "v1").await.unwrap(), None, "the creator is disabled");
        assert!(set_disabled(&pool, "ada", false).await.unwrap());
        assert!(set_role(&pool, "ada", Role::Admin).await.unwrap());
        assert!(use_token(&pool, "a1").await.unwrap().is_some(), "back with the creator's role");
    }

    #[tokio::test]
    async fn a_token_works_until_revoked() {
        let pool = test_pool().await;
        add_admin(&pool, "admin").await;
        let id = insert_token(&pool, "ci", Role::Operator, "aa", "admin").await.unwrap();
        let active = use_token(&pool, "aa").await.unwrap();
        assert_eq!(active, Some(ActiveToken { id, name: "ci".into(), role: Role::Operator }));
        assert_eq!(use_token(&pool, "bb").await.unwrap(), None, "unknown hash");
        let listed = list_tokens(&pool).await.unwrap();
        assert!(listed[0].last_used_at.is_some(), "use is recorded");
        assert!(revoke_token(&pool, id).await.unwrap());
        assert!(!revoke_token(&pool, id).await.unwrap(), "already revoked");
        assert_eq!(use_token(&pool, "aa").await.unwrap(), None, "revoked");
        assert!(insert_token(&pool, "", Role::Viewer, "cc", "admin").await.is_err(), "empty name");
    }
}
