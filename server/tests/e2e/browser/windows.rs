//! Maintenance windows from the dashboard (issue 29, item 2): an operator opens a window around
//! a deploy on the Windows page and sees it open; a viewer sees it and no form; the operator
//! cancels it and it stays in the history.
use fantoccini::{Client, Locator};

use crate::common::browser::{
    assert_quiet_console, browser, count, log_in, operator_and_viewer_app, switch_user, text_of,
    wait_hydrated, wait_path, ONE_BROWSER,
};

async fn type_into(c: &Client, css: &str, text: &str) {
    c.find(Locator::Css(css)).await.unwrap().send_keys(text).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_opens_and_cancels_a_window_and_a_viewer_only_sees_it() {
    let Some(_turn) = crate::provisioned("an_operator_opens_and_cancels_a_window_and_a_viewer_only_sees_it")
    else {
        return;
    };
    let _one = ONE_BROWSER.lock().await;
    let (app, addr) = operator_and_viewer_app().await;
    let (c, _chromium) = browser().await;

    log_in(&c, addr, "olga", "operator-password-1").await;
    wait_path(&c, "/").await;
    wait_hydrated(&c).await;
    c.find(Locator::Css("nav.nav a[href='/windows']")).await.unwrap().click().await.unwrap();
    wait_path(&c, "/windows").await;
    wait_hydrated(&c).await;
    type_into(&c, "[data-testid=window-name]", "deploy 4.2").await;
    type_into(&c, "[data-testid=window-matchers]", "service=\"nginx\"").await;
    type_into(&c, "[data-testid=window-for]", "30m").await;
    c.find(Locator::Css("[data-testid=window-submit]")).await.unwrap().click().await.unwrap();
    wait_path(&c, "/windows").await;
    let listed = text_of(&c, "[data-testid=windows]").await;
    assert!(listed.contains("deploy 4.2") && listed.contains("open until"), "{listed}");
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM maintenance_windows WHERE cancelled_at IS NULL")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored, 1);
    assert_quiet_console(&c, &[]).await;

    // A viewer sees it, and no control.
    switch_user(&c, addr, "vera", "viewer-password-1", "/windows").await;
    assert!(text_of(&c, "[data-testid=windows]").await.contains("deploy 4.2"));
    assert_eq!(count(&c, "[data-testid=window-open]").await, 0, "a viewer opens no window");
    assert_eq!(count(&c, "[data-testid=window-cancel]").await, 0, "a viewer cancels none");

    // The operator cancels it; it stays listed, cancelled.
    switch_user(&c, addr, "olga", "operator-password-1", "/windows").await;
    c.find(Locator::Css("[data-testid=window-cancel]")).await.unwrap().click().await.unwrap();
    wait_path(&c, "/windows").await;
    wait_hydrated(&c).await;
    let state = text_of(&c, "[data-testid=window-state]").await;
    assert!(state.contains("cancelled by olga"), "{state}");
    assert_quiet_console(&c, &[]).await;
}
