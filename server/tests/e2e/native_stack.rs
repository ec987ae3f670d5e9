//! The shipped native stack, end to end: `scripts/stack.sh` starts nginx, its exporters,
//! Prometheus (prometheus/prometheus.yml, the fast profile), Alertmanager and selfheal with the
//! shipped selfheal.toml and playbooks — inside a network namespace this test creates, so its
//! fixed 127.0.0.1 ports collide with nothing. The design's three scenarios, typed as
//! docs/stack.md writes them and healed for real: nginx stopped; `scripts/stack.sh exec sh -c
//! "yes > /dev/null &"`, which system-recovery.yml kills (only it); and memory use over the
//! NginxHighMemory threshold (the host's, lowered through STACK_MEMORY_THRESHOLD to a little
//! above what the machine uses), whose top offender is killed and the caches dropped.
#[path = "native_stack/ha.rs"]
mod ha;
use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::netns::Netns;
use common::process::{checked, repo};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};

/// The issue's bound for nginx stopped → healed, verified and the alert resolved.
const NGINX_HEALED_WITHIN: Duration = Duration::from_secs(10);
/// CPU: the 5 s rate window fills, the playbook samples /proc for 1 s, then verification.
const HOG_HEALED_WITHIN: Duration = Duration::from_secs(40);
/// A `yes` that raised no run this long after it started gets a second beside it: on a busy
/// machine one `yes` may get less than 90 % of a CPU (docs/stack.md says the same).
const HOG_SECOND_AFTER: Duration = Duration::from_secs(15);
/// NginxHighMemory's threshold for this test: the host's memory in use at the start plus this.
const MEMORY_MARGIN: f64 = 0.05;

/// The stack in its own network namespace, state in a temporary folder; torn down on drop.
struct Stack {
    dir: tempfile::TempDir,
    ns: Netns,
    /// STACK_PROFILE: `default`, or `ha` (native_stack/ha.rs).
    profile: &'static str,
}

impl Stack {
    /// Starts the stack with NginxHighMemory's threshold at `memory_threshold` (a ratio of the
    /// host's memory, STACK_MEMORY_THRESHOLD).
    fn up(memory_threshold: f64) -> Stack {
        let stack =
            Stack { ns: Netns::new("selfheal-e2e"), dir: tempfile::tempdir().unwrap(), profile: "default" };
        checked(stack.script("up").env("STACK_MEMORY_THRESHOLD", format!("{memory_threshold:.3}")));
        stack
    }

    /// Starts the ha profile: PostgreSQL, two replicas, two Alertmanagers.
    fn up_ha() -> Stack {
        let stack =
            Stack { ns: Netns::new("selfheal-e2e-ha"), dir: tempfile::tempdir().unwrap(), profile: "ha" };
        checked(&mut stack.script("up"));
        stack
    }

    /// `scripts/stack.sh exec ARGS` as a user types it; the pid of the supervisor that holds
    /// what it started in nginx's process tree.
    fn exec(&self, args: &[&str]) -> i32 {
        let script = repo().join("scripts/stack.sh");
        let mut cmd = self.ns.cmd(["bash", script.to_str().unwrap(), "exec"]);
        cmd.args(args).env("STACK_DIR", self.dir.path());
        let out = String::from_utf8_lossy(&checked(&mut cmd).stdout).into_owned();
        let pid = out.split("supervisor pid ").nth(1).and_then(|rest| rest.split(';').next());
        pid.and_then(|p| p.trim().parse().ok()).unwrap_or_else(|| panic!("no supervisor pid in {out:?}"))
    }

    fn script(&self, verb: &str) -> Command {
        let script = repo().join("scripts/stack.sh");
        let mut cmd = self.ns.cmd(["bash", script.to_str().unwrap(), verb]);
        cmd.env("STACK_DIR", self.dir.path())
            .env("STACK_PROFILE", self.profile)
            .env("STACK_BIN", env!("CARGO_BIN_EXE_selfheal"))
            .env("STACK_CONFIG", repo().join("selfheal.toml"));
        cmd
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// GET inside the namespace; the body when the answer is 2xx.
    fn get(&self, url: &str) -> Option<String> {
        self.ns.get(url)
    }

    fn nginx_healthy(&self) -> bool {
        self.get("http://127.0.0.1:8080/health").is_some()
    }

    /// Waits until Prometheus holds a sample of `query` (the baseline a scenario starts from).
    fn wait_for_sample(&self, query: &str) {
        let url = format!("http://127.0.0.1:9090/api/v1/query?query={}", urlencode(query));
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.get(&url).is_some_and(|body| body.contains("\"value\"")) {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("Prometheus never had a sample of {query}");
    }

    async fn db(&self) -> SqlitePool {
        let options = SqliteConnectOptions::new().filename(self.path("selfheal.db")).read_only(true);
        SqlitePool::connect_with(options).await.expect("the stack's database opens")
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.script("down").output();
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The processes whose parent is `pid`, with their command lines.
fn children_of(pid: i32) -> Vec<(i32, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else { continue };
        let ppid = stat.rsplit_once(") ").and_then(|(_, rest)| rest.split(' ').nth(1)?.parse::<i32>().ok());
        if ppid == Some(pid) {
            let cmdline = std::fs::read(format!("/proc/{child}/cmdline")).unwrap_or_default();
            found.push((child, String::from_utf8_lossy(&cmdline).replace('\0', " ").trim().to_owned()));
        }
    }
    found
}

/// Whether `pid` is gone (a zombie counts as gone: it holds no CPU and no memory).
fn gone(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_or(true, |status| status.lines().any(|l| l.starts_with("State:") && l.contains('Z')))
}

/// The children of `supervisor` whose command line starts with `program`, waiting until one is
/// there.
fn started(supervisor: i32, program: &str) -> Vec<i32> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let pids: Vec<i32> = children_of(supervisor)
            .into_iter()
            .filter(|(_, c)| c.starts_with(program))
            .map(|(p, _)| p)
            .collect();
        if !pids.is_empty() {
            return pids;
        }
        assert!(Instant::now() < deadline, "{program} did not start under supervisor {supervisor}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The share of the host's memory in use, as NginxHighMemory's native branch computes it.
fn host_memory_used() -> f64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let kib = |key: &str| -> f64 {
        let line = meminfo.lines().find(|l| l.starts_with(key)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    1.0 - kib("MemAvailable:") / kib("MemTotal:")
}

fn host_memory_total() -> u64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

/// nginx's master and its workers.
fn nginx_processes(stack: &Stack) -> Vec<i32> {
    let master = read_pid(&stack.path("nginx/nginx.pid"));
    let mut pids: Vec<i32> = children_of(master).into_iter().map(|(p, _)| p).collect();
    pids.push(master);
    pids.sort_unstable();
    pids
}

#[derive(Debug, sqlx::FromRow)]
struct RunRow {
    status: String,
    verification: Option<String>,
    time_to_heal_ms: Option<i64>,
    alert_status: String,
}

/// The latest run of `rule`, with its alert's status.
async fn latest_run(pool: &SqlitePool, rule: &str) -> Option<RunRow> {
    sqlx::query_as(
        "SELECT r.status, r.verification, r.time_to_heal_ms, a.status AS alert_status
         FROM heal_runs r JOIN alerts a ON a.id = r.alert_id WHERE r.rule = ? ORDER BY r.id DESC LIMIT 1",
    )
    .bind(rule)
    .fetch_optional(pool)
    .await
    .unwrap()
}

fn read_pid(path: &Path) -> i32 {
    std::fs::read_to_string(path).unwrap().trim().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_native_stack_heals_the_three_scenarios_as_typed() {
    let Some(_turn) = crate::provisioned("the_native_stack_heals_the_three_scenarios_as_typed") else {
        return;
    };
    let memory_threshold = host_memory_used() + MEMORY_MARGIN;
    let stack = Stack::up(memory_threshold);
    let pool = stack.db().await;
    stack.wait_for_sample(r#"nginx_up{job="nginx"} == 1"#);
    stack.wait_for_sample(r#"probe_success{job="blackbox"} == 1"#);
    stack.wait_for_sample(r#"namedprocess_namegroup_num_procs{groupname="nginx"}"#);

    // (1) nginx stopped (SIGTERM to its master, as `systemctl stop` does).
    let master = read_pid(&stack.path("nginx/nginx.pid"));
    let killed = Instant::now();
    assert_eq!(unsafe { libc::kill(master, libc::SIGTERM) }, 0);
    let mut healthy_after = None;
    let verified = loop {
        if healthy_after.is_none() && stack.nginx_healthy() {
            healthy_after = Some(killed.elapsed());
        }
        if let Some(run) = latest_run(&pool, "nginx-down").await {
            if run.verification.as_deref() == Some("verified") && run.alert_status == "resolved" {
                break run;
            }
        }
        assert!(
            killed.elapsed() < NGINX_HEALED_WITHIN,
            "nginx not healed, verified and resolved within {NGINX_HEALED_WITHIN:?}: {:?}; log:\n{}",
            latest_run(&pool, "nginx-down").await,
            std::fs::read_to_string(stack.path("logs/selfheal.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(verified.status, "succeeded");
    assert_ne!(read_pid(&stack.path("nginx/nginx.pid")), master, "a new nginx master serves");
    eprintln!(
        "nginx: kill -> healthy {:?}, -> verified and resolved {:?} (time to heal {:?} ms)",
        healthy_after.expect("healthy before verified"),
        killed.elapsed(),
        verified.time_to_heal_ms
    );

    // (2) Typed as the design writes it: a `yes` in nginx's process tree burns a whole CPU.
    let nginx = nginx_processes(&stack);
    let before = latest_run_id(&pool, "nginx-runaway-cpu").await;
    let began = Instant::now();
    let supervisor = stack.exec(&["sh", "-c", "yes > /dev/null &"]);
    let mut hogs = started(supervisor, "yes");
    let mut second = false;
    wait_verified(&pool, "nginx-runaway-cpu", before, began, "the `yes`", |no_run_yet| {
        if !second && no_run_yet && began.elapsed() > HOG_SECOND_AFTER {
            eprintln!("cpu: no run {HOG_SECOND_AFTER:?} after one `yes`; a second beside it");
            hogs.extend(started(stack.exec(&["sh", "-c", "yes > /dev/null &"]), "yes"));
            second = true;
        }
    })
    .await;
    for &hog in &hogs {
        assert!(gone(hog), "yes {hog} still runs");
        assert!(run_reported_pid(&pool, "nginx-runaway-cpu", before, hog).await, "no run reported yes {hog}");
    }
    let stopped = format!("stopped {} runaway process(es)", hogs.len());
    assert!(
        run_output_has(&pool, "nginx-runaway-cpu", before, &stopped).await,
        "the run stopped more than the yes"
    );
    assert_eq!(nginx_processes(&stack), nginx, "nginx's master and workers were spared");
    assert!(stack.nginx_healthy(), "nginx itself kept serving");
    eprintln!("cpu: yes started -> killed and verified {:?}", began.elapsed());

    // (3) Memory use over the threshold: a hog in nginx's process tree that crosses it.
    let need = memory_threshold + 0.03 - host_memory_used();
    let bytes = ((need.max(0.0) * host_memory_total() as f64) as u64).max(256 << 20);
    let hog = format!("import time\nb = b'x' * {bytes}\ntime.sleep(600)");
    let before = latest_run_id(&pool, "nginx-memory").await;
    let began = Instant::now();
    let supervisor = stack.exec(&["/usr/bin/python3", "-c", &hog]);
    let hog = started(supervisor, "/usr/bin/python3")[0];
    let what = format!("the {} MiB hog", bytes >> 20);
    wait_verified(&pool, "nginx-memory", before, began, &what, |_| ()).await;
    assert!(gone(hog), "the memory hog {hog} still runs");
    assert!(run_reported_pid(&pool, "nginx-memory", before, hog).await, "no run reported the hog {hog}");
    assert!(run_output_has(&pool, "nginx-memory", before, "stopped 1 runaway process(es)").await);
    assert!(
        run_output_has(&pool, "nginx-memory", before, "caches dropped").await,
        "caches not dropped (root)"
    );
    assert_eq!(nginx_processes(&stack), nginx, "nginx's master and workers were spared");
    eprintln!(
        "memory: {} MiB hog started -> killed, caches dropped and verified {:?}",
        bytes >> 20,
        began.elapsed()
    );

    // Nothing else was healed twice or left running.
    let open: i64 =
        sqlx::query_scalar("SELECT count(*) FROM heal_runs WHERE status IN ('queued', 'running')")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(open, 0);

    the_troubleshooting_commands_answer(&stack);
    the_demo_pages_queries_answer(&stack);
    the_logs_are_private(&stack);
    every_verified_heal_was_notified(
        &std::fs::read_to_string(stack.path("notifications.jsonl")).unwrap_or_default(),
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(stack.path("notifications.jsonl")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777 & !0o640, 0, "notifications.jsonl is {mode:o}");
}

/// The demo config's `notify = ["file:notifications.jsonl"]` (step 5 of a heal, "send
/// notifications"): one line per run end, the verdict included, for each of the three rules.
pub fn every_verified_heal_was_notified(jsonl: &str) {
    let lines: Vec<serde_json::Value> =
        jsonl.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    for rule in ["nginx-down", "nginx-runaway-cpu", "nginx-memory"] {
        assert!(
            lines.iter().any(|l| l["rule"] == rule
                && l["event"] == "run_finished"
                && l["verification"] == "verified"),
            "no verified notification for {rule}:\n{jsonl}"
        );
    }
}

/// Every log the stack wrote (its components', nginx's, exec's) is 0640 or stricter, in a 0750
/// or stricter folder: they name hosts, users and what was healed.
fn the_logs_are_private(stack: &Stack) {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let mut files = 0;
    for folder in ["logs", "nginx/logs"] {
        let folder = stack.path(folder);
        assert_eq!(mode(&folder) & !0o750, 0, "{} is {:o}", folder.display(), mode(&folder));
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            assert_eq!(mode(&path) & !0o640, 0, "{} is {:o}", path.display(), mode(&path));
            files += 1;
        }
    }
    // nine components, exec's output, nginx's access and error logs
    assert!(files >= 12, "only {files} logs");
}

/// Every query of the demo page's "nginx right now" (the design's queries: uptime, CPU, memory,
/// requests, errors, response time, connections) returns a sample, read through nginx as the
/// page reads it. The rates over the access log need logged requests: the queries are some.
fn the_demo_pages_queries_answer(stack: &Stack) {
    let page = std::fs::read_to_string(repo().join("services/index.html")).unwrap();
    let queries: Vec<String> = page
        .split("data-query='")
        .skip(1)
        .map(|q| q.split('\'').next().unwrap().replace("&amp;", "&"))
        .collect();
    assert_eq!(queries.len(), 11, "{queries:?}");
    let deadline = Instant::now() + Duration::from_secs(20);
    for query in queries {
        let url = format!("http://127.0.0.1:8080/prometheus/api/v1/query?query={}", urlencode(&query));
        loop {
            let body = stack.get(&url).unwrap_or_default();
            if body.contains("\"value\"") && !body.contains("\"NaN\"") {
                break;
            }
            assert!(Instant::now() < deadline, "the demo page's {query} has no sample: {body}");
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

/// The shell blocks of docs/operations.md's "Where to look", run as written against the live
/// stack (its secrets from STACK_DIR): every scrape target up, every rule healthy,
/// Alertmanager's v2 status, the webhook smoke test's 200; and the table's native commands.
fn the_troubleshooting_commands_answer(stack: &Stack) {
    let docs = std::fs::read_to_string(repo().join("docs/operations.md")).unwrap();
    let section = docs.split("### Where to look").nth(1).unwrap().split("\n### ").next().unwrap();
    let blocks: Vec<&str> =
        section.split("```sh\n").skip(1).map(|b| b.split("```").next().unwrap()).collect();
    assert_eq!(blocks.len(), 3, "prometheus, alertmanager, webhook: {blocks:?}");
    let run = |script: &str| -> String {
        let mut cmd = stack.ns.cmd(["bash", "-euo", "pipefail", "-c", script]);
        cmd.current_dir(repo()).env("STACK_DIR", stack.dir.path());
        String::from_utf8_lossy(&checked(&mut cmd).stdout).into_owned()
    };
    let prometheus = run(blocks[0]);
    let targets: Vec<&str> =
        prometheus.lines().filter(|l| l.contains("/metrics") || l.contains("/probe")).collect();
    assert!(targets.len() >= 6, "too few targets:\n{prometheus}");
    assert!(targets.iter().all(|t| t.split(' ').nth(1) == Some("up")), "a target is not up:\n{prometheus}");
    for rule in ["NginxDown", "NginxHighCPU", "NginxHighMemory", "nginx:memory_usage:ratio"] {
        assert!(prometheus.lines().any(|l| l.contains(&format!(" {rule} ok "))), "{rule}:\n{prometheus}");
    }
    assert!(prometheus.contains("\"status\":\"success\""), "{prometheus}");
    let alertmanager = run(blocks[1]);
    assert!(
        alertmanager.contains("\"versionInfo\"") || alertmanager.contains("\"cluster\""),
        "{alertmanager}"
    );
    let smoke = run(blocks[2]);
    assert_eq!(smoke.lines().last(), Some("200"), "{smoke}");
    // The table's native commands: status, and a component's log.
    let status = run("scripts/stack.sh status");
    assert!(status.lines().all(|l| l.contains(" up ")), "{status}");
    let log = run(&format!("tail -n 50 {}/logs/selfheal.log", stack.dir.path().display()));
    assert!(!log.is_empty());
}

/// Waits until a run of `rule` newer than `after` succeeded and was verified, calling
/// `meanwhile` (with whether no such run exists yet) every 200 ms; fails after
/// HOG_HEALED_WITHIN from `began`.
async fn wait_verified(
    pool: &SqlitePool,
    rule: &str,
    after: i64,
    began: Instant,
    what: &str,
    mut meanwhile: impl FnMut(bool),
) -> RunRow {
    loop {
        if let Some(run) = settled_run(pool, rule, after).await {
            let verdict = (run.status.as_str(), run.verification.as_deref());
            assert_eq!(verdict, ("succeeded", Some("verified")), "{run:?}");
            return run;
        }
        meanwhile(latest_run_id(pool, rule).await <= after);
        assert!(
            began.elapsed() < HOG_HEALED_WITHIN,
            "{what} was not killed and verified within {HOG_HEALED_WITHIN:?}: {:?}",
            latest_run(pool, rule).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The latest run of `rule` newer than `after`, once its verification is settled.
async fn settled_run(pool: &SqlitePool, rule: &str, after: i64) -> Option<RunRow> {
    if latest_run_id(pool, rule).await <= after {
        return None;
    }
    latest_run(pool, rule).await.filter(|run| run.verification.as_deref().is_some_and(|v| v != "pending"))
}

/// Whether a run of `rule` newer than `after` named process `pid` as a runaway in its output.
async fn run_reported_pid(pool: &SqlitePool, rule: &str, after: i64, pid: i32) -> bool {
    run_output_has(pool, rule, after, &format!("\"{pid} ")).await
}

/// Whether a run of `rule` newer than `after` has `text` in a line of its output.
async fn run_output_has(pool: &SqlitePool, rule: &str, after: i64, text: &str) -> bool {
    let found: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM run_output o JOIN heal_runs r ON r.id = o.run_id \
         WHERE r.rule = ? AND r.id > ? AND instr(o.line, ?) > 0",
    )
    .bind(rule)
    .bind(after)
    .bind(text)
    .fetch_one(pool)
    .await
    .unwrap();
    found > 0
}

async fn latest_run_id(pool: &SqlitePool, rule: &str) -> i64 {
    sqlx::query_scalar("SELECT coalesce(max(id), 0) FROM heal_runs WHERE rule = ?")
        .bind(rule)
        .fetch_one(pool)
        .await
        .unwrap()
}
