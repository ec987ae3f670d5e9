//! Requests `POST /webhook` refuses, and what it answers when it cannot store: no or wrong
//! credentials, malformed or incomplete payloads, wrong content types, bodies over the limit,
//! a database that cannot store. None of them may leave a row behind.
use axum::body::Body;
use axum::http::{header, StatusCode};

use super::common::{WEBHOOK_PASSWORD, WEBHOOK_USER};
use super::{auth, deliver, edited, post, rows, TestApp, FIRING, UNHEALTHY};

#[tokio::test]
async fn no_or_wrong_credentials_get_401_and_write_nothing() {
    let app = TestApp::new().await;
    let cases = [
        ("none", None),
        ("wrong password", Some(auth(WEBHOOK_USER, "wrong"))),
        ("wrong user", Some(auth("someone", WEBHOOK_PASSWORD))),
        ("not basic", Some(format!("Bearer {WEBHOOK_PASSWORD}"))),
    ];
    for (name, authorization) in cases {
        let res = post(&app, FIRING, "application/json", authorization).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{name}");
        assert!(res.header(header::WWW_AUTHENTICATE).is_some(), "{name}");
    }
    assert_eq!(rows(&app).await, (0, 0));
}

#[tokio::test]
async fn bad_requests_get_a_4xx_naming_the_problem_and_write_nothing() {
    let app = TestApp::new().await;
    let ok_auth = || Some(auth(WEBHOOK_USER, WEBHOOK_PASSWORD));
    let cases: Vec<(&str, String, &str, StatusCode, &str)> = vec![
        (
            "malformed JSON",
            "{\"version\":".into(),
            "application/json",
            StatusCode::BAD_REQUEST,
            "invalid payload",
        ),
        ("not an object", "[1,2]".into(), "application/json", StatusCode::BAD_REQUEST, "invalid payload"),
        (
            "missing alerts",
            edited(FIRING, |v| drop(v.as_object_mut().unwrap().remove("alerts"))),
            "application/json",
            StatusCode::BAD_REQUEST,
            "alerts",
        ),
        (
            "wrong type",
            edited(FIRING, |v| v["alerts"][0]["status"] = 123.into()),
            "application/json",
            StatusCode::BAD_REQUEST,
            "alerts[0].status",
        ),
        (
            "unknown status",
            edited(FIRING, |v| v["alerts"][0]["status"] = "burning".into()),
            "application/json",
            StatusCode::BAD_REQUEST,
            "alerts[0].status",
        ),
        (
            "labels not strings",
            edited(FIRING, |v| v["alerts"][0]["labels"]["job"] = 5.into()),
            "application/json",
            StatusCode::BAD_REQUEST,
            "alerts[0].labels.job",
        ),
        (
            "bad startsAt",
            edited(FIRING, |v| v["alerts"][0]["startsAt"] = "soon".into()),
            "application/json",
            StatusCode::BAD_REQUEST,
            "alerts[0].startsAt",
        ),
        (
            "old version",
            edited(FIRING, |v| v["version"] = "3".into()),
            "application/json",
            StatusCode::BAD_REQUEST,
            "version",
        ),
        (
            "wrong content type",
            FIRING.into(),
            "text/plain",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "application/json",
        ),
        (
            "form content type",
            FIRING.into(),
            "application/x-www-form-urlencoded",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "application/json",
        ),
        (
            "huge body",
            format!("{{\"pad\":\"{}\"}}", "x".repeat(1024 * 1024 + 1)),
            "application/json",
            StatusCode::PAYLOAD_TOO_LARGE,
            "larger",
        ),
    ];
    for (name, body, ct, status, needle) in cases {
        let res = post(&app, body, ct, ok_auth()).await;
        assert_eq!(res.status, status, "{name}: {}", res.body);
        assert!(res.body.contains(needle), "{name}: {}", res.body);
        assert_eq!(rows(&app).await, (0, 0), "{name} wrote something");
    }
    // A second bad alert after a good one: the whole notification is refused, nothing half-written.
    let half = edited(UNHEALTHY, |v| {
        let mut bad = v["alerts"][0].clone();
        bad["fingerprint"] = "".into();
        v["alerts"].as_array_mut().unwrap().push(bad);
    });
    let res = post(&app, half, "application/json", ok_auth()).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body.contains("alerts[1].fingerprint"), "{}", res.body);
    assert_eq!(rows(&app).await, (0, 0));
}

#[tokio::test]
async fn a_body_over_the_limit_without_content_length_is_413() {
    let app = TestApp::new().await;
    let chunks = (0..1100).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1024]));
    let body = Body::from_stream(tokio_stream::iter(chunks));
    let res = post(&app, body, "application/json", Some(auth(WEBHOOK_USER, WEBHOOK_PASSWORD))).await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", res.body);
    assert_eq!(rows(&app).await, (0, 0));
}

#[tokio::test]
async fn when_the_database_cannot_store_the_answer_is_503_and_a_retry_lands_once() {
    let app = TestApp::new().await;
    sqlx::query("ALTER TABLE alerts RENAME TO alerts_away").execute(&app.pool).await.unwrap();
    let res = deliver(&app, FIRING).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "{}", res.body);
    assert_eq!(res.header(header::RETRY_AFTER), Some("1"));
    let notifications: i64 =
        sqlx::query_scalar("SELECT count(*) FROM notifications").fetch_one(&app.pool).await.unwrap();
    assert_eq!(notifications, 0, "the notification row was rolled back with its alerts");

    sqlx::query("ALTER TABLE alerts_away RENAME TO alerts").execute(&app.pool).await.unwrap();
    assert_eq!(deliver(&app, FIRING).await.status, StatusCode::OK);
    assert_eq!(rows(&app).await, (1, 1));
    let metrics = app.get("/metrics", None).await.body;
    assert!(metrics.contains("selfheal_webhook_requests_total{code=\"503\"} 1"), "{metrics}");
    assert!(metrics.contains("selfheal_db_errors_total{op=\"inbox_write\"} 1"), "{metrics}");
}
