//! User administration (admin only).
use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{ApiTokenSummary, NewApiToken, UserSummary};

/// `POST /api/users`: every user (admin).
#[server(endpoint = "users")]
pub async fn list_users() -> Result<Vec<UserSummary>, AppError> {
    use crate::model::Role;
    use crate::ssr::{app_state, auth, db, internal};

    auth::require_role(Role::Admin).await?;
    let state = app_state()?;
    db::users::list_users(&state.pool).await.map_err(|e| internal("list users failed", e))
}

/// `POST /api/api_tokens`: every API token, without its text (admin).
#[server(endpoint = "api_tokens")]
pub async fn list_api_tokens() -> Result<Vec<ApiTokenSummary>, AppError> {
    use crate::model::Role;
    use crate::ssr::{app_state, auth, db, internal};

    auth::require_role(Role::Admin).await?;
    let state = app_state()?;
    db::api_tokens::list_tokens(&state.pool).await.map_err(|e| internal("list tokens failed", e))
}

/// `POST /api/create_api_token`: a new token with `role`; its text is in the answer and
/// nowhere else, ever (admin, audited).
#[server(endpoint = "create_api_token")]
pub async fn create_api_token(name: String, role: String) -> Result<NewApiToken, AppError> {
    use crate::model::Role;
    use crate::ssr::{api_token, app_state, auth, db, internal, respond_with};

    let admin = auth::require_role(Role::Admin).await?;
    let name = name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(respond_with(AppError::Invalid("a token name is 1 to 64 printable characters".into())));
    }
    let role: Role =
        role.parse().map_err(|_| respond_with(AppError::Invalid(format!("unknown role {role:?}"))))?;
    let state = app_state()?;
    let (token, hash) = api_token::generate_token();
    let mut tx = db::begin_write(&state.pool).await.map_err(|e| internal("begin failed", e))?;
    let id = db::api_tokens::insert_token(&mut *tx, &name, role, &hash, &admin.username)
        .await
        .map_err(|e| internal("create token failed", e))?;
    audit_token(
        &mut tx,
        &admin.username,
        "token.created",
        &format!("token {id} ({name})"),
        Some(&format!("role {role}")),
    )
    .await?;
    tx.commit().await.map_err(|e| internal("commit failed", e))?;
    Ok(NewApiToken { id, name, role, token })
}

/// `POST /api/revoke_api_token`: the token stops working at once (admin, audited).
#[server(endpoint = "revoke_api_token")]
pub async fn revoke_api_token(id: i64) -> Result<(), AppError> {
    use crate::model::Role;
    use crate::ssr::{app_state, auth, db, internal, respond_with};

    let admin = auth::require_role(Role::Admin).await?;
    let state = app_state()?;
    let mut tx = db::begin_write(&state.pool).await.map_err(|e| internal("begin failed", e))?;
    if !db::api_tokens::revoke_token(&mut *tx, id).await.map_err(|e| internal("revoke token failed", e))? {
        return Err(respond_with(AppError::NotFound));
    }
    audit_token(&mut tx, &admin.username, "token.revoked", &format!("token {id}"), None).await?;
    tx.commit().await.map_err(|e| internal("commit failed", e))?;
    Ok(())
}

/// Records an admin's token action, from the request's address, in `tx`.
#[cfg(feature = "ssr")]
async fn audit_token(
    tx: &mut sqlx::SqliteConnection,
    actor: &str,
    action: &str,
    target: &str,
    detail: Option<&str>,
) -> Result<(), AppError> {
    use crate::ssr::db::audit::{record_audit, NewAuditEvent};
    let source = crate::ssr::auth::client_addr();
    let event = NewAuditEvent { actor, action, target: Some(target), detail, source: source.as_deref() };
    record_audit(tx, &event).await.map_err(|e| crate::ssr::internal("audit failed", e))
}
