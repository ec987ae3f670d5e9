//! Crash safety with the real binary under load: webhook senders keep posting new alerts while
//! selfheal is killed with SIGKILL, restarted, killed again. Every alert that got a 2xx must be
//! stored, and after the last restart no run may be left `running`.
use crate::common;

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::alertmanager::free_port;
use common::binary::Selfheal;

/// Kill and restart this many times (Event-Driven Ansible's multi-restart test does three).
const KILLS: usize = 3;
/// Load before each kill: long enough for thousands of alerts and runs in flight.
const LOAD_FOR: Duration = Duration::from_millis(2500);
/// Concurrent senders, like a busy Alertmanager cluster.
const SENDERS: usize = 8;

/// A notification of `n` new alerts, fingerprints from `next`; some carry a rule's alertname so
/// runs are queued and in flight when the kill comes.
pub fn notification(next: &AtomicU64, n: u64) -> (String, Vec<String>) {
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("../fixtures/alertmanager/alertmanager-webhook-firing.json"))
            .unwrap();
    let template = fixture["alerts"][0].clone();
    let mut fingerprints = Vec::new();
    let alerts: Vec<_> = (0..n)
        .map(|_| {
            let k = next.fetch_add(1, Ordering::SeqCst);
            let fingerprint = format!("{k:016x}");
            let mut alert = template.clone();
            alert["fingerprint"] = fingerprint.clone().into();
            alert["labels"]["alertname"] = (if k.is_multiple_of(10) { "Crash" } else { "Load" }).into();
            alert["labels"]["host"] = format!("host-{k}").into();
            fingerprints.push(fingerprint);
            alert
        })
        .collect();
    let mut body = fixture;
    body["alerts"] = alerts.into();
    (body.to_string(), fingerprints)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_alerts_survive_repeated_sigkill_under_load() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("ansible")).unwrap();
    std::fs::write(d.join("ansible/inventory.ini"), "localhost ansible_connection=local\n").unwrap();
    std::fs::write(d.join("ansible/slow.yml"), crate::common::replicas::SLOW_PLAYBOOK).unwrap();
    std::fs::write(
        d.join("selfheal.toml"),
        "database = \"data/selfheal.db\"\n[ansible]\ndir = \"ansible\"\ninventory = \"ansible/inventory.ini\"\n\
         [engine]\nconcurrency = 2\nshutdown_grace = \"1s\"\n[[rules]]\nname = \"crash\"\nmatch = { alertname = \"Crash\" }\n\
         playbook = \"slow.yml\"\ntarget_label = \"host\"\ntimeout = \"5m\"\n",
    )
    .unwrap();
    let port = free_port();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    let acknowledged = Arc::new(Mutex::new(HashSet::new()));
    let next = Arc::new(AtomicU64::new(1));
    let mut sent_total = 0u64;

    for round in 1..=KILLS {
        let mut child = Selfheal::start(d, port, "warn").await;
        let running = Arc::new(AtomicBool::new(true));
        let sent = Arc::new(AtomicU64::new(0));
        let senders: Vec<_> = (0..SENDERS as u64)
            .map(|s| {
                let (client, acknowledged, next, running, sent) =
                    (client.clone(), acknowledged.clone(), next.clone(), running.clone(), sent.clone());
                tokio::spawn(async move {
                    let url = format!("http://127.0.0.1:{port}/webhook");
                    while running.load(Ordering::SeqCst) {
                        let (body, fingerprints) = notification(&next, 1 + s % 5);
                        sent.fetch_add(fingerprints.len() as u64, Ordering::SeqCst);
                        let res = client
                            .post(&url)
                            .header("content-type", "application/json")
                            .header("authorization", common::basic_auth())
                            .body(body)
                            .send()
                            .await;
                        if res.is_ok_and(|r| r.status().is_success()) {
                            acknowledged.lock().unwrap().extend(fingerprints);
                        }
                    }
                })
            })
            .collect();
        tokio::time::sleep(LOAD_FOR).await;
        // SIGKILL in the middle of the load: no chance to flush anything.
        child.kill9();
        running.store(false, Ordering::SeqCst);
        for s in senders {
            s.await.unwrap();
        }
        sent_total += sent.load(Ordering::SeqCst);
        let acked = acknowledged.lock().unwrap().len();
        let stored = stored_fingerprints(&d.join("data/selfheal.db")).await;
        let lost: Vec<_> = acknowledged.lock().unwrap().difference(&stored).take(5).cloned().collect();
        eprintln!(
            "round {round}: alerts sent {sent_total}, acknowledged {acked}, stored {} after the kill",
            stored.len()
        );
        assert!(lost.is_empty(), "acknowledged but not stored after kill {round}: {lost:?}");
        assert!(acked > 1000, "the load was too light to mean anything: {acked}");
    }

    // The last restart recovers what the kills left running.
    let restarted_at = app::ssr::alert::now_utc();
    let mut child = Selfheal::start(d, port, "warn").await;
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", d.join("data/selfheal.db").display()))
        .await
        .unwrap();
    let (running, interrupted): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status = 'running' AND started_at < ?), \
                count(*) FILTER (WHERE status = 'interrupted') FROM heal_runs",
    )
    .bind(&restarted_at)
    .fetch_one(&pool)
    .await
    .unwrap();
    pool.close().await;
    // A clean stop this time: the grace period ends the playbooks this life started.
    child.sigterm();
    child.wait();
    eprintln!("after the last restart: {interrupted} runs marked interrupted, {running} left running");
    assert_eq!(running, 0, "runs left running by a kill must be recovered at start");
    assert!(interrupted >= 1, "the kills should have interrupted runs in flight");
}

async fn stored_fingerprints(db: &Path) -> HashSet<String> {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display())).await.unwrap();
    let rows: Vec<String> =
        sqlx::query_scalar("SELECT fingerprint FROM alerts").fetch_all(&pool).await.unwrap();
    pool.close().await;
    rows.into_iter().collect()
}
