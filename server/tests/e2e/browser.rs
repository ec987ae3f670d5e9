//! The UI in a real headless Chromium (Debian's chromium + chromium-driver, via WebDriver):
//! log in through the form, see the shell, log out; a viewer sees fewer rights; an admin adds a
//! user; an operator heals; the approvals queue and the rules with their breakers. The pages
//! over a seeded history are in `browser/seeded.rs`.
use crate::common;
#[path = "browser/directory.rs"]
mod directory;
#[path = "browser/kill_switch.rs"]
mod kill_switch;
#[path = "browser/leaks.rs"]
mod leaks;
#[path = "browser/live.rs"]
mod live;
mod new_build;
#[path = "browser/phone.rs"]
mod phone;
#[path = "browser/seeded.rs"]
mod seeded;
mod streams;
mod windows;

use std::time::{Duration, Instant};

use fantoccini::Locator;

use app::model::Role;
use common::browser::{
    artifacts, assert_quiet_console, browser, log_in, text_of, wait_hydrated, wait_path, ONE_BROWSER, WAIT,
};
use common::TestApp;
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_in_see_the_shell_log_out_then_a_viewer_has_fewer_rights() {
    let Some(_turn) = crate::provisioned("log_in_see_the_shell_log_out_then_a_viewer_has_fewer_rights")
    else {
        return;
    };
    let _one = ONE_BROWSER.lock().await;
    assert!(
        common::site_root().join("hash.txt").exists(),
        "run SITE_DIR=target/test-site scripts/build.sh --site first (scripts/test.sh does)"
    );
    let app = TestApp::new().await;
    app.add_user("admin", "admin-password-1", Role::Admin).await;
    app.add_user("vera", "viewer-password-1", Role::Viewer).await;
    let addr = app.serve().await;
    let (c, _chromium) = browser().await;

    // A wrong password: the generic error, still on the login page.
    log_in(&c, addr, "admin", "wrong-password").await;
    assert_eq!(text_of(&c, "[data-testid=login-error]").await, "invalid username or password");
    wait_path(&c, "/login").await;
    // The refusal is the one message the console may show.
    assert_quiet_console(
        &c,
        &["/api/login - Failed to load resource: the server responded with a status of 401"],
    )
    .await;

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
    for (name, value) in [("current", "viewer-password-1"), ("new", "maple quartz river 51")] {
        let css = format!("[data-testid=change-password] input[name={name}]");
        c.find(Locator::Css(&css)).await.unwrap().send_keys(value).await.unwrap();
    }
    c.find(Locator::Css("[data-testid=change-password] button")).await.unwrap().click().await.unwrap();
    let done = text_of(&c, "[data-testid=password-changed]").await;
    assert!(done.contains("Password changed"), "{done}");
    std::fs::write(artifacts().join("account.png"), c.screenshot().await.unwrap()).unwrap();
    // Loaded directly (hydrated, not routed to), several times: it panicked in hydration on 3 of
    // 4 loads when the user line read its resource outside a loading boundary.
    for _ in 0..4 {
        c.goto(&format!("http://{addr}/account")).await.unwrap();
        wait_hydrated(&c).await;
        let who = text_of(&c, "[data-testid=account-user]").await;
        assert!(who.contains("vera (viewer)"), "{who}");
    }

    assert_quiet_console(&c, &[]).await;
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_heals_an_alert_and_watches_the_run_while_a_viewer_cannot() {
    let Some(_turn) =
        crate::provisioned("an_operator_heals_an_alert_and_watches_the_run_while_a_viewer_cannot")
    else {
        return;
    };
    let _one = ONE_BROWSER.lock().await;
    assert!(
        common::site_root().join("hash.txt").exists(),
        "run SITE_DIR=target/test-site scripts/build.sh --site first (scripts/test.sh does)"
    );
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
    let firing = include_str!("../fixtures/alertmanager/alertmanager-webhook-firing.json");
    let req = axum::http::Request::post("/webhook")
        .header("content-type", "application/json")
        .header("authorization", common::basic_auth())
        .body(axum::body::Body::from(firing))
        .unwrap();
    assert_eq!(app.send(req).await.status, axum::http::StatusCode::OK);
    let worker = app.worker.clone();
    let stop = app.stop.clone();
    let work = tokio::spawn(worker.run());
    let addr = app.serve().await;
    let (c, _chromium) = browser().await;

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
    // The playbook has ended; its verification is pending until the verifier says. The page
    // keeps asking, so the verdict shows without a reload (no Prometheus here: inconclusive).
    let facts = text_of(&c, "[data-testid=run-facts]").await;
    assert!(facts.contains("pending"), "{facts}");
    let verify = tokio::spawn(app.worker.verifier().clone().run());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let facts = text_of(&c, "[data-testid=run-facts]").await;
        if facts.contains("inconclusive") {
            break;
        }
        assert!(Instant::now() < deadline, "the verdict never showed without a reload: {facts}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The alert's timeline now tells the whole story, with the run and who asked for it.
    c.goto(alert_url.as_str()).await.unwrap();
    let timeline = text_of(&c, "[data-testid=alert-timeline]").await;
    assert!(timeline.contains("queued by olga") && timeline.contains("succeeded"), "{timeline}");
    std::fs::write(artifacts().join("alert-timeline.png"), c.screenshot().await.unwrap()).unwrap();

    c.goto(&format!("http://{addr}/audit")).await.unwrap();
    let audit = text_of(&c, "[data-testid=audit-table]").await;
    assert!(audit.contains("run.heal_now") && audit.contains("olga"), "{audit}");
    // Its target links to the run; its detail says what was asked.
    let link = c.find(Locator::Css("[data-testid=audit-target-link]")).await.unwrap();
    assert!(link.attr("href").await.unwrap().unwrap_or_default().starts_with("/runs/"));
    assert!(audit.contains("heal-nginx.yml"), "the detail column: {audit}");
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
    assert_quiet_console(&c, &[]).await;
    c.close().await.unwrap();
    stop.cancel();
    let _ = work.await;
    let _ = verify.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_works_the_approvals_queue_and_sees_the_rules_and_breakers() {
    let Some(_turn) =
        crate::provisioned("an_operator_works_the_approvals_queue_and_sees_the_rules_and_breakers")
    else {
        return;
    };
    let _one = ONE_BROWSER.lock().await;
    assert!(
        common::site_root().join("hash.txt").exists(),
        "run SITE_DIR=target/test-site scripts/build.sh --site first (scripts/test.sh does)"
    );
    let rule = serde_json::json!({
        "name": "nginx-down", "match": { "alertname": "NginxDown" },
        "matchers": ["severity=~\"crit.*|page\""], "playbook": "heal-nginx.yml",
        "mode": "approval", "max_attempts": 1, "window": "30m",
    });
    let app = TestApp::with(|config, dir| common::one_rule(config, dir, rule)).await;
    app.add_user("olga", "operator-password-1", Role::Operator).await;
    app.deliver(include_str!("../fixtures/alertmanager/alertmanager-webhook-firing.json")).await;
    let addr = app.serve().await;
    let (c, _chromium) = browser().await;

    // From the overview's card to the queue: the parked run with its alert.
    log_in(&c, addr, "olga", "operator-password-1").await;
    wait_path(&c, "/").await;
    wait_hydrated(&c).await;
    // What needs a person comes first, and the tab and the menu count it.
    let needs = text_of(&c, "[data-testid=needs-you]").await;
    assert!(
        needs.contains("Incident: 1 firing")
            && needs.contains("1 run awaits approval")
            && needs.contains("Open circuit breakers"),
        "{needs}"
    );
    assert_eq!(c.title().await.unwrap(), "(2) Overview · selfheal", "an approval and an open breaker");
    assert_eq!(text_of(&c, "[data-testid=nav-awaiting]").await, "1");
    std::fs::write(artifacts().join("overview-needs-you.png"), c.screenshot().await.unwrap()).unwrap();
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
    // The menu's count goes with it, without a reload.
    let deadline = Instant::now() + Duration::from_secs(2);
    while c.find(Locator::Css("[data-testid=nav-awaiting]")).await.is_ok() {
        assert!(Instant::now() < deadline, "the approvals count stayed after the queue emptied");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let audit: (String, String) =
        sqlx::query_as("SELECT actor, detail FROM audit_events WHERE action = 'run.reject'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(audit, ("olga".to_owned(), "not during the demo".to_owned()));
    assert_quiet_console(&c, &[]).await;
    c.close().await.unwrap();
}
