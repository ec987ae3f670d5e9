//! User administration (admin only).
use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{ApiTokenSummary, IssuedPassword, NewApiToken, UserSummary};

/// `POST /api/users`: every user (admin).
#[server(endpoint = "users")]
pub async fn list_users() -> Result<Vec<UserSummary>, AppError> {
    use crate::model::Role;
    use crate::ssr::{app_state, auth, db, internal};

    auth::require_role(Role::Admin).await?;
    let state = app_state()?;
    db::users::list_users(&state.pool).await.map_err(|e| internal("list users failed", e))
}

/// `POST /api/add_user` (fields `username`, `role`, optional `password`): a new user; with no
/// password one is generated and answered, once (admin, audited).
#[server(endpoint = "add_user")]
pub async fn add_user(
    username: String,
    role: String,
    #[server(default)] password: String,
) -> Result<IssuedPassword, AppError> {
    use crate::model::Role;
    use crate::ssr::{app_state, auth, user_admin};

    let admin = auth::require_role(Role::Admin).await?;
    let role = parse_role(&role)?;
    let state = app_state()?;
    let source = auth::client_addr();
    user_admin::add_user(&state.pool, &admin, username.trim(), role, &password, source.as_deref()).await
}

/// `POST /api/set_user_role` (fields `username`, `role`): refused for your own demotion and
/// for the last active admin (admin, audited).
#[server(endpoint = "set_user_role")]
pub async fn set_user_role(username: String, role: String) -> Result<(), AppError> {
    use crate::ssr::user_admin::UserChange;

    change_user(&username, || Ok(UserChange::Role(parse_role(&role)?))).await.map(drop)
}

/// `POST /api/set_user_disabled` (fields `username`, `disabled` = true|false): a disabled user
/// cannot log in and their sessions end; refused for yourself and the last active admin
/// (admin, audited).
#[server(endpoint = "set_user_disabled")]
pub async fn set_user_disabled(username: String, disabled: bool) -> Result<(), AppError> {
    use crate::ssr::user_admin::UserChange;

    let change = if disabled { UserChange::Disable } else { UserChange::Enable };
    change_user(&username, || Ok(change)).await.map(drop)
}

/// `POST /api/reset_password` (field `username`): a generated password, answered once; the
/// user's sessions end (admin, audited).
#[server(endpoint = "reset_password")]
pub async fn reset_password(username: String) -> Result<IssuedPassword, AppError> {
    use crate::ssr::user_admin::UserChange;

    change_user(&username, || Ok(UserChange::ResetPassword)).await
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
    let role = parse_role(&role)?;
    let state = app_state()?;
    let (token, hash) = api_token::generate_token();
    use crate::ssr::db::backend::{on_pool, WritePool};
    let id = on_pool!(&state.pool, |pool| {
        let mut tx = pool.begin_write().await.map_err(|e| internal("begin failed", e))?;
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
        Ok::<_, AppError>(id)
    })?;
    Ok(NewApiToken { id, name, role, token })
}

/// `POST /api/revoke_api_token`: the token stops working at once (admin, audited).
#[server(endpoint = "revoke_api_token")]
pub async fn revoke_api_token(id: i64) -> Result<(), AppError> {
    use crate::model::Role;
    use crate::ssr::{app_state, auth, db, internal, respond_with};

    let admin = auth::require_role(Role::Admin).await?;
    let state = app_state()?;
    use crate::ssr::db::backend::{on_pool, WritePool};
    on_pool!(&state.pool, |pool| {
        let mut tx = pool.begin_write().await.map_err(|e| internal("begin failed", e))?;
        if !db::api_tokens::revoke_token(&mut *tx, id)
            .await
            .map_err(|e| internal("revoke token failed", e))?
        {
            return Err(respond_with(AppError::NotFound));
        }
        audit_token(&mut tx, &admin.username, "token.revoked", &format!("token {id}"), None).await?;
        tx.commit().await.map_err(|e| internal("commit failed", e))
    })
}

/// A role named in a form, or `Invalid`.
#[cfg(feature = "ssr")]
fn parse_role(role: &str) -> Result<crate::model::Role, AppError> {
    role.parse().map_err(|e: String| crate::ssr::respond_with(AppError::Invalid(e)))
}

/// Checks the caller is an admin, then reads the form's `change` and makes it to `username`.
#[cfg(feature = "ssr")]
async fn change_user(
    username: &str,
    change: impl FnOnce() -> Result<crate::ssr::user_admin::UserChange, AppError>,
) -> Result<IssuedPassword, AppError> {
    use crate::model::Role;
    use crate::ssr::{app_state, auth, user_admin};

    let admin = auth::require_role(Role::Admin).await?;
    let change = change()?;
    let state = app_state()?;
    let source = auth::client_addr();
    user_admin::change_user(&state.pool, &admin, username.trim(), change, source.as_deref()).await
}

/// Records an admin's token action, from the request's address, in `tx`.
#[cfg(feature = "ssr")]
async fn audit_token(
    tx: impl Into<crate::ssr::db::backend::Ex<'_>>,
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
