//! Heal runs and their output, read-only.
use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{OutputLineView, RunFilter, RunPage, RunSummary};

/// Runs per page of the list.
pub const RUN_PAGE_SIZE: i64 = 50;

/// Output lines per fetch; the page asks again for the next ones.
pub const OUTPUT_PAGE_SIZE: i64 = 2_000;

/// `POST /api/runs` (optional fields `filter[status]`, `filter[rule]`, `filter[target]`,
/// `filter[trigger]`, `filter[since]`, `filter[from]`, `filter[to]`, `filter[before]`): one
/// page of runs, newest first (viewer).
#[server(endpoint = "runs")]
pub async fn list_runs(#[server(default)] filter: RunFilter) -> Result<RunPage, AppError> {
    use crate::model::Role;
    use crate::ssr::db::lists::{self, Listed, Window};
    use crate::ssr::{app_state, auth, filter as check, internal, invalid};

    auth::require_role(Role::Viewer).await?;
    let q = check::run_query(&filter, time::OffsetDateTime::now_utc()).map_err(invalid)?;
    let state = app_state()?;
    let fail = |e| internal("list runs failed", e);
    let (min, max) = lists::id_bounds(&state.pool, Listed::Runs).await.map_err(fail)?;
    let w = Window::page(filter.before, max, RUN_PAGE_SIZE);
    let rows = lists::list_runs(&state.pool, &q, w).await.map_err(fail)?;
    Ok(lists::into_page(rows, |r| r.id, &w, min))
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
