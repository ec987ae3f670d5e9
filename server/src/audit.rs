//! The audit log's hash chain on the server side: a background sealer, and `selfheal audit
//! verify` for people.
use std::time::Duration;

use app::ssr::db::backend::Db;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use app::ssr::db::audit_chain::{seal_audit, verify_audit, ChainReport};
use app::ssr::db::audit_export::list_audit_exports;
use app::ssr::db::login_attempts::flush_login_throttles;

/// How often new audit events are sealed into the chain: the window in which an event is
/// recorded but not yet covered.
pub const SEAL_EVERY: Duration = Duration::from_secs(1);

/// Seals new audit events at once and then every [`SEAL_EVERY`] until `stop`, then once more. Before each seal,
/// minutes of refused logins that have ended become their audit events (one per name, address
/// and minute, with the count).
pub async fn run_sealer(pool: Db, stop: CancellationToken) {
    // At once first: a replica that has just become the leader seals what waits.
    let mut stopping = false;
    loop {
        let now = time::OffsetDateTime::now_utc();
        if let Err(e) = flush_login_throttles(&pool, app::ssr::auth::LOGIN_WINDOW, now).await {
            tracing::error!(error = %e, "cannot audit refused logins");
        }
        match seal_audit(&pool).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(events = n, "audit events sealed"),
            Err(e) => tracing::error!(error = %e, "cannot seal audit events"),
        }
        if stopping {
            return;
        }
        stopping = tokio::select! {
            () = stop.cancelled() => true,
            () = tokio::time::sleep(SEAL_EVERY) => false,
        };
    }
}

/// `selfheal audit verify`: prints the verdict; `Ok(false)` when the chain is broken or an
/// export file was changed.
pub async fn verify(pool: &Db) -> anyhow::Result<bool> {
    let chain = verify_chain(pool).await?;
    Ok(verify_exports(pool).await? && chain)
}

/// Checks that every recorded audit export still holds what was exported (its SHA-256). A
/// missing file is reported, not failed: exports are meant to move to other storage.
async fn verify_exports(pool: &Db) -> anyhow::Result<bool> {
    let exports = list_audit_exports(pool).await?;
    let Some(last) = exports.last() else { return Ok(true) };
    let (mut intact, mut missing) = (true, 0);
    for e in &exports {
        match std::fs::read(&e.file) {
            Ok(bytes) => {
                let digest: String = format!("{:x}", Sha256::digest(&bytes));
                if digest != e.sha256 {
                    println!(
                        "audit export CHANGED: {} (events {} to {}) no longer matches its recorded SHA-256",
                        e.file, e.from_event_id, e.up_to_event_id
                    );
                    intact = false;
                }
            }
            Err(_) => missing += 1,
        }
    }
    println!(
        "audit exports: {} (events up to {}), {} not found here (moved elsewhere?)",
        exports.len(),
        last.up_to_event_id,
        missing
    );
    Ok(intact)
}

async fn verify_chain(pool: &Db) -> anyhow::Result<bool> {
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
