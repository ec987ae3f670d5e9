//! The playbook catalog: list it (viewer), run an entry on a named target (operator; audited).
use leptos::prelude::*;

use crate::error::AppError;
use crate::model::CatalogEntry;

/// `POST /api/catalog`: the playbooks of the loaded rules (viewer).
#[server(endpoint = "catalog")]
pub async fn playbook_catalog() -> Result<Vec<CatalogEntry>, AppError> {
    use crate::model::Role;
    use crate::ssr::{app_state, auth, catalog};

    let user = auth::require_role(Role::Viewer).await?;
    let state = app_state()?;
    let recent = crate::ssr::db::alerts::recent_labels(&state.pool, catalog::RECENT_ALERTS)
        .await
        .map_err(|e| crate::ssr::internal("catalog failed", e))?;
    let hosts = state.inventory.current_async().await;
    let mut entries = catalog::catalog(&state.rules.current(), &recent, &hosts);
    let any_target = user.role.allows(Role::Admin);
    entries.iter_mut().for_each(|e| e.any_target = any_target);
    Ok(entries)
}

/// `POST /api/run_playbook` (fields `rule`, `target`, optional `limit` and `dry_run`): queue the
/// rule's playbook on `target` now; returns the run id and sends the browser to the live run.
#[server(endpoint = "run_playbook")]
pub async fn run_playbook(
    rule: String,
    target: String,
    #[server(default)] limit: Option<String>,
    #[server(default)] dry_run: Option<String>,
) -> Result<i64, AppError> {
    use crate::model::Role;
    use crate::ssr::{app_state, auth, catalog};

    let user = auth::require_role(Role::Operator).await?;
    let state = app_state()?;
    let dry_run = dry_run.is_some_and(|v| v == "true" || v == "on");
    let source = auth::client_addr();
    let ask = catalog::CatalogRun { rule: &rule, target: &target, limit: limit.as_deref(), dry_run };
    let hosts = state.inventory.current_async().await;
    let id =
        catalog::run_from_catalog(&state.pool, &state.rules.current(), &hosts, &user, ask, source.as_deref())
            .await?;
    state.changes.touch(&[crate::model::Topic::Runs]);
    leptos_axum::redirect(&format!("/runs/{id}"));
    Ok(id)
}
