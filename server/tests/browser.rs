//! The UI in a real headless Chromium (Debian's chromium + chromium-driver, via WebDriver):
//! log in through the form, see the shell, log out; a viewer sees fewer rights; an admin adds a
//! user; an operator heals; the approvals queue and the rules with their breakers.
mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};

use app::model::Role;
use app::ssr::db::seed::SeedSize;
use common::browser::{
    artifacts, browser, log_in, text_of, wait_hydrated, wait_path, ChromeDriver, ONE_BROWSER, WAIT,
};
use common::TestApp;
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_in_see_the_shell_log_out_then_a_viewer_has_fewer_rights() {
    let _one = ONE_BROWSER.lock().await;
    assert!(common::site_root().join("pkg/selfheal.wasm").exists(), "run scripts/build.sh first");
    let app = TestApp::new().await;
    app.add_user("admin", "admin-password-1", Role::Admin).await;
    app.add_user("vera", "viewer-password-1", Role::Viewer).await;
    let addr = app.serve().await;
    let driver = ChromeDriver::start();
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile.path()).await;

    // A wrong password: the generic error, still on the login page.
    log_in(&c, addr, "admin", "wrong-password").await;
    assert_eq!(text_of(&c, "[data-testid=login-error]").await, "invalid username or password");
    wait_path(&c, "/login").await;

    // The admin: shell with user, role and every section.
    c.find(Locator::Css("input[name=username]")).await.unwrap().clear().await.unwrap();
    c.find(Locator::Css("input[name=password]")).await.unwrap().clear().await.unwrap();
    c.find(Locator::Css("input[name=username]")).await.unwrap().send_keys("admin").await.unwrap();
    c.find(Locator::Css("input[name=password]")).await.unwrap().send_keys("admin-password-1").await.unwrap();
    c.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_path(&c, "/").await;
    assert_eq!(text_of(&c, "[data-testid=current-user]").await, "admin");
    assert_eq!(text_of(&c, "[data-testid=current-role]").await.to_lowercase(), "admin");
    let nav = text_of(&c, "nav.nav").await;
    for section in ["Overview", "Alerts", "Runs", "Audit", "Admin"] {
        assert!(nav.contains(section), "{section} missing from {nav}");
    }
    std::fs::write(artifacts().join("overview-admin.png"), c.screenshot().await.unwrap()).unwrap();

    // Client-side navigation to the admin page lists the users.
    c.find(Locator::LinkText("Admin")).await.unwrap().click().await.unwrap();
    wait_path(&c, "/admin").await;
    let users = text_of(&c, "[data-testid=users-table]").await.to_lowercase();
    assert!(users.contains("vera") && users.contains("viewer"), "{users}");
    // An API token: created from the form, shown once, then listed without its text.
    c.find(Locator::Css("[data-testid=token-form] input[name=name]"))
        .await
        .unwrap()
        .send_keys("ci-deploys")
        .await
        .unwrap();
    c.find(Locator::Css("[data-testid=token-form] button")).await.unwrap().click().await.unwrap();
    let shown = text_of(&c, "[data-testid=new-token]").await;
    assert!(shown.contains("ci-deploys") && shown.contains("shk_"), "{shown}");
    let tokens = text_of(&c, "[data-testid=tokens-table]").await;
    assert!(tokens.contains("ci-deploys") && !tokens.contains("shk_"), "{tokens}");
    // A user added from the form with a generated password: shown once, then listed.
    let form = "[data-testid=add-user-form]";
    let name_field = c.find(Locator::Css(&format!("{form} input[name=username]"))).await.unwrap();
    name_field.send_keys("olga").await.unwrap();
    c.find(Locator::Css(&format!("{form} select[name=role] option[value=operator]")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Css(&format!("{form} button"))).await.unwrap().click().await.unwrap();
    let issued = text_of(&c, "[data-testid=issued-password]").await;
    assert!(issued.contains("olga") && issued.contains("not be shown again"), "{issued}");
    let deadline = Instant::now() + WAIT;
    while !text_of(&c, "[data-testid=users-table]").await.contains("olga") {
        assert!(Instant::now() < deadline, "olga never listed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let users = text_of(&c, "[data-testid=users-table]").await.to_lowercase();
    assert!(users.contains("olga") && users.contains("operator"), "{users}");
    std::fs::write(artifacts().join("admin-users.png"), c.screenshot().await.unwrap()).unwrap();

    // Log out: back to the login form, and the pages are closed again.
    c.find(Locator::Css("[data-testid=logout]")).await.unwrap().click().await.unwrap();
    wait_path(&c, "/login").await;
    c.goto(&format!("http://{addr}/audit")).await.unwrap();
    wait_path(&c, "/login").await;

    // A viewer: no Admin link, and the server refuses the admin data even by URL.
    log_in(&c, addr, "vera", "viewer-password-1").await;
    wait_path(&c, "/").await;
    assert_eq!(text_of(&c, "[data-testid=current-role]").await.to_lowercase(), "viewer");
    assert!(!text_of(&c, "nav.nav").await.contains("Admin"));
    c.goto(&format!("http://{addr}/admin")).await.unwrap();
    assert_eq!(text_of(&c, "[data-testid=admin-error]").await, "your role does not allow this");
    c.goto(&format!("http://{addr}/audit")).await.unwrap();
    let audit = text_of(&c, "[data-testid=audit-table]").await;
    assert!(audit.contains("auth.login_failed") && audit.contains("auth.logout"), "{audit}");
    std::fs::write(artifacts().join("audit-viewer.png"), c.screenshot().await.unwrap()).unwrap();

    // Anyone changes their own password from /account (their name in the top bar links there).
    c.find(Locator::Css("[data-testid=current-user]")).await.unwrap().click().await.unwrap();
    wait_path(&c, "/account").await;
    for (name, value) in [("current", "viewer-password-1"), ("new", "viewer-password-2")] {
        let css = format!("[data-testid=change-password] input[name={name}]");
        c.find(Locator::Css(&css)).await.unwrap().send_keys(value).await.unwrap();
    }
    c.find(Locator::Css("[data-testid=change-password] button")).await.unwrap().click().await.unwrap();
    let done = text_of(&c, "[data-testid=password-changed]").await;
    assert!(done.contains("Password changed"), "{done}");
    std::fs::write(artifacts().join("account.png"), c.screenshot().await.unwrap()).unwrap();

    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_heals_an_alert_and_watches_the_run_while_a_viewer_cannot() {
    let _one = ONE_BROWSER.lock().await;
    assert!(common::site_root().join("pkg/selfheal.wasm").exists(), "run scripts/build.sh first");
    let app = TestApp::with(|config, dir| {
        let ansible = dir.join("ansible");
        std::fs::create_dir_all(&ansible).unwrap();
        std::fs::write(ansible.join("inventory.ini"), "localhost ansible_connection=local\n").unwrap();
        std::fs::write(
            ansible.join("heal-nginx.yml"),
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.debug:\n        msg: nginx is back\n",
        )
        .unwrap();
        config.ansible.inventory = ansible.join("inventory.ini");
        config.ansible.dir = ansible;
        config.rules = vec![serde_json::from_value(serde_json::json!({
            "name": "nginx-down", "match": { "alertname": "NginxDown" }, "playbook": "heal-nginx.yml", "mode": "shadow",
        }))
        .unwrap()];
    })
    .await;
    app.add_user("olga", "operator-password-1", Role::Operator).await;
    app.add_user("vera", "viewer-password-1", Role::Viewer).await;
    let firing = include_str!("fixtures/alertmanager/alertmanager-webhook-firing.json");
    let req = axum::http::Request::post("/webhook")
        .header("content-type", "application/json")
        .header("authorization", common::basic_auth())
        .body(axum::body::Body::from(firing))
        .unwrap();
    assert_eq!(app.send(req).await.status, axum::http::StatusCode::OK);
    app.engine.decide_pending().await.unwrap();
    let worker = app.worker.clone();
    let stop = worker.stop.clone();
    let work = tokio::spawn(worker.run());
    let addr = app.serve().await;
    let driver = ChromeDriver::start();
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile.path()).await;

    // A viewer sees the alert and the shadow decision, and no action button.
    log_in(&c, addr, "vera", "viewer-password-1").await;
    wait_path(&c, "/").await;
    c.goto(&format!("http://{addr}/alerts")).await.unwrap();
    let table = text_of(&c, "[data-testid=alerts-table]").await;
    assert!(table.contains("NginxDown") && table.contains("shadow"), "{table}");
    wait_hydrated(&c).await;
    assert!(c.find(Locator::Css("[data-testid=heal-now]")).await.is_err(), "no heal button for a viewer");
    c.find(Locator::Css("[data-testid=alert-link]")).await.unwrap().click().await.unwrap();
    text_of(&c, "[data-testid=alert-labels]").await;
    assert!(c.find(Locator::Css("[data-testid=silence]")).await.is_err(), "no silence button for a viewer");
    c.find(Locator::Css("[data-testid=logout]")).await.unwrap().click().await.unwrap();
    wait_path(&c, "/login").await;

    // An operator opens the alert from the list: labels and the timeline so far.
    log_in(&c, addr, "olga", "operator-password-1").await;
    wait_path(&c, "/").await;
    c.goto(&format!("http://{addr}/alerts")).await.unwrap();
    wait_hydrated(&c).await;
    c.find(Locator::Css("[data-testid=alert-link]")).await.unwrap().click().await.unwrap();
    let deadline = Instant::now() + WAIT;
    while !c.current_url().await.unwrap().path().starts_with("/alerts/") {
        assert!(Instant::now() < deadline, "not taken to the alert");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let alert_url = c.current_url().await.unwrap();
    let labels = text_of(&c, "[data-testid=alert-labels]").await;
    assert!(labels.contains("alertname") && labels.contains("NginxDown"), "{labels}");
    let timeline = text_of(&c, "[data-testid=alert-timeline]").await;
    assert!(timeline.contains("received from webhook") && timeline.contains("shadow"), "{timeline}");
    // Silence is offered to an operator (this app has no Alertmanager: the server would say so).
    c.wait().at_most(WAIT).for_element(Locator::Css("[data-testid=silence] summary")).await.unwrap();
    std::fs::write(artifacts().join("alert-detail.png"), c.screenshot().await.unwrap()).unwrap();

    // It heals it now from there, confirms, lands on the live run and sees it finish.
    wait_hydrated(&c).await;
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css("[data-testid=heal-now] summary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    std::fs::write(artifacts().join("alerts-heal-now.png"), c.screenshot().await.unwrap()).unwrap();
    c.find(Locator::Css("[data-testid=heal-now-confirm]")).await.unwrap().click().await.unwrap();
    let deadline = Instant::now() + WAIT;
    while !c.current_url().await.unwrap().path().starts_with("/runs/") {
        assert!(Instant::now() < deadline, "not taken to the run");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let facts = text_of(&c, "[data-testid=run-facts]").await;
        let output = c.find(Locator::Css("[data-testid=run-output]")).await;
        let out_text = match output {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if facts.contains("succeeded")
            && out_text.contains("nginx is back")
            && out_text.contains("PLAY RECAP")
        {
            break;
        }
        assert!(Instant::now() < deadline, "the run never showed as finished: {facts}\n{out_text}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    std::fs::write(artifacts().join("run-detail.png"), c.screenshot().await.unwrap()).unwrap();

    // The alert's timeline now tells the whole story, with the run and who asked for it.
    c.goto(alert_url.as_str()).await.unwrap();
    let timeline = text_of(&c, "[data-testid=alert-timeline]").await;
    assert!(timeline.contains("queued by olga") && timeline.contains("succeeded"), "{timeline}");
    std::fs::write(artifacts().join("alert-timeline.png"), c.screenshot().await.unwrap()).unwrap();

    c.goto(&format!("http://{addr}/audit")).await.unwrap();
    let audit = text_of(&c, "[data-testid=audit-table]").await;
    assert!(audit.contains("run.heal_now") && audit.contains("olga"), "{audit}");
    c.goto(&format!("http://{addr}/")).await.unwrap();
    text_of(&c, "[data-testid=overview]").await;
    std::fs::write(artifacts().join("overview-operator.png"), c.screenshot().await.unwrap()).unwrap();

    // The playbook catalog offers the rule's playbook with a run form.
    c.goto(&format!("http://{addr}/playbooks")).await.unwrap();
    let catalog = text_of(&c, "[data-testid=catalog]").await;
    assert!(catalog.contains("heal-nginx.yml"), "{catalog}");
    wait_hydrated(&c).await;
    c.find(Locator::Css("[data-testid=run-playbook] summary")).await.unwrap().click().await.unwrap();
    std::fs::write(artifacts().join("playbooks.png"), c.screenshot().await.unwrap()).unwrap();
    c.close().await.unwrap();
    stop.cancel();
    let _ = work.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_works_the_approvals_queue_and_sees_the_rules_and_breakers() {
    let _one = ONE_BROWSER.lock().await;
    assert!(common::site_root().join("pkg/selfheal.wasm").exists(), "run scripts/build.sh first");
    let rule = serde_json::json!({
        "name": "nginx-down", "match": { "alertname": "NginxDown" },
        "matchers": ["severity=~\"crit.*|page\""], "playbook": "heal-nginx.yml",
        "mode": "approval", "max_attempts": 1, "window": "30m",
    });
    let app = TestApp::with(|config, dir| common::one_rule(config, dir, rule)).await;
    app.add_user("olga", "operator-password-1", Role::Operator).await;
    app.deliver(include_str!("fixtures/alertmanager/alertmanager-webhook-firing.json")).await;
    app.engine.decide_pending().await.unwrap();
    let addr = app.serve().await;
    let driver = ChromeDriver::start();
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile.path()).await;

    // From the overview's card to the queue: the parked run with its alert.
    log_in(&c, addr, "olga", "operator-password-1").await;
    wait_path(&c, "/").await;
    wait_hydrated(&c).await;
    c.find(Locator::Css("[data-testid=awaiting-approval]")).await.unwrap().click().await.unwrap();
    wait_path(&c, "/approvals").await;
    let queue = text_of(&c, "[data-testid=approvals-table]").await;
    assert!(queue.contains("NginxDown") && queue.contains("heal-nginx.yml"), "{queue}");
    std::fs::write(artifacts().join("approvals.png"), c.screenshot().await.unwrap()).unwrap();

    // The rules: the engine's one attempt opened the breaker (max 1), an operator may reset it.
    c.find(Locator::LinkText("Rules")).await.unwrap().click().await.unwrap();
    wait_path(&c, "/rules").await;
    let rules = text_of(&c, "[data-testid=rules]").await;
    assert!(
        rules.contains("nginx-down") && rules.contains("approval") && rules.contains("1 of 1"),
        "{rules}"
    );
    assert!(text_of(&c, "[data-testid=rule-breakers]").await.contains("open"));
    std::fs::write(artifacts().join("rules.png"), c.screenshot().await.unwrap()).unwrap();

    // Reject with a comment: off the queue, audited with the comment.
    c.goto(&format!("http://{addr}/approvals")).await.unwrap();
    wait_hydrated(&c).await;
    c.find(Locator::Css("input[name=comment]"))
        .await
        .unwrap()
        .send_keys("not during the demo")
        .await
        .unwrap();
    c.find(Locator::Css("[data-testid=reject]")).await.unwrap().click().await.unwrap();
    text_of(&c, ".empty-state").await;
    let audit: (String, String) =
        sqlx::query_as("SELECT actor, detail FROM audit_events WHERE action = 'run.reject'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(audit, ("olga".to_owned(), "not during the demo".to_owned()));
    c.close().await.unwrap();
}

/// A viewer logged in, in a real browser, to a fresh app seeded with history.
struct Seeded {
    app: TestApp,
    /// The first seeded run.
    run: i64,
    addr: SocketAddr,
    c: Client,
    _driver: ChromeDriver,
    _profile: tempfile::TempDir,
}

async fn seeded_viewer(size: SeedSize) -> Seeded {
    let app = TestApp::new().await;
    app.add_user("vera", "viewer-password-1", Role::Viewer).await;
    let (_, run) = app::ssr::db::seed::seed(&app.pool, size).await.unwrap();
    let addr = app.serve().await;
    let driver = ChromeDriver::start();
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile.path()).await;
    log_in(&c, addr, "vera", "viewer-password-1").await;
    wait_path(&c, "/").await;
    Seeded { app, run, addr, c, _driver: driver, _profile: profile }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_charts_a_day_of_seeded_heals() {
    let _one = ONE_BROWSER.lock().await;
    // 30 days of history: about a hundred runs fall in the last 24 hours.
    let s = seeded_viewer(SeedSize { alerts: 3000, runs: 3000, lines_per_run: 1 }).await;
    let c = &s.c;
    let p50 = text_of(c, "[data-testid=tth-p50]").await;
    let p95 = text_of(c, "[data-testid=tth-p95]").await;
    // Seeded times to heal are 1.5 s to 10.5 s.
    assert!(p50.ends_with("time to heal, median") && p50.contains(" s"), "{p50}");
    assert!(p95.contains(" s") && !p95.contains('—'), "{p95}");
    for chart in ["heals-chart", "tth-chart"] {
        let bars = c.find_all(Locator::Css(&format!("[data-testid={chart}] svg g.bar"))).await.unwrap();
        assert!(bars.len() >= 12, "{chart}: {} hours drawn", bars.len());
        let label = c
            .find(Locator::Css(&format!("[data-testid={chart}] svg")))
            .await
            .unwrap()
            .attr("aria-label")
            .await
            .unwrap()
            .unwrap_or_default();
        assert!(label.contains("last 24 hours"), "{chart}: {label}");
    }
    let hover = c
        .find(Locator::Css("[data-testid=heals-chart] svg g.bar title"))
        .await
        .unwrap()
        .prop("textContent")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(hover.contains("UTC") && hover.contains("verified"), "{hover}");
    std::fs::write(artifacts().join("overview-charts.png"), c.screenshot().await.unwrap()).unwrap();
    s.c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_with_100k_output_lines_opens_a_page_at_a_time_and_can_be_searched() {
    let _one = ONE_BROWSER.lock().await;
    let s = seeded_viewer(SeedSize { alerts: 1, runs: 1, lines_per_run: 100_000 }).await;
    let (c, run) = (&s.c, s.run);
    sqlx::query("UPDATE heal_runs SET recap = ? WHERE id = ?")
        .bind(r#"{"web1":{"ok":5,"changed":1,"failed":1}}"#)
        .bind(run)
        .execute(&s.app.pool)
        .await
        .unwrap();

    let run_url = format!("http://{}/runs/{run}", s.addr);
    c.goto(&run_url).await.unwrap();
    wait_hydrated(c).await;
    text_of(c, "[data-testid=run-output]").await;
    let shown = c.find_all(Locator::Css("[data-testid=run-output] .line")).await.unwrap().len();
    assert_eq!(shown, 2000, "one page of the 100,000 lines, not all of them");
    assert!(text_of(c, ".output-pages").await.contains("lines 1–2000 of 100000"));
    // Times read relative, with the exact UTC time on hover.
    let queued = c.find(Locator::Css("[data-testid=run-facts] time")).await.unwrap();
    let (text, title) =
        (queued.text().await.unwrap(), queued.attr("title").await.unwrap().unwrap_or_default());
    assert!(text.ends_with(" ago") && title.ends_with(" UTC"), "{text} / {title}");
    let recap = text_of(c, "[data-testid=run-recap]").await;
    assert!(recap.contains("web1"), "{recap}");
    assert_eq!(text_of(c, "[data-testid=run-recap] td.tone-bad").await, "1", "a failure stands out");

    c.find(Locator::Css("[data-testid=output-last]")).await.unwrap().click().await.unwrap();
    let tail = c.wait().at_most(WAIT).for_element(Locator::Css("#L100000")).await.unwrap();
    assert!(tail.text().await.unwrap().contains("line 100000"));
    std::fs::write(artifacts().join("run-output-last.png"), c.screenshot().await.unwrap()).unwrap();

    let q = c.find(Locator::Css(".output-search input[name=q]")).await.unwrap();
    q.send_keys("LINE 99999").await.unwrap();
    c.find(Locator::Css(".output-search button")).await.unwrap().click().await.unwrap();
    let hits = text_of(c, "[data-testid=search-hits]").await;
    assert!(hits.contains("1 matching line") && hits.contains("99999"), "{hits}");
    std::fs::write(artifacts().join("run-output-search.png"), c.screenshot().await.unwrap()).unwrap();
    c.find(Locator::Css("[data-testid=search-hits] a")).await.unwrap().click().await.unwrap();
    let hit = c.wait().at_most(WAIT).for_element(Locator::Css("#L99999")).await.unwrap();
    assert!(hit.text().await.unwrap().ends_with("line 99999"));
    assert!(text_of(c, ".output-pages").await.contains("lines 99979–"));
    s.c.close().await.unwrap();
}

/// Hrefs of the alert links in the table (one per row).
async fn alert_links(c: &Client) -> Vec<String> {
    let mut hrefs = Vec::new();
    for a in c.find_all(Locator::Css("[data-testid=alerts-table] [data-testid=alert-link]")).await.unwrap() {
        hrefs.push(a.attr("href").await.unwrap().unwrap_or_default());
    }
    hrefs
}

/// Whether the page is wider than the window (a phone would scroll sideways).
async fn overflows_sideways(c: &Client) -> bool {
    let v = c
        .execute("return document.documentElement.scrollWidth > window.innerWidth + 1;", vec![])
        .await
        .unwrap();
    v.as_bool().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_and_keyset_pages_on_a_seeded_database_then_the_pages_on_a_phone() {
    let _one = ONE_BROWSER.lock().await;
    // 4,000 alerts: 1 in 40 is a firing DiskFull, so the filter selects 100, two pages of 50.
    let s = seeded_viewer(SeedSize { alerts: 4000, runs: 50, lines_per_run: 20 }).await;
    let (c, addr) = (&s.c, s.addr);
    c.goto(&format!("http://{addr}/alerts")).await.unwrap();
    wait_hydrated(c).await;
    let form = "[data-testid=alert-filters]";
    c.find(Locator::Css(&format!("{form} select[name=status] option[value=firing]")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Css(&format!("{form} input[name=alertname]")))
        .await
        .unwrap()
        .send_keys("DiskFull")
        .await
        .unwrap();
    c.find(Locator::Css(&format!("{form} button[type=submit]"))).await.unwrap().click().await.unwrap();
    let deadline = Instant::now() + WAIT;
    while !c.current_url().await.unwrap().query().unwrap_or_default().contains("alertname=DiskFull") {
        assert!(Instant::now() < deadline, "the filter never reached the URL");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let first = loop {
        let links = alert_links(c).await;
        let table = text_of(c, "[data-testid=alerts-table] tbody").await;
        if links.len() == 50 && !table.contains("resolved") {
            assert_eq!(table.matches("DiskFull").count(), 50, "{table}");
            assert!(!table.contains("NginxDown"), "{table}");
            break links;
        }
        assert!(Instant::now() < deadline, "{} rows: {table}", links.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let export =
        c.find(Locator::Css("[data-testid=export-csv]")).await.unwrap().attr("href").await.unwrap().unwrap();
    assert!(export.contains("status=firing") && export.contains("alertname=DiskFull"), "{export}");
    std::fs::write(artifacts().join("alerts-filtered.png"), c.screenshot().await.unwrap()).unwrap();

    c.find(Locator::Css("[data-testid=next-page]")).await.unwrap().click().await.unwrap();
    let second = loop {
        let links = alert_links(c).await;
        if links.len() == 50 && links != first {
            break links;
        }
        assert!(Instant::now() < deadline, "the next page never came: {links:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let id = |href: &String| href.rsplit('/').next().unwrap().parse::<i64>().unwrap();
    assert!(id(second.first().unwrap()) < id(first.last().unwrap()), "older rows, no overlap");
    let url = c.current_url().await.unwrap();
    assert!(url.query().unwrap_or_default().contains("alertname=DiskFull"), "the filter stays: {url}");
    let table = text_of(c, "[data-testid=alerts-table] tbody").await;
    assert_eq!(table.matches("DiskFull").count(), 50, "{table}");

    // A phone: every main page fits the width (tables scroll inside themselves).
    c.set_window_size(390, 844).await.unwrap();
    let run = s.run;
    let alert = id(&first[0]);
    for (path, shot) in [
        ("/".to_owned(), "mobile-overview.png"),
        ("/alerts?status=firing".to_owned(), "mobile-alerts.png"),
        (format!("/alerts/{alert}"), "mobile-alert.png"),
        (format!("/runs/{run}"), "mobile-run.png"),
        ("/audit".to_owned(), "mobile-audit.png"),
    ] {
        c.goto(&format!("http://{addr}{path}")).await.unwrap();
        wait_hydrated(c).await;
        assert!(!overflows_sideways(c).await, "{path} is wider than a phone");
        std::fs::write(artifacts().join(shot), c.screenshot().await.unwrap()).unwrap();
    }
    s.c.close().await.unwrap();
}
