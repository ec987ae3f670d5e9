//! The cluster under a storm, with every part real (issue 28, item 7): two Alertmanagers
//! gossiping on loopback, each sending every notification to both `selfheal` replicas (the
//! shipped topology, `alertmanager/alertmanager-ha.yml`), both replicas on one PostgreSQL.
//! 2,000 distinct alerts over 50 targets: each stored once, delivered at least twice, every
//! one decided, exactly one run per target and no double run.
use std::time::{Duration, Instant};

use sqlx::PgPool;

use crate::common::alertmanager::{free_port, Alertmanager};
use crate::common::binary::Selfheal;
use crate::common::postgres::Postgres;
use crate::common::replicas::{self, wait_count};
use crate::common::{WEBHOOK_PASSWORD, WEBHOOK_USER};

const ALERTS: usize = 2_000;
const TARGETS: usize = 50;

/// The pair's second member does not wait for the first's news before it sends: both deliver,
/// as pairs do after a 5xx or under load (alertmanager#4108, #3865, #4152).
const PEER_TIMEOUT: &str = "0s";

/// Both replicas as one receiver: every notification goes to each.
pub fn alertmanager_config(ports: [u16; 2]) -> String {
    let hooks: String = ports
        .iter()
        .map(|p| {
            format!(
                "      - url: http://127.0.0.1:{p}/webhook\n        send_resolved: true\n        http_config:\n          \
                 basic_auth:\n            username: {WEBHOOK_USER}\n            password: {WEBHOOK_PASSWORD}\n"
            )
        })
        .collect();
    format!(
        "route:\n  receiver: selfheal\n  group_by: [alertname, instance]\n  group_wait: 0s\n  group_interval: 1s\n  \
         repeat_interval: 1h\nreceivers:\n  - name: selfheal\n    webhook_configs:\n{hooks}"
    )
}

fn storm() -> serde_json::Value {
    let now = app::ssr::alert::now_utc();
    (0..ALERTS)
        .map(|k| {
            serde_json::json!({
                "labels": { "alertname": "Storm", "instance": format!("i-{k}"), "host": format!("target-{}", k % TARGETS) },
                "annotations": { "summary": "storm" },
                "startsAt": now,
                "generatorURL": "http://127.0.0.1:9090/graph"
            })
        })
        .collect()
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_through_two_alertmanagers_to_two_replicas_heals_each_target_once() {
    let pg = Postgres::start();
    let url = pg.create_database("storm").await;
    let hosts = || (0..TARGETS).map(|t| format!("target-{t}"));
    let dirs = [(); 2].map(|()| replicas::folder(&url, "Storm", hosts(), "[engine]\nconcurrency = 2\n"));
    let ports = [free_port(), free_port()];
    let (a, b) = tokio::join!(
        Selfheal::start(dirs[0].path(), ports[0], "warn"),
        Selfheal::start(dirs[1].path(), ports[1], "warn")
    );
    let config = alertmanager_config(ports);
    let (gossip_a, gossip_b) = (free_port(), free_port());
    let (peers_a, peers_b) = ([gossip_b], [gossip_a]);
    let (am_a, am_b) = tokio::join!(
        Alertmanager::start_clustered(&config, gossip_a, &peers_a, PEER_TIMEOUT),
        Alertmanager::start_clustered(&config, gossip_b, &peers_b, PEER_TIMEOUT),
    );
    let pool = PgPool::connect(&url).await.unwrap();

    // Prometheus sends every alert to every Alertmanager.
    let started = Instant::now();
    let alerts = storm();
    tokio::join!(am_a.post_alerts(alerts.clone()), am_b.post_alerts(alerts));
    let n = ALERTS as i64;
    let stored = wait_count(&pool, "SELECT count(*) FROM alerts", n, Duration::from_secs(90)).await;
    let twice = "SELECT count(*) FROM alerts WHERE deliveries >= 2";
    let delivered_twice = wait_count(&pool, twice, n, Duration::from_secs(60)).await;
    let decided = wait_count(&pool, "SELECT count(*) FROM decisions", n, Duration::from_secs(30)).await;
    eprintln!(
        "storm: {stored} alerts stored, {delivered_twice} delivered twice or more, {decided} decided in {:?}",
        started.elapsed()
    );
    // Whatever is still on its way lands too.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let (alerts, deliveries, least): (i64, i64, i64) =
        sqlx::query_as("SELECT count(*), sum(deliveries)::bigint, min(deliveries)::bigint FROM alerts")
            .fetch_one(&pool)
            .await
            .unwrap();
    let senders = count(&pool, "SELECT count(DISTINCT external_url) FROM notifications").await;
    eprintln!("storm: {alerts} alerts, {deliveries} deliveries, each at least {least}, from {senders} Alertmanagers");
    assert_eq!(senders, 2, "both Alertmanagers delivered");
    assert_eq!(alerts, n, "each alert stored once: {}\n{}", a.log(), b.log());
    assert!(least >= 2, "every alert arrived at both replicas");
    let per_replica: Vec<(String, i64)> =
        sqlx::query_as("SELECT coalesce(held_by, '-'), count(*) FROM heal_runs GROUP BY 1 ORDER BY 1")
            .fetch_all(&pool)
            .await
            .unwrap();
    eprintln!("storm: runs held per replica {per_replica:?}");
    assert_eq!(count(&pool, "SELECT count(*) FROM decisions").await, n, "every alert decided once");
    assert_eq!(count(&pool, "SELECT count(DISTINCT alert_id) FROM decisions").await, n);
    assert_eq!(count(&pool, "SELECT count(*) FROM heal_runs").await, TARGETS as i64, "one run per target");
    assert_eq!(
        count(&pool, "SELECT count(DISTINCT target) FROM heal_runs").await,
        TARGETS as i64,
        "no double run"
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM decisions WHERE reason = 'enqueued'").await,
        TARGETS as i64
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM decisions WHERE reason = 'run_in_progress'").await,
        n - TARGETS as i64,
        "every other alert names the run in flight"
    );
    drop((am_a, am_b, a, b));
}
