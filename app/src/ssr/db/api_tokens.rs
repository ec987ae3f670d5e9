//! The `api_tokens` table: bearer tokens by the SHA-256 of their text.
use sqlx::SqliteExecutor;

use crate::model::{ApiTokenSummary, Role};

/// A token that may be used: not revoked.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ActiveToken {
    pub id: i64,
    pub name: String,
    pub role: Role,
}

/// Stores a new token (by its hash) and returns its id.
pub async fn insert_token(
    ex: impl SqliteExecutor<'_>,
    name: &str,
    role: Role,
    token_sha256: &str,
    created_by: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO api_tokens (name, role, token_sha256, created_by) VALUES (?, ?, ?, ?) RETURNING id",
    )
    .bind(name)
    .bind(role)
    .bind(token_sha256)
    .bind(created_by)
    .fetch_one(ex)
    .await
}

/// The unrevoked token with this hash, marking it used now.
pub async fn use_token(
    ex: impl SqliteExecutor<'_>,
    token_sha256: &str,
) -> Result<Option<ActiveToken>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE api_tokens SET last_used_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') \
         WHERE token_sha256 = ? AND revoked_at IS NULL RETURNING id, name, role",
    )
    .bind(token_sha256)
    .fetch_optional(ex)
    .await
}

/// Revokes a token; returns whether one was active.
pub async fn revoke_token(ex: impl SqliteExecutor<'_>, id: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE api_tokens SET revoked_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') \
         WHERE id = ? AND revoked_at IS NULL",
    )
    .bind(id)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Every token, newest first (never the token text: it is not stored).
pub async fn list_tokens(ex: impl SqliteExecutor<'_>) -> Result<Vec<ApiTokenSummary>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, role, created_by, created_at, last_used_at, revoked_at FROM api_tokens ORDER BY id DESC",
    )
    .fetch_all(ex)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssr::db::test_pool;

    #[tokio::test]
    async fn a_token_works_until_revoked() {
        let pool = test_pool().await;
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
