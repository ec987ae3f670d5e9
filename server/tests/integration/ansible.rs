//! The runner with Debian's real `ansible-playbook` on small playbooks in a temp dir: success,
//! a failing task, a hang killed at the timeout with nothing left behind, 200k lines capped,
//! and hostile label values reaching the playbook as literal strings.
use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use server::ansible::{run_playbook, Ending, PlaybookRun, Stream};

const INVENTORY: &str = "localhost ansible_connection=local\n";

struct Lab {
    dir: tempfile::TempDir,
}

impl Lab {
    fn new() -> Lab {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("inventory.ini"), INVENTORY).unwrap();
        Lab { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn playbook(&self, name: &str, tasks: &str) -> PathBuf {
        let path = self.path().join(name);
        std::fs::write(&path, format!("- hosts: all\n  gather_facts: false\n  tasks:\n{tasks}")).unwrap();
        path
    }

    fn run(&self, playbook: PathBuf, vars: BTreeMap<String, String>, timeout: Duration) -> PlaybookRun {
        PlaybookRun {
            command: "ansible-playbook".into(),
            playbook,
            inventory: self.path().join("inventory.ini"),
            limit: Some("localhost".into()),
            extra_vars: vars,
            check: false,
            timeout,
            python_interpreter: "/usr/bin/python3".into(),
            work_dir: self.path().join("work"),
        }
    }
}

/// Runs a playbook, collecting every line.
async fn collect(run: &PlaybookRun) -> (Ending, Vec<(Stream, String)>, Option<u32>) {
    let (tx, mut rx) = mpsc::channel(1024);
    let gather = tokio::spawn(async move {
        let mut lines = Vec::new();
        while let Some(l) = rx.recv().await {
            lines.push(l);
        }
        lines
    });
    let mut pid = None;
    let ending = run_playbook(run, tx, |p| pid = Some(p), CancellationToken::new()).await;
    (ending, gather.await.unwrap(), pid)
}

fn text(lines: &[(Stream, String)]) -> String {
    lines.iter().map(|(_, l)| l.as_str()).collect::<Vec<_>>().join("\n")
}

#[tokio::test]
async fn a_good_playbook_succeeds_and_its_output_streams() {
    let lab = Lab::new();
    let pb = lab.playbook("ok.yml", "    - ansible.builtin.debug:\n        msg: healed\n");
    let (ending, lines, pid) = collect(&lab.run(pb, BTreeMap::new(), Duration::from_secs(120))).await;
    let out = text(&lines);
    assert_eq!(ending, Ending::Succeeded, "{out}");
    assert!(pid.is_some());
    assert!(out.contains("\"msg\": \"healed\""), "{out}");
    let recap = server::ansible::parse_recap(lines.iter().map(|(_, l)| l.as_str()));
    assert_eq!(recap["localhost"]["ok"], 1, "{out}");
}

#[tokio::test]
async fn a_failing_task_is_exit_code_2() {
    let lab = Lab::new();
    let pb = lab.playbook("fail.yml", "    - ansible.builtin.fail:\n        msg: broken on purpose\n");
    let (ending, lines, _) = collect(&lab.run(pb, BTreeMap::new(), Duration::from_secs(120))).await;
    assert_eq!(ending, Ending::Failed(2), "{}", text(&lines));
    assert!(text(&lines).contains("broken on purpose"));
}

/// Processes whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().chars().all(|c| c.is_ascii_digit()))
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(marker))
        .collect()
}

#[tokio::test]
async fn a_hang_is_killed_at_the_timeout_with_no_process_left() {
    let lab = Lab::new();
    // A distinctive duration marks our sleeper among every process on the machine.
    let marker = "sleep 4711";
    let pb = lab.playbook("hang.yml", &format!("    - ansible.builtin.command: {marker}\n"));
    let started = Instant::now();
    let (ending, lines, _) = collect(&lab.run(pb, BTreeMap::new(), Duration::from_secs(4))).await;
    assert_eq!(ending, Ending::TimedOut, "{}", text(&lines));
    assert!(started.elapsed() < Duration::from_secs(30), "killed promptly, took {:?}", started.elapsed());
    let deadline = Instant::now() + Duration::from_secs(5);
    while !processes_with(marker).is_empty() {
        assert!(Instant::now() < deadline, "left behind: {:?}", processes_with(marker));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn hostile_label_values_reach_the_playbook_as_literal_strings() {
    let lab = Lab::new();
    let pwned = lab.path().join("pwned");
    let values = [
        "{{ 7 * 7 }}".to_string(),
        "{% for x in range(3) %}x{% endfor %}".to_string(),
        format!("$(touch {})", pwned.display()),
        format!("`touch {}`; touch {}", pwned.display(), pwned.display()),
        "quote\" and 'single' and \\backslash".to_string(),
        "line one\nline two".to_string(),
        "--extra-vars=owned -e x=1".to_string(),
        "{{ lookup('pipe', 'id') }}".to_string(),
        "ünïcødé ✓".to_string(),
    ];
    let vars: BTreeMap<String, String> =
        values.iter().enumerate().map(|(i, v)| (format!("v{i}"), v.clone())).collect();
    let out_dir = lab.path().join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let tasks: String = (0..values.len())
        .map(|i| {
            format!(
                "    - ansible.builtin.copy:\n        content: \"{{{{ v{i} }}}}\"\n        dest: \"{}/v{i}\"\n",
                out_dir.display()
            )
        })
        .collect();
    let pb = lab.playbook("echo.yml", &tasks);
    let (ending, lines, _) = collect(&lab.run(pb, vars, Duration::from_secs(120))).await;
    assert_eq!(ending, Ending::Succeeded, "{}", text(&lines));
    for (i, v) in values.iter().enumerate() {
        let got = std::fs::read_to_string(out_dir.join(format!("v{i}"))).unwrap();
        assert_eq!(&got, v, "value {i} was changed on its way");
    }
    assert!(!pwned.exists(), "a label value was executed");
}

/// Delivers a firing `alertname` on localhost, lets the engine decide, runs the queued run.
async fn run_for_alert(app: &common::TestApp, alertname: &str) -> i64 {
    let body = serde_json::json!({
        "version": "4", "groupKey": "g", "receiver": "r", "status": "firing",
        "alerts": [{ "status": "firing", "labels": { "alertname": alertname, "host": "localhost" },
                     "startsAt": "2026-11-22T01:00:00Z", "fingerprint": "1234" }]
    });
    app.deliver(&body.to_string()).await;
    app.worker.clone().run_once().await.unwrap().expect("a queued run")
}

/// An app whose one rule runs `playbook` (YAML) on alert `alertname`.
async fn app_with_playbook(
    alertname: &str,
    playbook: &str,
    edit: impl FnOnce(&mut server::config::Config),
) -> common::TestApp {
    let (alertname, playbook) = (alertname.to_owned(), playbook.to_owned());
    common::TestApp::with(move |config, dir| {
        let ansible = dir.join("ansible");
        std::fs::create_dir_all(&ansible).unwrap();
        std::fs::write(ansible.join("inventory.ini"), INVENTORY).unwrap();
        std::fs::write(ansible.join("playbook.yml"), playbook).unwrap();
        config.ansible.inventory = ansible.join("inventory.ini");
        config.ansible.dir = ansible;
        config.rules = vec![serde_json::from_value(serde_json::json!({
            "name": "rule", "match": { "alertname": alertname }, "playbook": "playbook.yml", "limit_from": "host",
            "target_label": "host", "cooldown": "0s", "timeout": "2m",
        }))
        .unwrap()];
        edit(config);
    })
    .await
}

#[tokio::test]
async fn configured_secrets_never_reach_stored_output() {
    let vault = "vault-value-123";
    let playbook = format!(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.debug:\n        msg: \"hook={} vault={vault} again={vault}\"\n",
        common::WEBHOOK_PASSWORD
    );
    let app = app_with_playbook("Leaky", &playbook, |config| {
        config.ansible.redact = vec![vault.to_owned().into()];
    })
    .await;
    let id = run_for_alert(&app, "Leaky").await;
    let lines: Vec<String> = sqlx::query_scalar("SELECT line FROM run_output WHERE run_id = ? ORDER BY seq")
        .bind(id)
        .fetch_all(&app.pool)
        .await
        .unwrap();
    let all = lines.join("\n");
    assert!(all.contains("hook=[redacted] vault=[redacted] again=[redacted]"), "{all}");
    assert!(!all.contains(vault) && !all.contains(common::WEBHOOK_PASSWORD), "{all}");
}

#[tokio::test]
async fn huge_output_is_capped_and_marked_by_the_worker() {
    let playbook = "- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.command: seq 1 200000\n      register: out\n      changed_when: false\n    - ansible.builtin.debug:\n        var: out.stdout_lines\n";
    let app = app_with_playbook("Loud", playbook, |config| config.ansible.max_output_lines = 5_000).await;
    let id = run_for_alert(&app, "Loud").await;
    let (status, lines, truncated, verification, recap): (String, i64, bool, String, Option<String>) =
        sqlx::query_as(
            "SELECT status, output_lines, output_truncated, verification, recap FROM heal_runs WHERE id = ?",
        )
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, "succeeded");
    assert_eq!(lines, 5_001, "the cap plus the marker line");
    assert!(truncated);
    assert_eq!(verification, "inconclusive", "no Prometheus configured: never 'verified'");
    assert!(recap.unwrap_or_default().contains("\"localhost\""), "the recap is parsed even past the cap");
    let last: String =
        sqlx::query_scalar("SELECT line FROM run_output WHERE run_id = ? ORDER BY seq DESC LIMIT 1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(last.contains("output truncated") && last.contains("cap 5000"), "{last}");
}

/// Regression: extra vars that could not be read back became "no vars" and the playbook ran
/// without them. Now the run fails, saying why, and no playbook runs.
#[tokio::test]
async fn a_run_whose_stored_extra_vars_cannot_be_read_fails_without_running() {
    let marker = tempfile::tempdir().unwrap();
    let ran = marker.path().join("ran");
    let playbook = format!(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.file:\n        path: {}\n        state: touch\n",
        ran.display()
    );
    let app = app_with_playbook("Corrupt", &playbook, |_| {}).await;
    let body = serde_json::json!({
        "version": "4", "groupKey": "g", "receiver": "r", "status": "firing",
        "alerts": [{ "status": "firing", "labels": { "alertname": "Corrupt", "host": "localhost" },
                     "startsAt": "2026-11-22T01:00:00Z", "fingerprint": "1234" }]
    });
    app.deliver(&body.to_string()).await;
    sqlx::query("UPDATE heal_runs SET extra_vars = '{not json'").execute(&app.pool).await.unwrap();
    let id = app.worker.clone().run_once().await.unwrap().expect("a queued run");
    let (status, error): (String, String) =
        sqlx::query_as("SELECT status, error FROM heal_runs WHERE id = ?")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(status, "failed");
    assert!(error.contains("extra vars cannot be read"), "{error}");
    assert!(!ran.exists(), "the playbook must not run without its vars");
}
