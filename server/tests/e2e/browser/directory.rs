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
