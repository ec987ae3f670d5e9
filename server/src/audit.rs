//! The audit log's hash chain on the server side: a background sealer, and `selfheal audit
//! verify` for people.
use std::time::Duration;

use sqlx::SqlitePool;
use tokio_util::sync::CancellationToken;

use app::ssr::db::audit_chain::{seal_audit, verify_audit, ChainReport};

/// How often new audit events are sealed into the chain: the window in which an event is
/// recorded but not yet covered.
pub const SEAL_EVERY: Duration = Duration::from_secs(1);

/// Seals new audit events every [`SEAL_EVERY`] until `stop`, then once more.
pub async fn run_sealer(pool: SqlitePool, stop: CancellationToken) {
    loop {
        let stopping = tokio::select! {
            () = stop.cancelled() => true,
            () = tokio::time::sleep(SEAL_EVERY) => false,
        };
        match seal_audit(&pool).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(events = n, "audit events sealed"),
            Err(e) => tracing::error!(error = %e, "cannot seal audit events"),
        }
        if stopping {
            return;
        }
    }
}

/// `selfheal audit verify`: prints the verdict; `Ok(false)` when the chain is broken.
pub async fn verify(pool: &SqlitePool) -> anyhow::Result<bool> {
    match verify_audit(pool).await? {
        ChainReport::Intact { sealed, unsealed, head } => {
            println!("audit log intact: {sealed} events sealed, {unsealed} newer not sealed yet");
            println!("chain head: {head}  (note it somewhere else: a rewrite of the whole chain changes it)");
            Ok(true)
        }
        ChainReport::Broken { event_id, reason } => {
            println!("audit log BROKEN at event {event_id}: {reason}");
            Ok(false)
        }
    }
}
