//! A browser session leaves nothing behind, even when its test panics before closing it.
use std::time::{Duration, Instant};

use crate::common::browser::{browser, processes_of, ONE_BROWSER};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_session_leaves_no_chromium_behind() {
    let Some(_turn) = crate::provisioned("a_dropped_session_leaves_no_chromium_behind") else {
        return;
    };
    let _one = ONE_BROWSER.lock().await;
    // What a panicking test does: the client is never closed, the guard is dropped.
    let (client, chromium) = browser().await;
    client.goto("about:blank").await.unwrap();
    let profile = chromium.profile().to_path_buf();
    assert!(processes_of(&profile) > 0, "the session runs Chromium with its profile");
    drop(chromium);
    drop(client);
    let deadline = Instant::now() + Duration::from_secs(5);
    while processes_of(&profile) > 0 {
        assert!(
            Instant::now() < deadline,
            "Chromium outlived its session: {} processes",
            processes_of(&profile)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
