//! Operator actions on runs (operator or admin; each one audited).
use leptos::prelude::*;

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::model::Topic;
use crate::model::{NavFigures, Overview, PauseView, PendingApproval, ReplayOutcome};

/// `POST /api/heal_now` (fields `alert_id`, optional `dry_run`): queue the matching rule's
/// playbook for this alert now; returns the run id and sends the browser to the live run.
#[server(endpoint = "heal_now")]
pub async fn heal_now(alert_id: i64, #[server(default)] dry_run: Option<String>) -> Result<i64, AppError> {
    use crate::model::Role;
    use crate::ssr::{actions, app_state, auth};

    let user = auth::require_role(Role::Operator).await?;
    let state = app_state()?;
    let dry_run = dry_run.is_some_and(|v| v == "true" || v == "on");
    let hosts = state.inventory.current_async().await;
    let id = actions::heal_now(
        &state.pool,
        &state.rules.current(),
        &hosts,
        &user,
        alert_id,
        dry_run,
        auth::client_addr().as_deref(),
    )
    .await?;
    state.changes.touch(&[Topic::Runs, Topic::Alerts]);
    leptos_axum::redirect(&format!("/runs/{id}"));
    Ok(id)
}

/// `POST /api/approve_run` (fields `run_id`, `approve` = true|false, optional `comment`).
#[server(endpoint = "approve_run")]
pub async fn approve_run(
    run_id: i64,
    approve: bool,
    #[server(default)] comment: String,
) -> Result<(), AppError> {
    use crate::model::Role;
    use crate::ssr::{actions, app_state, auth};

    let user = auth::require_role(Role::Operator).await?;
    let state = app_state()?;
    actions::approve(&state.pool, &user, run_id, approve, comment.trim(), auth::client_addr().as_deref())
        .await?;
    state.changes.touch(&[Topic::Runs, Topic::Approvals, Topic::Alerts]);
    Ok(())
}

/// `POST /api/approvals`: runs awaiting approval, oldest first (viewer).
#[server(endpoint = "approvals")]
pub async fn list_approvals() -> Result<Vec<PendingApproval>, AppError> {
    use crate::model::Role;
    use crate::ssr::db::approvals::{pending_approvals, MAX_PENDING_APPROVALS};
    use crate::ssr::{app_state, auth, internal};

    auth::require_role(Role::Viewer).await?;
    let state = app_state()?;
    let mut pending = pending_approvals(&state.pool, MAX_PENDING_APPROVALS)
        .await
        .map_err(|e| internal("list approvals failed", e))?;
    for p in &mut pending {
        p.expires_at = crate::ssr::alert::add_utc(&p.requested_at, state.approval_ttl).unwrap_or_default();
    }
    Ok(pending)
}

/// `POST /api/cancel_run` (field `run_id`): cancel a run that has not started.
#[server(endpoint = "cancel_run")]
pub async fn cancel_run(run_id: i64) -> Result<(), AppError> {
    use crate::model::Role;
    use crate::ssr::{actions, app_state, auth};

    let user = auth::require_role(Role::Operator).await?;
    let state = app_state()?;
    actions::cancel(&state.pool, &user, run_id, auth::client_addr().as_deref()).await?;
    state.changes.touch(&[Topic::Runs, Topic::Approvals, Topic::Alerts]);
    Ok(())
}

/// `POST /api/reset_breaker` (fields `rule`, `target`): attempts so far stop counting.
#[server(endpoint = "reset_breaker")]
pub async fn reset_breaker(rule: String, target: String) -> Result<(), AppError> {
    use crate::model::Role;
    use crate::ssr::{actions, app_state, auth};

    let user = auth::require_role(Role::Operator).await?;
    let state = app_state()?;
    actions::reset_breaker(
        &state.pool,
        &state.rules.current(),
        &user,
        &rule,
        &target,
        auth::client_addr().as_deref(),
    )
    .await?;
    state.changes.touch(&[Topic::Breakers]);
    Ok(())
}

/// `POST /api/pause` (fields `reason`, optional `rule`): the kill switch, for operators. While
/// paused, new episodes are decided `paused` and queued runs wait; everything, or one rule.
#[server(endpoint = "pause")]
pub async fn pause_healing(reason: String, #[server(default)] rule: Option<String>) -> Result<(), AppError> {
    use crate::model::Role;
    use crate::ssr::{actions, app_state, auth};

    let user = auth::require_role(Role::Operator).await?;
    let state = app_state()?;
    let rule = rule.filter(|r| !r.is_empty());
    let source = auth::client_addr();
    actions::pause_healing(
        &state.pool,
        &state.rules.current(),
        &user.username,
        rule.as_deref(),
        &reason,
        source.as_deref(),
    )
    .await?;
    state.changes.touch(&[Topic::Pauses]);
    Ok(())
}

/// `POST /api/resume` (optional field `rule`): ends a pause; the runs it held start.
#[server(endpoint = "resume")]
pub async fn resume_healing(#[server(default)] rule: Option<String>) -> Result<(), AppError> {
    use crate::model::Role;
    use crate::ssr::{actions, app_state, auth};

    let user = auth::require_role(Role::Operator).await?;
    let state = app_state()?;
    let rule = rule.filter(|r| !r.is_empty());
    let source = auth::client_addr();
    actions::resume_healing(
        &state.pool,
        &state.rules.current(),
        &user.username,
        rule.as_deref(),
        source.as_deref(),
    )
    .await?;
    // The worker wakes on it too: the runs the pause held start now.
    state.changes.touch(&[Topic::Pauses]);
    Ok(())
}

/// `POST /api/pauses`: the pauses in force (any signed-in user).
#[server(endpoint = "pauses")]
pub async fn list_pauses() -> Result<Vec<PauseView>, AppError> {
    use crate::model::Role;
    use crate::ssr::{app_state, auth, db, internal};

    auth::require_role(Role::Viewer).await?;
    let state = app_state()?;
    db::pauses::list_pauses(&state.pool).await.map_err(|e| internal("pauses failed", e))
}

/// `POST /api/replay` (fields `alert_id`, optional `enqueue=true`): what today's rules decide
/// for a stored alert; queues the run only when asked and when the rules would run it.
#[server(endpoint = "replay")]
pub async fn replay_alert(
    alert_id: i64,
    #[server(default)] enqueue: Option<String>,
) -> Result<ReplayOutcome, AppError> {
    use crate::model::Role;
    use crate::ssr::{actions, app_state, auth};

    let enqueue = enqueue.is_some_and(|v| v == "true" || v == "on");
    let user = auth::require_role(if enqueue { Role::Operator } else { Role::Viewer }).await?;
    let state = app_state()?;
    let hosts = state.inventory.current_async().await;
    let source = auth::client_addr();
    let rules = state.rules.current();
    let known = state.known_targets.current();
    let with = crate::ssr::evaluate::DecideWith {
        rules: &rules,
        hosts: &hosts,
        guards: state.guards.as_deref(),
        known: &known,
    };
    let outcome = actions::replay(&state.pool, with, &user, alert_id, enqueue, source.as_deref()).await?;
    if outcome.run_id.is_some() {
        state.changes.touch(&[Topic::Runs, Topic::Alerts]);
    }
    Ok(outcome)
}

/// `POST /api/nav_counts`: firing alerts and runs awaiting approval, for the navigation (viewer).
#[server(endpoint = "nav_counts")]
pub async fn nav_counts() -> Result<NavFigures, AppError> {
    use crate::model::Role;
    use crate::ssr::{app_state, auth, db, internal};

    auth::require_role(Role::Viewer).await?;
    let state = app_state()?;
    let (firing, approvals) =
        db::overview::nav_counts(&state.pool).await.map_err(|e| internal("nav counts failed", e))?;
    Ok(NavFigures { firing, approvals })
}

/// `POST /api/overview`: what is happening now (viewer).
#[server(endpoint = "overview")]
pub async fn get_overview() -> Result<Overview, AppError> {
    use crate::components::chart;
    use crate::model::Role;
    use crate::ssr::{actions, app_state, auth, db, heal_stats, internal};

    auth::require_role(Role::Viewer).await?;
    let state = app_state()?;
    let now = time::OffsetDateTime::now_utc();
    let utc = crate::ssr::alert::format_utc;
    let since = utc(now - time::Duration::hours(24));
    let counts_24h = db::overview::overview_counts(&state.pool, &since)
        .await
        .map_err(|e| internal("overview failed", e))?;
    let start = heal_stats::window_start(now);
    let counts = db::run_stats::runs_per_hour(&state.pool, &utc(start))
        .await
        .map_err(|e| internal("runs per hour failed", e))?;
    let times = db::run_stats::times_to_heal(&state.pool, &utc(start))
        .await
        .map_err(|e| internal("times to heal failed", e))?;
    let hours = heal_stats::hourly(start, &counts, &times);
    let mut all: Vec<i64> = times.iter().map(|(_, ms)| *ms).collect();
    all.sort_unstable();
    let (open_breakers, nearly_open_breakers) =
        actions::breakers_to_watch(&state.pool, &state.rules.current())
            .await
            .map_err(|e| internal("breakers failed", e))?;
    Ok(Overview {
        firing_alerts: counts_24h.firing_alerts,
        runs_in_flight: counts_24h.runs_in_flight,
        awaiting_approval: counts_24h.awaiting_approval,
        runs_24h: counts_24h.runs_24h,
        concluded_24h: counts_24h.concluded_24h,
        verified_24h: counts_24h.verified_24h,
        failed_24h: counts_24h.failed_24h,
        tth_p50_ms: heal_stats::percentile(&all, 0.5),
        tth_p95_ms: heal_stats::percentile(&all, 0.95),
        heals_chart: chart::heals_html(&hours),
        time_to_heal_chart: chart::time_to_heal_html(&hours),
        hours,
        open_breakers,
        nearly_open_breakers,
        firing_no_rule: counts_24h.firing_no_rule,
    })
}
