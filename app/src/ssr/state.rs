//! `AppState`: what the router and the server functions share.
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use sqlx::SqlitePool;

/// Shared, cheaply cloned state of the running server.
#[derive(Clone, Debug)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub pool: SqlitePool,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl FromRef<AppState> for SqlitePool {
    fn from_ref(state: &AppState) -> Self {
        state.pool.clone()
    }
}
