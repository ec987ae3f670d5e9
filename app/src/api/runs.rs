//! Heal runs and their output, read-only.
use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{OutputLineView, RunSummary};

/// Runs per page of the list.
pub const RUN_PAGE_SIZE: i64 = 50;

/// Output lines per fetch; the page asks again for the next ones.
pub const OUTPUT_PAGE_SIZE: i64 = 2_000;

/// `POST /api/runs` (optional field `before`, a run id): runs, newest first (viewer).
#[server(endpoint = "runs")]
pub async fn list_runs(before: Option<i64>) -> Result<Vec<RunSummary>, AppError> {
    use crate::model::Role;
    use crate::ssr::{app_state, auth, db, internal};

    auth::require_role(Role::Viewer).await?;
    let state = app_state()?;
    db::runs::list_runs(&state.pool, before, RUN_PAGE_SIZE).await.map_err(|e| internal("list runs failed", e))
}

/// `POST /api/run` (field `id`): one run (viewer).
#[server(endpoint = "run")]
pub async fn get_run(id: i64) -> Result<RunSummary, AppError> {
    use crate::model::Role;
    use crate::ssr::{app_state, auth, db, internal, respond_with};

    auth::require_role(Role::Viewer).await?;
    let state = app_state()?;
    db::runs::get_run(&state.pool, id)
        .await
        .map_err(|e| internal("get run failed", e))?
        .ok_or_else(|| respond_with(AppError::NotFound))
}

/// `POST /api/run_output` (fields `id`, `after`): the next output lines of a run (viewer).
#[server(endpoint = "run_output")]
pub async fn get_run_output(id: i64, after: i64) -> Result<Vec<OutputLineView>, AppError> {
    use crate::model::Role;
    use crate::ssr::{app_state, auth, db, internal};

    auth::require_role(Role::Viewer).await?;
    let state = app_state()?;
    db::run_output::run_output(&state.pool, id, after, OUTPUT_PAGE_SIZE)
        .await
        .map_err(|e| internal("run output failed", e))
}
