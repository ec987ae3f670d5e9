//! Stored alerts, read-only.
use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{AlertFilter, AlertSummary};

/// Alerts per page of the list.
pub const ALERT_PAGE_SIZE: i64 = 50;

/// `POST /api/alerts` (optional fields `filter[status]`, `filter[alertname]`, `filter[before]`):
/// stored alert episodes, newest first (viewer).
#[server(endpoint = "alerts")]
pub async fn list_alerts(#[server(default)] filter: AlertFilter) -> Result<Vec<AlertSummary>, AppError> {
    use crate::model::Role;
    use crate::ssr::{app_state, auth, db, internal, respond_with};

    auth::require_role(Role::Viewer).await?;
    if let Some(status) = filter.status.as_deref().filter(|s| !s.is_empty()) {
        if status != "firing" && status != "resolved" {
            return Err(respond_with(AppError::Invalid(format!(
                "status must be firing or resolved, not `{status}`"
            ))));
        }
    }
    let state = app_state()?;
    db::alerts::list_alerts(&state.pool, &filter, ALERT_PAGE_SIZE)
        .await
        .map_err(|e| internal("list alerts failed", e))
}
