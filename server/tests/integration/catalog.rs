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
    for (form, want) in cases {
        let res = app.post_form("/api/run_playbook", form, Some(&operator)).await;
        assert_eq!(res.status, *want, "{form:?}: {}", res.body);
    }
    assert!(runs(&app).await.is_empty());
}
