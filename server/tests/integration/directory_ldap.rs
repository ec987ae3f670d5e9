//! Sign-in through a real LDAP directory (Debian's slapd, seeded by the test): the role comes
//! from the user's groups, every refusal is clear, roles follow the directory during a session
//! (and an outage locks nobody out), and local accounts keep working throughout.
use std::time::Duration;

use axum::http::StatusCode;

use app::model::Role;
use app::ssr::directory::ldap::{Ldap, LdapConfig};
use server::directory::{refresh_roles, Directories, Refreshed};

use crate::common::slapd::Slapd;
use crate::common::TestApp;

const LOCAL_ADMIN_PW: &str = "tulip harbor anvil 42";

async fn app_with(slapd: &Slapd) -> TestApp {
    let ldap: LdapConfig = serde_json::from_value(slapd.config()).expect("a valid [auth.ldap]");
    let app = TestApp::with(move |config, _| config.auth.ldap = Some(ldap)).await;
    app.add_user("admin", LOCAL_ADMIN_PW, Role::Admin).await;
    app
}

fn ldap_of(app: &TestApp) -> Directories {
    let ldap = Ldap::new(app.config.auth.ldap.clone().expect("configured"));
    Directories { ldap: Some(std::sync::Arc::new(ldap)), oidc: None }
}

async fn me(app: &TestApp, cookie: &str) -> serde_json::Value {
    let res = app.post_form("/api/me", &[], Some(cookie)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.json()
}

async fn login(app: &TestApp, name: &str, password: &str) -> (StatusCode, String) {
    let res = app.post_form("/api/login", &[("username", name), ("password", password)], None).await;
    (res.status, res.body)
}

/// Runs one role refresh as if `role_refresh` had passed for everyone.
async fn refresh(app: &TestApp) -> Refreshed {
    tokio::time::sleep(Duration::from_millis(5)).await;
    refresh_roles(&app.db(), &ldap_of(app), Duration::ZERO).await.expect("refresh runs")
}

async fn audit(app: &TestApp, action: &str) -> Vec<(Option<String>, Option<String>)> {
    sqlx::query_as("SELECT target, detail FROM audit_events WHERE action = ? ORDER BY id")
        .bind(action)
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn directory_users_sign_in_with_the_role_their_groups_give() {
    let slapd = Slapd::start();
    let app = app_with(&slapd).await;
    for (name, password, role) in [
        ("ann", "ann-directory-pass", "admin"),
        ("bob", "bob-directory-pass", "operator"),
        ("cat", "cat-directory-pass", "viewer"),
    ] {
        let cookie = app.login(name, password).await;
        assert_eq!(me(&app, &cookie).await["role"], role, "{name}");
    }
    // The users page: where each signs in, when, and which groups gave the role.
    let admin = app.login("admin", LOCAL_ADMIN_PW).await;
    let users = app.post_form("/api/users", &[], Some(&admin)).await.json();
    let ann = users.as_array().unwrap().iter().find(|u| u["username"] == "ann").expect("ann listed");
    assert_eq!((&ann["source"], &ann["role_groups"]), (&"ldap".into(), &"sre-leads".into()));
    assert!(ann["last_login_at"].is_string(), "{ann}");
    let local = users.as_array().unwrap().iter().find(|u| u["username"] == "admin").unwrap();
    assert_eq!(local["source"], "local");
    assert!(audit(&app, "auth.login").await.iter().any(|(_, d)| d.as_deref() == Some("via LDAP")));

    // A directory user has no local password to set or change.
    let res = app.post_form("/api/reset_password", &[("username", "bob")], Some(&admin)).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
    assert!(res.body.contains("LDAP"), "{}", res.body);
    let bob = app.login("bob", "bob-directory-pass").await;
    let form = [("current", "bob-directory-pass"), ("new", "tulip harbor anvil 43")];
    let res = app.post_form("/api/change_password", &form, Some(&bob)).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
    assert!(res.body.contains("change your password there"), "{}", res.body);
}

#[tokio::test]
async fn every_refusal_is_clear_and_a_group_without_a_role_is_audited() {
    let slapd = Slapd::start();
    let app = app_with(&slapd).await;
    for (case, name, password) in [
        ("wrong password", "bob", "not-bobs-password"),
        ("unknown user", "zed", "zed-directory-pass"),
        ("empty password (an unauthenticated bind)", "bob", ""),
        ("a filter injection", "*", "bob-directory-pass"),
        ("another user's password", "bob", "ann-directory-pass"),
    ] {
        let (status, body) = login(&app, name, password).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}: {body}");
        assert!(body.contains("BadCredentials"), "{case}: {body}");
    }
    let (status, body) = login(&app, "dan", "dan-directory-pass").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body, r#"{"NoRole":"dan"}"#, "the login page says: signed in, but no group gives a role");
    let refused = audit(&app, "auth.login_refused").await;
    assert_eq!(
        refused,
        vec![(Some("dan".into()), Some("LDAP: no group maps to a role (groups: marketing)".into()))]
    );
    let dan: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE username = 'dan'")
        .fetch_optional(&app.pool)
        .await
        .unwrap();
    assert_eq!(dan, None, "no user is made for a refused sign-in");
}

#[tokio::test]
async fn roles_follow_the_directory_during_a_session_and_tokens_stop() {
    let slapd = Slapd::start();
    let app = app_with(&slapd).await;
    let ann = app.login("ann", "ann-directory-pass").await;
    let bob = app.login("bob", "bob-directory-pass").await;
    let cat = app.login("cat", "cat-directory-pass").await;
    let res = app.post_form("/api/create_api_token", &[("name", "ci"), ("role", "admin")], Some(&ann)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let token = res.json()["token"].as_str().unwrap().to_owned();
    let with_token = |token: String| {
        let app = &app;
        async move {
            let req = axum::http::Request::post("/api/users")
                .header("authorization", format!("Bearer {token}"))
                .header("accept", "application/json")
                .body(axum::body::Body::empty())
                .unwrap();
            app.send(req).await.status
        }
    };
    assert_eq!(with_token(token.clone()).await, StatusCode::OK);
    assert_eq!(refresh(&app).await, Refreshed { confirmed: 3, ..Default::default() }, "nothing changed yet");

    slapd.remove_from_group("ann", "sre-leads"); // still in sre: demoted to operator
    slapd.remove_from_group("bob", "sre"); // in no group: withdrawn
    slapd.delete_user("cat"); // gone: withdrawn
    let done = refresh(&app).await;
    assert_eq!(done, Refreshed { changed: 1, withdrawn: 2, ..Default::default() });

    assert_eq!(me(&app, &ann).await["role"], "operator", "the session sees the new role");
    assert_eq!(with_token(token).await, StatusCode::UNAUTHORIZED, "her admin token stops");
    assert!(me(&app, &bob).await.is_null(), "signed out");
    assert!(me(&app, &cat).await.is_null(), "signed out");
    let withdrawn = audit(&app, "user.directory_withdrawn").await;
    assert_eq!(
        withdrawn,
        vec![
            (Some("bob".into()), Some("LDAP: no group maps to a role (groups: none)".into())),
            (Some("cat".into()), Some("LDAP: no longer found (deleted or disabled there)".into())),
        ]
    );
    assert_eq!(
        audit(&app, "user.role_changed").await,
        vec![(Some("ann".into()), Some("admin → operator (LDAP groups: sre)".into()))]
    );
    assert_eq!(login(&app, "bob", "bob-directory-pass").await.0, StatusCode::FORBIDDEN, "no role");

    // Given a role back, bob signs in again (his disable was the directory's, not an admin's).
    slapd.modify(&format!(
        "dn: cn=eng,ou=groups,{}\nchangetype: modify\nadd: member\nmember: uid=bob,ou=people,{}\n",
        crate::common::slapd::SUFFIX,
        crate::common::slapd::SUFFIX
    ));
    let bob = app.login("bob", "bob-directory-pass").await;
    assert_eq!(me(&app, &bob).await["role"], "viewer");
}

#[tokio::test]
async fn a_directory_outage_is_explained_and_locks_nobody_out() {
    let mut slapd = Slapd::start();
    let app = app_with(&slapd).await;
    let bob = app.login("bob", "bob-directory-pass").await;
    slapd.stop();

    let started = std::time::Instant::now();
    let (status, body) = login(&app, "ann", "ann-directory-pass").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body, r#"{"DirectoryUnavailable":"LDAP"}"#, "the login page says: local accounts still work");
    assert!(started.elapsed() < Duration::from_secs(4), "within the 3 s timeout: {:?}", started.elapsed());
    // Not counted as guesses: the throttle (5 per name) does not lock ann out after the outage.
    for _ in 0..6 {
        assert_eq!(login(&app, "ann", "ann-directory-pass").await.0, StatusCode::SERVICE_UNAVAILABLE);
    }

    app.login("admin", LOCAL_ADMIN_PW).await;
    let done = refresh(&app).await;
    assert!(done.unavailable, "{done:?}");
    assert_eq!(me(&app, &bob).await["role"], "operator", "roles are kept through an outage");
}

/// Passwords cross the network only inside TLS: LDAPS and StartTLS against slapd serving the
/// test CA's certificate, trusted through [outgoing_tls] ca_file; without that CA the directory
/// is not trusted, and nobody signs in through it.
#[tokio::test]
async fn ldaps_and_starttls_sign_in_trusting_the_organisations_ca() {
    let pki = tempfile::tempdir().unwrap();
    crate::common::pki::make_pki(pki.path());
    let slapd = Slapd::start_with_tls(pki.path());
    let ca = pki.path().join("ca.pem");
    for (case, url, starttls) in
        [("ldaps", slapd.ldaps_url.clone().unwrap(), false), ("starttls", slapd.url.clone(), true)]
    {
        let mut section = slapd.config();
        section["url"] = url.clone().into();
        section["starttls"] = starttls.into();
        let ldap: LdapConfig = serde_json::from_value(section).unwrap();
        let (trusted, ca) = (ldap.clone(), ca.clone());
        let app = TestApp::with(move |config, _| {
            config.auth.ldap = Some(trusted);
            config.outgoing_tls.ca_file = Some(ca);
        })
        .await;
        let cookie = app.login("bob", "bob-directory-pass").await;
        assert_eq!(me(&app, &cookie).await["role"], "operator", "{case}");

        // The system's roots alone do not know the test CA: refused, and said so.
        let untrusted = TestApp::with(move |config, _| config.auth.ldap = Some(ldap)).await;
        let (status, body) = login(&untrusted, "bob", "bob-directory-pass").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{case}: {body}");
    }
}
