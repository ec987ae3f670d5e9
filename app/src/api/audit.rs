//! The audit log, read-only.
use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{AuditFilter, AuditPage};

/// Entries per audit page.
pub const AUDIT_PAGE_SIZE: i64 = 100;

/// `POST /api/audit` (optional fields `filter[actor]`, `filter[action]`, `filter[since]`,
/// `filter[from]`, `filter[to]`, `filter[before]`): one page of audit entries, newest first
/// (viewer).
#[server(endpoint = "audit")]
pub async fn list_audit_events(#[server(default)] filter: AuditFilter) -> Result<AuditPage, AppError> {
    use crate::model::Role;
    use crate::ssr::db::lists::{self, Listed, Window};
    use crate::ssr::{app_state, auth, filter as check, internal, invalid};

    auth::require_role(Role::Viewer).await?;
    let q = check::audit_query(&filter, time::OffsetDateTime::now_utc()).map_err(invalid)?;
    let state = app_state()?;
    let fail = |e| internal("list audit failed", e);
    let (min, max) = lists::id_bounds(&state.pool, Listed::Audit).await.map_err(fail)?;
    let w = Window::page(filter.before, max, AUDIT_PAGE_SIZE);
    let rows = lists::list_audit(&state.pool, &q, w).await.map_err(fail)?;
    Ok(lists::into_page(rows, |r| r.id, &w, min))
}
