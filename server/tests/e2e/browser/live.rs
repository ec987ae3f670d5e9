//! The live dashboard in a real Chromium: with the alerts list open in one tab and the runs
//! list in another, a webhook makes the alert and its run appear; the run page (reached by a
//! link, never reloaded) streams the playbook's output while it plays, then shows the verdict
//! of a real Prometheus and the time to heal; the alerts list shows the heal's outcome. Each
//! within 2 s of the database change, with no reload of either tab.
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};

use app::model::Role;

use crate::common::browser::{
    artifacts, assert_quiet_console, browser, wait_hydrated, wait_path, ONE_BROWSER, WAIT,
};
use crate::common::prometheus::Prometheus;
use crate::common::{self, TestApp};

/// The promise: a page shows a change within this long of the database having it.
const LIVE: Duration = Duration::from_secs(2);

const PLAYBOOK: &str = "\
- hosts: all
  gather_facts: false
  tasks:
    - ansible.builtin.debug:
        msg: first step
    - ansible.builtin.pause:
        seconds: 3
    - ansible.builtin.debug:
        msg: nginx is back
";

/// Waits until the text of `css` contains `needle`; fails if that takes `LIVE` past `since`.
async fn shows_within(c: &Client, since: Instant, css: &str, needle: &str) -> Duration {
    loop {
        let text = match c.find(Locator::Css(css)).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if text.contains(needle) {
            return since.elapsed();
        }
        assert!(since.elapsed() < LIVE, "{css} did not show {needle:?} within {LIVE:?}: {text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls the database until `sql` (one integer) is non-zero; returns when it was seen.
async fn stored(app: &TestApp, sql: &str, within: Duration) -> Instant {
    let deadline = Instant::now() + within;
    loop {
        let n: i64 = sqlx::query_scalar(sql).fetch_one(&app.pool).await.unwrap();
        if n != 0 {
            return Instant::now();
        }
        assert!(Instant::now() < deadline, "never stored: {sql}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The page's wasm fetches: (bytes transferred, bytes of the compressed body); a fetch served
/// from the browser's cache transfers 0.
async fn wasm_fetches(c: &Client) -> Vec<(u64, u64)> {
    let js = "return performance.getEntriesByType('resource')\
              .filter(e => e.name.endsWith('.wasm')).map(e => [e.transferSize, e.encodedBodySize])";
    let entries = c.execute(js, vec![]).await.unwrap();
    serde_json::from_value(entries).unwrap()
}

/// Marks the page so a reload would show (the mark lives in the page's window object).
async fn mark(c: &Client) {
    c.execute("window.__no_reload = true", vec![]).await.unwrap();
}

async fn still_marked(c: &Client) -> bool {
    c.execute("return window.__no_reload === true", vec![]).await.unwrap().as_bool() == Some(true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_follow_a_heal_from_the_webhook_to_the_verdict_without_a_reload() {
    let Some(_turn) =
        crate::provisioned("the_pages_follow_a_heal_from_the_webhook_to_the_verdict_without_a_reload")
    else {
        return;
    };
    let _one = ONE_BROWSER.lock().await;
    assert!(common::site_root().join("hash.txt").exists(), "run scripts/test.sh (builds the site)");
    let prom_dir = tempfile::tempdir().unwrap();
    // No targets: the alert's condition is absent, so the heal verifies once the hold is over.
    let prometheus = Prometheus::start(prom_dir.path(), "global:\n  evaluation_interval: 1s\n").await;
    let url = prometheus.url.clone();
    let app = TestApp::with(move |config, dir| {
        let ansible = dir.join("ansible");
        std::fs::create_dir_all(&ansible).unwrap();
        std::fs::write(ansible.join("inventory.ini"), "localhost ansible_connection=local\n").unwrap();
        std::fs::write(ansible.join("heal-nginx.yml"), PLAYBOOK).unwrap();
        config.ansible.inventory = ansible.join("inventory.ini");
        config.ansible.dir = ansible;
        config.prometheus.url = url;
        config.rules = vec![serde_json::from_value(serde_json::json!({
            "name": "nginx-down", "match": { "alertname": "NginxDown" }, "playbook": "heal-nginx.yml",
            "verify_hold": "2s", "verify_within": "60s",
        }))
        .unwrap()];
    })
    .await;
    app.add_user("vera", "viewer-password-1", Role::Viewer).await;
    let addr = app.serve().await;
    let (c, _chromium) = browser().await;
    // A deep link opened while signed out: the login returns to it.
    c.goto(&format!("http://{addr}/alerts")).await.unwrap();
    wait_path(&c, "/login").await;
    wait_hydrated(&c).await;
    c.find(Locator::Css("input[name=username]")).await.unwrap().send_keys("vera").await.unwrap();
    c.find(Locator::Css("input[name=password]")).await.unwrap().send_keys("viewer-password-1").await.unwrap();
    c.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_path(&c, "/alerts").await;

    // Tab 1: the alerts list; tab 2: the runs list. Both empty, hydrated and marked.
    c.goto(&format!("http://{addr}/alerts")).await.unwrap();
    wait_hydrated(&c).await;
    assert_eq!(c.title().await.unwrap(), "Alerts · selfheal");
    // A repeat visit (the login page fetched the main module, the way to /alerts its page's
    // parts): nothing of the bundle crosses the network.
    let wasm = wasm_fetches(&c).await;
    assert!(
        !wasm.is_empty() && wasm.iter().all(|(transferred, _)| *transferred == 0),
        "wasm transferred again: {wasm:?}"
    );
    mark(&c).await;
    let alerts_tab = c.window().await.unwrap();
    let runs_tab = c.new_window(true).await.unwrap().handle;
    c.switch_to_window(runs_tab.clone()).await.unwrap();
    c.goto(&format!("http://{addr}/runs")).await.unwrap();
    wait_hydrated(&c).await;
    mark(&c).await;

    // The webhook stores the alert and, in the same commit, queues its heal.
    app.deliver(include_str!("../../fixtures/alertmanager/alertmanager-webhook-firing.json")).await;
    let at = Instant::now();
    let run_shown = shows_within(&c, at, "[data-testid=runs-table]", "nginx-down").await;
    c.switch_to_window(alerts_tab.clone()).await.unwrap();
    let alert_shown = shows_within(&c, at, "[data-testid=alerts-table]", "NginxDown").await;
    eprintln!("after the webhook: the run showed in {run_shown:?}, the alert in {alert_shown:?}");

    // The run page, by its link (a client-side move, not a load).
    c.switch_to_window(runs_tab.clone()).await.unwrap();
    c.find(Locator::Css("[data-testid=runs-table] tbody a")).await.unwrap().click().await.unwrap();
    let deadline = Instant::now() + WAIT;
    while !c.current_url().await.unwrap().path().starts_with("/runs/") {
        assert!(Instant::now() < deadline, "not taken to the run");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shows_within(&c, Instant::now(), "[data-testid=run-facts]", "queued").await;
    let title = c.title().await.unwrap();
    assert!(title.starts_with("Run #") && title.ends_with(" · selfheal"), "the tab names the run: {title}");

    // The worker starts it: the first lines show while the playbook still plays.
    let work = tokio::spawn(app.worker.clone().run());
    let verify = tokio::spawn(app.worker.verifier().clone().run());
    let first_line =
        stored(&app, "SELECT count(*) FROM run_output WHERE line LIKE '%first step%'", WAIT).await;
    let output_shown = shows_within(&c, first_line, "[data-testid=run-output]", "first step").await;
    // The header's count of lines follows the output (it said "0 lines" beside streaming lines).
    loop {
        let facts = c.find(Locator::Css("[data-testid=run-facts]")).await.unwrap().text().await.unwrap();
        let counted = facts
            .split("Output")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next().and_then(|n| n.parse::<i64>().ok()));
        if counted.is_some_and(|n| n > 0) {
            break;
        }
        assert!(first_line.elapsed() < LIVE, "the header still counts {counted:?} lines: {facts}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let running: i64 = sqlx::query_scalar("SELECT count(*) FROM heal_runs WHERE status = 'running'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(running, 1, "the output streamed while the playbook was still playing");
    let elapsed = c.find(Locator::Css("[data-testid=elapsed]")).await.unwrap().text().await.unwrap();
    assert!(elapsed.ends_with(" s") || elapsed.ends_with(" ms"), "a running run counts its time: {elapsed}");
    std::fs::write(artifacts().join("run-live.png"), c.screenshot().await.unwrap()).unwrap();

    // The verdict and the time to heal, on the same page.
    let verified = stored(
        &app,
        "SELECT count(*) FROM heal_runs WHERE verification = 'verified' AND time_to_heal_ms IS NOT NULL",
        Duration::from_secs(60),
    )
    .await;
    let verdict_shown = shows_within(&c, verified, "[data-testid=run-facts]", "verified").await;
    shows_within(&c, verified, "[data-testid=run-facts]", "from the alert's start to verified").await;
    let output = c.find(Locator::Css("[data-testid=run-output]")).await.unwrap().text().await.unwrap();
    assert!(output.contains("nginx is back") && output.contains("PLAY RECAP"), "{output}");
    // The tasks with their results and durations (the pause took its 3 s).
    let tasks = shows_within(&c, verified, "[data-testid=run-tasks]", "ansible.builtin.pause").await;
    let listed = c.find(Locator::Css("[data-testid=run-tasks]")).await.unwrap().text().await.unwrap();
    assert!(
        listed.contains("Tasks (3)") && listed.matches("ok").count() >= 3 && listed.contains("3."),
        "{listed} ({tasks:?})"
    );
    std::fs::write(artifacts().join("run-finished.png"), c.screenshot().await.unwrap()).unwrap();
    assert!(still_marked(&c).await, "the runs tab was never reloaded");

    // The alerts list says how it ended.
    c.switch_to_window(alerts_tab).await.unwrap();
    let outcome_shown = shows_within(&c, verified, "[data-testid=alerts-table]", "healed in").await;
    assert!(still_marked(&c).await, "the alerts tab was never reloaded");
    std::fs::write(artifacts().join("alerts-live.png"), c.screenshot().await.unwrap()).unwrap();
    eprintln!(
        "output line shown {output_shown:?} after it was stored; verdict {verdict_shown:?}, outcome in the list {outcome_shown:?} after the verdict"
    );

    assert_quiet_console(&c, &[]).await;
    c.close().await.unwrap();
    app.stop.cancel();
    let _ = work.await;
    let _ = verify.await;
    drop(prometheus);
}
