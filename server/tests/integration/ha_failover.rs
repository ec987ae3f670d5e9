//! Failover with real processes on a real PostgreSQL (issue 28, item 7): three `selfheal`
//! replicas take webhooks from eight senders; the replica running a playbook is killed with
//! SIGKILL in the middle of it. Nothing any replica acknowledged is lost, the dead replica's
//! run ends `interrupted` with the reason within `replica_timeout` and a few seconds, and the
//! leader, killed the same way, hands its duties (the audit sealer first) to another replica.
//! The shared audit chain verifies afterwards.
//!
//! `FAILOVER_ROUNDS` (default 1) kills the leader that many times, restarting the killed one
//! each time, and prints the median: `bench/failover.sh` runs it with 7.
use std::collections::HashSet;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::PgPool;

use crate::common::alertmanager::free_port;
use crate::common::binary::{Selfheal, BIN};
use crate::common::postgres::Postgres;
use crate::common::replicas::{self, leader};
use crate::crash_safety::notification;

/// Each replica is taken for dead after this long without a heartbeat (the least allowed).
const REPLICA_TIMEOUT: Duration = Duration::from_secs(3);
/// The room past the timeout: a beat (a third of it), the takeover's transaction, the poll.
const FEW_SECONDS: Duration = Duration::from_secs(3);
const SENDERS: u64 = 8;

/// Webhook senders posting new alerts to every replica in turn until `running` is cleared;
/// what got a 2xx goes into `acknowledged`.
fn senders(
    ports: Vec<u16>,
    running: Arc<AtomicBool>,
    acknowledged: Arc<Mutex<HashSet<String>>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let next = Arc::new(AtomicU64::new(1));
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    (0..SENDERS)
        .map(|s| {
            let (ports, running, acknowledged, next, client) =
                (ports.clone(), running.clone(), acknowledged.clone(), next.clone(), client.clone());
            tokio::spawn(async move {
                let mut turn = s as usize;
                while running.load(Ordering::SeqCst) {
                    let (body, fingerprints) = notification(&next, 1 + s % 5);
                    turn += 1;
                    let res = client
                        .post(format!("http://127.0.0.1:{}/webhook", ports[turn % ports.len()]))
                        .header("content-type", "application/json")
                        .header("authorization", crate::common::basic_auth())
                        .body(body)
                        .send()
                        .await;
                    if res.is_ok_and(|r| r.status().is_success()) {
                        acknowledged.lock().unwrap().extend(fingerprints);
                    }
                }
            })
        })
        .collect()
}

/// Which of `replicas` an `application_name` or replica id names (by its process id).
fn which(replicas: &[Option<Selfheal>], name: &str) -> usize {
    replicas
        .iter()
        .position(|r| r.as_ref().is_some_and(|r| name.contains(&format!(":{}:", r.pid()))))
        .unwrap_or_else(|| panic!("{name} is none of the replicas"))
}

/// Signs in at `port` (an audit event); its id.
async fn audited_sign_in(pool: &PgPool, port: u16) -> i64 {
    crate::ha_serve::login(port).await;
    sqlx::query_scalar("SELECT max(id) FROM audit_events").fetch_one(pool).await.unwrap()
}

/// Waits until audit event `id` is sealed into the chain; how long that took.
async fn sealed(pool: &PgPool, id: i64, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < within {
        let done: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM audit_chain WHERE event_id = $1)")
            .bind(id)
            .fetch_one(pool)
            .await
            .unwrap();
        if done {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

fn audit_verify(dir: &Path) -> std::process::Output {
    Command::new(BIN)
        .args(["--config", "selfheal.toml", "audit", "verify"])
        .current_dir(dir)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_replicas_lose_nothing_their_run_is_interrupted_and_the_leader_moves() {
    let rounds: usize = std::env::var("FAILOVER_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(1);
    let pg = Postgres::start();
    let url = pg.create_database("failover").await;
    let extra = format!(
        "[engine]\nconcurrency = 1\nshutdown_grace = \"1s\"\n[ha]\nreplica_timeout = \"{}s\"\n",
        REPLICA_TIMEOUT.as_secs()
    );
    let dirs = [(); 3].map(|()| replicas::folder(&url, "Stuck", ["host-1".to_owned()], &extra));
    let ports = [free_port(), free_port(), free_port()];
    let (a, b, c) = tokio::join!(
        Selfheal::start(dirs[0].path(), ports[0], "warn"),
        Selfheal::start(dirs[1].path(), ports[1], "warn"),
        Selfheal::start(dirs[2].path(), ports[2], "warn")
    );
    let mut replicas = [Some(a), Some(b), Some(c)];
    let pool = PgPool::connect(&url).await.unwrap();

    // A run in flight, and a storm of webhooks to all three.
    replicas::deliver(ports[0], "Stuck", "host-1").await;
    let (holder, _) = replicas::running_at(&pool, "host-1").await;
    let victim = which(&replicas, &holder);
    eprintln!("failover: replica {victim} runs the playbook");
    let running = Arc::new(AtomicBool::new(true));
    let acknowledged = Arc::new(Mutex::new(HashSet::new()));
    let load = senders(ports.to_vec(), running.clone(), acknowledged.clone());
    tokio::time::sleep(Duration::from_secs(1)).await;

    // SIGKILL the replica running the playbook, mid-storm and mid-run.
    let mut dead = replicas[victim].take().unwrap();
    dead.kill9();
    let killed_at = Instant::now();
    tokio::time::sleep(Duration::from_secs(1)).await;
    running.store(false, Ordering::SeqCst);
    for s in load {
        s.await.unwrap();
    }

    // Nothing acknowledged is lost (a sender to the dead replica got no 2xx and would retry).
    let stored: HashSet<String> = sqlx::query_scalar("SELECT fingerprint FROM alerts")
        .fetch_all(&pool)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let acked = acknowledged.lock().unwrap().clone();
    let lost: Vec<_> = acked.difference(&stored).take(5).collect();
    eprintln!("failover: {} alerts acknowledged by three replicas, {} stored", acked.len(), stored.len());
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    assert!(acked.len() > 500, "the storm was too light to mean anything: {}", acked.len());

    // The dead replica's run ends interrupted, with why, once its heartbeat is old enough.
    let deadline = killed_at + REPLICA_TIMEOUT + FEW_SECONDS;
    let (status, error) = loop {
        let (status, error): (String, Option<String>) =
            sqlx::query_as("SELECT status, error FROM heal_runs WHERE target = 'host-1' ORDER BY id LIMIT 1")
                .fetch_one(&pool)
                .await
                .unwrap();
        if status != "running" || Instant::now() > deadline {
            break (status, error.unwrap_or_default());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    eprintln!(
        "failover: the dead replica's run was {status} {:?} after the kill: {error}",
        killed_at.elapsed()
    );
    assert_eq!(status, "interrupted");
    assert!(error.contains(&holder) && error.contains("stopped"), "{error}");

    // The leader dies: its duties move. Measured from the kill to the new leader's first seal
    // of an event recorded right after the kill.
    let mut times = Vec::new();
    for round in 1..=rounds {
        let deadline = Instant::now() + Duration::from_secs(10);
        let name = loop {
            match leader(&pool).await {
                Some(name) => break name,
                None if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(20)).await,
                None => panic!("no leader"),
            }
        };
        let old = which(&replicas, &name);
        let survivor = (0..3).find(|i| *i != old && replicas[*i].is_some()).unwrap();
        replicas[old].as_mut().unwrap().kill9();
        let killed_at = Instant::now();
        let event = audited_sign_in(&pool, ports[survivor]).await;
        let took = sealed(&pool, event, REPLICA_TIMEOUT + FEW_SECONDS).await;
        let took = took.map(|_| killed_at.elapsed());
        eprintln!("failover round {round}: the leader's duties resumed {took:?} after it was killed");
        let took = took.expect("the new leader sealed the chain within replica_timeout and a few seconds");
        let new = leader(&pool).await.expect("a new leader");
        assert_ne!(which(&replicas, &new), old);
        times.push(took);
        // The dead one comes back (a new replica), so the next round has two to choose from.
        replicas[old] = None;
        replicas[old] = Some(Selfheal::start(dirs[old].path(), ports[old], "warn").await);
    }
    times.sort();
    eprintln!(
        "failover: leader killed → first duty done by the new leader, median {:?} of {times:?}",
        times[times.len() / 2]
    );

    // One chain for the cluster, whole after the kills.
    let out = audit_verify(dirs[0].path());
    let said = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    eprintln!("failover: audit verify: {said}");
    assert!(out.status.success(), "{said}");
    drop(dead);
}
