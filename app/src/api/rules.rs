//! The loaded rules, read-only.
use leptos::prelude::*;

use crate::error::AppError;
use crate::model::RuleView;

/// `POST /api/reload_rules` (admin): reads the config file's rules again and puts them in force,
/// as SIGHUP does; an invalid file is refused (`Invalid`, with why) and the rules stay. Audited.
#[server(endpoint = "reload_rules")]
pub async fn reload_rules() -> Result<String, AppError> {
    use crate::model::Role;
    use crate::ssr::{app_state, auth, respond_with};

    let user = auth::require_role(Role::Admin).await?;
    let state = app_state()?;
    let reloader = state.reload_rules.as_ref().ok_or_else(|| {
        respond_with(AppError::Conflict("this server does not reload its rules".to_owned()))
    })?;
    let source = auth::client_addr();
    reloader.reload(&user.username, source.as_deref()).await.map_err(|e| respond_with(AppError::Invalid(e)))
}

/// `POST /api/rules`: every loaded rule in file order with its breaker per target (viewer).
#[server(endpoint = "rules")]
pub async fn list_rules() -> Result<Vec<RuleView>, AppError> {
    use crate::model::Role;
    use crate::ssr::{app_state, auth, internal, rule_view};

    auth::require_role(Role::Viewer).await?;
    let state = app_state()?;
    rule_view::rule_views(&state.pool, &state.rules.current())
        .await
        .map_err(|e| internal("list rules failed", e))
}
