//! Decisions over the real router and database: every new episode is decided in the commit
//! that stores it; one run per episode, retries and HA duplicates never run twice, resolved
//! never runs, a flapping target opens the breaker, and every outcome is stored with its reason.
use crate::common;

use axum::http::StatusCode;

use common::TestApp;

const FIRING: &str = include_str!("../fixtures/alertmanager/alertmanager-webhook-firing.json");
const RESOLVED: &str = include_str!("../fixtures/alertmanager/alertmanager-webhook-resolved.json");

async fn app(cooldown: &str) -> TestApp {
    let cooldown = cooldown.to_owned();
    TestApp::with(move |config, dir| {
        let ansible = dir.join("ansible");
        std::fs::create_dir_all(&ansible).unwrap();
        std::fs::write(ansible.join("heal-nginx.yml"), "- hosts: all\n  tasks: []\n").unwrap();
        config.ansible.dir = ansible;
        config.rules = vec![serde_json::from_value(serde_json::json!({
            "name": "nginx-down",
            "match": { "alertname": "NginxDown" },
            "playbook": "heal-nginx.yml",
            "vars_from_labels": ["instance", "service"],
            "cooldown": cooldown,
            "max_attempts": 3,
            "window": "30m",
        }))
        .unwrap()];
    })
    .await
}

fn episode(starts_at: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(FIRING).unwrap();
    v["alerts"][0]["startsAt"] = starts_at.into();
    v.to_string()
}

async fn reasons(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar("SELECT reason FROM decisions ORDER BY id").fetch_all(&app.pool).await.unwrap()
}

async fn undecided(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM alerts WHERE decided_at IS NULL")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn runs(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM heal_runs").fetch_one(&app.pool).await.unwrap()
}

/// Marks every unfinished run failed, as a worker would after a failed attempt.
async fn finish_runs(app: &TestApp) {
    sqlx::query("UPDATE heal_runs SET status = 'failed', finished_at = created_at WHERE status IN ('queued', 'running')")
        .execute(&app.pool)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_firing_alert_queues_one_run_with_its_labels_as_data() {
    let app = app("2m").await;
    app.deliver(FIRING).await;
    assert_eq!(reasons(&app).await, ["enqueued"], "decided in the commit that stored it");
    let (status, rule, playbook, target, vars, run_alert, decision_run): (
        String,
        String,
        String,
        String,
        String,
        i64,
        i64,
    ) = sqlx::query_as(
        "SELECT r.status, r.rule, r.playbook, r.target, r.extra_vars, r.alert_id, d.run_id \
             FROM heal_runs r JOIN decisions d ON d.run_id = r.id",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        (status.as_str(), rule.as_str(), playbook.as_str()),
        ("queued", "nginx-down", "heal-nginx.yml")
    );
    assert_eq!(target, "127.0.0.1:9113");
    assert_eq!(vars, r#"{"instance":"127.0.0.1:9113","service":"nginx"}"#);
    assert!(run_alert > 0 && decision_run > 0);
    app.deliver(FIRING).await;
    assert_eq!(reasons(&app).await, ["enqueued"], "decided once");
}

#[tokio::test]
async fn a_retry_storm_and_an_ha_peer_never_make_a_second_run() {
    let app = app("0s").await;
    for _ in 0..20 {
        app.deliver(FIRING).await;
    }
    let mut peer: serde_json::Value = serde_json::from_str(FIRING).unwrap();
    peer["externalURL"] = "http://second-alertmanager:9093".into();
    app.deliver(&peer.to_string()).await;
    assert_eq!(runs(&app).await, 1);
    assert_eq!(reasons(&app).await, ["enqueued"], "one episode, one decision");
}

#[tokio::test]
async fn resolved_alerts_and_unmatched_alerts_never_run_and_say_why() {
    let app = app("2m").await;
    app.deliver(RESOLVED).await;
    let mut other: serde_json::Value = serde_json::from_str(FIRING).unwrap();
    other["alerts"][0]["labels"]["alertname"] = "DiskFull".into();
    other["alerts"][0]["fingerprint"] = "0123456789abcdef".into();
    app.deliver(&other.to_string()).await;
    assert_eq!(reasons(&app).await, ["resolved", "no_rule"]);
    assert_eq!(runs(&app).await, 0);
}

#[tokio::test]
async fn a_storm_over_four_targets_makes_one_run_each_and_stores_every_decision() {
    let app = app("0s").await;
    let mut v: serde_json::Value = serde_json::from_str(FIRING).unwrap();
    let one = v["alerts"][0].clone();
    v["alerts"] = (0..40)
        .map(|i| {
            let mut a = one.clone();
            a["labels"]["instance"] = format!("web{}:9113", i % 4).into();
            a["fingerprint"] = format!("{i:016x}").into();
            a
        })
        .collect();
    app.deliver(&v.to_string()).await;
    assert_eq!(reasons(&app).await.len(), 40);
    let by_reason: Vec<(String, i64)> =
        sqlx::query_as("SELECT reason, count(*) FROM decisions GROUP BY reason ORDER BY reason")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(by_reason, [("enqueued".to_owned(), 4), ("run_in_progress".to_owned(), 36)]);
    let targets: Vec<String> = sqlx::query_scalar(
        "SELECT r.target FROM decisions d JOIN heal_runs r ON r.id = d.run_id AND r.alert_id = d.alert_id \
         ORDER BY r.target",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(targets, ["web0:9113", "web1:9113", "web2:9113", "web3:9113"]);
    let undecided: i64 = sqlx::query_scalar("SELECT count(*) FROM alerts WHERE decided_at IS NULL")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(undecided, 0);
}

#[tokio::test]
async fn a_second_episode_waits_while_a_run_is_in_flight_then_respects_the_cooldown() {
    let app = app("1h").await;
    app.deliver(&episode("2026-11-22T01:00:00.000Z")).await;
    app.deliver(&episode("2026-11-22T01:05:00.000Z")).await;
    finish_runs(&app).await;
    app.deliver(&episode("2026-11-22T01:10:00.000Z")).await;
    assert_eq!(reasons(&app).await, ["enqueued", "run_in_progress", "cooldown"]);
    let detail: String = sqlx::query_scalar("SELECT detail FROM decisions WHERE reason = 'cooldown'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(detail.contains("cooldown 1h"), "{detail}");
    assert_eq!(runs(&app).await, 1);
}

#[tokio::test]
async fn a_flapping_target_opens_the_breaker_and_a_reset_closes_it() {
    let app = app("0s").await;
    for minute in 0..5 {
        app.deliver(&episode(&format!("2026-11-22T01:0{minute}:00.000Z"))).await;
        finish_runs(&app).await;
    }
    assert_eq!(reasons(&app).await, ["enqueued", "enqueued", "enqueued", "breaker_open", "breaker_open"]);
    assert_eq!(runs(&app).await, 3);
    app.engine.step().await.unwrap();
    let open = app.get("/metrics", None).await.body;
    assert!(
        open.contains("selfheal_breaker_open{rule=\"nginx-down\",target=\"127.0.0.1:9113\"} 1"),
        "{open}"
    );
    let detail: String =
        sqlx::query_scalar("SELECT detail FROM decisions WHERE reason = 'breaker_open' LIMIT 1")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(detail.contains("3 attempts") && detail.contains("max 3"), "{detail}");
    let audited: Vec<(String, String, String)> =
        sqlx::query_as("SELECT actor, action, target FROM audit_events WHERE action = 'breaker.opened'")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        audited,
        [("engine".into(), "breaker.opened".into(), "nginx-down on 127.0.0.1:9113".into())],
        "the engine's own act, audited once (not at each re-fire while open)"
    );

    let now = app::ssr::alert::now_utc();
    sqlx::query("INSERT INTO breaker_resets (rule, target, reset_at, reset_by) VALUES ('nginx-down', '127.0.0.1:9113', ?, 'ops')")
        .bind(&now)
        .execute(&app.pool)
        .await
        .unwrap();
    app.deliver(&episode("2026-11-22T01:09:00.000Z")).await;
    assert_eq!(reasons(&app).await.last().map(String::as_str), Some("enqueued"), "reset closes the breaker");

    app.engine.step().await.unwrap();
    let metrics = app.get("/metrics", None).await.body;
    assert!(metrics.contains("selfheal_decisions_total{reason=\"breaker_open\"} 2"), "{metrics}");
    assert!(
        metrics.contains("selfheal_breaker_open{rule=\"nginx-down\",target=\"127.0.0.1:9113\"} 0"),
        "closed after the reset: {metrics}"
    );
    assert!(metrics.contains("selfheal_run_queue_depth 1"), "{metrics}");
}

#[tokio::test]
async fn runs_and_decisions_are_visible_to_a_viewer() {
    use app::model::Role;
    let app = app("2m").await;
    app.deliver(FIRING).await;
    let run_id: i64 = sqlx::query_scalar("SELECT id FROM heal_runs").fetch_one(&app.pool).await.unwrap();
    sqlx::query("INSERT INTO run_output (run_id, seq, stream, at, line) VALUES (?, 1, 'stdout', 'now', 'PLAY [all] ***')")
        .bind(run_id)
        .execute(&app.pool)
        .await
        .unwrap();
    app.add_user("vera", "viewer-password-1", Role::Viewer).await;
    let cookie = app.login("vera", "viewer-password-1").await;

    let runs = app.post_form("/api/runs", &[], Some(&cookie)).await;
    assert_eq!(runs.status, StatusCode::OK, "{}", runs.body);
    assert_eq!(runs.json()["rows"][0]["status"], "queued");
    assert_eq!(runs.json()["rows"][0]["requested_by"], "engine");
    let output =
        app.post_form("/api/run_output", &[("id", &run_id.to_string()), ("after", "0")], Some(&cookie)).await;
    assert_eq!(output.json()[0]["line"], "PLAY [all] ***");
    let missing = app.post_form("/api/run", &[("id", "999")], Some(&cookie)).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(app.post_form("/api/runs", &[], None).await.status, StatusCode::UNAUTHORIZED);

    let page = app.get(&format!("/runs/{run_id}"), Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("PLAY [all] ***") && page.body.contains("heal-nginx.yml"), "{}", page.body);
    let alerts = app.get("/alerts", Some(&cookie)).await;
    assert!(alerts.body.contains("heal queued"), "the decision shows in the alert list, in words");

    // Alerts and runs link both ways, and the list says how the heal ended.
    let alert_id: i64 = sqlx::query_scalar("SELECT id FROM alerts").fetch_one(&app.pool).await.unwrap();
    assert!(alerts.body.contains(&format!("href=\"/runs/{run_id}\"")), "the alert links its run");
    assert!(page.body.contains(&format!("href=\"/alerts/{alert_id}\"")), "the run links its alert");
    let list = app.get("/runs", Some(&cookie)).await;
    assert!(list.body.contains(&format!("href=\"/alerts/{alert_id}\"")), "the runs list links the alert");
    sqlx::query(
        "UPDATE heal_runs SET status = 'succeeded', verification = 'verified', time_to_heal_ms = 5400",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let alerts = app.get("/alerts", Some(&cookie)).await;
    // (Text nodes of one element are separated by hydration markers in the server's HTML.)
    let text = alerts.body.replace("<!>", "");
    assert!(text.contains("✓ healed in 5.4 s (<a href=\"/runs/"), "{text}");
}

#[tokio::test]
async fn refused_label_values_are_audited_and_never_run() {
    let app = app("2m").await;
    let mut v: serde_json::Value = serde_json::from_str(FIRING).unwrap();
    v["alerts"][0]["labels"]["service"] = "nginx\u{0}; rm -rf /".into();
    app.deliver(&v.to_string()).await;
    assert_eq!(reasons(&app).await, ["invalid_labels"], "decided in the commit that stored it");
    assert_eq!(undecided(&app).await, 0, "nothing left undecided");
    assert_eq!(runs(&app).await, 0);
    let (actor, detail): (String, String) =
        sqlx::query_as("SELECT actor, detail FROM audit_events WHERE action = 'engine.labels_rejected'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(actor, "system");
    assert!(detail.contains("service"), "{detail}");
}

#[tokio::test]
async fn refused_alerts_share_an_audit_entry_per_refusal_that_names_every_one() {
    let app = app("0s").await;
    let mut v: serde_json::Value = serde_json::from_str(FIRING).unwrap();
    let one = v["alerts"][0].clone();
    // Six alerts: three with a service label the playbook must never see (one refusal, three
    // alerts), one without its target label (another refusal), two clean ones.
    v["alerts"] = (0..6)
        .map(|i| {
            let mut a = one.clone();
            a["labels"]["instance"] = format!("web{i}:9113").into();
            if i % 2 == 0 {
                a["labels"]["service"] = format!("nginx{i}\u{0}").into();
            }
            if i == 5 {
                a["labels"]["instance"] = "".into();
            }
            a["fingerprint"] = format!("{i:016x}").into();
            a
        })
        .collect();
    app.deliver(&v.to_string()).await;
    let refused: Vec<(i64, String)> = sqlx::query_as(
        "SELECT alert_id, detail FROM decisions WHERE reason = 'invalid_labels' ORDER BY alert_id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(refused.len(), 4);
    let audited: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT actor, target, detail FROM audit_events WHERE action = 'engine.labels_rejected' ORDER BY id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let ids: Vec<String> = refused.iter().map(|(id, _)| id.to_string()).collect();
    assert_eq!(audited.len(), 2, "one entry per distinct refusal: {audited:?}");
    assert_eq!(audited[0].1, format!("alerts {}, {}, {}", ids[0], ids[1], ids[2]));
    assert_eq!(audited[0].2, refused[0].1);
    assert!(audited[0].2.contains("service"), "{}", audited[0].2);
    assert_eq!(audited[1].1, format!("alert {}", ids[3]));
    assert_eq!(audited[1].2, "label `instance` (the target) is missing");
    assert!(audited.iter().all(|(actor, ..)| actor == "system"));
    let undecided: i64 = sqlx::query_scalar("SELECT count(*) FROM alerts WHERE decided_at IS NULL")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(undecided, 0);
    assert_eq!(runs(&app).await, 2, "the two clean alerts still run");
}

#[tokio::test]
async fn a_storm_on_a_busy_target_is_decided_at_intake_with_no_work_left_to_the_engine() {
    let app = app("2m").await;
    app.deliver(FIRING).await;
    assert_eq!(runs(&app).await, 1, "queued in the commit that stored it");
    // Fifty new episodes on the same target while its run is queued, in one notification.
    let mut v: serde_json::Value = serde_json::from_str(FIRING).unwrap();
    let one = v["alerts"][0].clone();
    v["alerts"] = (0..50)
        .map(|i| {
            let mut a = one.clone();
            a["fingerprint"] = format!("{:016x}", 0xf000 + i).into();
            a
        })
        .collect();
    app.deliver(&v.to_string()).await;
    let in_flight: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM decisions WHERE reason = 'run_in_progress' AND detail LIKE '%in flight%'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(in_flight, 50, "decided in the commit that stored them");
    assert_eq!(undecided(&app).await, 0);
    let metrics = app.get("/metrics", None).await.body;
    assert!(metrics.contains("selfheal_decisions_total{reason=\"run_in_progress\"} 50"), "{metrics}");

    // The run ends; the next episode meets the cooldown, also at intake.
    finish_runs(&app).await;
    app.deliver(&episode("2026-11-22T02:00:00.000Z")).await;
    assert_eq!(reasons(&app).await.last().map(String::as_str), Some("cooldown"));
    assert_eq!(undecided(&app).await, 0);
    assert_eq!(runs(&app).await, 1);
}

#[tokio::test]
async fn episodes_an_earlier_version_left_undecided_are_decided_when_the_writer_starts() {
    let app = app("2m").await;
    // An earlier version stored episodes undecided and left them to a separate engine.
    sqlx::query(
        "INSERT INTO alerts (fingerprint, starts_at, status, alertname, labels, annotations, source, \
           first_seen_at, last_seen_at) \
         VALUES ('00000000000000aa', '2026-11-22T01:00:00.000Z', 'firing', 'NginxDown', \
                 '{\"alertname\":\"NginxDown\",\"instance\":\"web9:9113\"}', '{}', 'webhook', 'n', 'n')",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    assert_eq!(undecided(&app).await, 1);
    // The next start: its writer decides them before it takes deliveries.
    let restarted = server::startup::services(&app.db(), &app.config, Default::default()).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while undecided(&app).await > 0 {
        assert!(std::time::Instant::now() < deadline, "never decided");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(reasons(&app).await, ["enqueued"]);
    assert_eq!(runs(&app).await, 1);
    drop(restarted);
}
