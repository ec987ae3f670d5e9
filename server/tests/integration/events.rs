//! `/api/events`, the live dashboard's stream: signed-in users only; after `ready`, one message
//! per burst naming what changed (alerts and runs after a webhook that queues a heal, output
//! and runs while it plays, pauses); and a stopping server ends the open streams instead of
//! waiting for them.
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use futures_util::StreamExt;
use http_body_util::BodyExt;
use tower::ServiceExt;

use app::model::Role;

use crate::common::{self, binary::Selfheal, TestApp};

const FIRING: &str = include_str!("../fixtures/alertmanager/alertmanager-webhook-firing.json");

/// How long a message may take to arrive before the test fails (the stream coalesces for
/// 250 ms; the rest is room for two shared cores).
const WITHIN: Duration = Duration::from_secs(5);

/// The stream's messages as text, read as they come.
struct Stream {
    body: Body,
    buffer: String,
    /// The id of the last message read.
    last_id: Option<String>,
}

impl Stream {
    async fn open(app: &TestApp, cookie: &str) -> Stream {
        Stream::reconnect(app, cookie, None).await
    }

    /// Opens the stream as a browser reconnecting after the message `last_id`.
    async fn reconnect(app: &TestApp, cookie: &str, last_id: Option<&str>) -> Stream {
        let mut req = Request::get("/api/events").header(header::COOKIE, cookie);
        if let Some(id) = last_id {
            req = req.header("last-event-id", id);
        }
        let req = req.body(Body::empty()).unwrap();
        let res = app.router.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()[header::CONTENT_TYPE], "text/event-stream");
        Stream { body: res.into_body(), buffer: String::new(), last_id: None }
    }

    /// The next message: its event name and data.
    async fn next(&mut self) -> (String, String) {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let message: String = self.buffer.drain(..end + 2).collect();
                let field = |name: &str| {
                    message.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_owned())
                };
                match field("event:") {
                    Some(event) => {
                        self.last_id = field("id:");
                        return (event, field("data:").unwrap_or_default());
                    }
                    None => continue, // a keep-alive comment
                }
            }
            let frame = tokio::time::timeout(WITHIN, self.body.frame())
                .await
                .expect("a message within the limit")
                .expect("the stream is open")
                .unwrap();
            if let Ok(data) = frame.into_data() {
                self.buffer.push_str(&String::from_utf8_lossy(&data));
            }
        }
    }

    /// Reads messages until one names `topic`; returns the topics of that message.
    async fn until(&mut self, topic: &str) -> Vec<String> {
        loop {
            let (event, data) = self.next().await;
            let topics: Vec<String> = data.split_whitespace().map(str::to_owned).collect();
            if event == "change" && topics.iter().any(|t| t == topic) {
                return topics;
            }
        }
    }
}

#[tokio::test]
async fn a_page_reconnecting_with_its_last_event_id_hears_what_it_missed() {
    let app = TestApp::new().await;
    app.add_user("vera", "viewer-password-1", Role::Viewer).await;
    let viewer = app.login("vera", "viewer-password-1").await;
    let mut stream = Stream::open(&app, &viewer).await;
    assert_eq!(stream.next().await.0, "ready");
    let last = stream.last_id.clone().expect("ready carries an id");
    drop(stream);

    // Gone (a network blip): an alert arrives meanwhile.
    app.deliver(FIRING).await;
    let mut stream = Stream::reconnect(&app, &viewer, Some(&last)).await;
    assert_eq!(stream.next().await.0, "ready");
    let (event, data) = stream.next().await;
    assert_eq!((event.as_str(), data.as_str()), ("change", "alerts"), "what it missed, at once");
    let caught_up = stream.last_id.clone().unwrap();
    drop(stream);

    // Nothing missed since: nothing to tell (the next message is the next change).
    let mut stream = Stream::reconnect(&app, &viewer, Some(&caught_up)).await;
    assert_eq!(stream.next().await.0, "ready");
    let silent = tokio::time::timeout(Duration::from_millis(600), stream.next()).await;
    assert!(silent.is_err(), "no message when nothing changed: {silent:?}");
}

#[tokio::test]
async fn signed_in_pages_hear_what_changed_and_nothing_else() {
    let app = TestApp::with(|config, dir| {
        common::one_rule(
            config,
            dir,
            serde_json::json!({
                "name": "nginx-down", "match": { "alertname": "NginxDown" }, "playbook": "heal-nginx.yml",
                "cooldown": "0s",
            }),
        );
    })
    .await;
    let anonymous = app.get("/api/events", None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{}", anonymous.body);

    app.add_user("vera", "viewer-password-1", Role::Viewer).await;
    let viewer = app.login("vera", "viewer-password-1").await;
    let mut stream = Stream::open(&app, &viewer).await;
    assert_eq!(stream.next().await.0, "ready");

    app.deliver(FIRING).await;
    let topics = stream.until("alerts").await;
    assert!(topics.contains(&"runs".to_owned()), "the queued heal is news for the runs pages: {topics:?}");

    app.worker.run_once().await.unwrap().expect("the queued run");
    let mut heard = stream.until("output").await;
    while !heard.contains(&"runs".to_owned()) {
        heard.extend(stream.next().await.1.split_whitespace().map(str::to_owned));
    }

    app.add_user("olga", "operator-password-1", Role::Operator).await;
    let operator = app.login("olga", "operator-password-1").await;
    let paused = app.post_form("/api/pause", &[("reason", "maintenance")], Some(&operator)).await;
    assert_eq!(paused.status, StatusCode::OK, "{}", paused.body);
    assert_eq!(stream.until("pauses").await, ["pauses"], "only what changed is named");
}

#[tokio::test]
async fn a_storm_is_a_few_messages_not_one_per_alert() {
    let app = TestApp::new().await;
    app.add_user("vera", "viewer-password-1", Role::Viewer).await;
    let viewer = app.login("vera", "viewer-password-1").await;
    let mut stream = Stream::open(&app, &viewer).await;
    assert_eq!(stream.next().await.0, "ready");

    let started = Instant::now();
    let deliveries = futures_util::stream::iter(0..200)
        .map(|i| {
            let body = common::notification(&[(
                &format!("fp{i}"),
                "NginxDown",
                "critical",
                &format!("web-{i}:80"),
                "2026-11-22T01:00:00Z",
                &[],
                &[],
            )]);
            let app = &app;
            async move { app.deliver(&body).await }
        })
        .buffer_unordered(16)
        .collect::<Vec<()>>();
    deliveries.await;
    let elapsed = started.elapsed();
    let mut messages = 0u32;
    // Whatever arrived during the storm, plus the last one after it.
    while let Ok(message) = tokio::time::timeout(Duration::from_millis(600), stream.next()).await {
        assert_eq!(message.0, "change");
        messages += 1;
    }
    let most = u32::try_from(elapsed.as_millis() / 250).unwrap() + 2;
    assert!(messages >= 1 && messages <= most, "{messages} messages for 200 deliveries in {elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_server_ends_the_open_streams_instead_of_waiting_for_them() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("selfheal.toml"), "database = \"data/selfheal.db\"\n").unwrap();
    let port = common::alertmanager::free_port();
    let mut server = Selfheal::start(dir.path(), port, "warn").await;
    let client = reqwest::Client::new();
    let login = client
        .post(format!("http://127.0.0.1:{port}/api/login"))
        .header(header::ACCEPT, "application/json")
        .form(&[("username", "admin"), ("password", "granite-meadow-lantern-74")])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let cookie = login.headers()[header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_owned();
    let mut events = client
        .get(format!("http://127.0.0.1:{port}/api/events"))
        .header(header::COOKIE, cookie)
        .send()
        .await
        .unwrap();
    let first = events.chunk().await.unwrap().expect("the first message");
    assert!(String::from_utf8_lossy(&first).contains("event: ready"));

    let asked = Instant::now();
    server.sigterm();
    while server.try_wait().is_none() {
        assert!(asked.elapsed() < Duration::from_secs(10), "an open stream held the stop: {}", server.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(server.wait().success(), "a clean exit: {}", server.log());
    // The stream ended with the server (cleanly or cut): it does not hang.
    let rest = tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(Some(_)) = events.chunk().await {}
    });
    assert!(rest.await.is_ok(), "the stream ended");
}
