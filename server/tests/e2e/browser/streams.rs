//! Each page follows the server's stream of changes (`/api/events`), which holds a connection
//! open. A page the browser keeps for Back (the back/forward cache) kept its stream: after six
//! page loads, every connection HTTP/1.1 allows to one server was held, and the next page
//! waited about a minute for one. Leaving a page now closes its stream.
use std::time::Duration;

use app::model::Role;

use crate::common::browser::{browser, log_in, wait_hydrated, wait_path, ONE_BROWSER};
use crate::common::TestApp;

/// How long a page's request may wait for a connection (a queued one waited 57 s).
const QUEUED_AT_MOST: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_after_page_loads_without_waiting_for_a_connection() {
    let Some(_turn) = crate::provisioned("page_after_page_loads_without_waiting_for_a_connection") else {
        return;
    };
    let _one = ONE_BROWSER.lock().await;
    let app = TestApp::new().await;
    app.add_user("vera", "viewer-password-1", Role::Viewer).await;
    let addr = app.serve().await;
    let (c, _chromium) = browser().await;
    log_in(&c, addr, "vera", "viewer-password-1").await;
    wait_path(&c, "/").await;
    wait_hydrated(&c).await;
    // Eight loads, each page live (its stream open) before the next.
    for path in ["/alerts", "/runs", "/playbooks", "/rules", "/audit", "/windows", "/approvals", "/"] {
        c.goto(&format!("http://{addr}{path}")).await.unwrap();
        wait_path(&c, path).await;
        wait_hydrated(&c).await;
        let js =
            "const t = performance.getEntriesByType('navigation')[0]; return t.requestStart - t.startTime;";
        let queued = c.execute(js, vec![]).await.unwrap().as_f64().unwrap();
        assert!(
            queued < QUEUED_AT_MOST.as_millis() as f64,
            "{path}'s request waited {queued:.0} ms before it was sent: the earlier pages hold the connections"
        );
    }
}
