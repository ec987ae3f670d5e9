//! PostgreSQL goes away and comes back (issue 28, item 8's failure modes), with two real
//! replicas each running a playbook: while it is down a webhook gets a clear 503 (Alertmanager
//! retries it) and nothing is half-written; once it is back, webhooks are stored again, a
//! replica leads again, and neither replica takes the other for dead — both were silent only
//! because the database was gone, so both runs go on.
use std::time::{Duration, Instant};

use reqwest::header;
use sqlx::PgPool;

use crate::common::alertmanager::free_port;
use crate::common::binary::Selfheal;
use crate::common::postgres::Postgres;
use crate::common::replicas::{self, leader};
use crate::common::{WEBHOOK_PASSWORD, WEBHOOK_USER};

const REPLICA_TIMEOUT: Duration = Duration::from_secs(3);

async fn post(port: u16, alertname: &str, host: &str) -> reqwest::StatusCode {
    reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/webhook"))
        .basic_auth(WEBHOOK_USER, Some(WEBHOOK_PASSWORD))
        .header(header::CONTENT_TYPE, "application/json")
        .body(replicas::firing(alertname, host))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_postgresql_comes_back_no_replica_takes_the_other_for_dead() {
    let pg = Postgres::start();
    let url = pg.create_database("outage").await;
    let extra = format!(
        "[engine]\nconcurrency = 1\nshutdown_grace = \"1s\"\n[ha]\nreplica_timeout = \"{}s\"\n",
        REPLICA_TIMEOUT.as_secs()
    );
    let hosts = || ["host-1", "host-2"].map(String::from);
    let dirs = [(); 2].map(|()| replicas::folder(&url, "Stuck", hosts(), &extra));
    let ports = [free_port(), free_port()];
    let (a, b) = tokio::join!(
        Selfheal::start(dirs[0].path(), ports[0], "warn"),
        Selfheal::start(dirs[1].path(), ports[1], "warn")
    );
    let pool = PgPool::connect(&url).await.unwrap();
    // One playbook running at each replica (concurrency 1 each).
    replicas::deliver(ports[0], "Stuck", "host-1").await;
    replicas::deliver(ports[1], "Stuck", "host-2").await;
    let (one, _) = replicas::running_at(&pool, "host-1").await;
    let (two, _) = replicas::running_at(&pool, "host-2").await;
    assert_ne!(one, two, "one run at each replica");
    pool.close().await;

    // PostgreSQL is gone for longer than the replicas' timeout.
    pg.stop();
    let stopped = Instant::now();
    let refused = post(ports[0], "Other", "host-9").await;
    assert_eq!(refused, reqwest::StatusCode::SERVICE_UNAVAILABLE, "{}", a.log());
    tokio::time::sleep((REPLICA_TIMEOUT + Duration::from_secs(1)).saturating_sub(stopped.elapsed())).await;
    pg.start_again();

    // Webhooks are stored again, at both replicas.
    let deadline = Instant::now() + Duration::from_secs(20);
    for (port, host) in [(ports[0], "host-7"), (ports[1], "host-8")] {
        while !post(port, "Other", host).await.is_success() {
            assert!(Instant::now() < deadline, "webhooks refused after PostgreSQL came back: {}", a.log());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let pool = PgPool::connect(&url).await.unwrap();
    let stored: Vec<String> = sqlx::query_scalar("SELECT fingerprint FROM alerts WHERE alertname = 'Other'")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(stored.len(), 2, "the refused webhook wrote nothing; the two later ones are stored");

    // Both replicas beat again for several rounds; a replica leads again.
    tokio::time::sleep(REPLICA_TIMEOUT * 2).await;
    assert!(leader(&pool).await.is_some(), "no leader after PostgreSQL came back: {}", a.log());
    let runs: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT target, status, error FROM heal_runs ORDER BY target")
            .fetch_all(&pool)
            .await
            .unwrap();
    for (target, status, error) in &runs {
        assert_eq!(status, "running", "{target}'s run was taken over: {error:?}\n{}\n{}", a.log(), b.log());
    }
    let taken: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_events WHERE action = 'replica.taken_over'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(taken, 0, "a living replica was taken for dead");
}

/// A playbook that ends while PostgreSQL is away: its end is stored once it is back (the
/// replica lives on, so nobody else would ever end the run).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_ends_while_postgresql_is_away_is_recorded_when_it_is_back() {
    let pg = Postgres::start();
    let url = pg.create_database("outage_end").await;
    let dir = replicas::folder(&url, "Stuck", ["host-1".to_owned()], "[engine]\nshutdown_grace = \"1s\"\n");
    std::fs::write(
        dir.path().join("ansible/slow.yml"),
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.command: sleep 3\n",
    )
    .unwrap();
    let port = free_port();
    let replica = Selfheal::start(dir.path(), port, "warn").await;
    let pool = PgPool::connect(&url).await.unwrap();
    replicas::deliver(port, "Stuck", "host-1").await;
    replicas::running_at(&pool, "host-1").await;
    pool.close().await;

    pg.stop();
    // The playbook ends meanwhile; storing its last output and then its end each wait for a
    // connection in vain (DATABASE_WAIT each), and PostgreSQL is still away after that.
    tokio::time::sleep(Duration::from_secs(3) + server::startup::DATABASE_WAIT * 4).await;
    pg.start_again();

    let pool = PgPool::connect(&url).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        let status: String = sqlx::query_scalar("SELECT status FROM heal_runs WHERE target = 'host-1'")
            .fetch_one(&pool)
            .await
            .unwrap();
        if status != "running" || Instant::now() > deadline {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status, "succeeded", "{}", replica.log());
}
