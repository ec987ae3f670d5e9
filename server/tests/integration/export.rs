//! Exports through the real router: CSV that survives hostile label values (quotes, commas,
//! newlines, spreadsheet formulas), JSON Lines that parse, the page's filters honoured, a
//! 20,000-row export streamed in chunks and complete, and no secret in the audit export.
use crate::common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

use app::model::Role;
use common::{notification, TestApp};

/// The test users' password.
const PASSWORD: &str = "export-password-1";

/// Label values an attacker who can make an alert fire controls.
const HOSTILE: [(&str, &str); 7] = [
    ("formula", "=HYPERLINK(\"http://evil.example\",\"click\")"),
    ("plus", "+cmd|' /C calc'!A0"),
    ("minus", "-2+3"),
    ("at", "@SUM(1+1)"),
    ("tab", "\tleading tab"),
    ("quotes", "say \"hi\", then, leave"),
    ("newline", "line one\nline two\r\nline three"),
];

async fn viewer(app: &TestApp) -> String {
    app.add_user("vera", PASSWORD, Role::Viewer).await;
    app.login("vera", PASSWORD).await
}

#[tokio::test]
async fn csv_quotes_every_hostile_value_and_defuses_formulas() {
    let app = TestApp::new().await;
    app.deliver(&notification(&[
        ("h1", "Evil", "critical", "=1+2", "2026-10-01T10:00:00.000Z", &HOSTILE, &[]),
        ("h2", "Plain", "warning", "web1:9113", "2026-10-02T10:00:00.000Z", &[], &[]),
    ]))
    .await;
    let cookie = viewer(&app).await;
    let res = app.get("/api/export/alerts.csv", Some(&cookie)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.header(header::CONTENT_TYPE), Some("text/csv; charset=utf-8"));
    let disposition = res.header(header::CONTENT_DISPOSITION).unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"selfheal-alerts-") && disposition.ends_with(".csv\"")
    );

    let mut reader = csv::Reader::from_reader(res.body.as_bytes());
    let header = reader.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(records.len(), 2, "a newline inside a value does not split a record");
    let evil = &records[1];
    assert_eq!(&evil[col("alertname")], "Evil");
    assert_eq!(&evil[col("instance")], "'=1+2", "formula in a plain cell defused");
    // The labels cell is JSON text starting with `{`: quoted, not defused, values intact.
    let labels: serde_json::Value = serde_json::from_str(&evil[col("labels")]).unwrap();
    for (k, v) in HOSTILE {
        assert_eq!(labels[k], v, "{k}");
    }
    assert_eq!(&records[0][col("alertname")], "Plain");

    // Every cell a spreadsheet would evaluate starts with a quote.
    for record in &records {
        for cell in record.iter() {
            assert!(!cell.starts_with(['=', '+', '@', '\t', '\r']), "{cell:?}");
            assert!(!cell.starts_with('-') || cell.parse::<i64>().is_ok(), "{cell:?}");
        }
    }
}

#[tokio::test]
async fn json_lines_parse_one_object_per_row_with_labels_as_objects() {
    let app = TestApp::new().await;
    app.deliver(&notification(&[(
        "h1",
        "Evil",
        "critical",
        "web1",
        "2026-10-01T10:00:00.000Z",
        &HOSTILE,
        &[],
    )]))
    .await;
    let cookie = viewer(&app).await;
    let res = app.get("/api/export/alerts.jsonl", Some(&cookie)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.header(header::CONTENT_TYPE), Some("application/x-ndjson"));
    let lines: Vec<serde_json::Value> = res.body.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["labels"]["newline"], HOSTILE[6].1);
    assert_eq!(lines[0]["labels"]["formula"], HOSTILE[0].1, "JSON keeps values exactly");

    for file in ["runs.jsonl", "audit.jsonl", "runs.csv", "audit.csv"] {
        let res = app.get(&format!("/api/export/{file}"), Some(&cookie)).await;
        assert_eq!(res.status, StatusCode::OK, "{file}: {}", res.body);
    }
    let audit = app.get("/api/export/audit.jsonl", Some(&cookie)).await;
    let first: serde_json::Value = serde_json::from_str(audit.body.lines().next().unwrap()).unwrap();
    assert_eq!((first["actor"].as_str(), first["action"].as_str()), (Some("vera"), Some("auth.login")));
}

#[tokio::test]
async fn exports_honour_the_page_filters_and_refuse_bad_ones() {
    let app = TestApp::new().await;
    app.deliver(&notification(&[
        ("f1", "NginxDown", "critical", "web1:9113", "2026-10-01T10:00:00.000Z", &[], &[]),
        ("f2", "NginxDown", "warning", "web2:9113", "2026-10-02T10:00:00.000Z", &[], &[("summary", "slow")]),
        ("f3", "DiskFull", "critical", "web1:9113", "2026-10-03T10:00:00.000Z", &[], &[]),
    ]))
    .await;
    let cookie = viewer(&app).await;
    let fps = |body: &str| -> Vec<String> {
        body.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["fingerprint"].to_string())
            .collect()
    };
    let cases = [
        ("alertname=NginxDown", vec!["\"f2\"", "\"f1\""]),
        ("severity=critical&instance=web1%3A9113", vec!["\"f3\"", "\"f1\""]),
        ("q=slow", vec!["\"f2\""]),
        ("from=2026-10-02T00:00&to=2026-10-03T00:00", vec!["\"f2\""]),
        ("status=resolved", vec![]),
    ];
    for (query, want) in cases {
        let res = app.get(&format!("/api/export/alerts.jsonl?{query}"), Some(&cookie)).await;
        assert_eq!(res.status, StatusCode::OK, "{query}: {}", res.body);
        assert_eq!(fps(&res.body), want, "{query}");
    }
    for (path, status) in [
        ("/api/export/alerts.csv?status=burning", StatusCode::BAD_REQUEST),
        ("/api/export/alerts.csv?since=2w", StatusCode::BAD_REQUEST),
        ("/api/export/runs.csv?trigger=cron", StatusCode::BAD_REQUEST),
        ("/api/export/alerts.csv?before=abc", StatusCode::BAD_REQUEST),
        ("/api/export/alerts.xlsx", StatusCode::NOT_FOUND),
        ("/api/export/users.csv", StatusCode::NOT_FOUND),
    ] {
        let res = app.get(path, Some(&cookie)).await;
        assert_eq!(res.status, status, "{path}: {}", res.body);
    }
    let res = app.get("/api/export/alerts.csv?status=burning", Some(&cookie)).await;
    assert!(res.body.contains("status must be one of firing, resolved"), "{}", res.body);
}

#[tokio::test]
async fn a_large_export_streams_in_chunks_and_arrives_complete() {
    let app = TestApp::new().await;
    let size = app::ssr::db::seed::SeedSize { alerts: 20_000, runs: 0, lines_per_run: 0 };
    app::ssr::db::seed::seed(&app.db(), size).await.unwrap();
    let cookie = viewer(&app).await;
    let req =
        Request::get("/api/export/alerts.csv").header(header::COOKIE, &cookie).body(Body::empty()).unwrap();
    let res = app.router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get(header::CONTENT_LENGTH).is_none(), "streamed, not one buffered body");
    let mut body = res.into_body();
    let (mut frames, mut bytes) = (0, Vec::new());
    while let Some(frame) = body.frame().await {
        let data = frame.unwrap().into_data().unwrap();
        frames += 1;
        bytes.extend_from_slice(&data);
    }
    assert!(frames >= 20, "one frame per chunk of 1,000 rows, got {frames}");
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    let ids: Vec<i64> = reader.records().map(|r| r.unwrap()[0].parse().unwrap()).collect();
    assert_eq!(ids.len(), 20_000);
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first, each row once");
    assert_eq!((ids[0], ids[19_999]), (20_000, 1));
}

#[tokio::test]
async fn the_audit_export_has_the_page_rows_and_no_token_text() {
    let app = TestApp::new().await;
    app.add_user("ada", PASSWORD, Role::Admin).await;
    let cookie = app.login("ada", PASSWORD).await;
    let res =
        app.post_form("/api/create_api_token", &[("name", "ci"), ("role", "viewer")], Some(&cookie)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let token = res.json()["token"].as_str().unwrap().to_owned();
    let page = app.post_form("/api/audit", &[], Some(&cookie)).await.json();
    for file in ["audit.csv", "audit.jsonl"] {
        let req = Request::get(format!("/api/export/{file}"))
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        let res = app.send(req).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        assert!(res.body.contains("token.created"), "{}", res.body);
        assert!(!res.body.contains(&token) && !res.body.contains(&token[4..]), "the token text leaked");
    }
    let jsonl = app.get("/api/export/audit.jsonl", Some(&cookie)).await;
    let exported: Vec<serde_json::Value> =
        jsonl.body.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(serde_json::Value::Array(exported), page["rows"], "the same rows as the page");
}
