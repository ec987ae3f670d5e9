//! `GET /api/notifications/{id}/raw`: a stored webhook notification exactly as Alertmanager
//! sent it (unpacked), for replay and audit. Viewer or above, by session or API token.
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

use app::error::AppError;
use app::model::Role;
use app::ssr::db::notifications;
use app::ssr::{auth, AppState};

use crate::export::refuse;

#[tracing::instrument(skip_all, fields(notification.id = %id))]
pub async fn raw_notification(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let who = auth::principal(&state, headers.get(header::AUTHORIZATION), &session).await;
    if let Err(e) = who.and_then(|user| auth::check_role(user, Role::Viewer)) {
        return refuse(e);
    }
    let Ok(id) = id.parse::<i64>() else { return refuse(AppError::NotFound) };
    match notifications::raw_notification(&state.pool, id).await {
        Ok(Some(raw)) => {
            let headers = [
                (header::CONTENT_TYPE, "application/json".to_owned()),
                (header::CONTENT_DISPOSITION, format!("inline; filename=\"notification-{id}.json\"")),
                (header::CACHE_CONTROL, "no-store".to_owned()),
            ];
            (headers, raw).into_response()
        }
        Ok(None) => refuse(AppError::NotFound),
        Err(e) => {
            tracing::error!(error = %e, "cannot read a raw notification");
            refuse(AppError::Internal)
        }
    }
}
