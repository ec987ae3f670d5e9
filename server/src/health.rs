//! `GET /health`: liveness plus the database's state, for load balancers and scripts. No auth.
use app::ssr::db::backend::Db;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;

/// The health report.
#[derive(Debug, Serialize)]
pub struct Health {
    /// `ok` when every dependency answers, else `degraded`.
    pub status: &'static str,
    /// `ok` or `unavailable`.
    pub database: &'static str,
    /// The server's version.
    pub version: &'static str,
}

/// 200 with `status: ok`, or 503 with `status: degraded` when the database does not answer.
pub async fn health(State(pool): State<Db>) -> (StatusCode, Json<Health>) {
    let db_ok = app::ssr::db::ping(&pool).await;
    let (code, status, database) = if db_ok {
        (StatusCode::OK, "ok", "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "degraded", "unavailable")
    };
    (code, Json(Health { status, database, version: env!("CARGO_PKG_VERSION") }))
}
