//! Maintenance windows through the real router: an operator opens one around a deploy; an
//! alert it covers is decided `in_maintenance` and nothing runs; once the window is over the
//! held episode is decided again and heals. A window may park heals for approval instead.
//! Viewers see windows and their history, never open one; the config file's windows are kept
//! in step with the file. Every change audited.
use std::time::{Duration, Instant};

use axum::http::StatusCode;

use app::model::Role;
use app::ssr::heal::window::{Window, WindowConfig};

use crate::common::TestApp;

const FIRING: &str = include_str!("../fixtures/alertmanager/alertmanager-webhook-firing.json");

fn episode(minute: u32) -> String {
    let mut v: serde_json::Value = serde_json::from_str(FIRING).unwrap();
    v["alerts"][0]["startsAt"] = format!("2026-11-22T01:{minute:02}:00.000Z").into();
    v.to_string()
}

async fn app() -> TestApp {
    let app = TestApp::with(|config, dir| {
        crate::common::one_rule(
            config,
            dir,
            serde_json::json!({ "name": "nginx-down", "match": { "alertname": "NginxDown" }, "playbook": "heal-nginx.yml", "cooldown": "0s" }),
        );
    })
    .await;
    app.add_user("vera", "viewer-password-1", Role::Viewer).await;
    app.add_user("olga", "operator-password-1", Role::Operator).await;
    app
}

async fn decisions(app: &TestApp) -> Vec<(String, String)> {
    sqlx::query_as("SELECT reason, detail FROM decisions ORDER BY id").fetch_all(&app.pool).await.unwrap()
}

#[tokio::test]
async fn a_window_holds_a_heal_and_the_episode_is_decided_again_when_it_ends() {
    let app = app().await;
    let viewer = app.login("vera", "viewer-password-1").await;
    let operator = app.login("olga", "operator-password-1").await;
    let form = [
        ("name", "deploy 4.2"),
        ("matchers", "service=\"nginx\"\nstack=\"demo\""),
        ("for", "3s"),
        ("reason", "rolling deploy"),
    ];
    let refused = app.post_form("/api/window_open", &form, Some(&viewer)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "viewers see windows, they do not open them");
    let bad = app
        .post_form("/api/window_open", &[("name", "x"), ("matchers", "nope"), ("for", "1h")], Some(&operator))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
    let opened = app.post_form("/api/window_open", &form, Some(&operator)).await;
    assert_eq!(opened.status, StatusCode::OK, "{}", opened.body);
    let twice = app.post_form("/api/window_open", &form, Some(&operator)).await;
    assert_eq!(twice.status, StatusCode::CONFLICT, "one window of a name in force");

    app.deliver(&episode(0)).await;
    let got = decisions(&app).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, "in_maintenance");
    assert!(got[0].1.starts_with("in maintenance window deploy 4.2 until "), "{}", got[0].1);
    let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM heal_runs").fetch_one(&app.pool).await.unwrap();
    assert_eq!(runs, 0, "nothing runs in the window");
    assert_eq!(server::windows::redecide_held(&app.db(), &app.inbox).await.unwrap(), 0, "still open");
    app.engine.step().await.unwrap();
    let gauge = "selfheal_maintenance_window_open{window=\"deploy 4.2\"}";
    assert!(
        app.get("/metrics", None).await.body.lines().any(|l| l == format!("{gauge} 1")),
        "open: a metric"
    );

    let listed = app.post_form("/api/windows", &[], Some(&viewer)).await.json();
    assert_eq!(listed[0]["name"], "deploy 4.2");
    assert_eq!(listed[0]["open"], true);
    let page = app.get("/windows", Some(&viewer)).await.body;
    assert!(
        page.contains("deploy 4.2") && page.contains("rolling deploy") && !page.contains("window-open"),
        "viewer's page"
    );

    // Over: the held episode is decided again and heals.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if server::windows::redecide_held(&app.db(), &app.inbox).await.unwrap() == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "the held episode was never decided again");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let reasons: Vec<String> = decisions(&app).await.into_iter().map(|d| d.0).collect();
    assert_eq!(reasons, ["in_maintenance", "enqueued"], "both on the alert's timeline");
    app.engine.step().await.unwrap();
    assert!(
        app.get("/metrics", None).await.body.lines().any(|l| l == format!("{gauge} 0")),
        "closed: back to 0"
    );
    assert_eq!(server::windows::redecide_held(&app.db(), &app.inbox).await.unwrap(), 0, "decided again once");
    let listed = app.post_form("/api/windows", &[], Some(&viewer)).await.json();
    assert_eq!(listed[0]["state"], "ended");
}

#[tokio::test]
async fn a_window_may_park_heals_for_approval_and_is_cancelled_by_an_operator() {
    let app = app().await;
    let operator = app.login("olga", "operator-password-1").await;
    let form = [("name", "freeze"), ("matchers", "service=\"nginx\""), ("for", "1h"), ("action", "approval")];
    let opened = app.post_form("/api/window_open", &form, Some(&operator)).await;
    assert_eq!(opened.status, StatusCode::OK, "{}", opened.body);
    app.deliver(&episode(0)).await;
    let got = decisions(&app).await;
    assert_eq!(got[0].0, "in_maintenance");
    assert!(got[0].1.contains("heals wait for approval"), "{}", got[0].1);
    let status: String =
        sqlx::query_scalar("SELECT status FROM heal_runs").fetch_one(&app.pool).await.unwrap();
    assert_eq!(status, "awaiting_approval");

    let cancelled = app.post_form("/api/window_cancel", &[("name", "freeze")], Some(&operator)).await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);
    let again = app.post_form("/api/window_cancel", &[("name", "freeze")], Some(&operator)).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let audit: Vec<(String, String)> = sqlx::query_as(
        "SELECT actor, action FROM audit_events WHERE action LIKE 'maintenance.%' ORDER BY id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        audit,
        [("olga".into(), "maintenance.open".into()), ("olga".into(), "maintenance.cancel".into())]
    );
    let listed = app.post_form("/api/windows", &[], Some(&operator)).await.json();
    assert!(listed[0]["state"].as_str().unwrap().starts_with("cancelled by olga at "), "{}", listed[0]);
}

#[tokio::test]
async fn the_config_files_windows_follow_the_file() {
    let app = app().await;
    let window = |reason: &str| {
        Window::from_config(WindowConfig {
            name: "sunday patching".into(),
            matchers: vec!["service=\"nginx\"".into()],
            reason: reason.into(),
            starts_at: None,
            ends_at: None,
            schedule: Some("0 2 * * SUN".into()),
            duration: Some(Duration::from_secs(7200)),
            timezone: Some("Europe/Berlin".into()),
            action: Default::default(),
            silence: false,
        })
        .unwrap()
    };
    assert_eq!(server::windows::sync_config(&app.db(), &[window("patch day")]).await.unwrap(), 1);
    assert_eq!(
        server::windows::sync_config(&app.db(), &[window("patch day")]).await.unwrap(),
        0,
        "unchanged"
    );
    let operator = app.login("olga", "operator-password-1").await;
    let cancel = app.post_form("/api/window_cancel", &[("name", "sunday patching")], Some(&operator)).await;
    assert_eq!(cancel.status, StatusCode::CONFLICT, "a config file's window ends when it leaves the file");
    assert_eq!(
        server::windows::sync_config(&app.db(), &[window("patch night")]).await.unwrap(),
        2,
        "replaced"
    );
    assert_eq!(server::windows::sync_config(&app.db(), &[]).await.unwrap(), 1, "gone from the file");
    let listed = app.post_form("/api/windows", &[], Some(&operator)).await.json();
    let states: Vec<&str> = listed.as_array().unwrap().iter().map(|w| w["state"].as_str().unwrap()).collect();
    assert_eq!(states.len(), 2, "the history keeps both");
    assert!(states.iter().all(|s| s.starts_with("cancelled by config")), "{states:?}");
    assert_eq!(listed[0]["when"], "0 2 * * SUN for 2h (Europe/Berlin)");
}

#[tokio::test]
async fn a_window_that_silences_makes_one_silence_in_alertmanager_and_expires_it_when_cancelled() {
    use crate::common::alertmanager::{config_blackhole, Alertmanager};
    let am = Alertmanager::start(&config_blackhole()).await;
    let app = app().await;
    let operator = app.login("olga", "operator-password-1").await;
    let form = [
        ("name", "db migration"),
        ("matchers", "service=\"nginx\"\ninstance=~\"127\\\\..*\""),
        ("for", "1h"),
        ("reason", "schema change"),
        ("silence", "true"),
    ];
    let opened = app.post_form("/api/window_open", &form, Some(&operator)).await;
    assert_eq!(opened.status, StatusCode::OK, "{}", opened.body);
    let silencer = server::silence::Silencer::new(&am.url, &server::outgoing::Outgoing::default());
    assert_eq!(server::windows::keep_silences(&app.db(), &silencer).await.unwrap(), 1);
    assert_eq!(server::windows::keep_silences(&app.db(), &silencer).await.unwrap(), 0, "one per occurrence");

    let all = am.silences().await;
    let active: Vec<&serde_json::Value> =
        all.as_array().unwrap().iter().filter(|s| s["status"]["state"] == "active").collect();
    assert_eq!(active.len(), 1, "{all}");
    assert_eq!(active[0]["createdBy"], "selfheal");
    assert_eq!(active[0]["comment"], "selfheal maintenance window db migration: schema change");
    let matchers = &active[0]["matchers"];
    assert!(
        matchers.as_array().unwrap().iter().any(|m| m["name"] == "instance" && m["isRegex"] == true),
        "{matchers}"
    );

    let cancelled = app.post_form("/api/window_cancel", &[("name", "db migration")], Some(&operator)).await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);
    assert_eq!(server::windows::keep_silences(&app.db(), &silencer).await.unwrap(), 1, "expired");
    let all = am.silences().await;
    assert!(all.as_array().unwrap().iter().all(|s| s["status"]["state"] == "expired"), "{all}");
    assert_eq!(server::windows::keep_silences(&app.db(), &silencer).await.unwrap(), 0);
}
