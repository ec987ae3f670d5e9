//! API tokens: `Authorization: Bearer <token>` on the `/api/` endpoints, each token with a role.
//! Only the SHA-256 of a token is stored; a token is 256 random bits, shown once.
use crate::ssr::db::backend::PoolRef;
use axum::http::HeaderValue;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::AppError;
use crate::model::CurrentUser;
use crate::ssr::db::api_tokens;
use crate::ssr::internal;

/// Every token starts with this, so a leaked one is recognisable (and greppable) as ours.
pub const TOKEN_PREFIX: &str = "shk_";

/// Random bytes in a token: 256 bits, beyond guessing, so a fast hash is enough to store it.
const TOKEN_BYTES: usize = 32;

/// A new token and the hash under which it is stored.
pub fn generate_token() -> (String, String) {
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let token = format!("{TOKEN_PREFIX}{hex}");
    let hash = token_sha256(&token);
    (token, hash)
}

/// The stored form of a token.
pub fn token_sha256(token: &str) -> String {
    format!("{:x}", Sha256::digest(token.as_bytes()))
}

/// The principal an `Authorization` header stands for: an unrevoked bearer token's, named
/// `token:<name>`; `None` for anything else (another scheme, an unknown or revoked token).
/// A request that presents credentials is judged by them alone: no fallback to its cookie.
pub async fn user_from_authorization(
    pool: impl Into<PoolRef<'_>>,
    header: &HeaderValue,
) -> Result<Option<CurrentUser>, AppError> {
    let pool: PoolRef<'_> = pool.into();
    let Some(token) = header
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| t.starts_with(TOKEN_PREFIX))
    else {
        return Ok(None);
    };
    let found = api_tokens::use_token(pool, &token_sha256(token))
        .await
        .map_err(|e| internal("token lookup failed", e))?;
    // Negative ids: a token principal can never be mistaken for the user with the same id.
    Ok(found.map(|t| CurrentUser { id: -t.id, username: format!("token:{}", t.name), role: t.role }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Role;
    use crate::ssr::db::test_pool;

    #[tokio::test]
    async fn only_a_live_bearer_token_is_a_principal() {
        let pool = test_pool().await;
        let (token, hash) = generate_token();
        assert!(token.starts_with(TOKEN_PREFIX) && token.len() == TOKEN_PREFIX.len() + 2 * TOKEN_BYTES);
        assert_ne!(generate_token().0, token);
        let admin = crate::ssr::auth::PasswordHash::from_stored("x".into());
        crate::ssr::db::users::insert_user(&pool, "admin", &admin, Role::Admin).await.unwrap();
        let id = api_tokens::insert_token(&pool, "ci", Role::Operator, &hash, "admin").await.unwrap();
        let header = |v: &str| HeaderValue::from_str(v).unwrap();
        let user =
            user_from_authorization(&pool, &header(&format!("Bearer {token}"))).await.unwrap().unwrap();
        assert_eq!((user.id, user.username.as_str(), user.role), (-id, "token:ci", Role::Operator));
        let refused = [
            format!("Basic {token}"),
            format!("Bearer {token}x"),
            "Bearer shk_".to_owned(),
            format!("Bearer {hash}"),
            "Bearer".to_owned(),
        ];
        for value in refused {
            assert_eq!(user_from_authorization(&pool, &header(&value)).await.unwrap(), None, "{value}");
        }
        api_tokens::revoke_token(&pool, id).await.unwrap();
        assert_eq!(user_from_authorization(&pool, &header(&format!("Bearer {token}"))).await.unwrap(), None);
    }
}
