//! Silencing an alert in Alertmanager from the dashboard (operator or admin; audited).
use leptos::prelude::*;

use crate::error::AppError;

/// `POST /api/silence_alert` (fields `alert_id`, `hours`, `comment`): an Alertmanager silence
/// matching every label of the alert, created by the user; returns the silence id.
#[server(endpoint = "silence_alert")]
pub async fn silence_alert(alert_id: i64, hours: u32, comment: String) -> Result<String, AppError> {
    use crate::model::Role;
    use crate::ssr::{actions, app_state, auth};

    let user = auth::require_role(Role::Operator).await?;
    let state = app_state()?;
    let source = auth::client_addr();
    actions::silence_alert(
        &state.pool,
        state.silences.as_deref(),
        &user,
        alert_id,
        hours,
        &comment,
        source.as_deref(),
    )
    .await
}
