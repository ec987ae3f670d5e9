//! `/metrics` stays parseable whatever the alerts' labels say: a target with a quote, a
//! backslash and a newline (an alert's label, untrusted) reaches the breaker gauge escaped, and
//! a real Prometheus scrapes it (prometheus-client writes label values unescaped; one quote used
//! to fail every scrape).
use crate::common::prometheus::Prometheus;
use crate::common::TestApp;

const FIRING: &str = include_str!("../fixtures/alertmanager/alertmanager-webhook-firing.json");
const HOSTILE: &str = "web\"1\\x\ny";

#[tokio::test]
async fn a_hostile_target_is_escaped_and_prometheus_scrapes_every_series() {
    let app = TestApp::with(|config, dir| {
        crate::common::one_rule(
            config,
            dir,
            serde_json::json!({
                "name": "nginx-down", "match": { "alertname": "NginxDown" }, "playbook": "heal-nginx.yml",
                "target_label": "host", "max_attempts": 1,
            }),
        );
    })
    .await;
    let mut v: serde_json::Value = serde_json::from_str(FIRING).unwrap();
    v["alerts"][0]["labels"]["host"] = HOSTILE.into();
    app.deliver(&v.to_string()).await;
    app.engine.step().await.unwrap();
    let body = app.get("/metrics", None).await.body;
    let line = "selfheal_breaker_open{rule=\"nginx-down\",target=\"web\\\"1\\\\x\\ny\"} 1";
    assert!(body.lines().any(|l| l == line), "{line} in\n{body}");

    let addr = app.serve().await;
    let dir = tempfile::tempdir().unwrap();
    let prometheus = Prometheus::start(
        dir.path(),
        &format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: selfheal\n    static_configs:\n      - targets: ['{addr}']\n"
        ),
    )
    .await;
    let series = prometheus.first_series("selfheal_breaker_open").await;
    assert_eq!(series["metric"]["target"], HOSTILE, "the label arrives as the alert had it");
}
