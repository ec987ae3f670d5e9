//! A fake Prometheus peer for tests of our verification: `/api/v1/query` answers one sample
//! or none, as the test switches it, and counts the queries.
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// A Prometheus that answers every instant query with one sample (the heal holds) or none.
pub struct FakePrometheus {
    pub url: String,
    /// Whether queries return a sample.
    pub holds: Arc<AtomicBool>,
    /// Queries answered so far.
    pub queries: Arc<AtomicU64>,
}

impl FakePrometheus {
    /// Serves on a free port of 127.0.0.1 until the test's runtime ends; holds nothing at first.
    pub async fn start() -> FakePrometheus {
        let (holds, queries) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
        let (h, q) = (holds.clone(), queries.clone());
        let app = axum::Router::new().route(
            "/api/v1/query",
            axum::routing::get(move || {
                q.fetch_add(1, Ordering::SeqCst);
                let result =
                    if h.load(Ordering::SeqCst) { r#"[{"metric":{},"value":[0,"1"]}]"# } else { "[]" };
                async move {
                    format!(r#"{{"status":"success","data":{{"resultType":"vector","result":{result}}}}}"#)
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        FakePrometheus { url, holds, queries }
    }
}
