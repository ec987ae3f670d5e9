//! `POST /webhook` through the real router with real Alertmanager payloads: status codes, rows
//! written (and not written), idempotency, transitions, metrics. What it refuses is in
//! `webhook/refusals.rs`.
use crate::common;
#[path = "webhook/refusals.rs"]
mod refusals;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use base64::Engine;

use app::model::Role;
use common::{TestApp, TestResponse, WEBHOOK_PASSWORD, WEBHOOK_USER};

const FIRING: &str = include_str!("../fixtures/alertmanager/alertmanager-webhook-firing.json");
const RESOLVED: &str = include_str!("../fixtures/alertmanager/alertmanager-webhook-resolved.json");
const UNHEALTHY: &str =
    include_str!("../fixtures/alertmanager/alertmanager-webhook-firing-service-unhealthy.json");

fn auth(user: &str, password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

async fn post(
    app: &TestApp,
    body: impl Into<Body>,
    content_type: &str,
    authorization: Option<String>,
) -> TestResponse {
    let mut req = Request::post("/webhook").header(header::CONTENT_TYPE, content_type);
    if let Some(a) = authorization {
        req = req.header(header::AUTHORIZATION, a);
    }
    app.send(req.body(body.into()).unwrap()).await
}

async fn deliver(app: &TestApp, body: &str) -> TestResponse {
    post(app, body.to_owned(), "application/json", Some(auth(WEBHOOK_USER, WEBHOOK_PASSWORD))).await
}

/// (notifications, alerts) row counts.
async fn rows(app: &TestApp) -> (i64, i64) {
    sqlx::query_as("SELECT (SELECT count(*) FROM notifications), (SELECT count(*) FROM alerts)")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// A payload edited as JSON.
fn edited(base: &str, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut v: serde_json::Value = serde_json::from_str(base).unwrap();
    edit(&mut v);
    v.to_string()
}

#[tokio::test]
async fn a_firing_alert_is_stored_with_everything_alertmanager_sent() {
    let app = TestApp::new().await;
    let res = deliver(&app, FIRING).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.json()["new_alerts"], 1);
    assert_eq!(rows(&app).await, (1, 1));
    let (fp, starts, status, labels, annotations, group_key, receiver, generator, source, ends): (
        String, String, String, String, String, String, String, String, String, Option<String>,
    ) = sqlx::query_as(
        "SELECT fingerprint, starts_at, status, labels, annotations, group_key, receiver, generator_url, source, ends_at FROM alerts",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        (fp.as_str(), starts.as_str(), status.as_str()),
        ("afaf45122a3111c8", "2026-11-22T01:25:10.341Z", "firing")
    );
    let labels: serde_json::Value = serde_json::from_str(&labels).unwrap();
    assert_eq!(labels["alertname"], "NginxDown");
    assert_eq!(labels["remediation"], "heal-nginx");
    assert!(annotations.contains("nginx is down"));
    assert_eq!(group_key, r#"{}:{alertname="NginxDown", instance="127.0.0.1:9113"}"#);
    assert_eq!(receiver, "heal-webhook");
    assert!(generator.starts_with("http://vm:9090/graph"));
    assert_eq!((source.as_str(), ends), ("webhook", None));
    let (raw, encoding): (String, String) =
        sqlx::query_as("SELECT payload, payload_encoding FROM notifications")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((raw.as_str(), encoding.as_str()), (FIRING, "identity"), "kept byte for byte, as text");
}

#[tokio::test]
async fn a_large_notification_is_kept_packed_and_reads_back_byte_for_byte() {
    let app = TestApp::new().await;
    let mut v: serde_json::Value = serde_json::from_str(FIRING).unwrap();
    let one = v["alerts"][0].clone();
    v["alerts"] = (0..50)
        .map(|i| {
            let mut a = one.clone();
            a["fingerprint"] = format!("{i:016x}").into();
            a
        })
        .collect();
    let body = serde_json::to_string_pretty(&v).unwrap();
    assert_eq!(deliver(&app, &body).await.status, StatusCode::OK);
    let (id, encoding, stored): (i64, String, i64) =
        sqlx::query_as("SELECT id, payload_encoding, length(payload) FROM notifications")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(encoding, "zstd");
    assert!((stored as usize) * 10 < body.len(), "packed: {stored} bytes of {}", body.len());
    let raw = app::ssr::db::notifications::raw_notification(&app.pool, id).await.unwrap().unwrap();
    assert_eq!(raw, body.as_bytes(), "the raw notification is kept byte for byte");
}

#[tokio::test]
async fn viewers_read_a_raw_notification_back_byte_for_byte() {
    let app = TestApp::new().await;
    assert_eq!(deliver(&app, FIRING).await.status, StatusCode::OK);
    let id: i64 = sqlx::query_scalar("SELECT id FROM notifications").fetch_one(&app.pool).await.unwrap();
    let path = format!("/api/notifications/{id}/raw");
    assert_eq!(app.get(&path, None).await.status, StatusCode::UNAUTHORIZED);
    app.add_user("vera", "viewer-password-1", Role::Viewer).await;
    let cookie = app.login("vera", "viewer-password-1").await;
    let res = app.get(&path, Some(&cookie)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body, FIRING);
    assert_eq!(res.header(header::CONTENT_TYPE), Some("application/json"));
    for missing in [format!("/api/notifications/{}/raw", id + 1), "/api/notifications/x/raw".to_owned()] {
        assert_eq!(app.get(&missing, Some(&cookie)).await.status, StatusCode::NOT_FOUND, "{missing}");
    }
    let alert: i64 = sqlx::query_scalar("SELECT id FROM alerts").fetch_one(&app.pool).await.unwrap();
    let page = app.get(&format!("/alerts/{alert}"), Some(&cookie)).await;
    assert!(page.body.contains(&path), "the alert page links its raw notification");
}

#[tokio::test]
async fn alert_urls_that_are_not_http_are_shown_as_text_never_as_links() {
    let app = TestApp::new().await;
    let hostile = FIRING.replace("\"generatorURL\": \"http", "\"generatorURL\": \"javascript:alert(1)//http");
    assert!(hostile.contains("javascript:alert(1)"), "the fixture has a generatorURL");
    assert_eq!(deliver(&app, &hostile).await.status, StatusCode::OK);
    app.add_user("vera", "viewer-password-1", Role::Viewer).await;
    let cookie = app.login("vera", "viewer-password-1").await;
    let alert: i64 = sqlx::query_scalar("SELECT id FROM alerts").fetch_one(&app.pool).await.unwrap();
    let page = app.get(&format!("/alerts/{alert}"), Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("javascript:alert(1)"), "shown as text");
    assert!(!page.body.contains("href=\"javascript:"), "never a link:\n{}", page.body);
}

/// Building a router generates the page routes, and while that runs leptos stops every resource
/// in the process from loading (`SuppressResourceLoad` is process-wide); a page rendering on
/// another thread at that moment waited forever (the tests build many routers in parallel).
/// The routes are generated once per process now.
#[tokio::test]
async fn a_page_renders_while_another_router_is_built() {
    let app = TestApp::new().await;
    assert_eq!(deliver(&app, FIRING).await.status, StatusCode::OK);
    app.add_user("vera", "viewer-password-1", Role::Viewer).await;
    let cookie = app.login("vera", "viewer-password-1").await;
    let alert: i64 = sqlx::query_scalar("SELECT id FROM alerts").fetch_one(&app.pool).await.unwrap();
    let services = server::startup::services(&app.db(), &app.config, Default::default()).expect("services");
    let state = server::startup::app_state(&app.config, &app.db(), &services);
    let intake = services.intake.clone();
    let builder = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async move {
            for _ in 0..300 {
                drop(server::router(state.clone(), intake.clone()));
            }
        })
    });
    let mut renders = 0;
    while !builder.is_finished() || renders == 0 {
        let page = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            app.get(&format!("/alerts/{alert}"), Some(&cookie)),
        )
        .await
        .unwrap_or_else(|_| panic!("render {renders} stalled while another router was built"));
        assert_eq!(page.status, StatusCode::OK);
        renders += 1;
    }
    builder.join().expect("the builder thread");
}

#[tokio::test]
async fn the_same_payload_again_adds_no_rows() {
    let app = TestApp::new().await;
    assert_eq!(deliver(&app, FIRING).await.status, StatusCode::OK);
    let again = deliver(&app, FIRING).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json()["duplicate_alerts"], 1);
    assert_eq!(rows(&app).await, (1, 1));
    let deliveries: (i64, i64) =
        sqlx::query_as("SELECT (SELECT deliveries FROM notifications), (SELECT deliveries FROM alerts)")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(deliveries, (2, 2));

    // An HA peer sends the same alert in different bytes (its own externalURL): one alert row.
    let peer = edited(FIRING, |v| v["externalURL"] = "http://vm2:9093".into());
    assert_eq!(deliver(&app, &peer).await.status, StatusCode::OK);
    assert_eq!(rows(&app).await, (2, 1));
}

#[tokio::test]
async fn resolved_moves_the_episode_to_resolved_with_its_end() {
    let app = TestApp::new().await;
    deliver(&app, FIRING).await;
    assert_eq!(deliver(&app, RESOLVED).await.status, StatusCode::OK);
    let (status, ends_at, resolved_at): (String, Option<String>, Option<String>) =
        sqlx::query_as("SELECT status, ends_at, resolved_at FROM alerts").fetch_one(&app.pool).await.unwrap();
    assert_eq!(status, "resolved");
    assert_eq!(ends_at.as_deref(), Some("2026-11-22T01:25:13.341Z"));
    assert!(resolved_at.is_some());
    assert_eq!(rows(&app).await, (2, 1));
}

#[tokio::test]
async fn a_notification_mixing_firing_and_resolved_handles_each_alert_by_its_own_status() {
    let app = TestApp::new().await;
    deliver(&app, FIRING).await;
    let resolved_alert: serde_json::Value =
        serde_json::from_str::<serde_json::Value>(RESOLVED).unwrap()["alerts"][0].clone();
    let mixed = edited(UNHEALTHY, |v| v["alerts"].as_array_mut().unwrap().push(resolved_alert));
    let res = deliver(&app, &mixed).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let states: Vec<(String, String)> =
        sqlx::query_as("SELECT alertname, status FROM alerts ORDER BY alertname")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        states,
        [("NginxDown".into(), "resolved".into()), ("NginxServiceUnhealthy".into(), "firing".into())]
    );
}

#[tokio::test]
async fn truncated_alerts_are_recorded_and_visible() {
    let app = TestApp::new().await;
    let truncated = edited(FIRING, |v| v["truncatedAlerts"] = 7.into());
    assert_eq!(deliver(&app, &truncated).await.status, StatusCode::OK);
    let stored: i64 =
        sqlx::query_scalar("SELECT truncated_alerts FROM notifications").fetch_one(&app.pool).await.unwrap();
    assert_eq!(stored, 7);

    app.add_user("vera", "viewer-password-1", Role::Viewer).await;
    let cookie = app.login("vera", "viewer-password-1").await;
    let list = app.post_form("/api/alerts", &[], Some(&cookie)).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert_eq!(list.json()["rows"][0]["truncated_alerts"], 7);
    let page = app.get("/alerts", Some(&cookie)).await;
    assert!(page.body.contains("+7 truncated"), "{}", page.body);
    let metrics = app.get("/metrics", None).await.body;
    assert!(metrics.contains("selfheal_alerts_truncated_total 7"), "{metrics}");
}

#[tokio::test]
async fn metrics_count_requests_alerts_and_duplicates() {
    let app = TestApp::new().await;
    deliver(&app, FIRING).await;
    deliver(&app, FIRING).await;
    deliver(&app, RESOLVED).await;
    post(&app, FIRING, "application/json", None).await;
    let res = app.get("/metrics", None).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.header(header::CONTENT_TYPE).unwrap_or_default().starts_with("application/openmetrics-text"));
    for line in [
        "selfheal_webhook_requests_total{code=\"200\"} 3",
        "selfheal_webhook_requests_total{code=\"401\"} 1",
        "selfheal_alerts_received_total{status=\"firing\"} 2",
        "selfheal_alerts_received_total{status=\"resolved\"} 1",
        "selfheal_alerts_duplicate_total 2",
        "selfheal_notifications_duplicate_total 1",
        "selfheal_intake_duration_seconds_count 4",
    ] {
        assert!(res.body.contains(line), "{line} missing from\n{}", res.body);
    }
}

#[tokio::test]
async fn many_concurrent_deliveries_are_all_stored_once() {
    let app = TestApp::new().await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200 {
        let body = edited(FIRING, |v| {
            v["alerts"][0]["fingerprint"] = format!("{:016x}", i % 100).into();
        });
        let router = app.router.clone();
        tasks.spawn(async move {
            use tower::ServiceExt;
            let req = Request::post("/webhook")
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::AUTHORIZATION, auth(WEBHOOK_USER, WEBHOOK_PASSWORD))
                .body(Body::from(body))
                .unwrap();
            router.oneshot(req).await.unwrap().status()
        });
    }
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.unwrap(), StatusCode::OK);
    }
    assert_eq!(rows(&app).await, (100, 100), "each distinct payload once, each episode once");
    let deliveries: i64 =
        sqlx::query_scalar("SELECT sum(deliveries) FROM alerts").fetch_one(&app.pool).await.unwrap();
    assert_eq!(deliveries, 200);
}
