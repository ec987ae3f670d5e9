//! The inbox on PostgreSQL, as replicas run it (issue 28): two replicas' writers on one real
//! PostgreSQL, each given every notification (both Alertmanagers deliver to both), store each
//! alert once, decide each episode once and queue one run per target.
use std::sync::Arc;

use app::ssr::alert::{normalise_payload, AlertStatus, WebhookPayload};
use app::ssr::db::alerts::Source;
use app::ssr::db::backend::Db;
use app::ssr::heal::{LiveRules, Rule, RuleConfig};
use app::ssr::inventory::InventoryHosts;
use server::engine::Reactions;
use server::intake::{Delivery, Inbox};
use server::metrics::Metrics;
use sqlx::PgPool;

use crate::common::postgres::Postgres;

fn rules() -> LiveRules {
    let config: RuleConfig = serde_json::from_value(serde_json::json!({
        "name": "nginx-down", "match": { "alertname": "NginxDown" }, "playbook": "heal-nginx.yml",
    }))
    .unwrap();
    LiveRules::from(vec![Rule::from_config(config, |_| true).unwrap()])
}

/// One replica's inbox writer over `pool`.
fn replica(pool: &PgPool, rules: &LiveRules) -> Inbox {
    let metrics = Metrics::new();
    let notifier = server::notify::Notifier::new(Db::Pg(pool.clone()), &Default::default());
    let reactions = Reactions::new(metrics.clone(), notifier, Arc::default(), Default::default());
    let hosts = InventoryHosts::fixed(Default::default());
    Inbox::start_pg(pool.clone(), rules.clone(), hosts, Default::default(), metrics, reactions).0
}

/// Notification `n`: one firing NginxDown on target `web-{n % 10}`.
fn delivery(n: usize) -> Delivery {
    let raw = serde_json::json!({
        "version": "4", "groupKey": format!("{{}}:{n}"), "status": "firing", "receiver": "selfheal",
        "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am",
        "alerts": [{ "status": "firing", "labels": { "alertname": "NginxDown", "instance": format!("web-{}", n % 10) },
                     "annotations": {}, "startsAt": "2026-12-06T09:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                     "generatorURL": "", "fingerprint": format!("fp{n}") }]
    })
    .to_string();
    let payload: WebhookPayload = serde_json::from_str(&raw).unwrap();
    Delivery {
        payload_sha256: format!("sha{n}"),
        received_at: "2026-12-06T09:00:01.000Z".to_owned(),
        source: Source::Webhook,
        receiver: "selfheal".to_owned(),
        status: AlertStatus::Firing,
        group_key: format!("{{}}:{n}"),
        external_url: None,
        truncated_alerts: 0,
        raw: app::ssr::db::notifications::pack(&raw).unwrap(),
        alerts: normalise_payload(&payload).unwrap(),
        verdicts: Vec::new(),
        verdicts_under: None,
        guard_answers: Default::default(),
    }
}

#[tokio::test]
async fn two_replicas_inboxes_store_each_alert_once_and_queue_one_run_per_target() {
    let pg = Postgres::start();
    let pool = PgPool::connect(&pg.create_database("intake").await).await.unwrap();
    app::ssr::db::POSTGRES_MIGRATOR.run(&pool).await.unwrap();
    let rules = rules();
    let replicas = [replica(&pool, &rules), replica(&pool, &rules)];
    // 200 notifications, each delivered to both replicas at once.
    let sends = (0..400).map(|i| {
        let inbox = replicas[i % 2].clone();
        tokio::spawn(async move { inbox.store(delivery(i / 2)).await.unwrap() })
    });
    let stored: Vec<_> =
        futures_util::future::join_all(sends).await.into_iter().map(Result::unwrap).collect();
    let new: u64 = stored.iter().map(|s| s.new_alerts).sum();
    let again: u64 = stored.iter().map(|s| s.duplicate_alerts).sum();
    assert_eq!((new, again), (200, 200), "each alert new once, a redelivery once");
    let (alerts, deliveries, decisions): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM alerts), (SELECT sum(deliveries)::bigint FROM alerts), \
                (SELECT count(*) FROM decisions)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((alerts, deliveries, decisions), (200, 400, 200), "every episode decided once");
    let runs: Vec<(String, i64)> =
        sqlx::query_as("SELECT target, count(*) FROM heal_runs GROUP BY target ORDER BY target")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(runs, (0..10).map(|i| (format!("web-{i}"), 1)).collect::<Vec<_>>(), "one run per target");
}

/// How long both replicas are given the same storm.
const LOAD_FOR: std::time::Duration = std::time::Duration::from_secs(8);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_given_the_same_storm_never_deadlock() {
    let pg = Postgres::start();
    let url = pg.create_database("intake_same_storm").await;
    let pool = PgPool::connect(&url).await.unwrap();
    app::ssr::db::POSTGRES_MIGRATOR.run(&pool).await.unwrap();
    let rules = rules();
    // Each replica with its own connections, as two processes have.
    let other = PgPool::connect(&url).await.unwrap();
    let replicas = [replica(&pool, &rules), replica(&other, &rules)];
    // 16 streams of notifications, each delivered to both replicas (both Alertmanagers deliver
    // to both), for a while: each replica's group commits hold the same notifications in
    // another order. Before the upserts went in key order, PostgreSQL broke a deadlock between
    // them every few seconds, and the batch waited 1 s for it.
    let until = std::time::Instant::now() + LOAD_FOR;
    let senders = (0..32).map(|s| {
        let inbox = replicas[s % 2].clone();
        tokio::spawn(async move {
            let mut sent = 0;
            for n in (s / 2..).step_by(16) {
                if std::time::Instant::now() >= until {
                    break;
                }
                inbox.store(delivery(n)).await.unwrap();
                sent += 1;
            }
            sent
        })
    });
    let sent: usize = futures_util::future::join_all(senders).await.into_iter().map(Result::unwrap).sum();
    eprintln!("{sent} deliveries of the same notifications to two replicas in {LOAD_FOR:?}");
    drop(replicas);
    // Backends report their statistics when they end.
    pool.close().await;
    other.close().await;
    let pool = PgPool::connect(&url).await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    let deadlocks = loop {
        let n: i64 =
            sqlx::query_scalar("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
                .fetch_one(&pool)
                .await
                .unwrap();
        if n > 0 || std::time::Instant::now() > deadline {
            break n;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(deadlocks, 0, "PostgreSQL broke deadlocks between the replicas' commits");
}
