//! Auto-silence against a real Alertmanager while a run is in flight, and outgoing
//! notifications (retried, recorded, secrets stripped) to a receiver started by the test.
use crate::common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;

use common::alertmanager::{config_blackhole, Alertmanager};
use common::TestApp;

const FIRING: &str = include_str!("../fixtures/alertmanager/alertmanager-webhook-firing.json");

fn episode(starts_at: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(FIRING).unwrap();
    v["alerts"][0]["startsAt"] = starts_at.into();
    v.to_string()
}

async fn app_with(rule: serde_json::Value, playbook: &'static str, am_url: Option<String>) -> TestApp {
    TestApp::with(move |config, dir| {
        let ansible = dir.join("ansible");
        std::fs::create_dir_all(&ansible).unwrap();
        std::fs::write(ansible.join("inventory.ini"), "localhost ansible_connection=local\n").unwrap();
        std::fs::write(ansible.join("heal.yml"), playbook).unwrap();
        config.ansible.inventory = ansible.join("inventory.ini");
        config.ansible.dir = ansible;
        config.alertmanager.url = am_url.unwrap_or_default();
        config.rules = vec![serde_json::from_value(rule).unwrap()];
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alert_is_silenced_while_the_run_is_in_flight_and_unsilenced_after() {
    let am = Alertmanager::start(&config_blackhole()).await;
    let rule = serde_json::json!({
        "name": "nginx-down", "match": { "alertname": "NginxDown" }, "playbook": "heal.yml",
        "limit_from": "job", "target_label": "instance", "silence": true, "cooldown": "0s",
    });
    let slow = "- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.command: sleep 3\n";
    let mut am_url = Some(am.url.clone());
    let app = app_with(rule, slow, am_url.take()).await;
    // The fixture's `job` label is "nginx": point it at localhost for the run.
    let mut v: serde_json::Value = serde_json::from_str(FIRING).unwrap();
    v["alerts"][0]["labels"]["job"] = "localhost".into();
    app.deliver(&v.to_string()).await;
    let worker = app.worker.clone();
    let running = tokio::spawn(async move { worker.run_once().await });

    let deadline = Instant::now() + Duration::from_secs(20);
    let active = loop {
        let all = am.silences().await;
        if let Some(s) = all.as_array().unwrap().iter().find(|s| s["status"]["state"] == "active") {
            break s.clone();
        }
        assert!(Instant::now() < deadline, "no silence while the run was in flight: {all}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(active["createdBy"], "selfheal");
    let matchers = active["matchers"].to_string();
    assert!(matchers.contains("NginxDown") && matchers.contains("127.0.0.1:9113"), "{matchers}");

    running.await.unwrap().unwrap();
    let id = active["id"].as_str().unwrap().to_owned();
    let after = am.silences().await;
    let state = after
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id.as_str())
        .map(|s| s["status"]["state"].clone());
    assert_eq!(state, Some("expired".into()), "the silence ends with the run");
    let stored: Option<String> =
        sqlx::query_scalar("SELECT silence_id FROM heal_runs").fetch_one(&app.pool).await.unwrap();
    assert_eq!(stored.as_deref(), Some(id.as_str()));
}

/// A webhook receiver that fails its first request, then records bodies.
async fn receiver() -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let calls = Arc::new(Mutex::new(0u32));
    let store = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(body): axum::Json<serde_json::Value>| {
            let store = store.clone();
            let calls = calls.clone();
            async move {
                let n = {
                    let mut c = calls.lock().unwrap();
                    *c += 1;
                    *c
                };
                if n == 1 {
                    return StatusCode::INTERNAL_SERVER_ERROR;
                }
                store.lock().unwrap().push(body);
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://hookuser:hooksecret@{addr}/hook?token=abc"), seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_are_retried_recorded_and_keep_no_secrets() {
    let (url, seen) = receiver().await;
    let rule = serde_json::json!({
        "name": "nginx-down", "match": { "alertname": "NginxDown" }, "playbook": "heal.yml",
        "cooldown": "0s", "max_attempts": 1, "window": "1h",
        "notify": [url, "http://127.0.0.1:9/unreachable"],
    });
    let app = app_with(rule, "- hosts: all\n  gather_facts: false\n  tasks: []\n", None).await;
    app.deliver(&episode("2026-11-22T01:00:00.000Z")).await;
    app.worker.run_once().await.unwrap().expect("a run");
    // A second episode on the same target: the breaker (max 1) opens and says so.
    app.deliver(&episode("2026-11-22T01:05:00.000Z")).await;

    let deadline = Instant::now() + Duration::from_secs(30);
    let rows: Vec<(String, String, String, i64, Option<String>)> = loop {
        let rows = sqlx::query_as(
            "SELECT event, url, status, attempts, error FROM outbound_notifications ORDER BY id",
        )
        .fetch_all(&app.pool)
        .await
        .unwrap();
        if rows.len() == 4 {
            break rows;
        }
        assert!(Instant::now() < deadline, "notifications not all recorded: {rows:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let good: Vec<_> = rows.iter().filter(|r| r.1.contains("/hook")).collect();
    assert!(good.iter().all(|r| r.2 == "delivered"), "{rows:?}");
    let mut attempts: Vec<i64> = good.iter().map(|r| r.3).collect();
    attempts.sort();
    assert_eq!(attempts, [1, 2], "the receiver's first POST failed and was retried: {rows:?}");
    assert!(
        rows.iter().all(|r| !r.1.contains("hooksecret") && !r.1.contains("token")),
        "no secrets stored: {rows:?}"
    );
    let dead: Vec<_> = rows.iter().filter(|r| r.1.contains("unreachable")).collect();
    assert!(dead.iter().all(|r| r.2 == "failed" && r.3 == 3 && r.4.is_some()), "{rows:?}");

    let bodies = seen.lock().unwrap().clone();
    let events: Vec<_> = bodies.iter().map(|b| b["event"].as_str().unwrap_or_default().to_owned()).collect();
    assert!(
        events.contains(&"run_finished".to_owned()) && events.contains(&"breaker_open".to_owned()),
        "{events:?}"
    );
    let finished = bodies.iter().find(|b| b["event"] == "run_finished").unwrap();
    assert!(finished["text"].as_str().unwrap().contains("succeeded"), "{finished}");
    assert_eq!(finished["verification"], "inconclusive");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_silences_an_alert_in_alertmanager_and_it_is_audited() {
    let am = Alertmanager::start(&config_blackhole()).await;
    let am_url = am.url.clone();
    let app = TestApp::with(move |config, _| config.alertmanager.url = am_url).await;
    app.deliver(FIRING).await;
    app.add_user("olga", "operator-password-1", app::model::Role::Operator).await;
    let cookie = app.login("olga", "operator-password-1").await;
    let silence = |hours: &'static str, comment: &'static str| {
        let cookie = cookie.clone();
        let app = &app;
        async move {
            app.post_form(
                "/api/silence_alert",
                &[("alert_id", "1"), ("hours", hours), ("comment", comment)],
                Some(&cookie),
            )
            .await
        }
    };

    // Bad input: a clear 400, and nothing reaches Alertmanager.
    assert_eq!(silence("0", "maintenance").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(silence("4", "  ").await.status, StatusCode::BAD_REQUEST);

    let res = silence("4", "planned nginx upgrade").await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    let id: String = serde_json::from_str(&res.body).unwrap();
    let created: serde_json::Value =
        reqwest::get(format!("{}/api/v2/silence/{id}", am.url)).await.unwrap().json().await.unwrap();
    assert_eq!(created["createdBy"], "olga");
    assert_eq!(created["comment"], "planned nginx upgrade");
    assert_eq!(created["status"]["state"], "active");
    let labels: serde_json::Value = serde_json::from_str(FIRING).unwrap();
    let labels = labels["alerts"][0]["labels"].as_object().unwrap().clone();
    let matchers = created["matchers"].as_array().unwrap();
    assert_eq!(matchers.len(), labels.len(), "one exact matcher per label");
    for m in matchers {
        let name = m["name"].as_str().unwrap();
        assert_eq!(labels[name], m["value"], "{name}");
        assert_eq!((m["isRegex"].as_bool(), m["isEqual"].as_bool()), (Some(false), Some(true)));
    }
    let silences: Vec<serde_json::Value> =
        reqwest::get(format!("{}/api/v2/silences", am.url)).await.unwrap().json().await.unwrap();
    assert_eq!(silences.len(), 1, "the refused attempts created nothing");
    assert!(app.audit_actions().await.contains(&"alert.silence".to_owned()));

    // No such alert: 404, and still one silence.
    let res = app
        .post_form(
            "/api/silence_alert",
            &[("alert_id", "999"), ("hours", "1"), ("comment", "x")],
            Some(&cookie),
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn silencing_without_an_alertmanager_is_a_clear_conflict() {
    let app = TestApp::new().await;
    app.deliver(FIRING).await;
    app.add_user("olga", "operator-password-1", app::model::Role::Operator).await;
    let cookie = app.login("olga", "operator-password-1").await;
    let res = app
        .post_form(
            "/api/silence_alert",
            &[("alert_id", "1"), ("hours", "1"), ("comment", "x")],
            Some(&cookie),
        )
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert!(res.body.contains("no [alertmanager] url"), "{}", res.body);
}
