//! Sign-in with a real OpenID Provider (the certified `oidc-provider` under Node, started by the
//! test): the whole code flow with PKCE over HTTP, the role from the `groups` claim, and every
//! refusal — no mapped group, a tampered ID token (signature, audience, expiry, another
//! sign-in's nonce), a replayed callback, the provider down — with local accounts working
//! throughout; roles follow the provider through its refresh token.
use std::time::Duration;

use axum::http::StatusCode;

use app::model::Role;
use app::ssr::directory::oidc::{Oidc, OidcConfig};
use server::directory::{refresh_roles, Directories, Refreshed};

use crate::common::oidc_provider::{Agent, Provider};
use crate::common::TestApp;

const LOCAL_ADMIN_PW: &str = "tulip harbor anvil 42";

struct Setup {
    app: TestApp,
    provider: Provider,
    selfheal: String,
}

async fn setup() -> Setup {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let selfheal = format!("http://{}", listener.local_addr().unwrap());
    let provider = Provider::start(&selfheal);
    let oidc: OidcConfig = serde_json::from_value(provider.config(&selfheal)).expect("a valid [auth.oidc]");
    let app = TestApp::with(move |config, _| config.auth.oidc = Some(oidc)).await;
    app.add_user("admin", LOCAL_ADMIN_PW, Role::Admin).await;
    app.serve_on(listener);
    Setup { app, provider, selfheal }
}

async fn me(app: &TestApp, cookie: &str) -> serde_json::Value {
    app.post_form("/api/me", &[], Some(cookie)).await.json()
}

async fn refused(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar("SELECT detail FROM audit_events WHERE action = 'auth.login_refused' ORDER BY id")
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

fn directories(app: &TestApp) -> Directories {
    let config = app.config.auth.oidc.clone().unwrap();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    Directories { ldap: None, oidc: Some(std::sync::Arc::new(Oidc::new(config, http))) }
}

#[tokio::test]
async fn provider_users_sign_in_with_the_role_of_their_groups() {
    let Setup { app, selfheal, provider: _provider } = setup().await;
    let mut eve = Agent::default();
    let landed = eve.sign_in(&selfheal, "eve", "eve-provider-pass").await;
    assert_eq!(
        (landed.url.as_str(), landed.status),
        (format!("{selfheal}/").as_str(), reqwest::StatusCode::OK)
    );
    let cookie = eve.selfheal_cookie().expect("signed in");
    assert_eq!(me(&app, &cookie).await["role"], "admin");
    let visited = eve.visited.join("\n");
    assert!(visited.contains("code_challenge_method=S256") && visited.contains("nonce="), "{visited}");

    let mut fay = Agent::default();
    fay.sign_in(&selfheal, "fay", "fay-provider-pass").await;
    assert_eq!(me(&app, &fay.selfheal_cookie().unwrap()).await["role"], "operator");

    let users = app.post_form("/api/users", &[], Some(&cookie)).await.json();
    let row = users.as_array().unwrap().iter().find(|u| u["username"] == "fay").unwrap().clone();
    assert_eq!((&row["source"], &row["role_groups"]), (&"oidc".into(), &"sre".into()));
    let via: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT detail, source FROM audit_events WHERE action = 'auth.login'")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        via,
        vec![("via OpenID Connect".to_owned(), Some("127.0.0.1".to_owned())); 2],
        "who, and from where"
    );

    // A wrong password stays at the provider; selfheal never sees it.
    let mut guess = Agent::default();
    let form = guess.sign_in(&selfheal, "eve", "not-eves-password").await;
    assert!(form.body.contains("wrong user name or password"), "{form:?}");
    assert!(me(&app, &guess.selfheal_cookie().unwrap()).await.is_null(), "not signed in");

    // Logging out goes on at the provider, with the ID token as hint, and comes back to /login.
    let res = app.post_form("/api/logout", &[], Some(&cookie)).await;
    let location = res.header(axum::http::header::LOCATION).map(str::to_owned).unwrap_or_default();
    let end = format!("{}/session/end?id_token_hint=", app.config.auth.oidc.as_ref().unwrap().issuer);
    assert!(location.starts_with(&end), "{} {location}", res.status);
    assert!(location.contains("post_logout_redirect_uri=http%3A%2F%2F127.0.0.1"), "{location}");
    assert!(me(&app, &cookie).await.is_null(), "the local session ended");
}

#[tokio::test]
async fn every_refusal_lands_on_the_login_page_saying_why_and_signs_nobody_in() {
    let Setup { app, provider, selfheal } = setup().await;
    let login = |code: &str| format!("{selfheal}/login?sso={code}");

    let mut gus = Agent::default();
    let landed = gus.sign_in(&selfheal, "gus", "gus-provider-pass").await;
    assert_eq!(landed.url, login("no_role"));
    assert!(me(&app, &gus.selfheal_cookie().unwrap()).await.is_null(), "not signed in");
    assert_eq!(refused(&app).await, vec!["OpenID Connect: no group maps to a role (groups: marketing)"]);

    for (how, check) in
        [("signature", "signature"), ("audience", "audience"), ("expired", "expired"), ("nonce", "nonce")]
    {
        provider.tamper(Some(how)).await;
        let mut eve = Agent::default();
        let landed = eve.sign_in(&selfheal, "eve", "eve-provider-pass").await;
        assert_eq!(landed.url, login("bad_token"), "{how}");
        assert!(me(&app, &eve.selfheal_cookie().unwrap()).await.is_null(), "{how}: not signed in");
        let detail = refused(&app).await.pop().unwrap().to_lowercase();
        assert!(detail.contains("id token was refused") && detail.contains(check), "{how}: {detail}");
    }
    provider.tamper(None).await;
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&app.pool).await.unwrap();
    assert_eq!(users, 1, "nobody but the local admin was made");

    // The same callback twice: the second finds its sign-in used up.
    let mut eve = Agent::default();
    eve.sign_in(&selfheal, "eve", "eve-provider-pass").await;
    let callback = eve.visited.iter().find(|u| u.contains("/auth/oidc/callback?")).unwrap().clone();
    let again = eve.get(&callback).await;
    assert_eq!(again.url, login("refused"));
    // And a callback this browser never started.
    let mut stranger = Agent::default();
    assert_eq!(stranger.get(&callback).await.url, login("refused"));
}

#[tokio::test]
async fn the_provider_down_is_explained_and_local_accounts_still_sign_in() {
    let Setup { app, mut provider, selfheal } = setup().await;
    let mut fay = Agent::default();
    fay.sign_in(&selfheal, "fay", "fay-provider-pass").await;
    let fay_cookie = fay.selfheal_cookie().unwrap();
    provider.stop();
    let mut eve = Agent::default();
    let landed = eve.get(&format!("{selfheal}/auth/oidc/login")).await;
    assert_eq!(landed.url, format!("{selfheal}/login?sso=unavailable"));
    app.login("admin", LOCAL_ADMIN_PW).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let done = refresh_roles(&app.db(), &directories(&app), Duration::ZERO).await.unwrap();
    assert!(done.unavailable, "{done:?}");
    assert_eq!(me(&app, &fay_cookie).await["role"], "operator", "roles are kept through an outage");
}

#[tokio::test]
async fn roles_follow_the_provider_through_its_refresh_token() {
    let Setup { app, provider, selfheal } = setup().await;
    let (mut eve, mut fay) = (Agent::default(), Agent::default());
    eve.sign_in(&selfheal, "eve", "eve-provider-pass").await;
    fay.sign_in(&selfheal, "fay", "fay-provider-pass").await;
    let (eve, fay) = (eve.selfheal_cookie().unwrap(), fay.selfheal_cookie().unwrap());
    let dirs = directories(&app);
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(
        refresh_roles(&app.db(), &dirs, Duration::ZERO).await.unwrap(),
        Refreshed { confirmed: 2, ..Default::default() }
    );

    // eve moves from sre-leads to sre; fay leaves every group.
    provider
        .set_accounts(&[
            ("eve", "eve-provider-pass", &["sre"]),
            ("fay", "fay-provider-pass", &[]),
            ("gus", "gus-provider-pass", &["marketing"]),
        ])
        .await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let done = refresh_roles(&app.db(), &dirs, Duration::ZERO).await.unwrap();
    assert_eq!(done, Refreshed { changed: 1, withdrawn: 1, ..Default::default() });
    assert_eq!(me(&app, &eve).await["role"], "operator");
    assert!(me(&app, &fay).await.is_null(), "signed out");
    let changes: Vec<(String, String)> =
        sqlx::query_as("SELECT action, detail FROM audit_events WHERE actor = 'directory' ORDER BY id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        changes,
        vec![
            ("user.role_changed".into(), "admin → operator (OpenID Connect groups: sre)".into()),
            (
                "user.directory_withdrawn".into(),
                "OpenID Connect: no group maps to a role (groups: none)".into()
            ),
        ]
    );
    let status = app.post_form("/api/me", &[], Some(&fay)).await.status;
    assert_eq!(status, StatusCode::OK);
}

/// Session rows by when they expire: (rows ending within `secs` from now, all rows).
async fn sessions_ending_within(app: &TestApp, secs: i64) -> (i64, i64) {
    sqlx::query_as("SELECT count(*) FILTER (WHERE unixepoch(expiry_date) <= unixepoch() + $1), count(*) FROM tower_sessions")
        .bind(secs)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn one_address_starts_only_so_many_sign_ins_and_an_unfinished_one_ends_with_its_flow() {
    let Setup { app, selfheal, provider: _provider } = setup().await;
    // A finished sign-in keeps a password login's idle time (8 h here), not the flow's.
    let mut eve = Agent::default();
    eve.sign_in(&selfheal, "eve", "eve-provider-pass").await;
    assert!(eve.selfheal_cookie().is_some());
    assert_eq!(sessions_ending_within(&app, 3600).await, (0, 1), "eve's session ends after session_idle");

    // Sign-ins started from eve's address (127.0.0.1) that nobody finishes: ten at once (eve
    // used one), then one per 6 s; beyond, a 429 that writes nothing.
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut answers = Vec::new();
    for _ in 0..13 {
        let res = http.get(format!("{selfheal}/auth/oidc/login")).send().await.unwrap();
        if res.status() == reqwest::StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(res.headers()[reqwest::header::RETRY_AFTER], "6");
        }
        answers.push(res.status().as_u16());
    }
    let started = answers.iter().filter(|s| **s == 303).count() as i64;
    assert!(answers[..9].iter().all(|s| *s == 303) && answers[11..].iter().all(|s| *s == 429), "{answers:?}");
    assert!(started <= 10, "at most one start came back in the meantime: {answers:?}");
    // Each start kept one session, ending with its flow (10 minutes), not after 8 h.
    let (short, all) = sessions_ending_within(&app, 600).await;
    assert_eq!((short, all), (started, started + 1), "one row per start, each ending within 10 minutes");
    assert_eq!(sessions_ending_within(&app, 590).await.0, 0, "and not before: the flow may take 10 minutes");
}
