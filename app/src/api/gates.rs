//! Fleet-wide gates people see and clear: the blast-radius trips in force and the maintenance
//! windows (any signed-in user sees them; operators reset, open and cancel them, audited).
// `open_window` takes one argument per form field: plain HTML forms and CI/CD scripts post them
// by name, and the server function macro makes each argument a field.
#![allow(clippy::too_many_arguments)]
use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{BlastTripView, WindowView};

/// `POST /api/blast_trips`: the blast-radius trips in force, oldest first.
#[server(endpoint = "blast_trips")]
pub async fn list_blast_trips() -> Result<Vec<BlastTripView>, AppError> {
    use crate::model::Role;
    use crate::ssr::{app_state, auth, db, internal};

    auth::require_role(Role::Viewer).await?;
    let state = app_state()?;
    db::blast::trips(&state.pool).await.map_err(|e| internal("blast trips failed", e))
}

/// `POST /api/blast_reset` (fields `rule`, `scope`): ends a blast-radius trip; the scope's heals
/// run again (those it parked stay awaiting approval), and its earlier heals stop counting.
#[server(endpoint = "blast_reset")]
pub async fn reset_blast_radius(rule: String, #[server(default)] scope: String) -> Result<(), AppError> {
    use crate::model::{Role, Topic};
    use crate::ssr::actions::audit;
    use crate::ssr::{app_state, auth, db, internal, respond_with};

    let user = auth::require_role(Role::Operator).await?;
    let state = app_state()?;
    let source = auth::client_addr();
    let now = crate::ssr::alert::now_utc();
    use crate::ssr::db::backend::{on_pool, WritePool};
    on_pool!(&state.pool, |pool| {
        let mut tx = pool.begin_write().await.map_err(|e| internal("reset failed", e))?;
        if !db::blast::reset(&mut *tx, &rule, &scope, &user.username, &now)
            .await
            .map_err(|e| internal("reset failed", e))?
        {
            return Err(respond_with(AppError::Conflict(format!(
                "the blast radius of rule `{rule}` is not tripped for {}",
                crate::ssr::heal::blast::scope_text(&scope)
            ))));
        }
        let target = if scope.is_empty() { rule.clone() } else { format!("{rule} {scope}") };
        audit(&mut tx, &user.username, "blast_radius.reset", &target, "reset", source.as_deref()).await?;
        tx.commit().await.map_err(|e| internal("reset failed", e))?;
        Ok::<_, AppError>(())
    })?;
    state.changes.touch(&[Topic::Breakers]);
    Ok(())
}

/// `POST /api/windows`: every maintenance window, newest first, with its state now.
#[server(endpoint = "windows")]
pub async fn list_windows() -> Result<Vec<WindowView>, AppError> {
    use crate::model::Role;
    use crate::ssr::{app_state, auth, internal};

    auth::require_role(Role::Viewer).await?;
    let state = app_state()?;
    crate::ssr::windows::list(&state.pool).await.map_err(|e| internal("windows failed", e))
}

/// `POST /api/window_open` (operator or token): a maintenance window. `matchers` one per line
/// (Alertmanager syntax); then `for` (open now, e.g. `2h`: what CI/CD sends around a deploy),
/// or `starts_at` and `ends_at` (RFC 3339), or `schedule` (cron) with `duration` and
/// `timezone`; `action` is `hold` (default) or `approval`; `silence=true` also silences the
/// covered alerts in Alertmanager while the window is open. Audited.
#[server(endpoint = "window_open")]
pub async fn open_window(
    name: String,
    matchers: String,
    #[server(default)] reason: String,
    #[server(default)] r#for: String,
    #[server(default)] starts_at: String,
    #[server(default)] ends_at: String,
    #[server(default)] schedule: String,
    #[server(default)] duration: String,
    #[server(default)] timezone: String,
    #[server(default)] action: String,
    #[server(default)] silence: String,
) -> Result<(), AppError> {
    use crate::model::{Role, Topic};
    use crate::ssr::{app_state, auth};

    let user = auth::require_role(Role::Operator).await?;
    let state = app_state()?;
    let form = crate::ssr::windows::WindowForm {
        name,
        matchers,
        reason,
        r#for,
        starts_at,
        ends_at,
        schedule,
        duration,
        timezone,
        action,
        silence,
    };
    crate::ssr::windows::open(&state.pool, form, &user.username, auth::client_addr().as_deref()).await?;
    state.changes.touch(&[Topic::Pauses, Topic::Alerts]);
    Ok(())
}

/// `POST /api/window_cancel` (field `name`): ends a window opened here (a config file's window
/// ends when it leaves the file). Held episodes are decided again within seconds. Audited.
#[server(endpoint = "window_cancel")]
pub async fn cancel_window(name: String) -> Result<(), AppError> {
    use crate::model::{Role, Topic};
    use crate::ssr::{app_state, auth};

    let user = auth::require_role(Role::Operator).await?;
    let state = app_state()?;
    crate::ssr::windows::cancel(&state.pool, &name, &user.username, auth::client_addr().as_deref()).await?;
    state.changes.touch(&[Topic::Pauses]);
    Ok(())
}
