//! The HTTP serving loop: hyper's HTTP/1 server (over TLS when `tls_cert` is set) with a
//! header-read timeout (which also closes idle keep-alive connections and bounds a TLS
//! handshake), a request-body timeout, a cap on open connections, and a graceful shutdown that
//! lets requests in flight finish.
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::{Extension, Router};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tower::Layer;
use tower_http::timeout::{RequestBodyTimeout, RequestBodyTimeoutLayer};

use crate::config::HttpConfig;
use crate::tls::Tls;

/// Pause after an accept error that is not about one connection (EMFILE, ENFILE, ENOMEM):
/// retrying at once would spin on the same error; a second lets connections close (hyper 0.14
/// and axum's own loop wait the same).
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_secs(1);

/// Serves `app` on `listener` (HTTPS with `tls`) until `shutdown` resolves, then stops
/// accepting, lets every open connection finish its request in flight, and returns once all
/// are closed. Handlers see the peer address as `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: &HttpConfig,
    tls: Option<Tls>,
    shutdown: impl Future<Output = ()>,
) {
    warn_if_files_short(limits);
    let app = RequestBodyTimeoutLayer::new(limits.body_timeout).layer(app);
    let mut http = http1::Builder::new();
    // hyper restarts this timer whenever a connection waits for a request head: on opening and
    // after each response, so an idle keep-alive connection is closed after it as well.
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    let http = Arc::new(http);
    // u32 to usize is lossless on every target we build for (32 and 64 bit).
    let slots = Arc::new(Semaphore::new(limits.max_connections as usize));
    let stop = CancellationToken::new();
    let mut shutdown = pin!(shutdown);
    loop {
        // A free slot first, then accept: over the cap, connections wait in the kernel's accept
        // queue (no descriptor used here) and this loop sleeps on the semaphore, never spins.
        let permit = tokio::select! {
            biased;
            () = &mut shutdown => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_closed) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    on_accept_error(e).await;
                    continue;
                }
            },
        };
        let service = Extension(ConnectInfo(peer)).layer(app.clone());
        let (http, stop) = (http.clone(), stop.clone());
        match tls.as_ref().map(Tls::acceptor) {
            None => {
                tokio::spawn(serve_connection(http, stream, service, permit, stop));
            }
            Some(acceptor) => {
                // The handshake gets the time a request head gets: a client that opens a
                // connection and stalls holds its slot no longer over TLS than without.
                let handshake_within = limits.header_read_timeout;
                tokio::spawn(async move {
                    match tokio::time::timeout(handshake_within, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => serve_connection(http, stream, service, permit, stop).await,
                        Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!("TLS handshake timed out"),
                    }
                });
            }
        }
    }
    drop(listener);
    stop.cancel();
    // Each connection holds its slot until it is closed: every slot back means all drained.
    let _all = slots.acquire_many_owned(limits.max_connections).await;
}

/// One connection, until the client or a timeout closes it; on shutdown hyper finishes the
/// request in flight and closes the connection instead of waiting for another.
async fn serve_connection<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    http: Arc<http1::Builder>,
    stream: S,
    service: axum::middleware::AddExtension<RequestBodyTimeout<Router>, ConnectInfo<SocketAddr>>,
    permit: OwnedSemaphorePermit,
    stop: CancellationToken,
) {
    let conn = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service)).with_upgrades();
    let mut conn = pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = stop.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        // Timeouts and clients that vanish mid-request end here; nothing for an operator.
        tracing::debug!(error = %e, "connection closed with an error");
    }
    drop(permit);
}

/// Errors about one connection (it was reset before we took it) need no pause; anything else
/// is about the process (out of descriptors or memory) and is logged, then waited out.
async fn on_accept_error(e: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(e.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        return;
    }
    tracing::error!(error = %e, "accept error");
    tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
}

/// Warns at start when the open-files limit cannot hold `max_connections` plus what selfheal
/// needs beside them: once it is reached, accepting and opening the database fail.
fn warn_if_files_short(limits: &HttpConfig) {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit(2) only writes into the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return;
    }
    let needed = limits.files_needed();
    if limit.rlim_cur != libc::RLIM_INFINITY && limit.rlim_cur < needed {
        tracing::warn!(
            open_files_limit = limit.rlim_cur,
            needed,
            max_connections = limits.max_connections,
            "the open-files limit (ulimit -n) is below what http.max_connections needs: raise it or lower http.max_connections"
        );
    }
}
