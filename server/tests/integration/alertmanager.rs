//! End to end with a real Alertmanager on 127.0.0.1: its webhook lands in selfheal's inbox,
//! its retries after a 503 land exactly once, and reconciliation finds what it never sent.
use crate::common;

use std::time::{Duration, Instant};

use common::alertmanager::{config_blackhole, config_for_webhook, free_port, Alertmanager};
use common::{TestApp, WEBHOOK_PASSWORD, WEBHOOK_USER};
use server::reconcile::Reconciler;

/// Longest an alert may take from Alertmanager's API to our database.
const DELIVERY_WITHIN: Duration = Duration::from_secs(15);

fn alert(name: &str) -> serde_json::Value {
    serde_json::json!([{
        "labels": { "alertname": name, "instance": "127.0.0.1:9113", "severity": "critical" },
        "annotations": { "summary": "end-to-end test alert" },
        "startsAt": app::ssr::alert::now_utc(),
        "generatorURL": "http://127.0.0.1:9090/graph"
    }])
}

/// Polls `sql` (a count) until it reaches `want`, or fails after `within`.
async fn wait_count(app: &TestApp, sql: &str, want: i64, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let n: i64 = sqlx::query_scalar(sql).fetch_one(&app.pool).await.unwrap();
        if n >= want {
            return;
        }
        assert!(Instant::now() < deadline, "`{sql}` stayed at {n}, wanted {want}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn metric(app: &TestApp, line_prefix: &str) -> f64 {
    let text = app.get("/metrics", None).await.body;
    text.lines().find_map(|l| l.strip_prefix(line_prefix).and_then(|v| v.trim().parse().ok())).unwrap_or(0.0)
}

/// The promise "idempotent across HA pairs", with real parts: two Alertmanagers gossiping on
/// loopback, both given the alert (as Prometheus sends to every one), both routing to selfheal.
/// One alert is stored and decided once, whether the pair's deduplication held (one delivery)
/// or not (Alertmanager's pairs deliver twice after a 5xx or under load).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alertmanager_pair_delivers_one_alert_stored_and_decided_once() {
    let app = TestApp::new().await;
    let addr = app.serve().await;
    let config = config_for_webhook(&format!("http://{addr}/webhook"), WEBHOOK_USER, WEBHOOK_PASSWORD);
    let (gossip_a, gossip_b) = (free_port(), free_port());
    let (peers_a, peers_b) = ([gossip_b], [gossip_a]);
    let (a, b) = tokio::join!(
        Alertmanager::start_clustered(&config, gossip_a, &peers_a, "1s"),
        Alertmanager::start_clustered(&config, gossip_b, &peers_b, "1s"),
    );
    let alert = alert("E2EPair");
    a.post_alerts(alert.clone()).await;
    b.post_alerts(alert).await;
    wait_count(&app, "SELECT count(*) FROM alerts WHERE alertname = 'E2EPair'", 1, DELIVERY_WITHIN).await;
    // Past the second member's turn (its position times the 1 s peer timeout, then its wait).
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (rows, deliveries): (i64, i64) =
        sqlx::query_as("SELECT count(*), sum(deliveries) FROM alerts").fetch_one(&app.pool).await.unwrap();
    let decisions: i64 =
        sqlx::query_scalar("SELECT count(*) FROM decisions").fetch_one(&app.pool).await.unwrap();
    eprintln!("an Alertmanager pair: {deliveries} delivery(ies) of one alert");
    assert_eq!((rows, decisions), (1, 1), "one alert, decided once");
    assert!((1..=2).contains(&deliveries), "{deliveries} deliveries");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_posted_to_alertmanager_is_stored_within_seconds() {
    let app = TestApp::new().await;
    let addr = app.serve().await;
    let am = Alertmanager::start(&config_for_webhook(
        &format!("http://{addr}/webhook"),
        WEBHOOK_USER,
        WEBHOOK_PASSWORD,
    ))
    .await;
    let posted = Instant::now();
    am.post_alerts(alert("E2EStored")).await;
    wait_count(&app, "SELECT count(*) FROM alerts WHERE alertname = 'E2EStored'", 1, DELIVERY_WITHIN).await;
    eprintln!("alert stored {:?} after posting it to alertmanager", posted.elapsed());
    let (status, source, receiver): (String, String, String) =
        sqlx::query_as("SELECT status, source, receiver FROM alerts").fetch_one(&app.pool).await.unwrap();
    assert_eq!((status.as_str(), source.as_str(), receiver.as_str()), ("firing", "webhook", "selfheal"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_503s_alertmanagers_retry_lands_exactly_once() {
    let app = TestApp::new().await;
    let addr = app.serve().await;
    // The store fails (its table is away): every delivery gets a 503 and Alertmanager retries.
    sqlx::query("ALTER TABLE alerts RENAME TO alerts_away").execute(&app.pool).await.unwrap();
    let am = Alertmanager::start(&config_for_webhook(
        &format!("http://{addr}/webhook"),
        WEBHOOK_USER,
        WEBHOOK_PASSWORD,
    ))
    .await;
    am.post_alerts(alert("E2ERetried")).await;
    let deadline = Instant::now() + DELIVERY_WITHIN;
    while metric(&app, "selfheal_webhook_requests_total{code=\"503\"}").await < 2.0 {
        assert!(Instant::now() < deadline, "alertmanager never retried the 503");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let refused: i64 =
        sqlx::query_scalar("SELECT count(*) FROM notifications").fetch_one(&app.pool).await.unwrap();
    assert_eq!(refused, 0, "nothing half-written by the refused deliveries");

    sqlx::query("ALTER TABLE alerts_away RENAME TO alerts").execute(&app.pool).await.unwrap();
    wait_count(&app, "SELECT count(*) FROM alerts WHERE alertname = 'E2ERetried'", 1, DELIVERY_WITHIN).await;
    // Give Alertmanager time to (wrongly) send it again; it must not.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (rows, deliveries): (i64, i64) =
        sqlx::query_as("SELECT count(*), sum(deliveries) FROM alerts").fetch_one(&app.pool).await.unwrap();
    assert_eq!((rows, deliveries), (1, 1), "stored exactly once");
    assert_eq!(metric(&app, "selfheal_webhook_requests_total{code=\"200\"}").await, 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_records_an_alert_alertmanager_never_delivered() {
    let app = TestApp::new().await;
    let am = Alertmanager::start(&config_blackhole()).await;
    am.post_alerts(alert("E2ENeverSent")).await;
    let metrics = server::metrics::Metrics::new();
    let other = Reconciler::new(
        &am.url,
        &Default::default(),
        Some("selfheal".into()),
        app.inbox.clone(),
        metrics.clone(),
    );
    assert_eq!(other.poll_once().await.unwrap(), 0, "routed to another receiver: ignored");

    let reconciler = Reconciler::new(&am.url, &Default::default(), None, app.inbox.clone(), metrics.clone());
    let deadline = Instant::now() + DELIVERY_WITHIN;
    let mut recorded = reconciler.poll_once().await.unwrap();
    while recorded == 0 {
        assert!(Instant::now() < deadline, "the alert never showed in alertmanager's API");
        tokio::time::sleep(Duration::from_millis(100)).await;
        recorded = reconciler.poll_once().await.unwrap();
    }
    assert_eq!(recorded, 1);
    let (name, source, receiver): (String, String, Option<String>) =
        sqlx::query_as("SELECT alertname, source, receiver FROM alerts").fetch_one(&app.pool).await.unwrap();
    assert_eq!(
        (name.as_str(), source.as_str(), receiver.as_deref()),
        ("E2ENeverSent", "reconcile", Some("nowhere"))
    );
    let reasons: Vec<String> =
        sqlx::query_scalar("SELECT reason FROM decisions").fetch_all(&app.pool).await.unwrap();
    assert_eq!(reasons, ["no_rule"], "decided in the commit that stored it, as a webhook's");
    assert_eq!(reconciler.poll_once().await.unwrap(), 0, "known episodes are not recorded twice");
    assert_eq!(metrics.reconcile_recorded.get(), 1);

    // A poll that fails is an error the loop counts, not a crash.
    let down = Reconciler::new("http://127.0.0.1:9", &Default::default(), None, app.inbox.clone(), metrics);
    assert!(down.poll_once().await.is_err());
}
