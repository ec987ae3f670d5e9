//! Keeps the full-text index of alerts filled (`app::ssr::db::alert_search`): every second the
//! alerts stored since are indexed in short batches, off the request path; a backlog (an
//! upgrade over a large database) is worked through batch after batch, each a few milliseconds
//! of the write lock, so intake's commits keep going between them.
use std::time::Duration;

use sqlx::SqlitePool;
use tokio_util::sync::CancellationToken;

use app::ssr::db::alert_search::{index_step, INDEX_BATCH};

/// How often new alerts are indexed: a search scans (only) what came in since.
pub const INDEX_EVERY: Duration = Duration::from_secs(1);

/// Indexes until `stop`.
pub async fn run(pool: SqlitePool, stop: CancellationToken) {
    loop {
        let full = match index_step(&pool).await {
            Ok(n) => n as i64 == INDEX_BATCH,
            Err(e) => {
                tracing::warn!(error = %e, "alert search index not updated; will retry");
                false
            }
        };
        let pause = if full { Duration::from_millis(5) } else { INDEX_EVERY };
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(pause) => {}
        }
    }
}
