//! Stored alerts, read-only.
use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{AlertDetail, AlertFilter, AlertPage};

/// Alerts per page of the list.
pub const ALERT_PAGE_SIZE: i64 = 50;

/// `POST /api/alerts` (optional fields `filter[status]`, `filter[alertname]`,
/// `filter[severity]`, `filter[instance]`, `filter[q]`, `filter[since]`, `filter[from]`,
/// `filter[to]`, `filter[sort]`, `filter[before]`): one page of alert episodes, newest first
/// by the alert's start (`sort=received`: by arrival) (viewer).
#[server(endpoint = "alerts")]
pub async fn list_alerts(#[server(default)] filter: AlertFilter) -> Result<AlertPage, AppError> {
    use crate::model::Role;
    use crate::ssr::db::lists::{self, Listed, Window};
    use crate::ssr::filter::AlertSort;
    use crate::ssr::{app_state, auth, filter as check, internal, invalid};

    auth::require_role(Role::Viewer).await?;
    let q = check::alert_query(&filter, time::OffsetDateTime::now_utc()).map_err(invalid)?;
    let state = app_state()?;
    let fail = |e| internal("list alerts failed", e);
    if q.sort == AlertSort::Started {
        return crate::ssr::db::alerts_by_start::page(&state.pool, &q, filter.before, ALERT_PAGE_SIZE)
            .await
            .map_err(fail)?
            .ok_or_else(|| {
                invalid(
                    "the page began after an alert that is no longer stored; start from the newest"
                        .to_owned(),
                )
            });
    }
    let (min, max) = lists::id_bounds(&state.pool, Listed::Alerts).await.map_err(fail)?;
    let mut w = Window::page(filter.before, max, ALERT_PAGE_SIZE);
    if q.searches_everything() {
        // Through the full-text index: the whole history, said so (no "searched up to …") —
        // once the index has caught up (after an upgrade it fills in the background; until
        // then the pages walk the scan window as before).
        if let crate::ssr::db::backend::Db::Sqlite(pool) = &state.pool {
            let indexed = crate::ssr::db::alert_search::indexed_up_to(pool).await.map_err(fail)?;
            if max - indexed <= lists::SCAN_WINDOW {
                w.floor = None;
            }
        }
    }
    let rows = lists::list_alerts(&state.pool, &q, w).await.map_err(fail)?;
    Ok(lists::into_page(rows, |r| r.id, &w, min))
}

/// `POST /api/alert_counts`: stored alert episodes per status, `[firing, resolved]` (viewer).
#[server(endpoint = "alert_counts")]
pub async fn alert_counts() -> Result<(i64, i64), AppError> {
    use crate::model::Role;
    use crate::ssr::{app_state, auth, db, internal};

    auth::require_role(Role::Viewer).await?;
    let state = app_state()?;
    db::overview::alert_status_counts(&state.pool).await.map_err(|e| internal("alert counts failed", e))
}

/// Runs listed on an alert's page (the newest; older ones are on the runs page).
pub const ALERT_RUNS_SHOWN: i64 = 20;

/// `POST /api/alert` (field `id`): one alert episode with its labels, annotations and timeline
/// (viewer).
#[server(endpoint = "alert")]
pub async fn get_alert(id: i64) -> Result<AlertDetail, AppError> {
    use crate::model::Role;
    use crate::ssr::db::alert_detail as q;
    use crate::ssr::{app_state, auth, internal, respond_with, timeline};

    auth::require_role(Role::Viewer).await?;
    let state = app_state()?;
    let fail = |e| internal("alert detail failed", e);
    let alert = q::alert_summary(&state.pool, id)
        .await
        .map_err(fail)?
        .ok_or_else(|| respond_with(AppError::NotFound))?;
    let extra = q::alert_extra(&state.pool, id)
        .await
        .map_err(fail)?
        .ok_or_else(|| respond_with(AppError::NotFound))?;
    let decisions = q::alert_decisions(&state.pool, id).await.map_err(fail)?;
    let runs = q::alert_runs(&state.pool, id, ALERT_RUNS_SHOWN).await.map_err(fail)?;
    let timeline = timeline::build_timeline(&alert, &extra.first_seen_at, &decisions, &runs);
    // Stored as JSON objects of strings by the inbox; anything else shows as empty.
    let pairs = |json: &str| -> Vec<(String, String)> {
        serde_json::from_str::<std::collections::BTreeMap<String, String>>(json)
            .unwrap_or_default()
            .into_iter()
            .collect()
    };
    Ok(AlertDetail {
        labels: pairs(&alert.labels),
        annotations: pairs(&extra.annotations),
        alert,
        generator_url: extra.generator_url,
        group_key: extra.group_key,
        receiver: extra.receiver,
        first_seen_at: extra.first_seen_at,
        external_url: extra.external_url,
        last_notification_id: extra.last_notification_id,
        timeline,
        runs,
    })
}
