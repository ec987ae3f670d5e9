//! The loaded rules, read-only.
use leptos::prelude::*;

use crate::error::AppError;
use crate::model::RuleView;

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
