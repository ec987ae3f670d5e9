//! Login, logout and "who am I".
use leptos::prelude::*;

use crate::error::AppError;
use crate::model::CurrentUser;

/// `POST /api/login` (form fields `username`, `password`, optional `next`): starts a session.
/// Wrong names and wrong passwords get the same answer. On success the browser is sent to
/// `next` when it is a page of this site (a deep link opened while signed out), else the overview.
#[server(endpoint = "login")]
pub async fn login(
    username: String,
    password: String,
    #[server(default)] next: Option<String>,
) -> Result<CurrentUser, AppError> {
    use crate::ssr::db::audit::{record_audit, NewAuditEvent};
    use crate::ssr::{app_state, auth, internal, respond_with};

    let state = app_state()?;
    let session = auth::session().await?;
    let source = auth::client_addr();
    let username = username.trim();
    // The attempt is reserved before the password is checked, so parallel guesses all count.
    let attempt = auth::begin_login_attempt(&state.pool, username, source.as_deref())
        .await
        .map_err(|e| internal("login throttle failed", e))?;
    let Some(attempt) = attempt else {
        // Counted, not audited one by one: the sealer writes one audit event per name, address
        // and minute with the count (an unauthenticated client cannot grow the audit log).
        tracing::warn!(source = source.as_deref().unwrap_or("-"), "login refused: too many failures");
        let minutes = auth::LOGIN_WINDOW.as_secs() / 60;
        if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
            res.insert_header(
                http::header::RETRY_AFTER,
                http::HeaderValue::from(auth::LOGIN_WINDOW.as_secs()),
            );
        }
        return Err(respond_with(AppError::TooManyAttempts(minutes)));
    };
    let checked = crate::ssr::sign_in::check_password(
        &state.pool,
        state.ldap.as_deref(),
        username,
        &password,
        source.as_deref(),
    )
    .await
    .map_err(|e| internal("login lookup failed", e))?;
    use crate::ssr::sign_in::Checked;
    let settled = match &checked {
        Checked::DirectoryDown(_) => auth::forget_login_attempt(&state.pool, attempt).await,
        Checked::Granted { .. } | Checked::NoRole { .. } => {
            auth::settle_login_attempt(&state.pool, attempt, true).await
        }
        Checked::Refused => auth::settle_login_attempt(&state.pool, attempt, false).await,
    };
    settled.map_err(|e| internal("login throttle failed", e))?;
    let (user, via) = match checked {
        Checked::Granted { user, via } => (user, via),
        Checked::NoRole { username, .. } => return Err(respond_with(AppError::NoRole(username))),
        Checked::DirectoryDown(_) => {
            return Err(respond_with(AppError::DirectoryUnavailable("LDAP".into())));
        }
        Checked::Refused => {
            // Audited under the name tried only when it is a valid name: a password typed into
            // the name field must not end up in the audit log.
            let event = NewAuditEvent {
                actor: "anonymous",
                action: "auth.login_failed",
                target: auth::validate_username(username).is_ok().then_some(username),
                source: source.as_deref(),
                ..Default::default()
            };
            record_audit(&state.pool, &event).await.map_err(|e| internal("audit write failed", e))?;
            tracing::info!(source = source.as_deref().unwrap_or("-"), "login failed");
            return Err(respond_with(AppError::BadCredentials));
        }
    };
    auth::open_session(&state.pool, &session, &user, via, source.as_deref()).await?;
    leptos_axum::redirect(next.as_deref().and_then(crate::model::return_path).unwrap_or("/"));
    Ok(CurrentUser { id: user.id, username: user.username, role: user.role })
}

/// `POST /api/logout`: ends the session and sends the browser to the login page.
#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    use crate::ssr::db::audit::{record_audit, NewAuditEvent};
    use crate::ssr::{app_state, auth, internal};

    let state = app_state()?;
    let session = auth::session().await?;
    if let Some(user) = auth::user_from_session(&state, &session).await? {
        let source = auth::client_addr();
        let event = NewAuditEvent {
            actor: &user.username,
            action: "auth.logout",
            source: source.as_deref(),
            ..Default::default()
        };
        record_audit(&state.pool, &event).await.map_err(|e| internal("audit write failed", e))?;
    }
    // Signed in with OpenID Connect: logged out at the provider too when it says where.
    let id_token: Option<String> = session.get(auth::SESSION_ID_TOKEN_KEY).await.ok().flatten();
    session.flush().await.map_err(|e| internal("session delete failed", e))?;
    let at_provider = match (state.oidc.as_ref(), id_token) {
        (Some(oidc), Some(token)) => oidc.end_session_url(&token, &oidc.login_page_url()).await,
        _ => None,
    };
    leptos_axum::redirect(at_provider.as_deref().unwrap_or("/login"));
    Ok(())
}

/// `POST /api/me`: the logged-in user, or `null`. Public.
#[server(endpoint = "me")]
pub async fn get_current_user() -> Result<Option<CurrentUser>, AppError> {
    crate::ssr::auth::current_user().await
}

/// `POST /api/change_password` (fields `current`, `new`): the logged-in user's own password.
/// Only from a session, never with an API token; a wrong current password counts as a failed
/// login. The user's other sessions end; this one stays (audited).
#[server(endpoint = "change_password")]
pub async fn change_password(current: String, new: String) -> Result<(), AppError> {
    use crate::ssr::{app_state, auth, own_password, respond_with};

    let state = app_state()?;
    let token = use_context::<http::request::Parts>()
        .is_some_and(|parts| parts.headers.contains_key(http::header::AUTHORIZATION));
    if token {
        return Err(respond_with(AppError::Forbidden));
    }
    let session = auth::session().await?;
    let user = auth::user_from_session(&state, &session)
        .await?
        .ok_or_else(|| respond_with(AppError::Unauthorized))?;
    own_password::change_own_password(&state, &session, &user, &current, &new, auth::client_addr().as_deref())
        .await
}
