//! Login, sessions and roles through the real router.
use crate::common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};

use app::model::Role;
use app::ssr::auth;
use app::ssr::db::login_attempts::flush_login_throttles;
use common::TestApp;

const ADMIN_PW: &str = "admin-password-1";
const VIEWER_PW: &str = "viewer-password-1";

async fn app_with_users() -> TestApp {
    let app = TestApp::new().await;
    app.add_user("admin", ADMIN_PW, Role::Admin).await;
    app.add_user("vera", VIEWER_PW, Role::Viewer).await;
    app
}

#[tokio::test]
async fn login_sets_a_hardened_session_cookie_and_me_returns_the_user() {
    let app = app_with_users().await;
    let res = app.post_form("/api/login", &[("username", "admin"), ("password", ADMIN_PW)], None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.json()["username"], "admin");
    assert_eq!(res.json()["role"], "admin");
    let set_cookie = res.header(header::SET_COOKIE).expect("cookie").to_owned();
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(set_cookie.contains(flag), "{flag} missing from {set_cookie}");
    }
    assert!(!set_cookie.contains("Secure"), "no TLS configured: {set_cookie}");

    let me = app.post_form("/api/me", &[], res.session_cookie().as_deref()).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json()["username"], "admin");
    assert_eq!(app.audit_actions().await, ["auth.login"]);
}

#[tokio::test]
async fn bad_password_and_unknown_user_get_the_same_answer() {
    let app = app_with_users().await;
    let wrong_pw =
        app.post_form("/api/login", &[("username", "admin"), ("password", "nope-nope")], None).await;
    let unknown = app.post_form("/api/login", &[("username", "ghost"), ("password", ADMIN_PW)], None).await;
    let bad_name = app.post_form("/api/login", &[("username", "a b'c"), ("password", ADMIN_PW)], None).await;
    for res in [&wrong_pw, &unknown, &bad_name] {
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        assert_eq!(res.body, wrong_pw.body, "one generic error");
        assert!(res.session_cookie().is_none(), "no session for a failed login");
    }
    assert!(wrong_pw.body.contains("BadCredentials"), "{}", wrong_pw.body);
    assert_eq!(app.audit_actions().await, ["auth.login_failed"; 3]);
    let targets: Vec<Option<String>> =
        sqlx::query_scalar("SELECT target FROM audit_events ORDER BY id").fetch_all(&app.pool).await.unwrap();
    assert_eq!(targets, [Some("admin".into()), Some("ghost".into()), None], "invalid names are not recorded");
}

#[tokio::test]
async fn a_login_form_missing_a_field_is_a_400_naming_it() {
    let app = app_with_users().await;
    let res = app.post_form("/api/login", &[("username", "admin")], None).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    assert!(res.body.contains("password"), "{}", res.body);
    assert!(app.audit_actions().await.is_empty());
}

#[tokio::test]
async fn protected_functions_refuse_requests_without_a_session() {
    let app = app_with_users().await;
    for path in ["/api/users", "/api/audit"] {
        let res = app.post_form(path, &[], None).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{path}: {}", res.body);
        assert!(res.body.contains("Unauthorized"), "{path}: {}", res.body);
    }
    let forged = app.post_form("/api/users", &[], Some("selfheal_session=forged-session-id")).await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    let me = app.post_form("/api/me", &[], None).await;
    assert_eq!((me.status, me.body.as_str()), (StatusCode::OK, "null"));
}

#[tokio::test]
async fn a_viewer_is_refused_an_admin_function_but_may_read() {
    let app = app_with_users().await;
    let viewer = app.login("vera", VIEWER_PW).await;
    let users = app.post_form("/api/users", &[], Some(&viewer)).await;
    assert_eq!(users.status, StatusCode::FORBIDDEN, "{}", users.body);
    assert!(!users.body.contains("admin-password"), "no detail leaks");
    let audit = app.post_form("/api/audit", &[], Some(&viewer)).await;
    assert_eq!(audit.status, StatusCode::OK, "{}", audit.body);
    assert_eq!(audit.json()["rows"][0]["action"], "auth.login");

    let admin = app.login("admin", ADMIN_PW).await;
    let users = app.post_form("/api/users", &[], Some(&admin)).await;
    assert_eq!(users.status, StatusCode::OK, "{}", users.body);
    let names: Vec<_> = users.json().as_array().unwrap().iter().map(|u| u["username"].clone()).collect();
    assert_eq!(names, ["admin", "vera"]);
    assert!(!users.body.contains("argon2"), "hashes never leave the server");
}

#[tokio::test]
async fn logout_destroys_the_session() {
    let app = app_with_users().await;
    let cookie = app.login("admin", ADMIN_PW).await;
    let out = app.post_form("/api/logout", &[], Some(&cookie)).await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.body);
    let me = app.post_form("/api/me", &[], Some(&cookie)).await;
    assert_eq!(me.body, "null", "the old cookie is worthless after logout");
    assert_eq!(app.post_form("/api/users", &[], Some(&cookie)).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.audit_actions().await, ["auth.login", "auth.logout"]);
}

#[tokio::test]
async fn the_session_id_is_cycled_on_login() {
    let app = app_with_users().await;
    let first = app.login("vera", VIEWER_PW).await;
    let again =
        app.post_form("/api/login", &[("username", "admin"), ("password", ADMIN_PW)], Some(&first)).await;
    assert_eq!(again.status, StatusCode::OK);
    let second = again.session_cookie().expect("a new cookie");
    assert_ne!(first, second, "login must issue a new session id");
    assert_eq!(app.post_form("/api/me", &[], Some(&first)).await.body, "null", "old id is dead");
    assert_eq!(app.post_form("/api/me", &[], Some(&second)).await.json()["username"], "admin");
}

#[tokio::test]
async fn a_disabled_user_loses_their_session_and_cannot_log_in() {
    let app = app_with_users().await;
    let cookie = app.login("vera", VIEWER_PW).await;
    app::ssr::db::users::set_disabled(&app.pool, "vera", true).await.unwrap();
    assert_eq!(app.post_form("/api/me", &[], Some(&cookie)).await.body, "null");
    let res = app.post_form("/api/login", &[("username", "vera"), ("password", VIEWER_PW)], None).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_plain_html_form_login_redirects_without_javascript() {
    let app = app_with_users().await;
    let form = |pw: &str| {
        Request::post("/api/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "text/html,application/xhtml+xml")
            .header(header::REFERER, "http://127.0.0.1:5000/login")
            .body(Body::from(format!("username=admin&password={pw}")))
            .unwrap()
    };
    let ok = app.send(form(ADMIN_PW)).await;
    assert_eq!(ok.status, StatusCode::FOUND, "{}", ok.body);
    assert_eq!(ok.header(header::LOCATION), Some("/"));
    assert!(ok.session_cookie().is_some());

    let bad = app.send(form("wrong-password")).await;
    assert_eq!(bad.status, StatusCode::FOUND);
    let location = bad.header(header::LOCATION).unwrap_or_default();
    assert!(location.starts_with("http://127.0.0.1:5000/login"), "back to the form: {location}");
    assert!(bad.session_cookie().is_none());
}

#[tokio::test]
async fn pages_need_a_login_and_unknown_paths_are_404() {
    let app = app_with_users().await;
    for (path, login) in [
        ("/", "/login"),
        ("/alerts", "/login?next=%2Falerts"),
        ("/runs?status=failed", "/login?next=%2Fruns%3Fstatus%3Dfailed"),
        ("/audit", "/login?next=%2Faudit"),
        ("/admin", "/login?next=%2Fadmin"),
    ] {
        let res = app.get(path, None).await;
        assert!(res.status.is_redirection(), "{path}: {}", res.status);
        assert_eq!(res.header(header::LOCATION), Some(login), "{path}: the login returns there");
    }
    let login = app.get("/login", None).await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.body.contains(r#"action="/api/login""#), "a real form: {}", login.body);

    let cookie = app.login("admin", ADMIN_PW).await;
    let page = app.get("/audit", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Audit log"), "{}", page.body);
    assert!(page.body.contains("auth.login"), "server-rendered rows: {}", page.body);

    let missing = app.get("/no-such-page", Some(&cookie)).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.body.contains("404"), "{}", missing.body);
}

#[tokio::test]
async fn health_reports_the_database() {
    let app = TestApp::new().await;
    let res = app.get("/health", None).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json()["status"], "ok");
    assert_eq!(res.json()["database"], "ok");
    app.pool.close().await;
    let res = app.get("/health", None).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.json()["database"], "unavailable");
}

#[tokio::test]
async fn the_first_start_creates_one_admin() {
    use server::startup::{bootstrap_admin, Bootstrap};
    let app = TestApp::new().await;
    let outcome = bootstrap_admin(&app.pool, &app.config).await.unwrap();
    let Bootstrap::Generated(password) = outcome else {
        panic!("expected a generated password: {outcome:?}")
    };
    assert_eq!(bootstrap_admin(&app.pool, &app.config).await.unwrap(), Bootstrap::Existing);
    let cookie = app.login("admin", &password).await;
    let me = app.post_form("/api/me", &[], Some(&cookie)).await;
    assert_eq!(me.json()["role"], "admin");
    assert_eq!(app.audit_actions().await, ["user.bootstrap", "auth.login"]);
}

#[tokio::test]
async fn the_bootstrap_admin_password_can_come_from_config() {
    use server::startup::{bootstrap_admin, Bootstrap};
    let mut app = TestApp::new().await;
    app.config.admin_password = Some("from-config-pw".to_owned().into());
    assert_eq!(bootstrap_admin(&app.pool, &app.config).await.unwrap(), Bootstrap::FromConfig);
    app.login("admin", "from-config-pw").await;
}

#[tokio::test]
async fn repeated_failures_lock_the_name_even_for_the_right_password() {
    let app = app_with_users().await;
    for _ in 0..auth::MAX_FAILED_LOGINS_PER_USER {
        let res =
            app.post_form("/api/login", &[("username", "admin"), ("password", "wrong-guess")], None).await;
        assert_eq!(res.status, 401);
    }
    let res = app.post_form("/api/login", &[("username", "admin"), ("password", ADMIN_PW)], None).await;
    assert_eq!(res.status, 429, "{}", res.body);
    assert_eq!(res.header(header::RETRY_AFTER), Some("900"));
    assert_eq!(res.json(), serde_json::json!({ "TooManyAttempts": 15 }));
    // The refusal is audited once its minute has ended (the sealer's flush), with its count.
    let next_minute = time::OffsetDateTime::now_utc() + std::time::Duration::from_secs(60);
    flush_login_throttles(&app.pool, auth::LOGIN_WINDOW, next_minute).await.unwrap();
    assert!(app.audit_actions().await.contains(&"auth.login_throttled".to_owned()));
    let detail: String =
        sqlx::query_scalar("SELECT detail FROM audit_events WHERE action = 'auth.login_throttled'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(detail.contains("\"attempts\":1"), "{detail}");
    // Another name is not affected by admin's failures.
    let other = app.post_form("/api/login", &[("username", "vera"), ("password", VIEWER_PW)], None).await;
    assert_eq!(other.status, 200, "{}", other.body);
}

#[tokio::test]
async fn one_address_spraying_many_names_is_refused() {
    let app = app_with_users().await;
    for i in 0..auth::MAX_FAILED_LOGINS_PER_ADDRESS {
        let attempt =
            auth::begin_login_attempt(&app.pool, &format!("user{i}"), Some("192.0.2.7")).await.unwrap();
        auth::settle_login_attempt(&app.pool, attempt.expect("under the limit"), false).await.unwrap();
    }
    let refused = auth::begin_login_attempt(&app.pool, "admin", Some("192.0.2.7")).await.unwrap();
    assert!(refused.is_none(), "the address is over its limit");
    let other = auth::begin_login_attempt(&app.pool, "admin", Some("192.0.2.8")).await.unwrap();
    assert!(other.is_some(), "another address is not");
    let unknown = auth::begin_login_attempt(&app.pool, "admin", None).await.unwrap();
    assert!(unknown.is_some(), "no address: only the name counts");
}

#[tokio::test]
async fn parallel_wrong_guesses_all_count_before_the_right_password() {
    // 30 wrong passwords at once: each attempt is reserved before its ~50 ms password check, so
    // at most the name's limit get checked and the rest are refused; then the right password
    // is refused too. (Counted after the check, all 30 got 401 and the 31st logged in.)
    let app = app_with_users().await;
    let guesses =
        (0..30).map(|_| app.post_form("/api/login", &[("username", "admin"), ("password", "nope")], None));
    let statuses: Vec<u16> =
        futures_util::future::join_all(guesses).await.iter().map(|r| r.status.as_u16()).collect();
    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert!(checked <= auth::MAX_FAILED_LOGINS_PER_USER as usize, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 30 - checked, "{statuses:?}");
    let res = app.post_form("/api/login", &[("username", "admin"), ("password", ADMIN_PW)], None).await;
    assert_eq!(res.status, 429, "{}", res.body);
    // The refusals wrote no audit row each: one event for the name and minute, with the count.
    let throttled = |app: &TestApp| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, String>(
                "SELECT detail FROM audit_events WHERE action = 'auth.login_throttled' ORDER BY id",
            )
            .fetch_all(&pool)
            .await
            .unwrap()
        }
    };
    assert_eq!(throttled(&app).await.len(), 0, "not one audit row per refused request");
    let next_minute = time::OffsetDateTime::now_utc() + std::time::Duration::from_secs(60);
    flush_login_throttles(&app.pool, auth::LOGIN_WINDOW, next_minute).await.unwrap();
    let events = throttled(&app).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(events[0].contains(&format!("\"attempts\":{}", 30 - checked + 1)), "{events:?}");
}

#[tokio::test]
async fn case_variants_of_a_name_share_its_lockout() {
    let app = app_with_users().await;
    let names = ["admin", "ADMIN", "Admin", "aDmIn", "admiN"];
    for name in names {
        let res = app.post_form("/api/login", &[("username", name), ("password", "wrong-guess")], None).await;
        assert_eq!(res.status, 401, "{name}: {}", res.body);
    }
    for name in ["AdMiN", "admin"] {
        let res = app.post_form("/api/login", &[("username", name), ("password", ADMIN_PW)], None).await;
        assert_eq!(res.status, 429, "{name} is the same user: {}", res.body);
    }
}

#[tokio::test]
async fn a_session_ends_at_its_absolute_expiry_however_active() {
    let app = TestApp::with(|config, _| config.session_absolute = std::time::Duration::from_secs(2)).await;
    app.add_user("ann", ADMIN_PW, Role::Admin).await;
    let cookie = app.login("ann", ADMIN_PW).await;
    let me = app.post_form("/api/me", &[], Some(&cookie)).await;
    assert_eq!(me.json()["username"], "ann", "fresh session");
    // Active all along (a request every half second), still over after the absolute limit.
    for _ in 0..7 {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        app.post_form("/api/me", &[], Some(&cookie)).await;
    }
    let me = app.post_form("/api/me", &[], Some(&cookie)).await;
    assert_eq!(me.json(), serde_json::Value::Null, "expired: {}", me.body);
    let res = app.post_form("/api/users", &[], Some(&cookie)).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}

/// A login from TCP peer `peer`, with `X-Forwarded-For: xff` when given.
async fn login_from(app: &TestApp, peer: &str, xff: Option<&str>, name: &str, password: &str) -> StatusCode {
    let addr: std::net::SocketAddr = format!("{peer}:40000").parse().unwrap();
    let mut req = Request::post("/api/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .extension(axum::extract::ConnectInfo(addr));
    if let Some(xff) = xff {
        req = req.header("x-forwarded-for", xff);
    }
    let body = format!("username={name}&password={password}");
    app.send(req.body(Body::from(body)).unwrap()).await.status
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_address_limit_counts_the_client_it_names() {
    let app = TestApp::with(|config, _| config.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await;
    app.add_user("admin", ADMIN_PW, Role::Admin).await;
    for i in 0..auth::MAX_FAILED_LOGINS_PER_ADDRESS {
        let status =
            login_from(&app, "127.0.0.1", Some("203.0.113.5"), &format!("user{i}"), "wrong-guess").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // The client the proxy named is refused, even with the right password ...
    let named = login_from(&app, "127.0.0.1", Some("203.0.113.5"), "admin", ADMIN_PW).await;
    assert_eq!(named, StatusCode::TOO_MANY_REQUESTS);
    // ... while everyone else behind the same proxy is not (the peer alone locked them all out).
    let other = login_from(&app, "127.0.0.1", Some("203.0.113.6"), "admin", ADMIN_PW).await;
    assert_eq!(other, StatusCode::OK);
    let source: Option<String> = sqlx::query_scalar(
        "SELECT source FROM audit_events WHERE action = 'auth.login' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(source.as_deref(), Some("203.0.113.6"), "the audit log names the client");
    // A peer that is not a trusted proxy cannot choose its address with the header.
    for i in 0..auth::MAX_FAILED_LOGINS_PER_ADDRESS {
        let xff = format!("198.51.100.{i}");
        let status = login_from(&app, "192.0.2.9", Some(&xff), &format!("x{i}"), "wrong-guess").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let spoofed = login_from(&app, "192.0.2.9", Some("198.51.100.200"), "admin", ADMIN_PW).await;
    assert_eq!(spoofed, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_login_returns_to_the_deep_link_and_never_to_another_site() {
    let app = app_with_users().await;
    let form = |next: &str| {
        Request::post("/api/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "text/html,application/xhtml+xml")
            .header(header::REFERER, "http://127.0.0.1:5000/login")
            .body(Body::from(format!("username=admin&password={ADMIN_PW}&next={next}")))
            .unwrap()
    };
    for (next, lands) in [
        ("%2Fruns%2F7%3Ffrom%3D20", "/runs/7?from=20"),
        ("%2F%2Fevil.example%2F", "/"),
        ("https%3A%2F%2Fevil.example%2F", "/"),
        ("%2Fapi%2Flogout", "/"),
        ("", "/"),
    ] {
        let res = app.send(form(next)).await;
        assert_eq!(res.status, StatusCode::FOUND, "{}", res.body);
        assert_eq!(res.header(header::LOCATION), Some(lands), "next={next}");
    }
    let login = app.get("/login?next=%2Falerts%2F3", None).await;
    assert!(
        login.body.contains(r#"name="next" value="/alerts/3""#),
        "the form carries next, without JavaScript too: {}",
        login.body
    );
}
