//! Crash recovery with the real binary: `kill -9` selfheal while a playbook runs; at the next
//! start the run is `interrupted` (not stuck `running`) and its surviving process group is gone.
use crate::common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::alertmanager::free_port;
use common::binary::Selfheal;

const WAIT: Duration = Duration::from_secs(30);

fn sleepers(marker: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .filter(|c| String::from_utf8_lossy(c).replace('\0', " ").contains(marker))
        .count()
}

async fn run_row(db: &Path) -> Option<(String, Option<i64>)> {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display())).await.ok()?;
    let row = sqlx::query_as("SELECT status, pid FROM heal_runs ORDER BY id LIMIT 1")
        .fetch_optional(&pool)
        .await
        .ok()?;
    pool.close().await;
    row
}

/// A folder with a config whose one rule runs a playbook that hangs on `marker` (a sleep).
fn hang_lab(marker: &str, extra_config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("ansible")).unwrap();
    std::fs::write(d.join("ansible/inventory.ini"), "localhost ansible_connection=local\n").unwrap();
    std::fs::write(
        d.join("ansible/hang.yml"),
        format!("- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.command: {marker}\n"),
    )
    .unwrap();
    std::fs::write(
        d.join("selfheal.toml"),
        format!(
            "database = \"data/selfheal.db\"\n{extra_config}[ansible]\ndir = \"ansible\"\n\
             inventory = \"ansible/inventory.ini\"\n[[rules]]\nname = \"hang\"\nmatch = {{ alertname = \"Hang\" }}\n\
             playbook = \"hang.yml\"\ntarget_label = \"host\"\nlimit_from = \"host\"\ntimeout = \"10m\"\n"
        ),
    )
    .unwrap();
    dir
}

/// Posts the `Hang` alert and waits until its playbook really runs (pid recorded, sleeper alive).
async fn start_hanging_run(d: &Path, port: u16, marker: &str) {
    let alert = serde_json::json!({
        "version": "4", "groupKey": "g", "receiver": "r", "status": "firing",
        "alerts": [{ "status": "firing", "labels": { "alertname": "Hang", "host": "localhost" },
                     "startsAt": "2026-11-22T01:00:00Z", "fingerprint": "abcd" }]
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
    let db = d.join("data/selfheal.db");
    let deadline = Instant::now() + WAIT;
    while !(run_row(&db).await.is_some_and(|r| r.0 == "running" && r.1.is_some()) && sleepers(marker) > 0) {
        assert!(
            Instant::now() < deadline,
            "the run never started; log: {}",
            std::fs::read_to_string(d.join("selfheal.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_cut_off_by_kill_9_is_interrupted_at_the_next_start() {
    let marker = "sleep 4713";
    let dir = hang_lab(marker, "");
    let d = dir.path();
    let db = d.join("data/selfheal.db");
    let port = free_port();
    let mut first = Selfheal::start(d, port, "warn").await;
    start_hanging_run(d, port, marker).await;

    first.kill9(); // no shutdown code runs
    assert_eq!(run_row(&db).await.map(|r| r.0).as_deref(), Some("running"), "the crash left it running");
    assert!(sleepers(marker) > 0, "the playbook's group outlived selfheal (its own process group)");

    let mut second = Selfheal::start(d, port, "warn").await;
    let (status, _last_pid) = run_row(&db).await.unwrap();
    assert_eq!(status, "interrupted");
    let deadline = Instant::now() + Duration::from_secs(10);
    while sleepers(marker) > 0 {
        assert!(Instant::now() < deadline, "the orphaned playbook group was not killed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    second.kill9();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_run_finish_within_the_grace_then_kills_and_marks_it() {
    let marker = "sleep 4714";
    let dir = hang_lab(marker, "[engine]\nshutdown_grace = \"2s\"\n");
    let d = dir.path();
    let db = d.join("data/selfheal.db");
    let port = free_port();
    let mut server = Selfheal::start(d, port, "warn").await;
    start_hanging_run(d, port, marker).await;

    let asked = Instant::now();
    server.sigterm();
    let status = loop {
        if let Some(status) = server.try_wait() {
            break status;
        }
        if asked.elapsed() > Duration::from_secs(20) {
            panic!("selfheal did not stop within 20 s of SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let took = asked.elapsed();
    assert!(status.success(), "a clean exit after SIGTERM: {status:?}");
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(20),
        "waited the grace, then stopped: {took:?}"
    );
    assert_eq!(run_row(&db).await.map(|r| r.0).as_deref(), Some("interrupted"));
    let deadline = Instant::now() + Duration::from_secs(5);
    while sleepers(marker) > 0 {
        assert!(Instant::now() < deadline, "the playbook's process group was not killed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
