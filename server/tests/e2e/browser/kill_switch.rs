//! The kill switch from the dashboard (issue 29, item 4): an operator pauses all healing with a
//! reason on the rules page and the banner says so on every page at once; a viewer sees the
//! banner but no pause or resume control; the operator resumes from the banner.
use std::time::{Duration, Instant};

use fantoccini::Locator;

use crate::common::browser::{
    assert_quiet_console, browser, count, log_in, log_out, operator_and_viewer_app, switch_user, text_of,
    wait_hydrated, wait_path, ONE_BROWSER, WAIT,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_pauses_and_resumes_healing_and_a_viewer_only_sees_it() {
    let Some(_turn) = crate::provisioned("an_operator_pauses_and_resumes_healing_and_a_viewer_only_sees_it")
    else {
        return;
    };
    let _one = ONE_BROWSER.lock().await;
    let (app, addr) = operator_and_viewer_app().await;
    let (c, _chromium) = browser().await;

    log_in(&c, addr, "olga", "operator-password-1").await;
    wait_path(&c, "/").await;
    c.goto(&format!("http://{addr}/rules")).await.unwrap();
    wait_hydrated(&c).await;
    assert_eq!(count(&c, "[data-testid=pause-banner]").await, 0, "nothing paused yet");
    assert_eq!(count(&c, "[data-testid=pause-rule]").await, 1, "each rule can be paused on its own");
    c.find(Locator::Css("[data-testid=pause-all-reason]"))
        .await
        .unwrap()
        .send_keys("database failover")
        .await
        .unwrap();
    c.find(Locator::Css("[data-testid=pause-all]")).await.unwrap().click().await.unwrap();
    let banner = text_of(&c, "[data-testid=pause-banner]").await;
    assert!(
        banner.contains("Healing is paused")
            && banner.contains("database failover")
            && banner.contains("olga"),
        "{banner}"
    );
    let paused: i64 = sqlx::query_scalar("SELECT count(*) FROM pauses").fetch_one(&app.pool).await.unwrap();
    assert_eq!(paused, 1, "stored");
    let audited: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_events WHERE detail LIKE '%database failover%'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(audited >= 1, "audited with its reason");
    // Every page shows it, and hydrates: loaded a few times, since the banner's Resume once
    // depended on whether the user or the pauses loaded first on the server.
    for path in ["/alerts", "/", "/runs", "/alerts", "/approvals", "/"] {
        c.goto(&format!("http://{addr}{path}")).await.unwrap();
        wait_hydrated(&c).await;
        assert!(text_of(&c, "[data-testid=pause-banner]").await.contains("database failover"));
        assert_eq!(count(&c, "[data-testid=resume]").await, 1, "{path}: the operator's Resume");
        assert_quiet_console(&c, &[]).await;
    }

    // A viewer sees the pause, and no control.
    switch_user(&c, addr, "vera", "viewer-password-1", "/rules").await;
    assert!(text_of(&c, "[data-testid=pause-banner]").await.contains("database failover"));
    for control in ["resume", "pause-all", "pause-rule"] {
        assert_eq!(count(&c, &format!("[data-testid={control}]")).await, 0, "a viewer got {control}");
    }

    // The operator resumes from the banner; it goes, on its own.
    log_out(&c).await;
    log_in(&c, addr, "olga", "operator-password-1").await;
    wait_path(&c, "/").await;
    wait_hydrated(&c).await;
    c.find(Locator::Css("[data-testid=resume]")).await.unwrap().click().await.unwrap();
    let deadline = Instant::now() + WAIT;
    while count(&c, "[data-testid=pause-banner]").await > 0 {
        assert!(Instant::now() < deadline, "the banner stayed after resume");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let paused: i64 = sqlx::query_scalar("SELECT count(*) FROM pauses").fetch_one(&app.pool).await.unwrap();
    assert_eq!(paused, 0);
    assert_quiet_console(&c, &[]).await;
}
