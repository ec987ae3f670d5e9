//! Server-only code reachable from server functions: state, SQL, authentication.
pub mod actions;
pub mod alert;
pub mod api_token;
pub mod assets;
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
