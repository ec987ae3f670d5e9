//! `TestApp`: a temp-file SQLite database with migrations, the real router with its session
//! layer, and helpers to call it through `tower::ServiceExt::oneshot` or over a real socket.
#![allow(dead_code)]

pub mod alertmanager;
pub mod binary;
pub mod browser;
pub mod fake_prometheus;
pub mod netns;
pub mod oidc_provider;
pub mod pki;
pub mod postgres;
pub mod process;
pub mod prometheus;
pub mod replicas;
pub mod slapd;

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use sqlx::SqlitePool;
use tempfile::TempDir;
use tower::ServiceExt;

use app::model::Role;
use app::ssr::{auth, db};
use server::config::Config;
use server::startup;

/// Credentials the test app's webhook accepts.
pub const WEBHOOK_USER: &str = "alertmanager";
pub const WEBHOOK_PASSWORD: &str = "s3cret";

/// The `Authorization` header the test app's webhook accepts.
pub fn basic_auth() -> String {
    use base64::Engine as _;
    let token =
        base64::engine::general_purpose::STANDARD.encode(format!("{WEBHOOK_USER}:{WEBHOOK_PASSWORD}"));
    format!("Basic {token}")
}

/// One running application over its own database.
pub struct TestApp {
    pub router: Router,
    pub pool: SqlitePool,
    pub config: Config,
    /// The engine's housekeeping (approvals, gauges), driven step by step by tests (`step`).
    pub engine: server::engine::Engine,
    /// The inbox (its writer decides every new episode in the commit that stores it).
    pub inbox: server::intake::Inbox,
    /// The root token the worker and verifier stop on (tests that run their loops cancel it).
    pub stop: tokio_util::sync::CancellationToken,
    /// The worker, driven step by step by tests (`run_once`).
    pub worker: server::worker::Worker,
    /// The known targets per blast scope, and their counter (tests call `recount`).
    pub known_targets: app::ssr::heal::blast::LiveKnownTargets,
    pub known_counter: std::sync::Arc<server::blast::KnownTargetCounter>,
    _dir: TempDir,
}

impl TestApp {
    /// The database as the server's services take it.
    pub fn db(&self) -> app::ssr::db::backend::Db {
        app::ssr::db::backend::Db::Sqlite(self.pool.clone())
    }
}

/// A response with its body read.
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl TestResponse {
    /// The `name=value` part of the session cookie the response sets, if any.
    pub fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("selfheal_session="))
            .map(|v| v.split(';').next().unwrap_or_default().to_owned())
    }

    pub fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// The built web assets (scripts/build.sh writes them).
/// Points `config` at an ansible folder under `dir` holding one do-nothing playbook `name`.
/// The default inventory of a [`TestApp`]: two web hosts in group `web`, and localhost.
pub const TEST_INVENTORY: &str = "[web]\nweb1 ansible_connection=local\nweb2 ansible_connection=local\n\
                                  [local]\nlocalhost ansible_connection=local\n";

pub fn with_playbook(config: &mut Config, dir: &std::path::Path, name: &str) {
    let ansible = dir.join("ansible");
    std::fs::create_dir_all(&ansible).unwrap();
    std::fs::write(ansible.join(name), "- hosts: all\n  tasks: []\n").unwrap();
    config.ansible.dir = ansible;
}

pub fn site_root() -> PathBuf {
    // scripts/test.sh builds the tests' assets apart from target/site, which a running demo
    // stack serves.
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/test-site"))
}

/// A config edit for [`TestApp::with`]: a no-op `heal-nginx.yml` in the temp dir's ansible
/// folder, and `rule` (which may name it) as the only rule.
pub fn one_rule(config: &mut Config, dir: &std::path::Path, rule: serde_json::Value) {
    let ansible = dir.join("ansible");
    std::fs::create_dir_all(&ansible).expect("ansible dir");
    std::fs::write(ansible.join("heal-nginx.yml"), "- hosts: all\n  tasks: []\n").expect("playbook");
    config.ansible.dir = ansible;
    config.rules = vec![serde_json::from_value(rule).expect("a valid rule")];
}

impl TestApp {
    pub async fn new() -> TestApp {
        TestApp::with(|_, _| {}).await
    }

    /// A test app whose config `edit` adjusts first (it also gets the temp dir, e.g. for playbooks).
    pub async fn with(edit: impl FnOnce(&mut Config, &std::path::Path)) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config {
            database: server::config::Database::Sqlite(dir.path().join("selfheal.db")),
            site_root: site_root(),
            webhook: server::config::WebhookConfig {
                user: WEBHOOK_USER.to_owned(),
                password: Some(WEBHOOK_PASSWORD.to_owned().into()),
                password_sha256: None,
            },
            ..Config::default()
        };
        // The hosts a --limit may name in these tests (a test with its own inventory sets it).
        let inventory = dir.path().join("inventory.ini");
        std::fs::write(&inventory, TEST_INVENTORY).expect("test inventory");
        config.ansible.inventory = inventory;
        edit(&mut config, dir.path());
        let path = config.database.sqlite().expect("the tests' apps run on SQLite").to_owned();
        let pool = startup::open_database(&path).await.expect("database opens");
        let db = app::ssr::db::backend::Db::Sqlite(pool.clone());

        let layer = startup::session_layer(&pool, &config).await.expect("session layer");
        let stop = tokio_util::sync::CancellationToken::new();
        let services = startup::services(&db, &config, stop.clone()).expect("valid config");
        let state = startup::app_state(&config, &db, &services);
        let engine = services.engine.clone();
        let worker = services.worker.clone();
        let inbox = services.intake.inbox.clone();
        let (known_targets, known_counter) = (services.known_targets.clone(), services.known_counter.clone());
        let router = server::router(state, services.intake).layer(layer);
        TestApp { router, pool, config, engine, worker, inbox, stop, known_targets, known_counter, _dir: dir }
    }

    pub async fn add_user(&self, name: &str, password: &str, role: Role) -> i64 {
        let hash = auth::hash_password(password).expect("hash");
        db::users::insert_user(&self.pool, name, &hash, role).await.expect("insert user")
    }

    pub async fn send(&self, req: Request<Body>) -> TestResponse {
        let res = self.router.clone().oneshot(req).await.expect("router answers");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        TestResponse { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
    }

    /// A form POST as a script would send it (answers in JSON, no redirect-to-referer).
    pub async fn post_form(&self, path: &str, form: &[(&str, &str)], cookie: Option<&str>) -> TestResponse {
        let body = form.iter().map(|(k, v)| format!("{k}={}", urlencode(v))).collect::<Vec<_>>().join("&");
        let mut req = Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json");
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        self.send(req.body(Body::from(body)).expect("request")).await
    }

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> TestResponse {
        let mut req = Request::get(path);
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        self.send(req.body(Body::empty()).expect("request")).await
    }

    /// Delivers a webhook notification with the right credentials; asserts it was stored.
    pub async fn deliver(&self, body: &str) {
        let req = Request::post("/webhook")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, basic_auth())
            .body(Body::from(body.to_owned()))
            .expect("request");
        let res = self.send(req).await;
        assert_eq!(res.status, StatusCode::OK, "webhook refused: {}", res.body);
    }

    /// Logs in and returns the session cookie.
    pub async fn login(&self, name: &str, password: &str) -> String {
        let res = self.post_form("/api/login", &[("username", name), ("password", password)], None).await;
        assert_eq!(res.status, StatusCode::OK, "login of {name}: {}", res.body);
        res.session_cookie().expect("login sets a session cookie")
    }

    /// Audit actions recorded so far, oldest first.
    pub async fn audit_actions(&self) -> Vec<String> {
        sqlx::query_scalar("SELECT action FROM audit_events ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .expect("audit query")
    }

    /// Serves the router on 127.0.0.1 on a free port (for the browser tests).
    pub async fn serve(&self) -> SocketAddr {
        self.serve_on(tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind"))
    }

    /// Serves the router on `listener` (bound before the app was made: its address is in the
    /// config, as an OpenID Connect redirect URL is).
    pub fn serve_on(&self, listener: tokio::net::TcpListener) -> SocketAddr {
        let addr = listener.local_addr().expect("addr");
        let app = self.router.clone().into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One alert of a test notification: (fingerprint, alertname, severity, instance, startsAt,
/// extra labels, annotations).
pub type TestAlert<'a> =
    (&'a str, &'a str, &'a str, &'a str, &'a str, &'a [(&'a str, &'a str)], &'a [(&'a str, &'a str)]);

/// An Alertmanager webhook body carrying `alerts`, all firing.
pub fn notification(alerts: &[TestAlert<'_>]) -> String {
    let alerts: Vec<serde_json::Value> = alerts
        .iter()
        .map(|(fp, name, severity, instance, starts_at, extra, annotations)| {
            let mut labels = serde_json::json!({ "alertname": name, "severity": severity, "instance": instance });
            for (k, v) in *extra {
                labels[*k] = serde_json::json!(v);
            }
            let annotations: serde_json::Map<String, serde_json::Value> =
                annotations.iter().map(|(k, v)| ((*k).to_owned(), serde_json::json!(v))).collect();
            serde_json::json!({
                "status": "firing", "labels": labels, "annotations": annotations, "startsAt": starts_at,
                "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus/graph", "fingerprint": fp,
            })
        })
        .collect();
    serde_json::json!({
        "receiver": "heal", "status": "firing", "alerts": alerts, "groupLabels": {}, "commonLabels": {},
        "commonAnnotations": {}, "externalURL": "http://alertmanager:9093", "version": "4",
        "groupKey": "{}:{}", "truncatedAlerts": 0,
    })
    .to_string()
}
