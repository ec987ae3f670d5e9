//! The permission matrix, checked on the server for every server function and principal:
//! nobody, a session of each role (viewer, operator, admin), and an API token of each role. The table must cover every registered server function (a new one
//! without a row fails here). State changes are POST only and refused from another site.
use crate::common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};

use app::model::Role;
use common::TestApp;

/// Who may call what: (path, form body, the least role allowed; None = anyone).
const MATRIX: &[(&str, &str, Option<Role>)] = &[
    ("/api/login", "username=nobody&password=wrong-password", None),
    ("/api/logout", "", None),
    ("/api/me", "", None),
    ("/api/change_password", "current=wrong-password&new=another-password-1", Some(Role::Viewer)),
    ("/api/overview", "", Some(Role::Viewer)),
    ("/api/nav_counts", "", Some(Role::Viewer)),
    ("/api/alerts", "", Some(Role::Viewer)),
    ("/api/alert_counts", "", Some(Role::Viewer)),
    ("/api/alert", "id=1", Some(Role::Viewer)),
    ("/api/runs", "", Some(Role::Viewer)),
    ("/api/run", "id=1", Some(Role::Viewer)),
    ("/api/run_output", "id=1&after=0", Some(Role::Viewer)),
    ("/api/run_output_search", "id=1&q=ok", Some(Role::Viewer)),
    ("/api/run_recap", "id=1", Some(Role::Viewer)),
    ("/api/run_tasks", "id=1", Some(Role::Viewer)),
    ("/api/audit", "", Some(Role::Viewer)),
    ("/api/rules", "", Some(Role::Viewer)),
    ("/api/approvals", "", Some(Role::Viewer)),
    ("/api/replay", "alert_id=1", Some(Role::Viewer)),
    ("/api/replay", "alert_id=1&enqueue=true", Some(Role::Operator)),
    ("/api/heal_now", "alert_id=1", Some(Role::Operator)),
    ("/api/approve_run", "run_id=1&approve=true", Some(Role::Operator)),
    ("/api/cancel_run", "run_id=1", Some(Role::Operator)),
    ("/api/reset_breaker", "rule=nginx-down&target=web1", Some(Role::Operator)),
    ("/api/pauses", "", Some(Role::Viewer)),
    ("/api/pause", "rule=nope&reason=matrix", Some(Role::Operator)),
    ("/api/resume", "rule=nope", Some(Role::Operator)),
    ("/api/blast_trips", "", Some(Role::Viewer)),
    ("/api/blast_reset", "rule=nope&scope=", Some(Role::Operator)),
    ("/api/windows", "", Some(Role::Viewer)),
    ("/api/window_open", "name=matrix&matchers=a%3D%22b%22&for=1m", Some(Role::Operator)),
    ("/api/window_cancel", "name=nope", Some(Role::Operator)),
    ("/api/reload_rules", "", Some(Role::Admin)),
    ("/api/catalog", "", Some(Role::Viewer)),
    ("/api/run_playbook", "rule=nope&target=web1", Some(Role::Operator)),
    ("/api/silence_alert", "alert_id=1&hours=1&comment=matrix", Some(Role::Operator)),
    ("/api/users", "", Some(Role::Admin)),
    ("/api/api_tokens", "", Some(Role::Admin)),
    ("/api/create_api_token", "name=matrix&role=viewer", Some(Role::Admin)),
    ("/api/revoke_api_token", "id=999999", Some(Role::Admin)),
    ("/api/add_user", "username=matrix-new&role=viewer", Some(Role::Admin)),
    ("/api/set_user_role", "username=nobody&role=viewer", Some(Role::Admin)),
    ("/api/set_user_disabled", "username=nobody&disabled=true", Some(Role::Admin)),
    ("/api/reset_password", "username=nobody", Some(Role::Admin)),
];

/// Rows only a logged-in person may use: an API token of any role is refused (403).
const SESSION_ONLY: &[&str] = &["/api/change_password"];

const PASSWORD: &str = "matrix-password-1";

/// How a request proves who it is.
#[derive(Clone, Debug)]
enum Credential {
    Cookie(String),
    Bearer(String),
}

async fn post(app: &TestApp, path: &str, body: &str, credential: Option<&Credential>) -> StatusCode {
    let mut req = Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json");
    match credential {
        Some(Credential::Cookie(c)) => req = req.header(header::COOKIE, c),
        Some(Credential::Bearer(t)) => req = req.header(header::AUTHORIZATION, format!("Bearer {t}")),
        None => {}
    }
    app.send(req.body(Body::from(body.to_owned())).unwrap()).await.status
}

/// A live API token with `role`, created as an admin would (by an enabled admin: a token works
/// only while its creator holds its role).
async fn token(app: &TestApp, role: Role) -> String {
    const MINTER: &str = "token-minter";
    if app::ssr::db::users::find_user_by_name(&app.pool, MINTER).await.unwrap().is_none() {
        app.add_user(MINTER, "minter-password-1", Role::Admin).await;
    }
    let (token, hash) = app::ssr::api_token::generate_token();
    app::ssr::db::api_tokens::insert_token(&app.pool, &format!("matrix-{role}"), role, &hash, MINTER)
        .await
        .unwrap();
    token
}

#[tokio::test]
async fn every_server_function_enforces_its_role_on_the_server() {
    let covered: std::collections::BTreeSet<&str> = MATRIX.iter().map(|row| row.0).collect();
    let registered: Vec<_> = leptos::server_fn::axum::server_fn_paths().collect();
    for (path, method) in &registered {
        assert_eq!(*method, Method::POST, "{path} must be POST only");
        assert!(covered.contains(path), "{path} has no row in the permission matrix");
    }
    assert_eq!(registered.len(), covered.len(), "every row names a registered server function");

    // Directory users too: signed in through a real LDAP directory, each role from its groups.
    let slapd = common::slapd::Slapd::start();
    let ldap: app::ssr::directory::ldap::LdapConfig = serde_json::from_value(slapd.config()).unwrap();
    let app = TestApp::with(move |config, _| config.auth.ldap = Some(ldap)).await;
    let mut sessions = vec![(None, None)];
    for role in [Role::Viewer, Role::Operator, Role::Admin] {
        let name = format!("matrix-{}", role.as_str());
        app.add_user(&name, PASSWORD, role).await;
        sessions.push((Some(role), Some(Credential::Cookie(app.login(&name, PASSWORD).await))));
        sessions.push((Some(role), Some(Credential::Bearer(token(&app, role).await))));
    }
    for (name, password, role) in [
        ("cat", "cat-directory-pass", Role::Viewer),
        ("bob", "bob-directory-pass", Role::Operator),
        ("ann", "ann-directory-pass", Role::Admin),
    ] {
        sessions.push((Some(role), Some(Credential::Cookie(app.login(name, password).await))));
    }
    let mut cells = 0;
    for (path, body, least) in MATRIX {
        for (role, cookie) in &sessions {
            if *path == "/api/logout" {
                continue; // would end the session the next rows use; covered by the auth tests
            }
            let status = post(&app, path, body, cookie.as_ref()).await;
            let by_token = matches!(cookie, Some(Credential::Bearer(_)));
            let allowed = match (least, role) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some(_), Some(_)) if by_token && SESSION_ONLY.contains(path) => false,
                (Some(least), Some(role)) => role >= least,
            };
            if allowed {
                assert!(
                    status != StatusCode::FORBIDDEN && status != StatusCode::UNAUTHORIZED
                        || *path == "/api/login",
                    "{path} {body:?} as {role:?}: allowed, got {status}"
                );
            } else if role.is_none() {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} {body:?} without a session");
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{path} {body:?} as {role:?}");
            }
            cells += 1;
        }
    }
    eprintln!("permission matrix: {cells} cells checked");
    assert!(cells >= 32 * 10 - 10, "{cells}");
}

#[tokio::test]
async fn a_token_made_by_an_admin_works_until_revoked_and_never_falls_back_to_the_cookie() {
    let app = TestApp::new().await;
    app.add_user("ada", PASSWORD, Role::Admin).await;
    let cookie = Credential::Cookie(app.login("ada", PASSWORD).await);
    let Credential::Cookie(cookie_text) = &cookie else { unreachable!() };
    let res = app
        .post_form(
            "/api/create_api_token",
            &[("name", "ci deploys"), ("role", "operator")],
            Some(cookie_text),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let created: app::model::NewApiToken = serde_json::from_str(&res.body).unwrap();
    assert_eq!(created.role, Role::Operator);
    let bearer = Credential::Bearer(created.token.clone());

    // The operator token may reset a breaker (400 here: no such rule) but not list users.
    assert_eq!(
        post(&app, "/api/reset_breaker", "rule=nginx-down&target=web1", Some(&bearer)).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(post(&app, "/api/users", "", Some(&bearer)).await, StatusCode::FORBIDDEN);
    let listed = app.post_form("/api/api_tokens", &[], Some(cookie_text)).await;
    assert!(listed.body.contains("ci deploys") && !listed.body.contains(&created.token), "never shown again");

    // A wrong token is refused even with a valid admin cookie beside it.
    let req = Request::post("/api/users")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, cookie_text)
        .header(header::AUTHORIZATION, format!("Bearer {}x", created.token))
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.send(req).await.status, StatusCode::UNAUTHORIZED);

    let res =
        app.post_form("/api/revoke_api_token", &[("id", &created.id.to_string())], Some(cookie_text)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(post(&app, "/api/overview", "", Some(&bearer)).await, StatusCode::UNAUTHORIZED, "revoked");
    let actions = app.audit_actions().await;
    assert!(
        actions.iter().any(|a| a == "token.created") && actions.iter().any(|a| a == "token.revoked"),
        "{actions:?}"
    );
    assert_eq!(post(&app, "/api/overview", "", Some(&cookie)).await, StatusCode::OK);
}

#[tokio::test]
async fn server_functions_refuse_get_and_cross_site_posts() {
    let app = TestApp::new().await;
    app.add_user("ada", PASSWORD, Role::Admin).await;
    let cookie = app.login("ada", PASSWORD).await;
    let get = app.get("/api/reset_breaker?rule=nginx-down&target=web1", Some(&cookie)).await;
    assert!(!get.status.is_success(), "GET must not act: {}", get.status);

    let audit_before = app.audit_actions().await.len();
    for (header_name, value) in
        [("origin", "https://evil.example"), ("origin", "null"), ("sec-fetch-site", "cross-site")]
    {
        let req = Request::post("/api/reset_breaker")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::HOST, "127.0.0.1:5000")
            .header(header::COOKIE, &cookie)
            .header(header_name, value)
            .body(Body::from("rule=nginx-down&target=web1"))
            .unwrap();
        assert_eq!(app.send(req).await.status, StatusCode::FORBIDDEN, "{header_name}: {value}");
    }
    assert_eq!(app.audit_actions().await.len(), audit_before, "a refused request changed nothing");

    let same_site = Request::post("/api/reset_breaker")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .header(header::HOST, "127.0.0.1:5000")
        .header(header::ORIGIN, "http://127.0.0.1:5000")
        .header("sec-fetch-site", "same-origin")
        .header(header::COOKIE, &cookie)
        .body(Body::from("rule=nginx-down&target=web1"))
        .unwrap();
    // Past the cross-site check; the handler then answers for itself (400: no such rule here).
    assert_eq!(app.send(same_site).await.status, StatusCode::BAD_REQUEST, "the dashboard's own post passes");
}

/// The plain axum routes under `/api/` (not server functions, so not in `server_fn_paths`):
/// read-only GETs, each needing at least the viewer role.
const GET_ROUTES: &[&str] = &[
    "/api/export/alerts.csv",
    "/api/export/alerts.jsonl",
    "/api/export/runs.csv",
    "/api/export/runs.jsonl",
    "/api/export/audit.csv",
    "/api/export/audit.jsonl",
];

#[tokio::test]
async fn exports_need_a_viewer_session_or_token_and_change_nothing() {
    let app = TestApp::new().await;
    let mut principals = vec![("nobody", None), ("bad token", Some(Credential::Bearer("shk_0000".into())))];
    for role in Role::ALL {
        let name = format!("matrix-{}", role.as_str());
        app.add_user(&name, PASSWORD, role).await;
        principals.push((role.as_str(), Some(Credential::Cookie(app.login(&name, PASSWORD).await))));
        principals.push((role.as_str(), Some(Credential::Bearer(token(&app, role).await))));
    }
    let audit_before = app.audit_actions().await.len();
    for path in GET_ROUTES {
        for (who, credential) in &principals {
            let mut req = Request::get(*path);
            match credential {
                Some(Credential::Cookie(c)) => req = req.header(header::COOKIE, c),
                Some(Credential::Bearer(t)) => req = req.header(header::AUTHORIZATION, format!("Bearer {t}")),
                None => {}
            }
            let res = app.send(req.body(Body::empty()).unwrap()).await;
            let want = if credential.is_none() || *who == "bad token" {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::OK
            };
            assert_eq!(res.status, want, "{path} as {who}: {}", res.body);
            if want == StatusCode::UNAUTHORIZED {
                assert_eq!(res.body, r#""Unauthorized""#, "{path} as {who}: nothing exported");
            }
        }
    }
    assert_eq!(app.audit_actions().await.len(), audit_before, "an export changes nothing");
    // A POST is not an export.
    let cookie = match &principals[2].1 {
        Some(Credential::Cookie(c)) => c.clone(),
        _ => unreachable!(),
    };
    let post = app.post_form("/api/export/alerts.csv", &[], Some(&cookie)).await;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
}
