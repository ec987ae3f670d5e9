//! Several real `selfheal` processes on one real PostgreSQL (issue 28): each in a folder of its
//! own with the same config, the same slow playbook and an inventory of the targets.
use std::time::{Duration, Instant};

use reqwest::header;
use sqlx::PgPool;
use tempfile::TempDir;

use super::{WEBHOOK_PASSWORD, WEBHOOK_USER};

/// A playbook that holds its target for 30 s.
pub const SLOW_PLAYBOOK: &str =
    "- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.command: sleep 30\n";

/// A replica's folder: `selfheal.toml` on `url` (with `extra` appended, for `[engine]` or
/// `[ha]`), a rule healing alerts named `alertname` on their `host` label with a playbook
/// that sleeps 30 s, and an inventory of `hosts` (run locally).
pub fn folder(url: &str, alertname: &str, hosts: impl IntoIterator<Item = String>, extra: &str) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("ansible")).unwrap();
    let inventory: String = hosts.into_iter().map(|h| format!("{h} ansible_connection=local\n")).collect();
    std::fs::write(d.join("ansible/inventory.ini"), inventory).unwrap();
    std::fs::write(d.join("ansible/slow.yml"), SLOW_PLAYBOOK).unwrap();
    std::fs::write(
        d.join("selfheal.toml"),
        format!(
            "database = \"{url}\"\n[ansible]\ndir = \"ansible\"\ninventory = \"ansible/inventory.ini\"\n\
             [[rules]]\nname = \"heal\"\nmatch = {{ alertname = \"{alertname}\" }}\nplaybook = \"slow.yml\"\n\
             target_label = \"host\"\ntimeout = \"5m\"\n{extra}"
        ),
    )
    .unwrap();
    dir
}

/// The `application_name` of the connection holding the leader's lock (`selfheal <replica id>`).
pub async fn leader(pool: &PgPool) -> Option<String> {
    sqlx::query_scalar(
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid) \
         WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 1936026726 \
         AND l.objid = 1751474540 AND l.objsubid = 1",
    )
    .fetch_optional(pool)
    .await
    .unwrap()
}

/// Waits (up to `within`) until `sql`, a count, reaches `want`; what it reached.
pub async fn wait_count(pool: &PgPool, sql: &str, want: i64, within: Duration) -> i64 {
    let deadline = Instant::now() + within;
    loop {
        let n: i64 = sqlx::query_scalar(sql).fetch_one(pool).await.unwrap();
        if n >= want || Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A notification of one alert named `alertname` on `host`.
pub fn firing(alertname: &str, host: &str) -> String {
    serde_json::json!({
        "version": "4", "groupKey": format!("{{}}:{{host=\"{host}\"}}"), "status": "firing", "receiver": "selfheal",
        "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am",
        "alerts": [{ "status": "firing", "labels": { "alertname": alertname, "host": host },
                     "annotations": {}, "startsAt": "2026-12-07T09:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                     "generatorURL": "", "fingerprint": format!("{:016x}", host.bytes().fold(7u64, |h, b| h * 31 + u64::from(b))) }]
    })
    .to_string()
}

/// `firing(alertname, host)` to the replica on `port`, answered 2xx.
pub async fn deliver(port: u16, alertname: &str, host: &str) {
    let res = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/webhook"))
        .basic_auth(WEBHOOK_USER, Some(WEBHOOK_PASSWORD))
        .header(header::CONTENT_TYPE, "application/json")
        .body(firing(alertname, host))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}: {}", res.status(), res.text().await.unwrap());
}

/// The replica holding `host`'s run once it runs, and how long that took.
pub async fn running_at(pool: &PgPool, host: &str) -> (String, Duration) {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(20);
    loop {
        let held: Option<Option<String>> =
            sqlx::query_scalar("SELECT held_by FROM heal_runs WHERE target = $1 AND status = 'running'")
                .bind(host)
                .fetch_optional(pool)
                .await
                .unwrap();
        if let Some(Some(replica)) = held {
            return (replica, started.elapsed());
        }
        if Instant::now() > deadline {
            let state: Vec<(String, String)> = sqlx::query_as(
                "SELECT 'decision', reason FROM decisions UNION ALL SELECT 'run', status || ' ' || coalesce(error, '') FROM heal_runs",
            )
            .fetch_all(pool)
            .await
            .unwrap();
            panic!("{host}'s run never started: {state:?}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
