//! The two stops of a sign-in with OpenID Connect: `GET /auth/oidc/login` sends the browser to
//! the provider (the flow's state, nonce and PKCE verifier kept in its session), and
//! `GET /auth/oidc/callback` takes it back: the flow used up (a replayed callback finds none),
//! the code exchanged, the ID token verified, the groups mapped to a role, the user created or
//! updated, a session opened. Every refusal lands on the login page with a fixed message (the
//! details go to the audit log and the server log, never into the page).
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::{Expiry, Session};

use app::model::UserSource;
use app::ssr::auth;
use app::ssr::db::audit::{record_audit, NewAuditEvent};
use app::ssr::db::backend::{on_pool, WritePool};
use app::ssr::db::directory_users::{self, record_sign_in, Recorded};
use app::ssr::directory::oidc::{Flow, Oidc, OidcError, FLOW_TTL};
use app::ssr::AppState;

/// Session key of the sign-in on its way through the provider.
const FLOW_KEY: &str = "oidc_flow";

/// Why the login page says a sign-in with the provider failed (`/login?sso=…`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The provider could not be asked.
    Unavailable,
    /// Not a sign-in this browser started (or started too long ago), or refused at the provider.
    Refused,
    /// The ID token did not verify.
    BadToken,
    /// No group of theirs maps to a role.
    NoRole,
    /// Disabled here, or the name is a local user's.
    NotAllowed,
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Refusal::Unavailable => "unavailable",
            Refusal::Refused => "refused",
            Refusal::BadToken => "bad_token",
            Refusal::NoRole => "no_role",
            Refusal::NotAllowed => "not_allowed",
        }
    }
}

fn to_login(refusal: Refusal) -> Response {
    Redirect::to(&format!("/login?sso={}", refusal.code())).into_response()
}

#[derive(Debug, Deserialize)]
pub struct Start {
    next: Option<String>,
}

/// The client's address, as a password login counts and records it.
fn client_source(state: &AppState, parts: &axum::http::request::Parts) -> Option<String> {
    parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|peer| {
        app::ssr::client_ip::client_ip(peer.0.ip(), &parts.headers, &state.trusted_proxies).to_string()
    })
}

/// `GET /auth/oidc/login[?next=/path]`. Each start keeps the flow in a session row, so one
/// address may start only so many (`Oidc::may_start`: 429 beyond), and a session that has
/// nothing but the flow ends with it, [`FLOW_TTL`] later, not after `session_idle` (the
/// expiry set here is this response's: the callback's saves the session with the usual one).
pub async fn login(
    State(state): State<AppState>,
    session: Session,
    Query(start): Query<Start>,
    parts: axum::http::request::Parts,
) -> Response {
    let Some(oidc) = state.oidc.clone() else { return axum::http::StatusCode::NOT_FOUND.into_response() };
    if !oidc.may_start(client_source(&state, &parts).as_deref().unwrap_or("")) {
        tracing::debug!("OpenID Connect sign-in refused: too many started from one address");
        let wait = Oidc::start_every().as_secs().to_string();
        return (
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            [(axum::http::header::RETRY_AFTER, wait)],
            "Too many sign-ins were started from your address. Try again in a minute.\n",
        )
            .into_response();
    }
    let anonymous = session.get::<i64>(auth::SESSION_USER_KEY).await.ok().flatten().is_none();
    if anonymous {
        let ttl = time::Duration::try_from(FLOW_TTL).unwrap_or(time::Duration::MINUTE);
        session.set_expiry(Some(Expiry::OnInactivity(ttl)));
    }
    let next = start.next.filter(|n| app::model::return_path(n).is_some());
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    match oidc.begin(next, now).await {
        Ok((url, flow)) => match session.insert(FLOW_KEY, flow).await {
            Ok(()) => Redirect::to(&url).into_response(),
            Err(e) => {
                tracing::error!(error = %e, "session write failed");
                to_login(Refusal::Unavailable)
            }
        },
        Err(e) => {
            tracing::warn!(error = %e, "OpenID Connect sign-in could not start");
            to_login(Refusal::Unavailable)
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /auth/oidc/callback?code=…&state=…` (or `?error=…` from the provider).
pub async fn callback(
    State(state): State<AppState>,
    session: Session,
    Query(back): Query<Callback>,
    parts: axum::http::request::Parts,
) -> Response {
    let Some(oidc) = state.oidc.clone() else { return axum::http::StatusCode::NOT_FOUND.into_response() };
    // The client's address for the audit log.
    let source = client_source(&state, &parts);
    // Used up whatever happens next: the same callback twice finds no flow.
    let flow: Option<Flow> = session.remove(FLOW_KEY).await.ok().flatten();
    let refuse = |refusal: Refusal, detail: String, target: Option<String>| {
        let pool = state.pool.clone();
        let source = source.clone();
        async move {
            tracing::warn!(detail, "OpenID Connect sign-in refused");
            let event = NewAuditEvent {
                actor: "anonymous",
                action: "auth.login_refused",
                target: target.as_deref(),
                detail: Some(&detail),
                source: source.as_deref(),
            };
            if let Err(e) = record_audit(&pool, &event).await {
                tracing::error!(error = %e, "audit write failed");
            }
            to_login(refusal)
        }
    };
    if let Some(error) = back.error {
        let why = back.error_description.unwrap_or_default();
        return refuse(Refusal::Refused, format!("OpenID Connect: the provider said {error} {why}"), None)
            .await;
    }
    let (Some(flow), Some(code), Some(got_state)) = (flow, back.code, back.state) else {
        return refuse(
            Refusal::Refused,
            "OpenID Connect: a callback without a sign-in started here".into(),
            None,
        )
        .await;
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let user = match oidc.finish(&flow, &code, &got_state, now).await {
        Ok(user) => user,
        Err(OidcError::Unavailable(e)) => {
            tracing::warn!(error = e, "OpenID Provider unavailable");
            return to_login(Refusal::Unavailable);
        }
        Err(OidcError::Refused(e)) => {
            return refuse(Refusal::Refused, format!("OpenID Connect: {e}"), None).await
        }
        Err(OidcError::BadToken(e)) => {
            return refuse(Refusal::BadToken, format!("OpenID Connect: the ID token was refused: {e}"), None)
                .await
        }
    };
    if auth::validate_username(&user.username).is_err() || auth::is_reserved_username(&user.username) {
        let detail = format!("OpenID Connect: {:?} cannot be a selfheal user name", user.username);
        return refuse(Refusal::NotAllowed, detail, None).await;
    }
    let Some(granted) = oidc.config().roles.role_for(&user.groups) else {
        let groups = if user.groups.is_empty() { "none".into() } else { user.groups.join(", ") };
        let detail = format!("OpenID Connect: no group maps to a role (groups: {groups})");
        return refuse(Refusal::NoRole, detail, Some(user.username)).await;
    };
    let recorded = on_pool!(&state.pool, |pool| async {
        let mut tx = pool.begin_write().await?;
        let recorded =
            record_sign_in(&mut tx, UserSource::Oidc, &user.username, &user.subject, &granted).await?;
        if let Recorded::SignedIn { user: row, .. } = &recorded {
            directory_users::set_refresh_token(&mut *tx, &row.username, user.refresh_token.as_deref())
                .await?;
        }
        if let Recorded::SignedIn { user: row, was: Some(was) } = &recorded {
            let detail =
                format!("{was} → {} (OpenID Connect groups: {})", granted.role, granted.by.join(", "));
            let event = NewAuditEvent {
                actor: "directory",
                action: "user.role_changed",
                target: Some(&row.username),
                detail: Some(&detail),
                source: None,
            };
            record_audit(&mut *tx, &event).await?;
        }
        tx.commit().await?;
        Ok::<_, sqlx::Error>(recorded)
    }
    .await);
    let row = match recorded {
        Ok(Recorded::SignedIn { user, .. }) => user,
        Ok(Recorded::DisabledHere) => {
            let detail = "OpenID Connect: disabled in selfheal by an admin".to_owned();
            return refuse(Refusal::NotAllowed, detail, Some(user.username)).await;
        }
        Ok(Recorded::NameTaken(other)) => {
            let detail = format!("OpenID Connect: the name belongs to a {} user", other.label());
            return refuse(Refusal::NotAllowed, detail, Some(user.username)).await;
        }
        Err(e) => {
            tracing::error!(error = %e, "OpenID Connect sign-in could not be stored");
            return axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    if let Err(e) = auth::open_session(&state.pool, &session, &row, UserSource::Oidc, source.as_deref()).await
    {
        tracing::error!(error = %e, "session could not be opened");
        return axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    if let Err(e) = session.insert(auth::SESSION_ID_TOKEN_KEY, &user.id_token).await {
        tracing::error!(error = %e, "session write failed");
    }
    Redirect::to(flow_next(&flow)).into_response()
}

fn flow_next(flow: &Flow) -> &str {
    flow.next.as_deref().and_then(app::model::return_path).unwrap_or("/")
}
