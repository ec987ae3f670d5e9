//! The filtered lists through the real router: each filter of /api/alerts, /api/runs and
//! /api/audit picks the right rows, pages follow the cursor within a filter, bad input is
//! refused with 400 and a message, and the /alerts page renders the filter and export links.
use crate::common;

use axum::http::StatusCode;

use app::model::Role;
use common::{notification, TestApp};

/// The test users' password.
const PASSWORD: &str = "lists-password-1";

/// A form's fields.
type Form<'a> = Vec<(&'a str, &'a str)>;

/// A viewer's session on an app holding six alerts (newest last).
async fn app_with_alerts() -> (TestApp, String) {
    let app = TestApp::new().await;
    let recent = app::ssr::alert::now_utc();
    let body = notification(&[
        ("f1", "NginxDown", "critical", "web1:9113", "2026-10-01T10:00:00.000Z", &[("job", "nginx")], &[]),
        (
            "f2",
            "NginxDown",
            "warning",
            "web2:9113",
            "2026-10-02T10:00:00.000Z",
            &[],
            &[("summary", "upstream timeouts")],
        ),
        (
            "f3",
            "DiskFull",
            "critical",
            "db1:9100",
            "2026-10-03T10:00:00.000Z",
            &[("mount", "/var/lib/pg")],
            &[],
        ),
        ("f4", "HostDown", "critical", "web1:9113", "2026-10-04T10:00:00.000Z", &[], &[]),
        ("f5", "NginxDown", "critical", "web1:9113", &recent, &[], &[]),
        ("f6", "QueueBacklog", "info", "mq1:9419", &recent, &[("queue", "orders")], &[]),
    ]);
    app.deliver(&body).await;
    app.add_user("vera", PASSWORD, Role::Viewer).await;
    let cookie = app.login("vera", PASSWORD).await;
    (app, cookie)
}

/// The fingerprints of the page `form` asks for, and its `next_before`.
async fn alerts(app: &TestApp, cookie: &str, form: &[(&str, &str)]) -> (Vec<String>, serde_json::Value) {
    let res = app.post_form("/api/alerts", form, Some(cookie)).await;
    assert_eq!(res.status, StatusCode::OK, "{form:?}: {}", res.body);
    let page = res.json();
    let fps = page["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["fingerprint"].as_str().unwrap().to_owned())
        .collect();
    (fps, page["next_before"].clone())
}

#[tokio::test]
async fn each_alert_filter_returns_its_rows_through_the_router() {
    let (app, cookie) = app_with_alerts().await;
    let cases: Vec<(&str, Form<'_>, Vec<&str>)> = vec![
        ("no filter", vec![], vec!["f6", "f5", "f4", "f3", "f2", "f1"]),
        ("status", vec![("filter[status]", "resolved")], vec![]),
        ("alertname", vec![("filter[alertname]", "NginxDown")], vec!["f5", "f2", "f1"]),
        ("severity", vec![("filter[severity]", "critical")], vec!["f5", "f4", "f3", "f1"]),
        ("instance", vec![("filter[instance]", "web1:9113")], vec!["f5", "f4", "f1"]),
        ("text: label value", vec![("filter[q]", "/var/lib")], vec!["f3"]),
        ("text: annotation", vec![("filter[q]", "TIMEOUTS")], vec!["f2"]),
        ("text: instance part", vec![("filter[q]", "mq1")], vec!["f6"]),
        ("since 24h", vec![("filter[since]", "24h")], vec!["f6", "f5"]),
        (
            "from/to",
            vec![("filter[from]", "2026-10-02T00:00"), ("filter[to]", "2026-10-04T00:00")],
            vec!["f3", "f2"],
        ),
        (
            "combined",
            vec![
                ("filter[severity]", "critical"),
                ("filter[instance]", "web1:9113"),
                ("filter[to]", "2026-11-01"),
            ],
            vec!["f4", "f1"],
        ),
    ];
    for (name, form, want) in cases {
        assert_eq!(alerts(&app, &cookie, &form).await.0, want, "{name}");
    }
}

#[tokio::test]
async fn pages_follow_the_cursor_within_a_filter() {
    let app = TestApp::new().await;
    // 120 alerts, every other one NginxDown: 60 matches, a full page of 50 and then 10.
    let fps: Vec<String> = (0..120).map(|i| format!("p{i:03}")).collect();
    let batch: Vec<common::TestAlert<'_>> = fps
        .iter()
        .enumerate()
        .map(|(i, fp)| {
            let name = if i % 2 == 0 { "NginxDown" } else { "DiskFull" };
            (fp.as_str(), name, "critical", "web1:9113", "2026-10-01T10:00:00.000Z", &[][..], &[][..])
        })
        .collect();
    app.deliver(&notification(&batch)).await;
    app.add_user("vera", PASSWORD, Role::Viewer).await;
    let cookie = app.login("vera", PASSWORD).await;

    let by_name = [("filter[alertname]", "NginxDown")];
    let (first, next) = alerts(&app, &cookie, &by_name).await;
    assert_eq!(first.len(), 50);
    let next = next.as_i64().expect("a full page has a next cursor").to_string();
    let (second, last) = alerts(&app, &cookie, &[by_name[0], ("filter[before]", &next)]).await;
    assert_eq!((second.len(), last), (10, serde_json::Value::Null));
    let mut all: Vec<_> = first.iter().chain(&second).cloned().collect();
    all.sort();
    all.dedup();
    let want: Vec<_> = fps.iter().step_by(2).cloned().collect();
    assert_eq!(all, want, "every NginxDown exactly once, nothing else");
}

/// An alert Alertmanager delivers late (it started two hours ago) is listed among its
/// contemporaries by default, above everything older and below what started since; by arrival
/// on request.
#[tokio::test]
async fn alerts_are_listed_by_their_own_start_and_on_request_by_arrival() {
    let (app, cookie) = app_with_alerts().await;
    let two_hours_ago =
        app::ssr::alert::format_utc(time::OffsetDateTime::now_utc() - time::Duration::hours(2));
    app.deliver(&notification(&[("late", "PodCrash", "warning", "k8s1:10250", &two_hours_ago, &[], &[])]))
        .await;
    let by_start = alerts(&app, &cookie, &[]).await.0;
    assert_eq!(
        by_start,
        ["f6", "f5", "late", "f4", "f3", "f2", "f1"].map(String::from),
        "by start: f5/f6 started now"
    );
    let by_arrival = alerts(&app, &cookie, &[("filter[sort]", "received")]).await.0;
    assert_eq!(by_arrival, ["late", "f6", "f5", "f4", "f3", "f2", "f1"].map(String::from));
}

#[tokio::test]
async fn bad_filters_are_refused_with_a_message() {
    let (app, cookie) = app_with_alerts().await;
    let long = "x".repeat(101);
    let cases: Vec<(&str, Form<'_>, &str)> = vec![
        ("/api/alerts", vec![("filter[status]", "burning")], "status must be one of firing, resolved"),
        ("/api/alerts", vec![("filter[q]", &long)], "q is too long"),
        ("/api/alerts", vec![("filter[since]", "2w")], "since must be one of"),
        (
            "/api/alerts",
            vec![("filter[from]", "2026-10-05"), ("filter[to]", "2026-10-01")],
            "must be before to",
        ),
        ("/api/alerts", vec![("filter[from]", "last tuesday")], "from must be a UTC time"),
        ("/api/runs", vec![("filter[trigger]", "cron")], "trigger must be one of engine, heal_now, replay"),
        ("/api/runs", vec![("filter[status]", "exploded")], "status must be one of"),
        ("/api/runs", vec![("filter[outcome]", "meh")], "outcome must be one of attention, verified"),
        (
            "/api/alerts",
            vec![("filter[decision]", "maybe")],
            "decision must be one of enqueued, resolved, no_rule",
        ),
        ("/api/audit", vec![("filter[to]", "soon")], "to must be a UTC time"),
        ("/api/alerts", vec![("filter[sort]", "oldest")], "sort must be one of started, received"),
        ("/api/alerts", vec![("filter[before]", "999999")], "no longer stored; start from the newest"),
    ];
    for (path, form, want) in cases {
        let res = app.post_form(path, &form, Some(&cookie)).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{path} {form:?}: {}", res.body);
        assert!(
            res.json()["Invalid"].as_str().unwrap_or_default().contains(want),
            "{path} {form:?}: {}",
            res.body
        );
    }
}

#[tokio::test]
async fn runs_and_audit_filter_through_the_router() {
    let (app, cookie) = app_with_alerts().await;
    app::ssr::db::seed::seed(
        &app.db(),
        app::ssr::db::seed::SeedSize { alerts: 10, runs: 60, lines_per_run: 0 },
    )
    .await
    .unwrap();
    let res = app.post_form("/api/runs", &[("filter[status]", "failed")], Some(&cookie)).await;
    let rows = res.json()["rows"].as_array().unwrap().clone();
    assert!(!rows.is_empty() && rows.iter().all(|r| r["status"] == "failed"), "{}", res.body);
    let res = app.post_form("/api/runs", &[("filter[trigger]", "heal_now")], Some(&cookie)).await;
    // The seed's run 50 was asked for by admin (no replay entry): a heal now.
    let ids: Vec<_> =
        res.json()["rows"].as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [50], "{}", res.body);
    let res = app
        .post_form(
            "/api/runs",
            &[("filter[trigger]", "engine"), ("filter[target]", "web10:9113")],
            Some(&cookie),
        )
        .await;
    let rows = res.json()["rows"].as_array().unwrap().clone();
    assert!(
        !rows.is_empty() && rows.iter().all(|r| r["requested_by"] == "engine" && r["target"] == "web10:9113"),
        "{}",
        res.body
    );

    let res = app.post_form("/api/audit", &[("filter[action]", "auth.login")], Some(&cookie)).await;
    let rows = res.json()["rows"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 1, "{}", res.body);
    assert_eq!(rows[0]["actor"], "vera");
    let res = app.post_form("/api/audit", &[("filter[actor]", "nobody")], Some(&cookie)).await;
    assert_eq!(res.json()["rows"].as_array().unwrap().len(), 0, "{}", res.body);
}

#[tokio::test]
async fn the_alerts_page_renders_the_filter_from_the_url_and_exports_the_same_rows() {
    let (app, cookie) = app_with_alerts().await;
    let page = app.get("/alerts?severity=info&q=orders", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("QueueBacklog") && !page.body.contains("DiskFull"), "{}", page.body);
    assert!(page.body.contains("/api/export/alerts.csv?severity=info&amp;q=orders"), "{}", page.body);
    assert!(page.body.contains(r#"name="q""#) && page.body.contains(r#"method="get""#), "a plain GET form");
}

#[tokio::test]
async fn decision_and_outcome_filters_lead_from_the_overview_to_what_needs_a_person() {
    let (app, cookie) = app_with_alerts().await;
    // No rules here: every alert was decided `no_rule`, and all six are firing.
    let (all, _) = alerts(&app, &cookie, &[("filter[decision]", "no_rule")]).await;
    assert_eq!(all.len(), 6);
    let (none, _) = alerts(&app, &cookie, &[("filter[decision]", "enqueued")]).await;
    assert!(none.is_empty(), "{none:?}");
    let overview = app.post_form("/api/overview", &[], Some(&cookie)).await.json();
    assert_eq!(overview["firing_no_rule"], 6, "{overview}");
    let nav = app.post_form("/api/nav_counts", &[], Some(&cookie)).await.json();
    assert_eq!(nav["firing"], 6, "{nav}");
    let counts = app.post_form("/api/alert_counts", &[], Some(&cookie)).await.json();
    assert_eq!(counts, serde_json::json!([6, 0]), "firing, resolved");
    let page = app.get("/alerts", Some(&cookie)).await.body;
    assert!(page.contains("6 firing") && page.contains("0 resolved"), "the list counts per status");

    app::ssr::db::seed::seed(
        &app.db(),
        app::ssr::db::seed::SeedSize { alerts: 10, runs: 60, lines_per_run: 0 },
    )
    .await
    .unwrap();
    let runs = |outcome: &'static str| {
        let app = &app;
        let cookie = &cookie;
        async move {
            let res = app.post_form("/api/runs", &[("filter[outcome]", outcome)], Some(cookie)).await;
            assert_eq!(res.status, StatusCode::OK, "{}", res.body);
            res.json()["rows"].as_array().unwrap().clone()
        }
    };
    let attention = runs("attention").await;
    assert!(!attention.is_empty());
    for r in &attention {
        let bad = r["status"] == "failed" || r["status"] == "timed_out" || r["verification"] == "not_fixed";
        assert!(bad, "only failed, timed out or not fixed: {r}");
    }
    let verified = runs("verified").await;
    assert!(!verified.is_empty() && verified.iter().all(|r| r["verification"] == "verified"));
}

#[tokio::test]
async fn a_breaker_one_attempt_from_opening_is_on_the_overview() {
    let app = TestApp::with(|config, dir| {
        common::one_rule(
            config,
            dir,
            serde_json::json!({
                "name": "nginx-down", "match": { "alertname": "NginxDown" }, "playbook": "heal-nginx.yml",
                "cooldown": "0s", "max_attempts": 3, "window": "1h",
            }),
        );
    })
    .await;
    app.add_user("vera", PASSWORD, Role::Viewer).await;
    let cookie = app.login("vera", PASSWORD).await;
    for minute in 0..2 {
        let start = format!("2026-11-22T01:0{minute}:00.000Z");
        app.deliver(&notification(&[("fp", "NginxDown", "critical", "web1:9113", &start, &[], &[])])).await;
        app.worker.run_once().await.unwrap().expect("a run");
    }
    let overview = app.post_form("/api/overview", &[], Some(&cookie)).await.json();
    let nearly = overview["nearly_open_breakers"].as_array().unwrap();
    assert_eq!(nearly.len(), 1, "{overview}");
    assert_eq!((nearly[0]["attempts"].as_i64(), nearly[0]["max_attempts"].as_i64()), (Some(2), Some(3)));
    assert!(overview["open_breakers"].as_array().unwrap().is_empty());
}
