//! The shipped native stack, end to end: `scripts/stack.sh` starts nginx, its exporters,
//! Prometheus (prometheus/prometheus.yml, the fast profile), Alertmanager and selfheal with the
//! shipped selfheal.toml and playbooks — inside a network namespace this test creates, so its
//! fixed 127.0.0.1 ports collide with nothing. Three scenarios, healed for real:
//! nginx stopped, a CPU hog in nginx's process group, a memory hog in it.
use crate::common;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::process::{checked, repo};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};

/// The issue's bound for nginx stopped → healed, verified and the alert resolved.
const NGINX_HEALED_WITHIN: Duration = Duration::from_secs(10);
/// CPU: the 5 s rate window fills, the playbook samples /proc for 1 s, then verification.
const HOG_HEALED_WITHIN: Duration = Duration::from_secs(40);

/// The stack in its own network namespace, state in a temporary folder; torn down on drop.
struct Stack {
    ns: String,
    dir: tempfile::TempDir,
}

impl Stack {
    fn up() -> Stack {
        let ns = format!("selfheal-e2e-{}", std::process::id());
        checked(Command::new("ip").args(["netns", "add", &ns]));
        let stack = Stack { ns, dir: tempfile::tempdir().unwrap() };
        checked(&mut stack.in_ns(["ip", "link", "set", "lo", "up"]));
        checked(&mut stack.script("up"));
        stack
    }

    fn in_ns<const N: usize>(&self, args: [&str; N]) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.ns]).args(args);
        cmd
    }

    fn script(&self, verb: &str) -> Command {
        let script = repo().join("scripts/stack.sh");
        let mut cmd = self.in_ns(["bash", script.to_str().unwrap(), verb]);
        cmd.env("STACK_DIR", self.dir.path())
            .env("STACK_BIN", env!("CARGO_BIN_EXE_selfheal"))
            .env("STACK_CONFIG", repo().join("selfheal.toml"));
        cmd
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// GET inside the namespace; the body when the answer is 2xx.
    fn get(&self, url: &str) -> Option<String> {
        let out = self.in_ns(["curl", "-fsS", "--max-time", "2", url]).stderr(Stdio::null()).output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
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
        let _ = Command::new("ip").args(["netns", "delete", &self.ns]).output();
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

/// A process the test started as part of this stack's nginx: its command line starts with
/// "nginx: " and names the stack's nginx prefix, which is how the stack's process-exporter and
/// the runaway search tell its nginx from any other on the machine (a demo stack, a container);
/// killed on drop if still running.
struct Hog(Child);

impl Hog {
    fn start(stack: &Stack, name: &str, python: &str) -> Hog {
        let prefix = stack.path("nginx");
        let child = Command::new("/usr/bin/python3")
            .arg0(format!("nginx: worker process ({name}) -p {}/", prefix.display()))
            .args(["-c", python])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("/usr/bin/python3 runs");
        Hog(child)
    }

    fn exited(&mut self) -> bool {
        self.0.try_wait().unwrap().is_some()
    }
}

impl Drop for Hog {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
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
async fn the_native_stack_heals_nginx_a_cpu_hog_and_a_memory_hog() {
    let Some(_turn) = crate::provisioned("the_native_stack_heals_nginx_a_cpu_hog_and_a_memory_hog") else {
        return;
    };
    let stack = Stack::up();
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

    // (2) A runaway process in nginx's group burns a whole CPU.
    let took = heal_hog(&stack, &pool, "runaway", "while True: pass", "nginx-runaway-cpu").await;
    eprintln!("cpu hog: started -> killed and verified {took:?}");

    // (3) Memory pressure: 640 MiB resident in nginx's group (threshold 512 MiB).
    let leak = "import time\nb = b'x' * (640 << 20)\ntime.sleep(600)";
    let took = heal_hog(&stack, &pool, "leak", leak, "nginx-memory").await;
    eprintln!("memory hog: started -> killed, caches dropped and verified {took:?}");

    // Nothing else was healed twice or left running.
    let open: i64 =
        sqlx::query_scalar("SELECT count(*) FROM heal_runs WHERE status IN ('queued', 'running')")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(open, 0);
}

/// Starts a hog in nginx's group and waits until `rule`'s run killed it and was verified, while
/// nginx itself kept serving. Returns how long that took.
async fn heal_hog(stack: &Stack, pool: &SqlitePool, name: &str, python: &str, rule: &str) -> Duration {
    let before = latest_run_id(pool, rule).await;
    let mut hog = Hog::start(stack, name, python);
    let started = Instant::now();
    loop {
        if hog.exited() && latest_run_id(pool, rule).await > before {
            if let Some(run) = latest_run(pool, rule).await {
                if run.verification.as_deref().is_some_and(|v| v != "pending") {
                    assert_eq!(run.status, "succeeded", "{run:?}");
                    assert_eq!(run.verification.as_deref(), Some("verified"), "{run:?}");
                    assert!(
                        run_reported_pid(pool, rule, before, hog.0.id()).await,
                        "{name} hog exited, but no {rule} run of this stack stopped it (someone else did)"
                    );
                    break;
                }
            }
        }
        assert!(
            started.elapsed() < HOG_HEALED_WITHIN,
            "{name} hog not killed and verified within {HOG_HEALED_WITHIN:?}: {:?}",
            latest_run(pool, rule).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(stack.nginx_healthy(), "nginx itself was spared");
    started.elapsed()
}

/// Whether a run of `rule` newer than `after` named process `pid` as a runaway in its output.
async fn run_reported_pid(pool: &SqlitePool, rule: &str, after: i64, pid: u32) -> bool {
    let found: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM run_output o JOIN heal_runs r ON r.id = o.run_id \
         WHERE r.rule = ? AND r.id > ? AND o.line LIKE '%' || ? || '%'",
    )
    .bind(rule)
    .bind(after)
    .bind(format!("\"{pid} "))
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
