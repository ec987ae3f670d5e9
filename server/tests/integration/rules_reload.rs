//! SIGHUP reloads the rules of the real binary (issue 29, item 6): a rule added to the file
//! decides the next alert, each decision records the set it was made under, an invalid file is
//! refused with the rules in force kept, and both are audited with the sets' hashes.
use std::time::{Duration, Instant};

use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};

use crate::common::alertmanager::free_port;
use crate::common::binary::Selfheal;
use crate::common::{WEBHOOK_PASSWORD, WEBHOOK_USER};

const FIRST: &str = "database = \"data/selfheal.db\"\n[ansible]\ndir = \"ansible\"\n\
    [[rules]]\nname = \"first\"\nmatch = { alertname = \"First\" }\nplaybook = \"heal.yml\"\nmode = \"shadow\"\n";

/// One firing alert `name` on `host`, as Alertmanager sends it.
fn payload(name: &str, host: &str, fingerprint: &str) -> String {
    serde_json::json!({
        "version": "4", "groupKey": "{}", "status": "firing", "receiver": "selfheal",
        "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am",
        "alerts": [{ "status": "firing", "labels": { "alertname": name, "instance": host },
                     "annotations": {}, "startsAt": "2026-12-06T09:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                     "generatorURL": "", "fingerprint": fingerprint }]
    })
    .to_string()
}

async fn send(port: u16, body: String) {
    let res = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/webhook"))
        .basic_auth(WEBHOOK_USER, Some(WEBHOOK_PASSWORD))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "webhook: {}", res.status());
}

/// The decision (reason, rules hash) of the alert with `fingerprint`.
async fn decision(pool: &SqlitePool, fingerprint: &str) -> (String, String) {
    sqlx::query_as(
        "SELECT d.reason, d.rules_hash FROM decisions d JOIN alerts a ON a.id = d.alert_id WHERE a.fingerprint = ?",
    )
    .bind(fingerprint)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn wait_for_log(server: &Selfheal, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.log().contains(text) {
        assert!(Instant::now() < deadline, "no {text:?} in the log:\n{}", server.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn sighup(server: &Selfheal) {
    // SAFETY: kill(2) on the child this test started and still holds.
    assert_eq!(unsafe { libc::kill(i32::try_from(server.pid()).unwrap(), libc::SIGHUP) }, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_rules_and_refuses_an_invalid_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("ansible")).unwrap();
    std::fs::write(d.join("ansible/heal.yml"), "- hosts: all\n  gather_facts: false\n  tasks: []\n").unwrap();
    std::fs::write(d.join("selfheal.toml"), FIRST).unwrap();
    let port = free_port();
    let server = Selfheal::start(d, port, "info").await;
    let options = SqliteConnectOptions::new().filename(d.join("data/selfheal.db")).read_only(true);
    let pool = SqlitePool::connect_with(options).await.unwrap();

    send(port, payload("Second", "web1", "00000000000000a1")).await;
    let (reason, first_set) = decision(&pool, "00000000000000a1").await;
    assert_eq!(reason, "no_rule");

    // A rule for Second, then SIGHUP: the next Second is decided by it, under the new set.
    let second = "[[rules]]\nname = \"second\"\nmatch = { alertname = \"Second\" }\nplaybook = \"heal.yml\"\nmode = \"shadow\"\n";
    std::fs::write(d.join("selfheal.toml"), format!("{FIRST}{second}")).unwrap();
    sighup(&server);
    wait_for_log(&server, "rules reloaded").await;
    send(port, payload("Second", "web2", "00000000000000a2")).await;
    let (reason, second_set) = decision(&pool, "00000000000000a2").await;
    assert_eq!(reason, "shadow", "decided by the rule the reload added");
    assert_ne!(second_set, first_set, "each decision names the set it was made under");

    // An invalid file: refused, the set in force stays.
    std::fs::write(d.join("selfheal.toml"), format!("{FIRST}[[rules]]\nname = \"broken\"\n")).unwrap();
    sighup(&server);
    wait_for_log(&server, "config reload refused").await;
    send(port, payload("Second", "web3", "00000000000000a3")).await;
    assert_eq!(decision(&pool, "00000000000000a3").await, ("shadow".to_owned(), second_set.clone()));

    let audit: Vec<(String, String)> =
        sqlx::query_as("SELECT action, detail FROM audit_events WHERE action LIKE 'rules.%' ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert_eq!(audit[0], ("rules.reload".to_owned(), format!("rules {first_set} -> {second_set} (2 rules)")));
    assert_eq!(audit[1].0, "rules.reload_refused");
    assert!(audit[1].1.starts_with(&format!("rules {second_set} kept: ")), "{}", audit[1].1);
}

#[tokio::test]
async fn an_admin_reloads_the_rules_from_the_dashboard_and_an_operator_may_not() {
    let rule = serde_json::json!({ "name": "first", "match": { "alertname": "First" }, "playbook": "heal-nginx.yml" });
    let mut file = std::path::PathBuf::new();
    let app = crate::common::TestApp::with(|config, dir| {
        crate::common::one_rule(config, dir, rule);
        file = dir.join("reloaded.toml");
        config.source = Some(file.clone());
    })
    .await;
    let ansible = app.config.ansible.dir.display().to_string();
    let with_rules = |rules: &str| format!("[ansible]\ndir = \"{ansible}\"\n{rules}");
    let first =
        "[[rules]]\nname = \"first\"\nmatch = { alertname = \"First\" }\nplaybook = \"heal-nginx.yml\"\n";
    let second =
        "[[rules]]\nname = \"second\"\nmatch = { alertname = \"Second\" }\nplaybook = \"heal-nginx.yml\"\n";
    std::fs::write(&file, with_rules(&format!("{first}{second}"))).unwrap();
    app.add_user("ada", "admin-password-1", app::model::Role::Admin).await;
    app.add_user("olga", "operator-password-1", app::model::Role::Operator).await;

    let operator = app.login("olga", "operator-password-1").await;
    assert_eq!(app.post_form("/api/reload_rules", &[], Some(&operator)).await.status, 403);

    let admin = app.login("ada", "admin-password-1").await;
    let res = app.post_form("/api/reload_rules", &[], Some(&admin)).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert!(res.body.contains(" -> ") && res.body.contains("(2 rules)"), "{}", res.body);
    let rules = app.post_form("/api/rules", &[], Some(&admin)).await.json();
    let names: Vec<&str> = rules.as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["first", "second"], "the page shows the reloaded rules");

    std::fs::write(&file, with_rules("[[rules]]\nname = \"broken\"\n")).unwrap();
    let refused = app.post_form("/api/reload_rules", &[], Some(&admin)).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains("kept:"), "{}", refused.body);
    let rules = app.post_form("/api/rules", &[], Some(&admin)).await.json();
    assert_eq!(rules.as_array().unwrap().len(), 2, "the rules in force stay");
    let actors: Vec<(String, String)> =
        sqlx::query_as("SELECT actor, action FROM audit_events WHERE action LIKE 'rules.%' ORDER BY id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let want = [
        ("ada".to_owned(), "rules.reload".to_owned()),
        ("ada".to_owned(), "rules.reload_refused".to_owned()),
    ];
    assert_eq!(actors, want);
}
