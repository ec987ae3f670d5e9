//! User administration through the real router: add, change role, disable / enable, reset a
//! password — each writes its row and an audit event naming the admin; the guards keep an
//! admin in charge; a disabled user's or reset user's open session is refused afterwards.
use crate::common;

use axum::http::StatusCode;

use app::model::{IssuedPassword, Role};
use common::TestApp;

const ADMIN_PASSWORD: &str = "admin-password-1";
const VIEWER_PASSWORD: &str = "viewer-password-1";

/// An app with the admin `ada` (logged in: her cookie) and the viewer `vera`.
async fn app() -> (TestApp, String) {
    let app = TestApp::new().await;
    app.add_user("ada", ADMIN_PASSWORD, Role::Admin).await;
    app.add_user("vera", VIEWER_PASSWORD, Role::Viewer).await;
    let cookie = app.login("ada", ADMIN_PASSWORD).await;
    (app, cookie)
}

/// (role, disabled) of a user.
async fn user(app: &TestApp, name: &str) -> (String, bool) {
    sqlx::query_as("SELECT role, disabled FROM users WHERE username = ?")
        .bind(name)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// The newest audit event: (actor, action, target, detail).
async fn last_audit(app: &TestApp) -> (String, String, String, String) {
    sqlx::query_as("SELECT actor, action, target, detail FROM audit_events ORDER BY id DESC LIMIT 1")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn still_in(app: &TestApp, cookie: &str) -> StatusCode {
    app.post_form("/api/overview", &[], Some(cookie)).await.status
}

#[tokio::test]
async fn an_admin_adds_users_with_a_given_or_generated_password() {
    let (app, ada) = app().await;
    let form = [("username", "olga"), ("role", "operator"), ("password", "violet canyon drum 88")];
    let res = app.post_form("/api/add_user", &form, Some(&ada)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let issued: IssuedPassword = serde_json::from_str(&res.body).unwrap();
    assert_eq!((issued.role, issued.password), (Role::Operator, None));
    assert_eq!(user(&app, "olga").await, ("operator".into(), false));
    let audit = ("ada".into(), "user.add".into(), "olga".into(), "role operator, password set".into());
    assert_eq!(last_audit(&app).await, audit);
    app.login("olga", "violet canyon drum 88").await;

    let res = app.post_form("/api/add_user", &[("username", "gen"), ("role", "viewer")], Some(&ada)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let issued: IssuedPassword = serde_json::from_str(&res.body).unwrap();
    let password = issued.password.expect("a generated password, shown once");
    assert_eq!(last_audit(&app).await.3, "role viewer, password generated");
    assert!(!last_audit(&app).await.3.contains(&password), "never in the audit log");
    app.login("gen", &password).await;

    // Refused, and nothing written: a taken name (any case), a bad name, a short password.
    let users_before = app.post_form("/api/users", &[], Some(&ada)).await.body;
    let audits_before = app.audit_actions().await.len();
    for (form, status) in [
        (
            [("username", "OLGA"), ("role", "viewer"), ("password", "violet canyon drum 89")],
            StatusCode::CONFLICT,
        ),
        (
            [("username", "bad name"), ("role", "viewer"), ("password", "violet canyon drum 89")],
            StatusCode::BAD_REQUEST,
        ),
        ([("username", "short"), ("role", "viewer"), ("password", "short")], StatusCode::BAD_REQUEST),
        (
            [("username", "root"), ("role", "root"), ("password", "violet canyon drum 89")],
            StatusCode::BAD_REQUEST,
        ),
        // Reserved for selfheal's own audit actors and run requesters (any case).
        (
            [("username", "Engine"), ("role", "viewer"), ("password", "violet canyon drum 89")],
            StatusCode::BAD_REQUEST,
        ),
        // The password policy: a common password, one containing the name.
        ([("username", "pat"), ("role", "viewer"), ("password", "password1234")], StatusCode::BAD_REQUEST),
        (
            [("username", "patricia"), ("role", "viewer"), ("password", "Patricia-harbor-9")],
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let res = app.post_form("/api/add_user", &form, Some(&ada)).await;
        assert_eq!(res.status, status, "{form:?}: {}", res.body);
    }
    assert_eq!(app.post_form("/api/users", &[], Some(&ada)).await.body, users_before);
    assert_eq!(app.audit_actions().await.len(), audits_before);
}

#[tokio::test]
async fn role_changes_are_written_audited_and_apply_to_open_sessions() {
    let (app, ada) = app().await;
    let vera = app.login("vera", VIEWER_PASSWORD).await;
    let reset = [("rule", "none"), ("target", "x")];
    assert_eq!(app.post_form("/api/reset_breaker", &reset, Some(&vera)).await.status, StatusCode::FORBIDDEN);

    let res =
        app.post_form("/api/set_user_role", &[("username", "vera"), ("role", "operator")], Some(&ada)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(user(&app, "vera").await, ("operator".into(), false));
    let audit = ("ada".into(), "user.role".into(), "vera".into(), "role viewer → operator".into());
    assert_eq!(last_audit(&app).await, audit);
    // Her session stays, with the new role at once (400: no such rule, past the role check).
    assert_eq!(
        app.post_form("/api/reset_breaker", &reset, Some(&vera)).await.status,
        StatusCode::BAD_REQUEST
    );

    let missing =
        app.post_form("/api/set_user_role", &[("username", "nobody"), ("role", "admin")], Some(&ada)).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_disabled_user_is_refused_at_once_and_logs_in_again_once_enabled() {
    let (app, ada) = app().await;
    let vera = app.login("vera", VIEWER_PASSWORD).await;
    assert_eq!(still_in(&app, &vera).await, StatusCode::OK);

    let res = app
        .post_form("/api/set_user_disabled", &[("username", "vera"), ("disabled", "true")], Some(&ada))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(user(&app, "vera").await, ("viewer".into(), true));
    let audit = ("ada".into(), "user.disable".into(), "vera".into(), "disabled; sessions ended".into());
    assert_eq!(last_audit(&app).await, audit);
    assert_eq!(still_in(&app, &vera).await, StatusCode::UNAUTHORIZED, "her open session is refused");
    let login = [("username", "vera"), ("password", VIEWER_PASSWORD)];
    assert_eq!(app.post_form("/api/login", &login, None).await.status, StatusCode::UNAUTHORIZED);

    let res = app
        .post_form("/api/set_user_disabled", &[("username", "vera"), ("disabled", "false")], Some(&ada))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(user(&app, "vera").await, ("viewer".into(), false));
    assert_eq!(last_audit(&app).await.1, "user.enable");
    assert_eq!(still_in(&app, &vera).await, StatusCode::UNAUTHORIZED, "the old session stays ended");
    let again = app.login("vera", VIEWER_PASSWORD).await;
    assert_eq!(still_in(&app, &again).await, StatusCode::OK);
    assert_eq!(still_in(&app, &ada).await, StatusCode::OK, "nobody else was logged out");
}

#[tokio::test]
async fn a_reset_password_is_shown_once_and_ends_the_users_sessions() {
    let (app, ada) = app().await;
    let vera = app.login("vera", VIEWER_PASSWORD).await;
    let res = app.post_form("/api/reset_password", &[("username", "vera")], Some(&ada)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let issued: IssuedPassword = serde_json::from_str(&res.body).unwrap();
    let password = issued.password.expect("the new password");
    let audit =
        ("ada".into(), "user.password_reset".into(), "vera".into(), "password reset; sessions ended".into());
    assert_eq!(last_audit(&app).await, audit);
    assert_eq!(still_in(&app, &vera).await, StatusCode::UNAUTHORIZED, "her open session ended");
    let old = [("username", "vera"), ("password", VIEWER_PASSWORD)];
    assert_eq!(app.post_form("/api/login", &old, None).await.status, StatusCode::UNAUTHORIZED);
    let fresh = app.login("vera", &password).await;
    assert_eq!(still_in(&app, &fresh).await, StatusCode::OK);
    assert_eq!(still_in(&app, &ada).await, StatusCode::OK);
}

#[tokio::test]
async fn nobody_disables_or_demotes_themselves_and_the_last_admin_stays() {
    let (app, ada) = app().await;
    let conflict = |res: common::TestResponse, word: &str| {
        assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
        assert!(res.body.contains(word), "{}", res.body);
    };
    let audits = app.audit_actions().await.len();
    let disable_ada = [("username", "ada"), ("disabled", "true")];
    conflict(app.post_form("/api/set_user_disabled", &disable_ada, Some(&ada)).await, "yourself");
    let demote_ada = [("username", "ada"), ("role", "operator")];
    conflict(app.post_form("/api/set_user_role", &demote_ada, Some(&ada)).await, "demote yourself");
    conflict(app.post_form("/api/reset_password", &[("username", "ada")], Some(&ada)).await, "own password");

    // An admin API token is nobody's self: only the last-admin guard stands between it and ada.
    let (token, hash) = app::ssr::api_token::generate_token();
    app::ssr::db::api_tokens::insert_token(&app.pool, "ops", Role::Admin, &hash, "ada").await.unwrap();
    let bearer = |path: &'static str, form: &'static [(&'static str, &'static str)]| {
        let body = form.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
        axum::http::Request::post(path)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .body(axum::body::Body::from(body))
            .unwrap()
    };
    conflict(
        app.send(bearer("/api/set_user_disabled", &[("username", "ada"), ("disabled", "true")])).await,
        "last active admin",
    );
    conflict(
        app.send(bearer("/api/set_user_role", &[("username", "ada"), ("role", "viewer")])).await,
        "last active admin",
    );
    assert_eq!(user(&app, "ada").await, ("admin".into(), false));
    assert_eq!(app.audit_actions().await.len(), audits, "a refusal writes nothing");

    // With a second admin, ada may demote them, and then they are the last no longer.
    app.add_user("adam", "adam-password-1", Role::Admin).await;
    let ok = app.send(bearer("/api/set_user_disabled", &[("username", "ada"), ("disabled", "true")])).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let adam = app.login("adam", "adam-password-1").await;
    let demote_adam = [("username", "adam"), ("role", "viewer")];
    conflict(app.post_form("/api/set_user_role", &demote_adam, Some(&adam)).await, "demote yourself");
    let enable_ada = [("username", "ada"), ("disabled", "false")];
    assert_eq!(
        app.post_form("/api/set_user_disabled", &enable_ada, Some(&adam)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn existing_users_with_reserved_names_are_reported_at_start() {
    let app = TestApp::new().await;
    app.add_user("Engine", "stored-before-the-check-1", Role::Operator).await;
    app.add_user("olga", "violet canyon drum 88", Role::Viewer).await;
    assert_eq!(server::users::report_reserved_usernames(&app.db()).await.unwrap(), ["Engine"]);
}

/// Setting a role and disabling are plain HTML forms on the Admin page: posted as a browser
/// does, the change is made and the browser is sent back to the page; a refusal comes back
/// above the page in words.
#[tokio::test]
async fn the_admin_pages_plain_forms_change_roles_and_say_why_not() {
    use axum::body::Body;
    use axum::http::{header, Request};
    let (app, cookie) = app().await;
    let form = |path: &str, body: &str| {
        Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "text/html")
            .header(header::REFERER, "http://localhost/admin")
            .header(header::COOKIE, &cookie)
            .body(Body::from(body.to_owned()))
            .unwrap()
    };
    let res = app.send(form("/api/set_user_role", "username=vera&role=operator")).await;
    assert!(res.status.is_redirection(), "{} {}", res.status, res.body);
    let back = res.header(header::LOCATION).unwrap_or_default();
    assert!(back.starts_with("http://localhost/admin") && !back.contains("__err"), "{back}");
    assert_eq!(user(&app, "vera").await, ("operator".into(), false));
    let res = app.send(form("/api/set_user_disabled", "username=vera&disabled=true")).await;
    assert!(res.status.is_redirection());
    assert_eq!(user(&app, "vera").await, ("operator".into(), true));

    let res = app.send(form("/api/set_user_role", "username=ada&role=viewer")).await;
    let location = res.header(header::LOCATION).unwrap().trim_start_matches("http://localhost").to_owned();
    let page = app.get(&location, Some(&cookie)).await;
    assert!(page.body.contains("Refused: you cannot demote yourself"), "{location}: {}", page.body);
}
