//! Operator actions through the real router: heal now, approve / reject, automatic cancel on
//! resolve, cancel, breaker reset — role-checked on the server, each audited.
use crate::common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};

use app::model::Role;
use common::TestApp;

const FIRING: &str = include_str!("../fixtures/alertmanager/alertmanager-webhook-firing.json");
const RESOLVED: &str = include_str!("../fixtures/alertmanager/alertmanager-webhook-resolved.json");

async fn app(mode: &str) -> TestApp {
    let mode = mode.to_owned();
    let app = TestApp::with(move |config, dir| {
        common::with_playbook(config, dir, "heal-nginx.yml");
        config.rules = vec![serde_json::from_value(serde_json::json!({
            "name": "nginx-down", "match": { "alertname": "NginxDown" }, "playbook": "heal-nginx.yml",
            "mode": mode, "cooldown": "0s",
        }))
        .unwrap()];
    })
    .await;
    app.add_user("vera", "viewer-password-1", Role::Viewer).await;
    app.add_user("olga", "operator-password-1", Role::Operator).await;
    app
}

async fn one(app: &TestApp, sql: &str) -> String {
    sqlx::query_scalar(sql).fetch_one(&app.pool).await.unwrap()
}

#[tokio::test]
async fn heal_now_is_for_operators_queues_as_them_and_is_audited() {
    let app = app("shadow").await;
    app.deliver(FIRING).await;
    let alert_id = one(&app, "SELECT CAST(id AS TEXT) FROM alerts").await;

    let viewer = app.login("vera", "viewer-password-1").await;
    let refused = app.post_form("/api/heal_now", &[("alert_id", &alert_id)], Some(&viewer)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.post_form("/api/heal_now", &[("alert_id", &alert_id)], None).await.status,
        StatusCode::UNAUTHORIZED
    );

    let operator = app.login("olga", "operator-password-1").await;
    let res = app
        .post_form("/api/heal_now", &[("alert_id", &alert_id), ("dry_run", "true")], Some(&operator))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let (by, mode, status): (String, String, String) =
        sqlx::query_as("SELECT requested_by, mode, status FROM heal_runs")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((by.as_str(), mode.as_str(), status.as_str()), ("olga", "dry-run", "queued"));
    let audit = one(
        &app,
        "SELECT actor || ' ' || action || ' ' || detail FROM audit_events WHERE action = 'run.heal_now'",
    )
    .await;
    assert!(audit.starts_with("olga run.heal_now heal-nginx.yml on 127.0.0.1:9113, dry run"), "{audit}");

    let again = app.post_form("/api/heal_now", &[("alert_id", &alert_id)], Some(&operator)).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "one run per target: {}", again.body);
    let run_id = one(&app, "SELECT CAST(id AS TEXT) FROM heal_runs").await;
    assert!(
        again.body.contains(&format!("already in flight (run #{run_id})")),
        "names the run: {}",
        again.body
    );
    // The alerts list offers no second heal while that run is in flight; it links the run.
    let page = app.get("/alerts", Some(&operator)).await.body;
    assert!(!page.contains("data-testid=\"heal-now\""), "no heal now while a run is in flight");
    assert!(page.contains(&format!("href=\"/runs/{run_id}\"")), "{page}");
    let missing = app.post_form("/api/heal_now", &[("alert_id", "999")], Some(&operator)).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn heal_now_from_a_plain_form_goes_to_the_live_run() {
    let app = app("shadow").await;
    app.deliver(FIRING).await;
    let alert_id = one(&app, "SELECT CAST(id AS TEXT) FROM alerts").await;
    let operator = app.login("olga", "operator-password-1").await;
    let req = Request::post("/api/heal_now")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "text/html")
        .header(header::REFERER, "http://127.0.0.1:5000/alerts")
        .header(header::COOKIE, &operator)
        .body(Body::from(format!("alert_id={alert_id}")))
        .unwrap();
    let res = app.send(req).await;
    let run_id = one(&app, "SELECT CAST(id AS TEXT) FROM heal_runs").await;
    assert_eq!(res.status, StatusCode::FOUND);
    assert_eq!(res.header(header::LOCATION), Some(format!("/runs/{run_id}").as_str()));
}

#[tokio::test]
async fn approval_rules_wait_for_an_operator_and_cancel_when_the_alert_resolves() {
    let app = app("approval").await;
    app.deliver(FIRING).await;
    assert_eq!(one(&app, "SELECT status FROM heal_runs").await, "awaiting_approval");
    let run_id = one(&app, "SELECT CAST(id AS TEXT) FROM heal_runs").await;

    let viewer = app.login("vera", "viewer-password-1").await;
    let refused =
        app.post_form("/api/approve_run", &[("run_id", &run_id), ("approve", "true")], Some(&viewer)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(one(&app, "SELECT status FROM heal_runs").await, "awaiting_approval");

    // The alert resolves before anyone approves: the engine's housekeeping (woken by the
    // resolution) cancels the approval.
    app.deliver(RESOLVED).await;
    app.engine.step().await.unwrap();
    let (status, error): (String, String) =
        sqlx::query_as("SELECT status, error FROM heal_runs").fetch_one(&app.pool).await.unwrap();
    assert_eq!((status.as_str(), error.as_str()), ("cancelled", "the alert resolved before approval"));
    let audited: (String, String, String) = sqlx::query_as(
        "SELECT actor, target, detail FROM audit_events WHERE action = 'run.approval_cancelled'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        audited,
        ("engine".into(), format!("run #{run_id}"), "the alert resolved before approval".into())
    );
    let operator = app.login("olga", "operator-password-1").await;
    let late =
        app.post_form("/api/approve_run", &[("run_id", &run_id), ("approve", "true")], Some(&operator)).await;
    assert_eq!(late.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn an_operator_approves_or_rejects_with_a_comment() {
    let app = app("approval").await;
    app.deliver(FIRING).await;
    let run_id = one(&app, "SELECT CAST(id AS TEXT) FROM heal_runs").await;
    let operator = app.login("olga", "operator-password-1").await;
    let ok = app
        .post_form(
            "/api/approve_run",
            &[("run_id", &run_id), ("approve", "true"), ("comment", "go ahead")],
            Some(&operator),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(one(&app, "SELECT status FROM heal_runs").await, "queued");
    assert_eq!(one(&app, "SELECT detail FROM audit_events WHERE action = 'run.approve'").await, "go ahead");

    let cancel = app.post_form("/api/cancel_run", &[("run_id", &run_id)], Some(&operator)).await;
    assert_eq!(cancel.status, StatusCode::OK, "{}", cancel.body);
    assert_eq!(one(&app, "SELECT status FROM heal_runs").await, "cancelled");
    assert_eq!(
        app.post_form("/api/cancel_run", &[("run_id", &run_id)], Some(&operator)).await.status,
        StatusCode::CONFLICT
    );
}

#[tokio::test]
async fn a_breaker_reset_is_for_operators_and_audited() {
    let app = app("auto").await;
    let viewer = app.login("vera", "viewer-password-1").await;
    let form = [("rule", "nginx-down"), ("target", "127.0.0.1:9113")];
    assert_eq!(app.post_form("/api/reset_breaker", &form, Some(&viewer)).await.status, StatusCode::FORBIDDEN);
    let operator = app.login("olga", "operator-password-1").await;
    assert_eq!(app.post_form("/api/reset_breaker", &form, Some(&operator)).await.status, StatusCode::OK);
    assert_eq!(one(&app, "SELECT reset_by FROM breaker_resets").await, "olga");
    assert_eq!(
        one(&app, "SELECT target FROM audit_events WHERE action = 'breaker.reset'").await,
        "nginx-down / 127.0.0.1:9113"
    );
    let bad =
        app.post_form("/api/reset_breaker", &[("rule", "nope"), ("target", "x")], Some(&operator)).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn replay_reports_todays_decision_and_enqueues_only_when_asked() {
    let app = app("auto").await;
    app.deliver(FIRING).await;
    finish_all(&app).await;
    let alert_id = one(&app, "SELECT CAST(id AS TEXT) FROM alerts").await;
    let viewer = app.login("vera", "viewer-password-1").await;
    let dry = app.post_form("/api/replay", &[("alert_id", &alert_id)], Some(&viewer)).await;
    assert_eq!(dry.status, StatusCode::OK, "{}", dry.body);
    assert_eq!(dry.json()["reason"], "enqueued");
    assert_eq!(dry.json()["run_id"], serde_json::Value::Null);
    assert_eq!(
        one(&app, "SELECT CAST(count(*) AS TEXT) FROM heal_runs").await,
        "1",
        "a dry replay queues nothing"
    );
    let refused =
        app.post_form("/api/replay", &[("alert_id", &alert_id), ("enqueue", "true")], Some(&viewer)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "enqueueing is for operators");

    let operator = app.login("olga", "operator-password-1").await;
    let real =
        app.post_form("/api/replay", &[("alert_id", &alert_id), ("enqueue", "true")], Some(&operator)).await;
    assert!(real.json()["run_id"].is_i64(), "{}", real.body);
    assert_eq!(one(&app, "SELECT requested_by FROM heal_runs ORDER BY id DESC LIMIT 1").await, "olga");
    assert_eq!(one(&app, "SELECT actor FROM audit_events WHERE action = 'run.replay'").await, "olga");

    let overview = app.post_form("/api/overview", &[], Some(&viewer)).await;
    assert_eq!(overview.status, StatusCode::OK, "{}", overview.body);
    assert_eq!(overview.json()["firing_alerts"], 1);
    assert_eq!(overview.json()["runs_in_flight"], 1);
}

async fn finish_all(app: &TestApp) {
    sqlx::query("UPDATE heal_runs SET status = 'failed' WHERE status IN ('queued', 'running')")
        .execute(&app.pool)
        .await
        .unwrap();
}

#[tokio::test]
async fn an_alert_detail_tells_its_story_from_receipt_to_resolution() {
    let app = app("shadow").await;
    app.deliver(FIRING).await;
    let alert_id = one(&app, "SELECT CAST(id AS TEXT) FROM alerts").await;
    let operator = app.login("olga", "operator-password-1").await;
    let res = app.post_form("/api/heal_now", &[("alert_id", &alert_id)], Some(&operator)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    app.deliver(RESOLVED).await;

    let viewer = app.login("vera", "viewer-password-1").await;
    let res = app.post_form("/api/alert", &[("id", &alert_id)], Some(&viewer)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let detail: app::model::AlertDetail = serde_json::from_str(&res.body).unwrap();
    assert!(detail.labels.contains(&("alertname".to_owned(), "NginxDown".to_owned())), "{:?}", detail.labels);
    assert!(!detail.annotations.is_empty());
    let kinds: Vec<_> = detail.timeline.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["received", "decision", "queued", "delivered", "resolved"], "{:#?}", detail.timeline);
    assert!(detail.timeline[1].text.contains("shadow"), "the decision says why: {:?}", detail.timeline[1]);
    assert!(detail.timeline[2].text.contains("queued by olga"), "{:?}", detail.timeline[2]);
    assert_eq!(detail.runs.len(), 1);

    let missing = app.post_form("/api/alert", &[("id", "999999")], Some(&viewer)).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

/// A plain form (heal now, cancel, reset, revoke) posted as the browser does it, without
/// JavaScript's help: the refusal comes back as a redirect to the page with the error in the
/// URL, and the page says it (issue 26: the error used to vanish).
#[tokio::test]
async fn a_plain_forms_refusal_is_shown_on_the_page_it_came_from() {
    let app = app("shadow").await;
    app.deliver(FIRING).await;
    let alert_id = one(&app, "SELECT CAST(id AS TEXT) FROM alerts").await;
    let viewer = app.login("vera", "viewer-password-1").await;
    let req = Request::post("/api/heal_now")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "text/html,application/xhtml+xml")
        .header(header::REFERER, format!("http://localhost/alerts/{alert_id}"))
        .header(header::COOKIE, &viewer)
        .body(Body::from(format!("alert_id={alert_id}")))
        .unwrap();
    let res = app.send(req).await;
    assert!(res.status.is_redirection(), "{} {}", res.status, res.body);
    let location = res.header(header::LOCATION).expect("back to the page").to_owned();
    assert!(location.contains("__err="), "{location}");
    let path = location.trim_start_matches("http://localhost");
    let page = app.get(path, Some(&viewer)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains(r#"data-testid="form-error""#)
            && page.body.contains("your role does not allow this"),
        "{}",
        page.body
    );
    // Without an error in the URL, no banner.
    let clean = app.get(&format!("/alerts/{alert_id}"), Some(&viewer)).await;
    assert!(!clean.body.contains(r#"data-testid="form-error""#));
}
