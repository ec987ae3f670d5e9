//! Signing in through the organisation's LDAP directory in the browser (issue 30): a real slapd,
//! the login page as people use it, and the role the groups give. A user whose groups map to no
//! role reads why; the admin sees where each user signs in and which groups gave the role.
use fantoccini::Locator;

use crate::common::browser::{
    assert_quiet_console, browser, log_in, switch_user, text_of, wait_hydrated, wait_path, ONE_BROWSER,
};
use crate::common::slapd::Slapd;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_users_sign_in_in_the_browser_with_their_groups_role() {
    let Some(_turn) = crate::provisioned("directory_users_sign_in_in_the_browser_with_their_groups_role")
    else {
        return;
    };
    let _one = ONE_BROWSER.lock().await;
    let slapd = Slapd::start();
    let ldap: app::ssr::directory::ldap::LdapConfig = serde_json::from_value(slapd.config()).unwrap();
    let app = crate::common::TestApp::with(move |config, _| config.auth.ldap = Some(ldap)).await;
    let addr = app.serve().await;
    let (c, _chromium) = browser().await;

    // In the directory, but in no group that maps to a role: told so, still on the login page.
    log_in(&c, addr, "dan", "dan-directory-pass").await;
    let error = text_of(&c, "[data-testid=login-error]").await;
    assert!(error.contains("signed in as dan, but none of your groups gives a role"), "{error}");
    wait_path(&c, "/login").await;
    assert_quiet_console(
        &c,
        &["/api/login - Failed to load resource: the server responded with a status of 403"],
    )
    .await;

    // ann is in sre-leads: an admin, from her first sign-in.
    c.goto(&format!("http://{addr}/login")).await.unwrap();
    wait_hydrated(&c).await;
    log_in(&c, addr, "ann", "ann-directory-pass").await;
    wait_path(&c, "/").await;
    assert_eq!(text_of(&c, "[data-testid=current-role]").await.to_lowercase(), "admin");
    c.goto(&format!("http://{addr}/admin")).await.unwrap();
    wait_hydrated(&c).await;
    let row = text_of(&c, "[data-testid=user-row]").await;
    assert!(row.contains("ann") && row.contains("LDAP") && row.contains("from sre-leads"), "{row}");
    let resets =
        c.find_all(Locator::Css("[data-testid=user-row] [data-testid=reset-password]")).await.unwrap();
    assert!(resets.is_empty(), "a directory user's password is the directory's");

    // bob is in sre: an operator.
    switch_user(&c, addr, "bob", "bob-directory-pass", "/").await;
    assert_eq!(text_of(&c, "[data-testid=current-role]").await.to_lowercase(), "operator");
    assert_quiet_console(&c, &[]).await;
}

/// The whole redirect flow in the browser through a real OpenID Provider: the button on the
/// login page, the provider's own form, back with the role of the groups claim; a user in no
/// mapped group told why; logging out continues at the provider and returns to the login page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_users_sign_in_in_the_browser_through_the_whole_redirect_flow() {
    let Some(_turn) =
        crate::provisioned("provider_users_sign_in_in_the_browser_through_the_whole_redirect_flow")
    else {
        return;
    };
    let _one = ONE_BROWSER.lock().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let selfheal = format!("http://{addr}");
    let provider = crate::common::oidc_provider::Provider::start(&selfheal);
    let oidc: app::ssr::directory::oidc::OidcConfig =
        serde_json::from_value(provider.config(&selfheal)).unwrap();
    let app = crate::common::TestApp::with(move |config, _| config.auth.oidc = Some(oidc)).await;
    app.serve_on(listener);
    let (c, _chromium) = browser().await;

    async fn through_provider(c: &fantoccini::Client, selfheal: &str, name: &str, password: &str) {
        c.goto(&format!("{selfheal}/login")).await.unwrap();
        wait_hydrated(c).await;
        let button = text_of(c, "[data-testid=sso]").await;
        assert_eq!(button, "Sign in with Test IdP");
        c.find(Locator::Css("[data-testid=sso]")).await.unwrap().click().await.unwrap();
        c.wait().for_element(Locator::Css("input[name=login]")).await.unwrap().send_keys(name).await.unwrap();
        c.find(Locator::Css("input[name=password]")).await.unwrap().send_keys(password).await.unwrap();
        c.find(Locator::Css("#submit")).await.unwrap().click().await.unwrap();
    }

    through_provider(&c, &selfheal, "eve", "eve-provider-pass").await;
    wait_path(&c, "/").await;
    wait_hydrated(&c).await;
    assert_eq!(text_of(&c, "[data-testid=current-user]").await, "eve");
    assert_eq!(text_of(&c, "[data-testid=current-role]").await.to_lowercase(), "admin");
    assert_quiet_console(&c, &[]).await;

    // Logging out ends the session here and at the provider (its end-session page sends the
    // browser back): the next sign-in meets the provider's form again (through_provider
    // waits for it), now as gus, who is in no mapped group and is told so.
    c.find(Locator::Css("[data-testid=logout]")).await.unwrap().click().await.unwrap();
    wait_path(&c, "/login").await;
    through_provider(&c, &selfheal, "gus", "gus-provider-pass").await;
    wait_path(&c, "/login").await;
    let error = text_of(&c, "[data-testid=form-error]").await;
    assert!(error.contains("Not signed in: signed in, but none of your groups gives a role"), "{error}");
    // The notice sits outside the hydrated app: the page hydrates and works beside it.
    wait_hydrated(&c).await;
    assert_quiet_console(&c, &[]).await;
    c.find(Locator::Css("[data-testid=form-error] .dismiss")).await.unwrap().click().await.unwrap();
    let shown = c.find(Locator::Css("[data-testid=form-error]")).await.unwrap().is_displayed().await.unwrap();
    assert!(!shown, "dismissed");
    drop(provider);
}
