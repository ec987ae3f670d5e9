//! Operator actions on runs (operator or admin; each one audited).
use leptos::prelude::*;

use crate::error::AppError;

/// `POST /api/heal_now` (fields `alert_id`, optional `dry_run`): queue the matching rule's
/// playbook for this alert now; returns the run id and sends the browser to the live run.
#[server(endpoint = "heal_now")]
pub async fn heal_now(alert_id: i64, #[server(default)] dry_run: Option<String>) -> Result<i64, AppError> {
    use crate::model::Role;
    use crate::ssr::{actions, app_state, auth};

    let user = auth::require_role(Role::Operator).await?;
    let state = app_state()?;
    let dry_run = dry_run.is_some_and(|v| v == "true" || v == "on");
    let id = actions::heal_now(
        &state.pool,
        &state.rules,
        &user,
        alert_id,
        dry_run,
        auth::client_addr().as_deref(),
    )
    .await?;
    state.worker_wake.notify_one();
    leptos_axum::redirect(&format!("/runs/{id}"));
    Ok(id)
}

/// `POST /api/approve_run` (fields `run_id`, `approve` = true|false, optional `comment`).
#[server(endpoint = "approve_run")]
pub async fn approve_run(
    run_id: i64,
    approve: bool,
    #[server(default)] comment: String,
) -> Result<(), AppError> {
    use crate::model::Role;
    use crate::ssr::{actions, app_state, auth};

    let user = auth::require_role(Role::Operator).await?;
    let state = app_state()?;
    actions::approve(&state.pool, &user, run_id, approve, comment.trim(), auth::client_addr().as_deref())
        .await?;
    if approve {
        state.worker_wake.notify_one();
    }
    Ok(())
}

/// `POST /api/cancel_run` (field `run_id`): cancel a run that has not started.
#[server(endpoint = "cancel_run")]
pub async fn cancel_run(run_id: i64) -> Result<(), AppError> {
    use crate::model::Role;
    use crate::ssr::{actions, app_state, auth};

    let user = auth::require_role(Role::Operator).await?;
    let state = app_state()?;
    actions::cancel(&state.pool, &user, run_id, auth::client_addr().as_deref()).await
}

/// `POST /api/reset_breaker` (fields `rule`, `target`): attempts so far stop counting.
#[server(endpoint = "reset_breaker")]
pub async fn reset_breaker(rule: String, target: String) -> Result<(), AppError> {
    use crate::model::Role;
    use crate::ssr::{actions, app_state, auth};

    let user = auth::require_role(Role::Operator).await?;
    let state = app_state()?;
    actions::reset_breaker(&state.pool, &state.rules, &user, &rule, &target, auth::client_addr().as_deref())
        .await
}
