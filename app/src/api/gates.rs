//! Fleet-wide gates people see and clear: the blast-radius trips in force (any signed-in user
//! sees them; operators reset them, audited).
use leptos::prelude::*;

use crate::error::AppError;
use crate::model::BlastTripView;

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
    let mut tx = db::begin_write(&state.pool).await.map_err(|e| internal("reset failed", e))?;
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
    state.changes.touch(&[Topic::Breakers]);
    Ok(())
}
