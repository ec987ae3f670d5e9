//! Server-only code reachable from server functions: state, SQL, authentication.
pub mod actions;
pub mod alert;
pub mod api_token;
pub mod auth;
pub mod catalog;
pub mod changes;
pub mod client_ip;
pub mod db;
pub mod directory;
pub mod evaluate;
pub mod filter;
pub mod guards;
pub mod heal;
pub mod heal_stats;
pub mod inventory;
pub mod own_password;
pub mod recap;
pub mod reload_rules;
pub mod rule_view;
pub mod security;
pub mod sign_in;
pub mod silence;
pub mod state;
pub mod tasks;
pub mod timeline;
pub mod user_admin;
pub mod utc;
pub mod windows;

pub use state::AppState;

use crate::error::AppError;

/// Sets the HTTP status of the current server-function response to match `err`, then returns it,
/// so scripts calling `/api/...` see 401/403/400 rather than a generic 500.
pub fn respond_with(err: AppError) -> AppError {
    // A plain HTML form post (no JavaScript yet) is answered with a redirect back to the form,
    // carrying the error in the URL; a status here would replace that redirect.
    let from_html_form = leptos::prelude::use_context::<http::request::Parts>().is_some_and(|p| {
        p.headers
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"))
    });
    if from_html_form {
        return err;
    }
    if let Some(res) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
        if let Ok(status) = http::StatusCode::from_u16(err.status_code()) {
            res.set_status(status);
        }
    }
    err
}

/// The OpenID Provider's name for the login page's button, when `[auth.oidc]` is configured.
pub fn sso_name() -> Option<String> {
    leptos::prelude::use_context::<AppState>().and_then(|s| s.oidc.as_ref().map(|o| o.config().name.clone()))
}

/// What the page being rendered must say first, from its URL: a plain form's refusal
/// (`__msg` beside `__err`: `server::form_errors`), or why a sign-in with the OpenID Provider
/// failed (`?sso=REASON` on the login page: fixed words, so a link cannot put its own on the
/// page). Rendered by the server outside the hydrated app (`app::shell`).
pub fn page_notice() -> Option<String> {
    use std::collections::HashMap;
    let parts = leptos::prelude::use_context::<http::request::Parts>()?;
    let axum::extract::Query(query) =
        axum::extract::Query::<HashMap<String, String>>::try_from_uri(&parts.uri).ok()?;
    if query.contains_key("__err") {
        return query.get("__msg").map(|m| format!("Refused: {m}"));
    }
    let why = match query.get("sso")?.as_str() {
        "unavailable" => "the identity provider did not answer; local accounts still work",
        "refused" => {
            "the sign-in was not completed (it may have expired, or been refused at the provider): try again"
        }
        "bad_token" => "the identity provider's answer did not verify; the sign-in was refused",
        "no_role" => "signed in, but none of your groups gives a role in selfheal: ask an admin to map one",
        "not_allowed" => "this account may not sign in here: ask an admin",
        _ => return None,
    };
    Some(format!("Not signed in: {why}"))
}

/// Logs an unexpected failure once, with its cause, and hides the cause from the browser.
pub fn internal(context: &'static str, err: impl std::fmt::Display) -> AppError {
    tracing::error!(error = %err, "{context}");
    respond_with(AppError::Internal)
}

/// A refused input, answered with 400 and the message.
pub fn invalid(message: String) -> AppError {
    respond_with(AppError::Invalid(message))
}

/// The application state every server function reaches through `use_context`.
pub fn app_state() -> Result<AppState, AppError> {
    leptos::prelude::use_context::<AppState>()
        .ok_or_else(|| internal("app state missing from context", "no AppState"))
}
