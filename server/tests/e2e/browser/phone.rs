//! Every page on a phone (390 × 844): nothing wider than the screen, the navigation reachable
//! through the menu, and the lists show data on the first screen (their filters fold away).
//! On a desktop the menu is not folded.
use fantoccini::{Client, Locator};

use app::model::Role;

use crate::common::browser::{
    artifacts, assert_quiet_console, browser, log_in, overflows_sideways, wait_hydrated, wait_path,
    ONE_BROWSER,
};
use crate::common::{self, TestApp};

/// Whether every main-menu link is shown (not folded away: `checkVisibility` is false inside a
/// closed details element) and inside the window.
async fn menu_links_shown(c: &Client) -> bool {
    let js = "const links = [...document.querySelectorAll('nav.nav a')];\
              return links.length >= 7 && links.every(a => { const r = a.getBoundingClientRect();\
              return a.checkVisibility() && r.width > 0 && r.left >= 0 && r.right <= window.innerWidth + 1; });";
    c.execute(js, vec![]).await.unwrap().as_bool() == Some(true)
}

/// How far down the page `css` starts, as a share of the window's height.
async fn top_of(c: &Client, css: &str) -> f64 {
    let js = format!(
        "const e = document.querySelector('{css}'); return e ? e.getBoundingClientRect().top / window.innerHeight : 99;"
    );
    c.execute(&js, vec![]).await.unwrap().as_f64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_fits_a_phone_with_the_menu_reachable_and_data_first() {
    let Some(_turn) = crate::provisioned("every_page_fits_a_phone_with_the_menu_reachable_and_data_first")
    else {
        return;
    };
    let _one = ONE_BROWSER.lock().await;
    assert!(common::site_root().join("hash.txt").exists(), "run scripts/test.sh (builds the site)");
    let app = TestApp::with(|config, dir| {
        common::one_rule(
            config,
            dir,
            serde_json::json!({ "name": "nginx-down", "match": { "alertname": "NginxDown" }, "playbook": "heal-nginx.yml" }),
        );
    })
    .await;
    app.deliver(include_str!("../../fixtures/alertmanager/alertmanager-webhook-firing.json")).await;
    let run = app.worker.run_once().await.unwrap().expect("the alert's run");
    app.add_user("ada", "admin-password-1", Role::Admin).await;
    let addr = app.serve().await;
    let (c, _chromium) = browser().await;
    log_in(&c, addr, "ada", "admin-password-1").await;
    wait_path(&c, "/").await;
    wait_hydrated(&c).await;
    assert!(menu_links_shown(&c).await, "on a desktop the menu's links are all shown");
    assert!(!c.find(Locator::Css("[data-testid=menu]")).await.unwrap().is_displayed().await.unwrap());

    c.set_window_size(390, 844).await.unwrap();
    let pages = [
        ("/".to_owned(), "overview", None),
        ("/alerts".to_owned(), "alerts", Some("[data-testid=alerts-table]")),
        ("/alerts/1".to_owned(), "alert", None),
        ("/runs".to_owned(), "runs", Some("[data-testid=runs-table]")),
        (format!("/runs/{run}"), "run", None),
        ("/playbooks".to_owned(), "playbooks", None),
        ("/approvals".to_owned(), "approvals", None),
        ("/rules".to_owned(), "rules", None),
        ("/windows".to_owned(), "windows", None),
        ("/audit".to_owned(), "audit", Some("[data-testid=audit-table]")),
        ("/admin".to_owned(), "admin", None),
        ("/account".to_owned(), "account", None),
    ];
    for (path, name, list) in pages {
        c.goto(&format!("http://{addr}{path}")).await.unwrap();
        wait_hydrated(&c).await;
        assert!(!overflows_sideways(&c).await, "{path} is wider than a phone");
        if let Some(table) = list {
            let top = top_of(&c, table).await;
            assert!(top < 0.6, "{path}: the list starts {top:.2} of a screen down, below its filters");
        }
        assert!(!menu_links_shown(&c).await, "{path}: the menu is folded at first");
        c.find(Locator::Css("[data-testid=menu]")).await.unwrap().click().await.unwrap();
        assert!(menu_links_shown(&c).await, "{path}: every section is reachable from the menu");
        assert!(!overflows_sideways(&c).await, "{path} with the menu open is wider than a phone");
        std::fs::write(artifacts().join(format!("phone-{name}.png")), c.screenshot().await.unwrap()).unwrap();
    }
    // The menu takes you there.
    c.find(Locator::Css("nav.nav a[href='/rules']")).await.unwrap().click().await.unwrap();
    wait_path(&c, "/rules").await;
    assert_quiet_console(&c, &[]).await;
    c.close().await.unwrap();
}
