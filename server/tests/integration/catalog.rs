//! The playbook catalog through the real router: listed for viewers, run by operators on a named
//! target with the same checks as an alert's labels, one run per target, audited.
use crate::common;

use axum::http::StatusCode;

use app::model::Role;
use common::TestApp;

async fn app() -> TestApp {
    let app = TestApp::with(|config, dir| {
        common::with_playbook(config, dir, "heal-nginx.yml");
        config.rules = vec![serde_json::from_value(serde_json::json!({
            "name": "nginx-down", "match": { "alertname": "NginxDown" }, "playbook": "heal-nginx.yml",
            "target_label": "instance", "limit_from": "instance", "mode": "approval",
        }))
        .unwrap()];
    })
    .await;
    app.add_user("vera", "viewer-password-1", Role::Viewer).await;
    app.add_user("olga", "operator-password-1", Role::Operator).await;
    app.add_user("ada", "admin-password-1", Role::Admin).await;
    // web1:9113 was seen (a resolved alert: no run of its own), so an operator may pick it.
    let seen = common::notification(&[(
        "fpweb1",
        "NginxDown",
        "critical",
        "web1:9113",
        "2026-11-22T01:00:00Z",
        &[],
        &[],
    )])
    .replace("\"firing\"", "\"resolved\"");
    app.deliver(&seen).await;
    app
}

async fn runs(app: &TestApp) -> Vec<(Option<i64>, String, Option<String>, String, String, String)> {
    sqlx::query_as(
        "SELECT alert_id, target, limit_host, mode, status, requested_by FROM heal_runs ORDER BY id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn viewers_see_the_catalog_and_cannot_run_from_it() {
    let app = app().await;
    let viewer = app.login("vera", "viewer-password-1").await;
    let res = app.post_form("/api/catalog", &[], Some(&viewer)).await;
    assert_eq!(res.status, StatusCode::OK);
    let list = res.json();
    assert_eq!(list[0]["rule"], "nginx-down");
    assert_eq!(list[0]["playbook"], "heal-nginx.yml");
    // Its --limit comes from the target itself: no second field to fill.
    assert_eq!(list[0]["limit_label"], serde_json::Value::Null);
    let form = [("rule", "nginx-down"), ("target", "web1:9113")];
    assert_eq!(app.post_form("/api/run_playbook", &form, Some(&viewer)).await.status, StatusCode::FORBIDDEN);
    assert!(runs(&app).await.is_empty());
}

#[tokio::test]
async fn an_operator_runs_a_playbook_on_a_target_once_and_it_is_audited() {
    let app = app().await;
    let operator = app.login("olga", "operator-password-1").await;
    let form = [("rule", "nginx-down"), ("target", "web1:9113"), ("dry_run", "true")];
    let res = app.post_form("/api/run_playbook", &form, Some(&operator)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    // No alert; --limit is the target's host; a person's run is not parked for approval.
    let queued = (
        None,
        "web1:9113".to_owned(),
        Some("web1".to_owned()),
        "dry-run".to_owned(),
        "queued".to_owned(),
        "olga".to_owned(),
    );
    assert_eq!(runs(&app).await, vec![queued]);
    let detail: String = sqlx::query_scalar("SELECT detail FROM audit_events WHERE action = 'run.heal_now'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(
        detail.contains("web1:9113") && detail.contains("dry run") && detail.contains("catalog"),
        "{detail}"
    );

    // The same target again while that run is queued: one run per target.
    let res = app.post_form("/api/run_playbook", &form, Some(&operator)).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
    assert_eq!(runs(&app).await.len(), 1);
}

#[tokio::test]
async fn hostile_or_unknown_input_is_refused_and_runs_nothing() {
    let app = app().await;
    let operator = app.login("olga", "operator-password-1").await;
    let cases: &[(&[(&str, &str)], StatusCode)] = &[
        (&[("rule", "no-such-rule"), ("target", "web1")], StatusCode::NOT_FOUND),
        (
            &[("rule", "nginx-down"), ("target", "web1"), ("limit", "web1 --extra-vars=x")],
            StatusCode::BAD_REQUEST,
        ),
        (&[("rule", "nginx-down"), ("target", "-e@/etc/shadow")], StatusCode::BAD_REQUEST),
        (&[("rule", "nginx-down"), ("target", "web1,web2")], StatusCode::BAD_REQUEST),
        (&[("rule", "nginx-down"), ("target", "  ")], StatusCode::BAD_REQUEST),
    ];
    // An admin may name any target: the same checks still refuse these.
    let admin = app.login("ada", "admin-password-1").await;
    for (form, want) in cases {
        for who in [&operator, &admin] {
            let res = app.post_form("/api/run_playbook", form, Some(who)).await;
            assert_eq!(res.status, *want, "{form:?}: {}", res.body);
        }
    }
    assert!(runs(&app).await.is_empty());
}

#[tokio::test]
async fn operators_pick_a_target_selfheal_has_seen_and_only_an_admin_names_another() {
    let app = app().await;
    let operator = app.login("olga", "operator-password-1").await;
    let list = app.post_form("/api/catalog", &[], Some(&operator)).await.json();
    let targets: Vec<&str> =
        list[0]["targets"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    assert_eq!(
        targets,
        ["localhost", "web1", "web1:9113", "web2"],
        "seen in alerts, and the inventory's hosts"
    );
    assert_eq!(list[0]["any_target"], false);

    let typo = [("rule", "nginx-down"), ("target", "web2:9113")];
    let res = app.post_form("/api/run_playbook", &typo, Some(&operator)).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    assert!(res.body.contains("pick a target from the list"), "{}", res.body);
    assert!(runs(&app).await.is_empty(), "a typo queues nothing");

    let admin = app.login("ada", "admin-password-1").await;
    assert_eq!(app.post_form("/api/catalog", &[], Some(&admin)).await.json()[0]["any_target"], true);
    let res = app.post_form("/api/run_playbook", &typo, Some(&admin)).await;
    assert_eq!(res.status, StatusCode::OK, "an admin may name another target: {}", res.body);
    let page = app.get("/playbooks", Some(&operator)).await;
    assert!(page.body.contains("data-testid=\"run-target\""), "operators get a list to pick from");
}

#[tokio::test]
async fn while_its_run_is_in_flight_an_alert_offers_to_watch_it_not_to_heal_again() {
    let app = TestApp::with(|config, dir| {
        common::one_rule(
            config,
            dir,
            serde_json::json!({ "name": "nginx-down", "match": { "alertname": "NginxDown" }, "playbook": "heal-nginx.yml", "cooldown": "0s" }),
        );
    })
    .await;
    app.add_user("olga", "operator-password-1", Role::Operator).await;
    let operator = app.login("olga", "operator-password-1").await;
    app.deliver(include_str!("../fixtures/alertmanager/alertmanager-webhook-firing.json")).await;
    for page in ["/alerts/1", "/alerts"] {
        let html = app.get(page, Some(&operator)).await.body;
        assert!(
            html.contains("data-testid=\"watch-run\"") && html.contains("Watch run #1"),
            "{page}: {html}"
        );
        assert!(!html.contains("data-testid=\"heal-now\""), "{page}: no second heal offered");
    }
    app.worker.run_once().await.unwrap().expect("the run");
    let html = app.get("/alerts/1", Some(&operator)).await.body;
    assert!(html.contains("data-testid=\"heal-now\""), "once it ended, heal now is back");

    // A later episode's run links the one before it on that target, and its rule.
    let later = include_str!("../fixtures/alertmanager/alertmanager-webhook-firing.json")
        .replace("2026-11-22T01:25:10.341Z", "2026-11-22T02:25:10.341Z");
    app.deliver(&later).await;
    let second: i64 = sqlx::query_scalar("SELECT max(id) FROM heal_runs").fetch_one(&app.pool).await.unwrap();
    assert_eq!(second, 2);
    let html = app.get("/runs/2", Some(&operator)).await.body;
    assert!(html.contains("data-testid=\"previous-run\"") && html.contains("href=\"/runs/1\""), "{html}");
    assert!(html.contains("href=\"/rules#rule-nginx-down\""), "the run links its rule");
    let first = app.get("/runs/1", Some(&operator)).await.body;
    assert!(!first.contains("data-testid=\"previous-run\""), "the first run has none");
}
