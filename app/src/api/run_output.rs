//! A run's output beyond paging through it: search, and the per-host recap.
use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{HostRecap, OutputLineView, TaskView};

/// Most matches a search returns; the page says when there may be more.
pub const SEARCH_LIMIT: i64 = 200;

/// Longest search text accepted.
pub const SEARCH_MAX_CHARS: usize = 200;

/// `POST /api/run_output_search` (fields `id`, `q`): the lines of a run's output containing
/// `q`, ignoring ASCII case, first [`SEARCH_LIMIT`] (viewer).
#[server(endpoint = "run_output_search")]
pub async fn search_run_output(id: i64, q: String) -> Result<Vec<OutputLineView>, AppError> {
    use crate::model::Role;
    use crate::ssr::{app_state, auth, db, internal, respond_with};

    auth::require_role(Role::Viewer).await?;
    let needle = q.trim();
    if needle.is_empty() || needle.chars().count() > SEARCH_MAX_CHARS {
        return Err(respond_with(AppError::Invalid(format!(
            "search text must be 1 to {SEARCH_MAX_CHARS} characters"
        ))));
    }
    let state = app_state()?;
    db::run_output::search_output(&state.pool, id, needle, SEARCH_LIMIT)
        .await
        .map_err(|e| internal("output search failed", e))
}

/// `POST /api/run_recap` (field `id`): the run's PLAY RECAP per host, empty until it has one
/// (viewer).
#[server(endpoint = "run_recap")]
pub async fn get_run_recap(id: i64) -> Result<Vec<HostRecap>, AppError> {
    use crate::model::Role;
    use crate::ssr::{app_state, auth, db, internal};

    auth::require_role(Role::Viewer).await?;
    let state = app_state()?;
    let stored =
        db::run_output::run_recap(&state.pool, id).await.map_err(|e| internal("run recap failed", e))?;
    Ok(stored.as_deref().map(crate::ssr::recap::parse_recap).unwrap_or_default())
}

/// `POST /api/run_tasks` (field `id`): the run's tasks from its output, with their status and
/// duration and a failed task's first failure line (viewer).
#[server(endpoint = "run_tasks")]
pub async fn get_run_tasks(id: i64) -> Result<Vec<TaskView>, AppError> {
    use crate::model::Role;
    use crate::ssr::utc::Utc;
    use crate::ssr::{app_state, auth, db, internal};

    auth::require_role(Role::Viewer).await?;
    let state = app_state()?;
    let fail = |e| internal("run tasks failed", e);
    let run = db::runs::get_run(&state.pool, id).await.map_err(fail)?;
    let lines = db::run_output::task_lines(&state.pool, id).await.map_err(fail)?;
    let end = run.and_then(|r| r.finished_at).and_then(|f| Utc::parse(&f).ok()).unwrap_or_else(Utc::now);
    Ok(crate::ssr::tasks::fold_tasks(&lines, end))
}
