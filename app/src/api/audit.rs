//! The audit log, read-only.
use leptos::prelude::*;

use crate::error::AppError;
use crate::model::AuditEvent;

/// Entries per audit page.
pub const AUDIT_PAGE_SIZE: i64 = 100;

/// `POST /api/audit` (optional field `before`, an event id): the newest audit entries (viewer).
#[server(endpoint = "audit")]
pub async fn list_audit_events(before: Option<i64>) -> Result<Vec<AuditEvent>, AppError> {
    use crate::model::Role;
    use crate::ssr::{app_state, auth, db, internal};

    auth::require_role(Role::Viewer).await?;
    let state = app_state()?;
    db::audit::list_audit(&state.pool, before, AUDIT_PAGE_SIZE)
        .await
        .map_err(|e| internal("list audit failed", e))
}
