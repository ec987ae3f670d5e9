//! The kill switch through the real router: an operator pauses healing (everything or one rule)
//! saying why; new episodes are decided `paused` and nothing runs; a run queued before waits in
//! the queue and starts once resumed; viewers cannot pause; every pause is audited and exported.
use crate::common;

use axum::http::StatusCode;

use app::model::Role;
use common::TestApp;

const FIRING: &str = include_str!("../fixtures/alertmanager/alertmanager-webhook-firing.json");

async fn app() -> TestApp {
    let app = TestApp::with(|config, dir| {
        common::with_playbook(config, dir, "heal-nginx.yml");
        config.rules = vec![serde_json::from_value(serde_json::json!({
            "name": "nginx-down", "match": { "alertname": "NginxDown" }, "playbook": "heal-nginx.yml",
            "cooldown": "0s",
        }))
        .unwrap()];
    })
    .await;
    app.add_user("vera", "viewer-password-1", Role::Viewer).await;
    app.add_user("olga", "operator-password-1", Role::Operator).await;
    app
}

/// The FIRING fixture as a new episode starting at `minute`.
fn episode(minute: u32) -> String {
    let mut v: serde_json::Value = serde_json::from_str(FIRING).unwrap();
    v["alerts"][0]["startsAt"] = format!("2026-11-22T01:{minute:02}:00.000Z").into();
    v.to_string()
}

async fn reasons(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar("SELECT reason FROM decisions ORDER BY id").fetch_all(&app.pool).await.unwrap()
}

async fn metric(app: &TestApp, line: &str) -> bool {
    app.engine.step().await.unwrap();
    app.get("/metrics", None).await.body.lines().any(|l| l == line)
}

#[tokio::test]
async fn a_pause_decides_new_episodes_paused_and_holds_queued_runs_until_resumed() {
    let app = app().await;
    let viewer = app.login("vera", "viewer-password-1").await;
    let operator = app.login("olga", "operator-password-1").await;

    // A run queued before the pause.
    app.deliver(&episode(0)).await;
    assert_eq!(reasons(&app).await, ["enqueued"]);

    let refused = app.post_form("/api/pause", &[("reason", "deploy")], Some(&viewer)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "viewers see pauses, they do not pause");
    let no_reason = app.post_form("/api/pause", &[("reason", "  ")], Some(&operator)).await;
    assert_eq!(no_reason.status, StatusCode::BAD_REQUEST, "a reason is required: {}", no_reason.body);
    let paused = app.post_form("/api/pause", &[("reason", "database migration")], Some(&operator)).await;
    assert_eq!(paused.status, StatusCode::OK, "{}", paused.body);
    assert!(metric(&app, "selfheal_paused{scope=\"*\"} 1").await, "the pause is a metric");

    // The queued run waits; a new episode is decided paused.
    assert_eq!(app.worker.run_once().await.unwrap(), None, "the queued run is held, not claimed");
    app.deliver(&episode(5)).await;
    assert_eq!(reasons(&app).await.last().map(String::as_str), Some("paused"));
    let page = app.get("/alerts", Some(&viewer)).await.body;
    assert!(
        page.contains("data-testid=\"pause-banner\"") && page.contains("database migration"),
        "a banner on every page"
    );
    let listed = app.post_form("/api/pauses", &[], Some(&viewer)).await;
    assert_eq!(listed.json()[0]["scope"], "*");
    assert_eq!(listed.json()[0]["reason"], "database migration");
    assert_eq!(listed.json()[0]["paused_by"], "olga");

    // Resumed: the held run starts.
    let resumed = app.post_form("/api/resume", &[], Some(&operator)).await;
    assert_eq!(resumed.status, StatusCode::OK, "{}", resumed.body);
    assert!(app.worker.run_once().await.unwrap().is_some(), "the held run starts once resumed");
    assert!(metric(&app, "selfheal_paused{scope=\"*\"} 0").await, "back to 0, not gone");
    let page = app.get("/alerts", Some(&viewer)).await.body;
    assert!(!page.contains("pause-banner"), "no banner once resumed");
    let again = app.post_form("/api/resume", &[], Some(&operator)).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "nothing to resume");

    let audit: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT actor, action, target, detail FROM audit_events WHERE action LIKE 'healing.%' ORDER BY id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        audit,
        [
            ("olga".into(), "healing.pause".into(), "*".into(), "database migration".into()),
            ("olga".into(), "healing.resume".into(), "*".into(), "resumed".into()),
        ]
    );
}

#[tokio::test]
async fn a_rule_can_be_paused_alone_and_an_unknown_rule_is_refused() {
    let app = app().await;
    let operator = app.login("olga", "operator-password-1").await;
    let unknown = app.post_form("/api/pause", &[("rule", "nope"), ("reason", "x")], Some(&operator)).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST, "{}", unknown.body);
    let paused = app
        .post_form("/api/pause", &[("rule", "nginx-down"), ("reason", "flapping upstream")], Some(&operator))
        .await;
    assert_eq!(paused.status, StatusCode::OK, "{}", paused.body);
    app.deliver(&episode(0)).await;
    let detail: String =
        sqlx::query_scalar("SELECT detail FROM decisions").fetch_one(&app.pool).await.unwrap();
    assert!(detail.contains("paused for rule nginx-down"), "{detail}");
    let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM heal_runs").fetch_one(&app.pool).await.unwrap();
    assert_eq!(runs, 0);
    let resumed = app.post_form("/api/resume", &[("rule", "nginx-down")], Some(&operator)).await;
    assert_eq!(resumed.status, StatusCode::OK, "{}", resumed.body);
    app.deliver(&episode(5)).await;
    assert_eq!(reasons(&app).await, ["paused", "enqueued"]);
}

/// The banner's Resume button is in the page the server renders for every operator load, and
/// never for a viewer: the server rendered it only when the signed-in user had loaded before the
/// banner, and the browser (which had the user) then failed to hydrate the page.
#[tokio::test]
async fn the_server_renders_resume_for_operators_every_time_and_never_for_viewers() {
    let app = app().await;
    let viewer = app.login("vera", "viewer-password-1").await;
    let operator = app.login("olga", "operator-password-1").await;
    let paused = app.post_form("/api/pause", &[("reason", "database migration")], Some(&operator)).await;
    assert_eq!(paused.status, StatusCode::OK, "{}", paused.body);
    let resume = format!("action=\"{}\"", "/api/resume");
    // Many loads at once, as a busy server sees them: which query ends first varies.
    for path in ["/alerts", "/rules"] {
        let loads = (0..60).map(|_| app.get(path, Some(&operator)));
        for (load, page) in futures_util::future::join_all(loads).await.into_iter().enumerate() {
            assert!(page.body.contains("pause-banner"), "{path}: the banner");
            assert!(page.body.contains(&resume), "{path}, load {load}: an operator's page has Resume");
        }
        let loads = (0..20).map(|_| app.get(path, Some(&viewer)));
        for page in futures_util::future::join_all(loads).await {
            assert!(!page.body.contains(&resume), "{path}: a viewer's page has no Resume");
        }
    }
}
