//! The process's signals: SIGINT or SIGTERM, whichever comes first, stops it; SIGHUP asks the
//! parts that can to read their files again.
use std::future::Future;

use tokio::signal;
use tokio_util::sync::CancellationToken;

/// Runs `each` on every SIGHUP until `stop` (`what` names it in the log if SIGHUP cannot be
/// listened for).
pub async fn on_each_sighup<F, Fut>(what: &str, stop: CancellationToken, mut each: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut hangups = match signal::unix::signal(signal::unix::SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, what, "cannot listen for SIGHUP: only a restart reloads it");
            return;
        }
    };
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            got = hangups.recv() => if got.is_none() { return },
        }
        each().await;
    }
}

/// Resolves when the process is asked to stop.
pub async fn signal() {
    let ctrl_c = async {
        if let Err(e) = signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match signal::unix::signal(signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("ctrl-c received, shutting down"),
        () = term => tracing::info!("SIGTERM received, shutting down"),
    }
}
