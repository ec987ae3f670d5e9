//! Verification as its own durable stage, with the real binary: a verification cut off by
//! `kill -9` resumes at the next start, one whose window closed meanwhile ends `inconclusive`
//! saying why, and SIGTERM while verifying exits within the grace and leaves it `pending`.
//! Prometheus is a fake peer on a free port whose answer the test switches.
use crate::common;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::alertmanager::free_port;
use common::binary::Selfheal;
use common::fake_prometheus::FakePrometheus;

const WAIT: Duration = Duration::from_secs(60);
/// The config's `engine.shutdown_grace`.
const GRACE: Duration = Duration::from_secs(2);

/// A folder whose config heals alert `Broken` with a no-op playbook, one at a time, then
/// verifies `fixed == 1` against `prometheus` for up to 10 minutes.
fn lab(prometheus: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("ansible")).unwrap();
    std::fs::write(
        d.join("ansible/inventory.ini"),
        "[local]\nlocalhost\nweb1\nweb2\n[local:vars]\nansible_connection=local\n",
    )
    .unwrap();
    std::fs::write(d.join("ansible/fix.yml"), "- hosts: all\n  gather_facts: false\n  tasks: []\n").unwrap();
    std::fs::write(
        d.join("selfheal.toml"),
        format!(
            "database = \"data/selfheal.db\"\n[prometheus]\nurl = \"{prometheus}\"\n\
             [engine]\nconcurrency = 1\nshutdown_grace = \"{}s\"\n[ansible]\ndir = \"ansible\"\ninventory = \"ansible/inventory.ini\"\n\
             [[rules]]\nname = \"fix\"\nmatch = {{ alertname = \"Broken\" }}\nplaybook = \"fix.yml\"\n\
             target_label = \"host\"\nlimit_from = \"host\"\nverify = \"fixed == 1\"\nverify_within = \"10m\"\n\
             verify_hold = \"0s\"\n",
            GRACE.as_secs()
        ),
    )
    .unwrap();
    dir
}

fn log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("selfheal.log")).unwrap_or_default()
}

/// The run as stored: (status, verification, verifying_since, error, time_to_heal_ms).
type RunRow = (String, Option<String>, Option<String>, Option<String>, Option<i64>);

async fn sql(dir: &Path) -> sqlx::SqlitePool {
    sqlx::SqlitePool::connect(&format!("sqlite://{}", dir.join("data/selfheal.db").display())).await.unwrap()
}

async fn run_row(dir: &Path) -> Option<RunRow> {
    let pool = sql(dir).await;
    let row = sqlx::query_as(
        "SELECT status, verification, verifying_since, error, time_to_heal_ms FROM heal_runs ORDER BY id LIMIT 1",
    )
    .fetch_optional(&pool)
    .await
    .unwrap();
    pool.close().await;
    row
}

/// Waits until the run's row satisfies `done`; returns it.
async fn wait_row(dir: &Path, what: &str, done: impl Fn(&RunRow) -> bool) -> RunRow {
    let deadline = Instant::now() + WAIT;
    loop {
        let row = run_row(dir).await;
        if let Some(row) = row.as_ref().filter(|r| done(r)) {
            return row.clone();
        }
        assert!(Instant::now() < deadline, "{what}: never; last row {row:?}; log:\n{}", log(dir));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Posts the `Broken` alert firing on each of `hosts`.
async fn post_broken(port: u16, hosts: &[&str]) {
    let alerts: Vec<_> = hosts
        .iter()
        .enumerate()
        .map(|(i, host)| {
            serde_json::json!({ "status": "firing", "labels": { "alertname": "Broken", "host": host },
                                "startsAt": "2026-11-22T01:00:00Z", "fingerprint": format!("beef{i}") })
        })
        .collect();
    let alert = serde_json::json!({
        "version": "4", "groupKey": "g", "receiver": "r", "status": "firing", "alerts": alerts,
    });
    let res = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/webhook"))
        .header("content-type", "application/json")
        .header("authorization", common::basic_auth())
        .body(alert.to_string())
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
}

/// Posts the `Broken` alert and waits until its run has succeeded and Prometheus is being asked.
async fn heal_and_wait_verifying(dir: &Path, port: u16, prom: &FakePrometheus) {
    post_broken(port, &["localhost"]).await;
    wait_row(dir, "the run succeeded and is being verified", |r| {
        r.0 == "succeeded" && r.1.as_deref() == Some("pending") && prom.queries.load(Ordering::SeqCst) > 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verification_cut_off_by_kill_9_resumes_at_the_next_start() {
    let prom = FakePrometheus::start().await;
    let dir = lab(&prom.url);
    let d = dir.path();
    let port = free_port();
    let first = Selfheal::start(d, port, "info").await;
    heal_and_wait_verifying(d, port, &prom).await;

    drop(first); // SIGKILL: no shutdown code runs
    let row = run_row(d).await.unwrap();
    assert_eq!(row.1.as_deref(), Some("pending"), "the kill cut the verification off: {row:?}");
    assert!(row.2.is_some(), "claimed by the process that died: {row:?}");

    prom.holds.store(true, Ordering::SeqCst);
    let second = Selfheal::start(d, port, "info").await;
    let row = wait_row(d, "a verdict after the restart", |r| r.1.as_deref() != Some("pending")).await;
    drop(second);
    assert_eq!((row.0.as_str(), row.1.as_deref()), ("succeeded", Some("verified")), "{row:?}");
    assert!(row.4.is_some_and(|ms| ms > 0), "time to heal recorded: {row:?}");
    assert_eq!(row.3, None, "{row:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verification_whose_window_closed_while_down_ends_inconclusive_saying_why() {
    let prom = FakePrometheus::start().await;
    let dir = lab(&prom.url);
    let d = dir.path();
    let port = free_port();
    let first = Selfheal::start(d, port, "info").await;
    heal_and_wait_verifying(d, port, &prom).await;
    drop(first); // SIGKILL: no shutdown code runs

    // selfheal stays down for an hour, longer than the rule's 10-minute window (without the
    // wait: the run's end is moved an hour back).
    let pool = sql(d).await;
    let moved = sqlx::query(
        "UPDATE heal_runs SET finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 hour') \
         WHERE verification = 'pending'",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    assert_eq!(moved.rows_affected(), 1, "the kill left the verification pending");
    // Were it asked again, Prometheus would now call the heal verified.
    prom.holds.store(true, Ordering::SeqCst);
    let asked_before = prom.queries.load(Ordering::SeqCst);

    let second = Selfheal::start(d, port, "info").await;
    let row = wait_row(d, "a verdict after the restart", |r| r.1.as_deref() != Some("pending")).await;
    drop(second);
    assert_eq!(row.1.as_deref(), Some("inconclusive"), "{row:?}");
    let error = row.3.clone().unwrap_or_default();
    assert_eq!(
        error,
        "verification inconclusive: selfheal was stopped while verifying and came back after verify_within",
        "{row:?}"
    );
    assert_eq!(row.4, None, "no time to heal without a fix seen: {row:?}");
    assert_eq!(prom.queries.load(Ordering::SeqCst), asked_before, "a closed window is not asked about");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_verifying_exits_within_the_grace_and_leaves_it_pending() {
    let prom = FakePrometheus::start().await;
    let dir = lab(&prom.url);
    let d = dir.path();
    let port = free_port();
    let mut server = Selfheal::start(d, port, "info").await;
    heal_and_wait_verifying(d, port, &prom).await;

    let asked = Instant::now();
    server.sigterm();
    let bound = GRACE + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = server.try_wait() {
            break status;
        }
        if asked.elapsed() > bound {
            panic!("selfheal still up {bound:?} after SIGTERM while verifying; log:\n{}", log(d));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    eprintln!("SIGTERM while verifying: stopped in {:?}", asked.elapsed());
    assert!(status.success(), "a clean exit after SIGTERM: {status:?}");
    let row = run_row(d).await.unwrap();
    assert_eq!(row.0, "succeeded");
    assert_eq!(row.1.as_deref(), Some("pending"), "left for the next start: {row:?}");
    assert_eq!(row.2, None, "the verification was given back, not abandoned: {row:?}");
    assert_eq!(row.3, None, "{row:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_being_verified_does_not_hold_the_playbook_slot() {
    let prom = FakePrometheus::start().await;
    let dir = lab(&prom.url);
    let d = dir.path();
    let port = free_port();
    let _server = Selfheal::start(d, port, "info").await;
    // One playbook at a time, and Prometheus never confirms: both runs verify for 10 minutes.
    post_broken(port, &["web1", "web2"]).await;

    let deadline = Instant::now() + WAIT;
    loop {
        let pool = sql(d).await;
        let runs: Vec<(String, String, Option<String>)> =
            sqlx::query_as("SELECT target, status, verification FROM heal_runs ORDER BY target")
                .fetch_all(&pool)
                .await
                .unwrap();
        pool.close().await;
        let verifying =
            runs.iter().filter(|r| r.1 == "succeeded" && r.2.as_deref() == Some("pending")).count();
        if verifying == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "the second playbook waited for the first verification: {runs:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
