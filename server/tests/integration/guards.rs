//! Guards against a real Prometheus, through the real router: a rule's guard that returns a
//! sample lets the heal run; one that returns nothing skips with `guard_failed` and its name;
//! an alert's label cannot rewrite the guard's query; Prometheus not answering skips with
//! `guard_unknown` — nothing runs blind. Every one a stored decision, on the timeline, counted.
use std::time::{Duration, Instant};

use crate::common::prometheus::Prometheus;
use crate::common::TestApp;

const FIRING: &str = include_str!("../fixtures/alertmanager/alertmanager-webhook-firing.json");

/// The fixture, its alert on `host`, starting at `minute`, with its own fingerprint.
fn alert_on(host: &str, minute: u32) -> String {
    let mut v: serde_json::Value = serde_json::from_str(FIRING).unwrap();
    v["alerts"][0]["labels"]["host"] = host.into();
    v["alerts"][0]["startsAt"] = format!("2026-11-22T01:{minute:02}:00.000Z").into();
    v["alerts"][0]["fingerprint"] = format!("{:016x}", host.len() * 1000 + minute as usize).into();
    v.to_string()
}

async fn last_decision(app: &TestApp) -> (String, String) {
    sqlx::query_as("SELECT reason, detail FROM decisions ORDER BY id DESC LIMIT 1")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_guard_holds_fails_by_name_resists_its_labels_and_never_runs_blind() {
    // A recording rule stands for "the upstream of web1 is up"; web2's has no sample.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:\n  - name: deps\n    interval: 1s\n    rules:\n      - record: dependency_up\n        expr: vector(1)\n        labels:\n          host: web1\n",
    )
    .unwrap();
    let prometheus =
        Prometheus::start(dir.path(), "global:\n  evaluation_interval: 1s\nrule_files:\n  - rules.yml\n")
            .await;
    prometheus.first_series("dependency_up").await;

    let url = prometheus.url.clone();
    let app = TestApp::with(move |config, dir| {
        crate::common::one_rule(
            config,
            dir,
            serde_json::json!({
                "name": "nginx-down", "match": { "alertname": "NginxDown" }, "playbook": "heal-nginx.yml",
                "target_label": "host", "cooldown": "0s",
                "guard": [{ "name": "upstream up", "expr": "dependency_up{host=\"{{ $labels.host }}\"} == 1" }],
            }),
        );
        config.prometheus.url = url;
    })
    .await;

    app.deliver(&alert_on("web1", 0)).await;
    assert_eq!(last_decision(&app).await.0, "enqueued", "the guard holds for web1");

    app.deliver(&alert_on("web2", 1)).await;
    let (reason, detail) = last_decision(&app).await;
    assert_eq!(reason, "guard_failed");
    assert_eq!(detail, "guard_failed:upstream up — `dependency_up{host=\"web2\"} == 1` returned no sample");

    // Unescaped, this label would make the query `... or vector(1)` (always a sample).
    app.deliver(&alert_on("web1\"} or vector(1) #", 2)).await;
    let (reason, detail) = last_decision(&app).await;
    assert_eq!(reason, "guard_failed", "a label is data inside its string: {detail}");

    let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM heal_runs").fetch_one(&app.pool).await.unwrap();
    assert_eq!(runs, 1, "only web1's heal was queued");

    let viewer = {
        app.add_user("vera", "viewer-password-1", app::model::Role::Viewer).await;
        app.login("vera", "viewer-password-1").await
    };
    let web2: i64 = sqlx::query_scalar(
        "SELECT alert_id FROM decisions WHERE reason = 'guard_failed' ORDER BY id LIMIT 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let page = app.get(&format!("/alerts/{web2}"), Some(&viewer)).await.body;
    assert!(page.contains("guard_failed:upstream up"), "the timeline names the guard");
    let rules = app.get("/rules", Some(&viewer)).await.body;
    assert!(
        rules.contains("data-testid=\"rule-guards\"")
            && rules.contains("upstream up")
            && rules.contains("dependency_up{host="),
        "the rules page lists the guards"
    );

    // Prometheus gone (and the last answer older than its reuse): unknown, nothing runs.
    drop(prometheus);
    tokio::time::sleep(server::guards::GUARD_REUSE + Duration::from_millis(200)).await;
    let asked = Instant::now();
    app.deliver(&alert_on("web1", 3)).await;
    assert!(asked.elapsed() < server::guards::GUARD_TIMEOUT + Duration::from_secs(2), "bounded wait");
    let (reason, detail) = last_decision(&app).await;
    assert_eq!(reason, "guard_unknown");
    assert!(detail.starts_with("guard_unknown:upstream up — cannot reach Prometheus"), "{detail}");
    assert!(detail.ends_with("nothing runs blind"), "{detail}");

    app.engine.step().await.unwrap();
    let metrics = app.get("/metrics", None).await.body;
    for line in [
        "selfheal_decisions_total{reason=\"guard_failed\"} 2",
        "selfheal_decisions_total{reason=\"guard_unknown\"} 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }
}
