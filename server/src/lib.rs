//! The selfheal server: configuration, the HTTP router, start-up and the CLI's commands.
//! `main.rs` only parses arguments and calls in here, so tests build the very same router.
pub mod ansible;
pub mod assets;
pub mod audit;
pub mod blast;
pub mod cli;
pub mod cluster_news;
pub mod commands;
pub mod config;
pub mod csrf;
pub mod db_copy;
pub mod directory;
pub mod engine;
pub mod events;
pub mod export;
pub mod form_errors;
pub mod guards;
pub mod health;
pub mod intake;
pub mod leader;
pub mod listen;
pub mod metrics;
pub mod notify;
pub mod oidc;
pub mod outgoing;
pub mod raw_notification;
pub mod reconcile;
pub mod reload;
pub mod replica;
pub mod retention;
pub mod rules_diff;
pub mod rules_test;
pub mod search_index;
pub mod shutdown;
pub mod silence;
pub mod startup;
pub mod tasks;
pub mod tls;
pub mod users;
pub mod verifier;
pub mod verify;
pub mod verify_hold;
pub mod webhook;
pub mod windows;
pub mod worker;

use axum::extract::State;
use axum::http::header::{self, HeaderValue};
use axum::http::Request;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, AxumRouteListing, LeptosRoutes};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_sessions::Session;

use app::app::{shell, App};
use app::ssr::auth::user_from_session;
use app::ssr::security::DEFAULT_POLICY;
use app::ssr::AppState;

/// The full HTTP router: health, the webhook, metrics, the pages (behind login) and the server functions under
/// `/api` (both registered by `leptos_routes_with_context`, with the state in context), and
/// static assets. The session layer is added by the caller ([`startup::session_layer`]).
pub fn router(state: AppState, intake: webhook::WebhookState) -> Router {
    let routes = page_routes();
    tracing::debug!(routes = ?routes.iter().map(|r| r.path().to_owned()).collect::<Vec<_>>(), "page routes");
    let page_state = state.clone();
    let fallback_state = state.clone();
    let pages = Router::new()
        .leptos_routes_with_context(&state, routes, move || provide_context(page_state.clone()), {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .route_layer(middleware::from_fn_with_state(state.clone(), require_login));
    let metrics = intake.metrics.clone();
    Router::new()
        .route("/health", get(health::health))
        .route("/webhook", post(webhook::receive).with_state(intake))
        .route("/metrics", get(metrics::serve_metrics).with_state(metrics))
        .route("/api/events", get(events::events))
        .route("/auth/oidc/login", get(oidc::login))
        .route("/auth/oidc/callback", get(oidc::callback))
        .route("/api/export/{file}", get(export::export))
        .route("/api/notifications/{id}/raw", get(raw_notification::raw_notification))
        .merge(pages)
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(
            move || provide_context(fallback_state.clone()),
            shell,
        ))
        .with_state(state)
        .layer(middleware::from_fn(assets::cache_static))
        .layer(middleware::from_fn(form_errors::add_message))
        .layer(middleware::from_fn(csrf::refuse_cross_site))
        // On every response; pages set their own CSP (with the render's nonce) first.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DEFAULT_POLICY),
        ))
        .layer(SetResponseHeaderLayer::overriding(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
}

/// The page routes, generated once per process. Generating them renders the app with every
/// resource in the process held back (leptos' `SuppressResourceLoad` is a process-wide flag),
/// and a resource first polled in that window never loads: a page rendering on another thread
/// while a second router was built (the tests build many) waited forever.
fn page_routes() -> Vec<AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<AxumRouteListing>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// Pages other than `/login` need a logged-in user; anyone else is sent to the login form.
/// Server functions (`/api/...`, registered by `leptos_routes_with_context` beside the pages)
/// pass through: each checks the role it needs itself and answers 401/403.
async fn require_login(
    State(state): State<AppState>,
    session: Session,
    req: Request<axum::body::Body>,
    next: Next,
) -> Response {
    let path = req.uri().path();
    if path == "/login" || path.starts_with("/api/") {
        return next.run(req).await;
    }
    match user_from_session(&state, &session).await {
        Ok(Some(_)) => next.run(req).await,
        Ok(None) => {
            let asked = req.uri().path_and_query().map_or("/", |p| p.as_str());
            Redirect::to(&app::model::login_url(asked)).into_response()
        }
        Err(e) => (axum::http::StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    }
}
