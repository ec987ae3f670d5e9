//! Keeps the full-text index of alerts filled (`app::ssr::db::alert_search`): every second the
//! alerts stored since are indexed in short batches, off the request path. A backlog (an
//! upgrade over a large database, or intake at its limit) is worked through at most a tenth of
//! the time: after each full batch the indexer rests nine times as long as the batch took, so
//! intake keeps the machine (measured: bench/intake.sh at saturation) and the index catches up
//! when the load drops; meanwhile searches scan the alerts above its mark.
use std::time::Duration;

use sqlx::SqlitePool;
use tokio_util::sync::CancellationToken;

use app::ssr::db::alert_search::{index_step, INDEX_BATCH};

/// How often new alerts are indexed: a search scans (only) what came in since.
pub const INDEX_EVERY: Duration = Duration::from_secs(1);

/// Rest after a full batch, per unit of time the batch took: at most a tenth of the time spent
/// indexing while behind.
const REST_PER_WORK: u32 = 9;

/// Indexes until `stop`.
pub async fn run(pool: SqlitePool, stop: CancellationToken) {
    loop {
        let started = std::time::Instant::now();
        let full = match index_step(&pool).await {
            Ok(n) => n as i64 == INDEX_BATCH,
            Err(e) => {
                tracing::warn!(error = %e, "alert search index not updated; will retry");
                false
            }
        };
        let pause = if full {
            (started.elapsed() * REST_PER_WORK).max(Duration::from_millis(5))
        } else {
            INDEX_EVERY
        };
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(pause) => {}
        }
    }
}
