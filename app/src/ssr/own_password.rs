//! A logged-in user changes their own password. The current password is checked first, and a
//! wrong one counts as a failed login (the same throttle), so a session left open on someone's
//! laptop cannot be used to guess it. Afterwards every other session of the user ends, and this
//! one goes on under a new id.
use tower_sessions::Session;

use crate::error::AppError;
use crate::model::CurrentUser;
use crate::ssr::db::audit::{record_audit, NewAuditEvent};
use crate::ssr::db::backend::{on_pool, WritePool};
use crate::ssr::db::users;
use crate::ssr::{auth, internal, respond_with, AppState};

fn db(e: sqlx::Error) -> AppError {
    internal("password change failed", e)
}

/// Checks `current`, sets `new`, audits it, and moves `session` to the new session epoch.
pub async fn change_own_password(
    state: &AppState,
    session: &Session,
    user: &CurrentUser,
    current: &str,
    new: &str,
    source: Option<&str>,
) -> Result<(), AppError> {
    let pool = &state.pool;
    let name = user.username.as_str();
    let signs_in = users::find_user_by_id(pool, user.id).await.map_err(db)?.map(|u| u.source);
    if let Some(directory) = signs_in.filter(|s| *s != crate::model::UserSource::Local) {
        return Err(respond_with(AppError::Conflict(format!(
            "you sign in through {}: change your password there",
            directory.label()
        ))));
    }
    let Some(attempt) = auth::begin_login_attempt(pool, name, source).await.map_err(db)? else {
        return Err(respond_with(AppError::TooManyAttempts(auth::LOGIN_WINDOW.as_secs() / 60)));
    };
    let right = auth::authenticate(pool, name, current).await.map_err(db)?.is_some();
    auth::settle_login_attempt(pool, attempt, right).await.map_err(db)?;
    if !right {
        let event = NewAuditEvent {
            actor: name,
            action: "auth.login_failed",
            target: Some(name),
            detail: Some("wrong current password when changing it"),
            source,
        };
        record_audit(pool, &event).await.map_err(db)?;
        return Err(respond_with(AppError::Invalid("the current password is wrong".into())));
    }
    auth::validate_password(new, name).map_err(|e| respond_with(AppError::Invalid(e)))?;
    if new == current {
        return Err(respond_with(AppError::Invalid("the new password is the current one".into())));
    }
    let hashed = crate::ssr::user_admin::hash(new.to_owned()).await?;
    let epoch = on_pool!(pool, |pool| {
        let mut tx = pool.begin_write().await.map_err(db)?;
        users::set_password(&mut *tx, name, &hashed).await.map_err(db)?;
        let event = NewAuditEvent {
            actor: name,
            action: "user.password_change",
            target: Some(name),
            detail: Some("own password changed; other sessions ended"),
            source,
        };
        record_audit(&mut *tx, &event).await.map_err(db)?;
        let epoch =
            users::find_user_by_id(&mut *tx, user.id).await.map_err(db)?.map_or(0, |u| u.session_epoch);
        tx.commit().await.map_err(db)?;
        Ok::<_, AppError>(epoch)
    })?;
    session.cycle_id().await.map_err(|e| internal("session cycle failed", e))?;
    session.insert(auth::SESSION_EPOCH_KEY, epoch).await.map_err(|e| internal("session write failed", e))?;
    Ok(())
}
