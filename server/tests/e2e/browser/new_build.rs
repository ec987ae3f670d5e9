//! A page left open across an upgrade: its build's folder of assets is gone, so the part of the
//! bundle for the next page it opens cannot be fetched. The browser then loads that page afresh
//! (and so gets the new build) instead of staying on a page whose wasm module died.
use std::time::{Duration, Instant};

use fantoccini::Locator;

use app::model::Role;

use crate::common::browser::{
    assert_quiet_console, browser, log_in, wait_hydrated, wait_path, ONE_BROWSER, WAIT,
};
use crate::common::{self, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_whose_build_is_gone_reloads_when_it_opens_another_page() {
    let Some(_turn) = crate::provisioned("a_page_whose_build_is_gone_reloads_when_it_opens_another_page")
    else {
        return;
    };
    let _one = ONE_BROWSER.lock().await;
    // A copy of the tests' site, so that taking its folder away disturbs no other test.
    let copy = tempfile::tempdir().unwrap();
    let site = copy.path().join("site");
    let status =
        std::process::Command::new("cp").arg("-a").arg(common::site_root()).arg(&site).status().unwrap();
    assert!(status.success(), "cannot copy the tests' site");
    let folder = std::fs::read_to_string(site.join("hash.txt")).unwrap();
    let folder =
        site.join("pkg").join(folder.trim().strip_prefix("pkg: ").expect("hash.txt names the folder"));
    let site_root = site.clone();
    let app = TestApp::with(move |config, _| config.site_root = site_root).await;
    app.add_user("ada", "admin-password-1", Role::Admin).await;
    let addr = app.serve().await;
    let (c, _chromium) = browser().await;
    log_in(&c, addr, "ada", "admin-password-1").await;
    wait_path(&c, "/").await;
    wait_hydrated(&c).await;

    // The upgrade: the folder this page's code came from is gone.
    c.execute("window.__no_reload = true", vec![]).await.unwrap();
    let moved = folder.with_extension("gone");
    std::fs::rename(&folder, &moved).unwrap();
    c.find(Locator::Css("nav.nav a[href='/rules']")).await.unwrap().click().await.unwrap();
    let deadline = Instant::now() + WAIT;
    while c.execute("return window.__no_reload === true", vec![]).await.unwrap().as_bool() == Some(true) {
        assert!(Instant::now() < deadline, "the page did not reload when its next part could not be fetched");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // At the page that was asked for (the address bar still showed the one before).
    assert_eq!(c.current_url().await.unwrap().path(), "/rules", "the page goes to the page asked for");

    // With a build in place, the page works. What the console logged is the gone folder's
    // failed fetches (that last load's too: the server here still names the gone folder) and
    // the loader's panic that sent the browser on; nothing else.
    std::fs::rename(&moved, &folder).unwrap();
    c.goto(&format!("http://{addr}/rules")).await.unwrap();
    wait_path(&c, "/rules").await;
    c.wait().at_most(WAIT).for_element(Locator::Css("#app[data-hydrated='true']")).await.unwrap();
    let panic = c.execute("return window.__selfheal_panic || null", vec![]).await.unwrap();
    assert!(panic.is_null(), "the page with its build panicked: {panic}");
    assert_quiet_console(
        &c,
        &[
            "404 (Not Found)",
            "HTTP status code is not ok",
            "load callback should succeed",
            "RuntimeError: unreachable",
        ],
    )
    .await;
}
