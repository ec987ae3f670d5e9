//! User administration (admin only).
use leptos::prelude::*;

use crate::error::AppError;
use crate::model::UserSummary;

/// `POST /api/users`: every user (admin).
#[server(endpoint = "users")]
pub async fn list_users() -> Result<Vec<UserSummary>, AppError> {
    use crate::model::Role;
    use crate::ssr::{app_state, auth, db, internal};

    auth::require_role(Role::Admin).await?;
    let state = app_state()?;
    db::users::list_users(&state.pool).await.map_err(|e| internal("list users failed", e))
}
