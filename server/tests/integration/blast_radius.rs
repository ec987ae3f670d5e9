//! The blast radius through the real router, its known targets counted by a real Prometheus:
//! a 20-target storm under a 25 % limit heals 5 and parks 15 for approval (reason
//! `blast_radius`), trips once (one notification, a banner, a metric), stays tripped for the
//! next notification, and an operator (not a viewer) resets it, audited. When Prometheus never
//! answered, the absolute cap alone holds.
use std::time::{Duration, Instant};

use axum::http::StatusCode;

use app::model::Role;

use crate::common::prometheus::Prometheus;
use crate::common::TestApp;

const FIRING: &str = include_str!("../fixtures/alertmanager/alertmanager-webhook-firing.json");

/// One notification: NginxDown on each of `hosts` in job `api`, starting at `minute`.
fn storm(hosts: std::ops::Range<usize>, minute: u32) -> String {
    let mut v: serde_json::Value = serde_json::from_str(FIRING).unwrap();
    let template = v["alerts"][0].clone();
    let alerts: Vec<serde_json::Value> = hosts
        .map(|i| {
            let mut a = template.clone();
            a["labels"]["host"] = format!("web{i}").into();
            a["labels"]["job"] = "api".into();
            a["startsAt"] = format!("2026-11-22T01:{minute:02}:00.000Z").into();
            a["fingerprint"] = format!("{:016x}", i).into();
            a
        })
        .collect();
    v["alerts"] = alerts.into();
    v.to_string()
}

async fn app_with(prometheus: &str, notify: bool) -> TestApp {
    let url = prometheus.to_owned();
    TestApp::with(move |config, dir| {
        let mut rule = serde_json::json!({
            "name": "nginx-down", "match": { "alertname": "NginxDown" }, "playbook": "heal-nginx.yml",
            "target_label": "host", "cooldown": "0s",
            "blast_radius": {
                "max_heals": 8, "max_percent": 25, "window": "10m", "scope": ["job"],
                "known_targets": "count by (job) (api_target)",
            },
        });
        if notify {
            rule["notify"] = serde_json::json!([format!("file:{}", dir.join("events.jsonl").display())]);
        }
        crate::common::one_rule(config, dir, rule);
        config.prometheus.url = url;
    })
    .await
}

async fn reasons(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar("SELECT reason FROM decisions ORDER BY id").fetch_all(&app.pool).await.unwrap()
}

fn count(reasons: &[String], reason: &str) -> usize {
    reasons.iter().filter(|r| *r == reason).count()
}

#[tokio::test]
async fn a_twenty_target_storm_heals_five_parks_fifteen_and_an_operator_resets_it() {
    // Prometheus knows 20 targets of job api (a recording rule stands for `up`).
    let dir = tempfile::tempdir().unwrap();
    let mut rules = String::from("groups:\n  - name: targets\n    interval: 1s\n    rules:\n");
    for i in 0..20 {
        rules.push_str(&format!(
            "      - record: api_target\n        expr: vector(1)\n        labels:\n          job: api\n          host: web{i}\n"
        ));
    }
    std::fs::write(dir.path().join("rules.yml"), rules).unwrap();
    let prometheus =
        Prometheus::start(dir.path(), "global:\n  evaluation_interval: 1s\nrule_files:\n  - rules.yml\n")
            .await;
    let app = app_with(&prometheus.url, true).await;
    let counter = app.known_counter.clone();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        counter.recount().await;
        if app.known_targets.current().get(&("nginx-down".to_owned(), "job=\"api\"".to_owned())) == Some(&20)
        {
            break;
        }
        assert!(Instant::now() < deadline, "Prometheus never counted 20 targets");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    app.deliver(&storm(0..20, 0)).await;
    let got = reasons(&app).await;
    assert_eq!((count(&got, "enqueued"), count(&got, "blast_radius")), (5, 15), "{got:?}");
    let parked: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM heal_runs WHERE status = 'awaiting_approval' AND mode = 'approval'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(parked, 15, "parked for approval, not dropped");
    let detail: String =
        sqlx::query_scalar("SELECT detail FROM decisions WHERE reason = 'blast_radius' ORDER BY id LIMIT 1")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(detail.contains("would pass max_percent 25 of its 20 known targets"), "{detail}");

    // The next notification finds the trip in force.
    app.deliver(&storm(20..21, 1)).await;
    assert_eq!(reasons(&app).await.last().map(String::as_str), Some("blast_radius"));
    let trips: i64 =
        sqlx::query_scalar("SELECT count(*) FROM blast_trips").fetch_one(&app.pool).await.unwrap();
    assert_eq!(trips, 1, "tripped once");
    let audited: Vec<(String, String)> =
        sqlx::query_as("SELECT actor, target FROM audit_events WHERE action = 'blast_radius.tripped'")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(audited, [("engine".to_owned(), "nginx-down job=\"api\"".to_owned())], "audited once");
    let events =
        std::fs::read_to_string(app.config.database.data_dir().join("events.jsonl")).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut events = events;
    while !events.contains("blast_radius") && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        events =
            std::fs::read_to_string(app.config.database.data_dir().join("events.jsonl")).unwrap_or_default();
    }
    assert_eq!(events.matches("\"blast_radius\"").count(), 1, "one notification: {events}");

    app.engine.step().await.unwrap();
    let metric = "selfheal_blast_radius_tripped{rule=\"nginx-down\",scope=\"job=\\\"api\\\"\"} 1";
    assert!(app.get("/metrics", None).await.body.lines().any(|l| l == metric), "{metric}");

    app.add_user("vera", "viewer-password-1", Role::Viewer).await;
    app.add_user("olga", "operator-password-1", Role::Operator).await;
    let viewer = app.login("vera", "viewer-password-1").await;
    let operator = app.login("olga", "operator-password-1").await;
    let page = app.get("/alerts", Some(&viewer)).await.body;
    assert!(
        page.contains("data-testid=\"blast-banner\"") && page.contains("Blast radius of rule nginx-down"),
        "banner"
    );
    assert!(!page.contains("blast-reset"), "a viewer sees the trip, not the reset");
    let page = app.get("/alerts", Some(&operator)).await.body;
    assert!(page.contains("blast-reset"), "an operator may reset");

    let scope = "job=\"api\"";
    let refused =
        app.post_form("/api/blast_reset", &[("rule", "nginx-down"), ("scope", scope)], Some(&viewer)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let reset =
        app.post_form("/api/blast_reset", &[("rule", "nginx-down"), ("scope", scope)], Some(&operator)).await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.body);
    let again =
        app.post_form("/api/blast_reset", &[("rule", "nginx-down"), ("scope", scope)], Some(&operator)).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "nothing tripped any more");
    let audited: Vec<(String, String)> =
        sqlx::query_as("SELECT actor, target FROM audit_events WHERE action = 'blast_radius.reset'")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(audited, [("olga".to_owned(), "nginx-down job=\"api\"".to_owned())]);
    app.engine.step().await.unwrap();
    let metric = metric.replace("} 1", "} 0");
    assert!(app.get("/metrics", None).await.body.lines().any(|l| l == metric), "back to 0: {metric}");

    // Reset: earlier heals stop counting, so the next heal runs.
    app.deliver(&storm(21..22, 2)).await;
    assert_eq!(reasons(&app).await.last().map(String::as_str), Some("enqueued"));
}

#[tokio::test]
async fn when_prometheus_never_counted_the_cap_alone_holds() {
    let app = app_with("http://127.0.0.1:9", false).await;
    assert_eq!(app.known_counter.recount().await, 0, "Prometheus does not answer");
    app.deliver(&storm(0..20, 0)).await;
    let got = reasons(&app).await;
    assert_eq!((count(&got, "enqueued"), count(&got, "blast_radius")), (8, 12), "max_heals 8: {got:?}");
}
