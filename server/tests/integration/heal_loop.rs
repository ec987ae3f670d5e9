//! The whole loop with real parts on 127.0.0.1: Prometheus scrapes a demo service and fires
//! an alert → Alertmanager → selfheal's webhook → decision → `ansible-playbook` fixes the
//! service → Prometheus confirms → the run is `verified`, once, and the alert resolves.
use crate::common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::alertmanager::{config_for_webhook, free_port, Alertmanager};
use common::prometheus::Prometheus;
use common::{TestApp, WEBHOOK_PASSWORD, WEBHOOK_USER};

/// The longest the loop may take end to end here (scrape and evaluation every second).
const HEAL_WITHIN: Duration = Duration::from_secs(90);

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_alert_is_healed_once_and_verified_by_prometheus() {
    let lab = tempfile::tempdir().unwrap();
    let site = lab.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("metrics.txt"), "demo_up 0\n").unwrap();
    let web_port = free_port();
    let _web = Killed(
        Command::new("python3")
            .args(["-m", "http.server", "--bind", "127.0.0.1", &web_port.to_string(), "--directory"])
            .arg(&site)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs"),
    );

    let fix = format!(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.copy:\n        content: \"demo_up 1\\n\"\n        dest: {}\n",
        site.join("metrics.txt").display()
    );
    let app = TestApp::with(|config, dir| {
        let ansible = dir.join("ansible");
        std::fs::create_dir_all(&ansible).unwrap();
        std::fs::write(ansible.join("inventory.ini"), "localhost ansible_connection=local\n").unwrap();
        std::fs::write(ansible.join("fix-demo.yml"), &fix).unwrap();
        config.ansible.inventory = ansible.join("inventory.ini");
        config.ansible.dir = ansible;
        config.rules = vec![serde_json::from_value(serde_json::json!({
            "name": "demo-down", "match": { "alertname": "DemoDown" }, "playbook": "fix-demo.yml",
            "limit_from": "host", "vars_from_labels": ["instance"], "cooldown": "0s",
            "verify": "demo_up == 1", "verify_within": "30s", "timeout": "2m",
        }))
        .unwrap()];
    })
    .await;
    let addr = app.serve().await;
    let am = Alertmanager::start(&config_for_webhook(
        &format!("http://{addr}/webhook"),
        WEBHOOK_USER,
        WEBHOOK_PASSWORD,
    ))
    .await;

    std::fs::write(
        lab.path().join("rules.yml"),
        "groups:\n  - name: demo\n    rules:\n      - alert: DemoDown\n        expr: demo_up == 0\n        for: 0s\n",
    )
    .unwrap();
    let am_target = am.url.trim_start_matches("http://");
    let prom = Prometheus::start(
        lab.path(),
        &format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nalerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{am_target}']\n\
             rule_files: ['{}']\nscrape_configs:\n  - job_name: demo\n    metrics_path: /metrics.txt\n    static_configs:\n      - targets: ['127.0.0.1:{web_port}']\n        labels:\n          host: localhost\n",
            lab.path().join("rules.yml").display()
        ),
    )
    .await;

    // The engine, worker and verifier run as in production, woken by the inbox.
    let worker = app.worker.clone();
    let verifier = worker
        .verifier()
        .clone()
        .with_prometheus(Some(server::verify::Prometheus::new(&prom.url, &Default::default())));
    let worker = worker.with_verifier(verifier);
    let stop = app.stop.clone();
    let engine = tokio::spawn(app.engine.clone().run(stop.clone()));
    let verify = tokio::spawn(worker.verifier().clone().run());
    let work = tokio::spawn(worker.run());

    let started = Instant::now();
    let verified = loop {
        let row: Option<(String, Option<String>, Option<i64>)> =
            sqlx::query_as("SELECT status, verification, time_to_heal_ms FROM heal_runs ORDER BY id LIMIT 1")
                .fetch_optional(&app.pool)
                .await
                .unwrap();
        if let Some((status, Some(v), ttl)) = &row {
            if v != "pending" {
                break (status.clone(), v.clone(), *ttl);
            }
        }
        assert!(started.elapsed() < HEAL_WITHIN, "no verified run yet: {row:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!(
        "firing → verified heal in {:?} (time to heal from startsAt: {:?} ms)",
        started.elapsed(),
        verified.2
    );
    assert_eq!((verified.0.as_str(), verified.1.as_str()), ("succeeded", "verified"));
    let webhook_to_start_ms: f64 = sqlx::query_scalar(
        "SELECT (julianday(r.started_at) - julianday(a.first_seen_at)) * 86400000.0 \
         FROM heal_runs r JOIN alerts a ON a.id = r.alert_id",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    eprintln!("webhook stored → ansible-playbook started: {webhook_to_start_ms:.1} ms");
    assert!(webhook_to_start_ms >= 0.0);
    assert!(verified.2.is_some_and(|ms| ms > 0), "time to heal recorded");
    assert_eq!(std::fs::read_to_string(site.join("metrics.txt")).unwrap(), "demo_up 1\n");

    // The alert resolves through the same path, and nothing runs a second time.
    let deadline = Instant::now() + HEAL_WITHIN;
    loop {
        let status: Option<String> = sqlx::query_scalar(
            "SELECT status FROM alerts WHERE alertname = 'DemoDown' ORDER BY id DESC LIMIT 1",
        )
        .fetch_optional(&app.pool)
        .await
        .unwrap();
        if status.as_deref() == Some("resolved") {
            break;
        }
        assert!(Instant::now() < deadline, "the alert never resolved");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM heal_runs").fetch_one(&app.pool).await.unwrap();
    assert_eq!(runs, 1, "one heal for one outage");
    let metrics = app.get("/metrics", None).await.body;
    assert!(metrics.contains("selfheal_verifications_total{result=\"verified\"} 1"), "{metrics}");
    assert!(metrics.contains("selfheal_time_to_heal_seconds_count 1"), "{metrics}");

    stop.cancel();
    let _ = engine.await;
    let _ = work.await;
    verify.await.unwrap();
}
