//! A user changes their own password through the real router: the current password is checked
//! (a wrong one counts toward the login throttle), the other sessions end, this one goes on
//! under a new id, API tokens cannot do it, and it is audited.
use crate::common;

use axum::http::StatusCode;

use app::model::Role;
use common::TestApp;

const OLD: &str = "viewer-password-1";
const NEW: &str = "maple quartz river 51";

#[tokio::test]
async fn a_user_changes_their_own_password_and_their_other_sessions_end() {
    let app = TestApp::new().await;
    app.add_user("vera", OLD, Role::Viewer).await;
    let here = app.login("vera", OLD).await;
    let elsewhere = app.login("vera", OLD).await;
    let change = |current: &'static str, new: &'static str, cookie: String| {
        let app = &app;
        async move {
            app.post_form("/api/change_password", &[("current", current), ("new", new)], Some(&cookie)).await
        }
    };

    let wrong = change("not-my-password", NEW, here.clone()).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST, "{}", wrong.body);
    assert!(wrong.body.contains("current password is wrong"), "{}", wrong.body);
    let short = change(OLD, "short", here.clone()).await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST, "{}", short.body);
    assert!(short.body.contains("at least 12"), "{}", short.body);
    let same = change(OLD, OLD, here.clone()).await;
    assert_eq!(same.status, StatusCode::BAD_REQUEST, "{}", same.body);

    let done = change(OLD, NEW, here.clone()).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let cycled = done.session_cookie().expect("the session id is cycled");
    assert_ne!(cycled, here);
    let me = app.post_form("/api/me", &[], Some(&cycled)).await;
    assert!(me.body.contains("vera"), "this session goes on: {}", me.body);
    let other = app.post_form("/api/me", &[], Some(&elsewhere)).await;
    assert_eq!(other.body.trim(), "null", "the other session ended: {}", other.body);

    let old = app.post_form("/api/login", &[("username", "vera"), ("password", OLD)], None).await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED, "the old password is gone");
    app.login("vera", NEW).await;
    let actions = app.audit_actions().await;
    assert!(actions.iter().any(|a| a == "user.password_change"), "{actions:?}");
    assert!(actions.iter().any(|a| a == "auth.login_failed"), "the wrong current password: {actions:?}");
}

#[tokio::test]
async fn guessing_the_current_password_hits_the_login_throttle() {
    let app = TestApp::new().await;
    app.add_user("vera", OLD, Role::Viewer).await;
    let cookie = app.login("vera", OLD).await;
    let form = [("current", "guess-password"), ("new", NEW)];
    for _ in 0..app::ssr::auth::MAX_FAILED_LOGINS_PER_USER {
        let res = app.post_form("/api/change_password", &form, Some(&cookie)).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    }
    let right = [("current", OLD), ("new", NEW)];
    let res = app.post_form("/api/change_password", &right, Some(&cookie)).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "even the right one waits: {}", res.body);
}

#[tokio::test]
async fn nobody_and_api_tokens_cannot_change_a_password() {
    let app = TestApp::new().await;
    let form = [("current", OLD), ("new", NEW)];
    let res = app.post_form("/api/change_password", &form, None).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.body);

    let (token, hash) = app::ssr::api_token::generate_token();
    app.add_user("ada", "ada-password-12", Role::Admin).await;
    app::ssr::db::api_tokens::insert_token(&app.pool, "ci", Role::Admin, &hash, "ada").await.unwrap();
    let req = axum::http::Request::post("/api/change_password")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::from(format!("current={OLD}&new={NEW}")))
        .unwrap();
    assert_eq!(app.send(req).await.status, StatusCode::FORBIDDEN);
}
