//! The shipped docker-compose.yml, end to end: scripts/compose-setup.sh brings a Docker engine,
//! compose and the debian:bookworm-slim base (debootstrap) when missing; the images build from
//! the repository's Dockerfiles (selfheal with this test's debug binary). The design's three
//! scenarios, typed as docs/stack.md writes them: `docker stop` of the nginx container →
//! NginxDown → selfheal restarts the container through the Engine API → Prometheus confirms →
//! verified, alert resolved; `docker exec <nginx> sh -c "yes > /dev/null &"` → NginxHighCPU →
//! system-recovery.yml kills that `yes` inside the container (only it, no restart); a 400 MiB
//! python in the container (over 80 % of its 512 MiB with nginx) → NginxHighMemory → the hog is
//! killed, and the run says why the caches were left alone. A project of the test's own, on free
//! 127.0.0.1 ports, torn down with its volumes at the end.
use crate::common;
#[path = "compose_stack/ha.rs"]
mod ha;
#[path = "compose_stack/security.rs"]
mod security;

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use common::process::{checked, repo};

/// Stopped → healed, verified (3 s hold) and resolved; the container restart itself takes ~1 s.
const HEALED_WITHIN: Duration = Duration::from_secs(30);
/// A hog: the 5 s rate window, the search's 1 s sample and the kill through the Engine API's
/// exec, the 3 s hold.
const HOG_HEALED_WITHIN: Duration = Duration::from_secs(60);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Project {
    name: String,
    env: HashMap<&'static str, String>,
}

impl Project {
    fn compose(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("docker");
        cmd.arg("compose").args(args).current_dir(repo()).envs(&self.env);
        cmd
    }

    fn port(&self, key: &str) -> &str {
        &self.env[key]
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        if std::thread::panicking() {
            if let Ok(out) = self.compose(&["logs", "--no-color", "--tail", "60", "selfheal"]).output() {
                eprintln!("selfheal's log:\n{}", String::from_utf8_lossy(&out.stdout));
            }
        }
        let _ = self.compose(&["down", "--volumes", "--remove-orphans", "--timeout", "5"]).output();
    }
}

async fn get(client: &reqwest::Client, url: &str) -> Option<String> {
    let res = client.get(url).send().await.ok()?;
    if res.status().is_success() {
        res.text().await.ok()
    } else {
        None
    }
}

/// The environment of a compose project of the test's own named `name`: the test's build of
/// selfheal, its passwords, free 127.0.0.1 ports.
fn project_env(name: &str) -> HashMap<&'static str, String> {
    let socket_gid = std::fs::metadata("/var/run/docker.sock").map(|m| {
        use std::os::unix::fs::MetadataExt;
        m.gid()
    });
    HashMap::from([
        ("COMPOSE_PROJECT_NAME", name.to_owned()),
        ("SELFHEAL_PROFILE", "debug".to_owned()),
        ("SELFHEAL_SITE", "target/test-site".to_owned()),
        ("SELFHEAL_IMAGE_TAG", "e2e".to_owned()),
        ("SELFHEAL_ADMIN_PASSWORD", "pebble-orbit-lantern-73".to_owned()),
        ("SELFHEAL_WEBHOOK_PASSWORD", "compose-webhook-pw".to_owned()),
        ("DOCKER_GID", socket_gid.expect("the docker socket exists").to_string()),
        ("SELFHEAL_PORT", free_port().to_string()),
        ("NGINX_PORT", free_port().to_string()),
        ("PROMETHEUS_PORT", free_port().to_string()),
        ("ALERTMANAGER_PORT", free_port().to_string()),
    ])
}

/// The value of an (unlabelled-by-us) counter line in selfheal's /metrics, 0 when absent.
pub(crate) fn counter(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compose_stack_heals_the_three_scenarios_as_typed() {
    let Some(_turn) = crate::provisioned("the_compose_stack_heals_the_three_scenarios_as_typed") else {
        return;
    };
    checked(
        Command::new("bash")
            .arg(repo().join("scripts/compose-setup.sh"))
            .env("COMPOSE_SELFHEAL_PROFILE", "debug"),
    );
    let name = format!("selfheal-e2e-{}", std::process::id());
    let project = Project { env: project_env(&name), name };
    checked(&mut project.compose(&["config", "--quiet"]));
    checked(&mut project.compose(&["up", "--detach", "--build", "--wait", "--wait-timeout", "180"]));

    let client = reqwest::Client::builder().timeout(Duration::from_secs(3)).build().unwrap();
    let prometheus = format!("http://127.0.0.1:{}", project.port("PROMETHEUS_PORT"));
    let nginx = format!("http://127.0.0.1:{}/health", project.port("NGINX_PORT"));
    let metrics = format!("http://127.0.0.1:{}/metrics", project.port("SELFHEAL_PORT"));
    let baseline = format!("{prometheus}/api/v1/query?query=nginx_up%3D%3D1");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !get(&client, &baseline).await.is_some_and(|b| b.contains("\"value\"")) {
        assert!(Instant::now() < deadline, "Prometheus never saw nginx up");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(get(&client, &format!("http://127.0.0.1:{}/", project.port("NGINX_PORT")))
        .await
        .is_some_and(|page| page.contains("nginx is serving this page")));

    let container = format!("{}-nginx-1", project.name);
    let stopped = Instant::now();
    checked(Command::new("docker").args(["stop", "--time", "2", &container]));
    let mut healthy_after = None;
    loop {
        if healthy_after.is_none() && get(&client, &nginx).await.is_some() {
            healthy_after = Some(stopped.elapsed());
        }
        let m = get(&client, &metrics).await.unwrap_or_default();
        let verified = counter(&m, r#"selfheal_verifications_total{result="verified"}"#);
        let not_fixed = counter(&m, r#"selfheal_verifications_total{result="not_fixed"}"#);
        let resolved = counter(&m, r#"selfheal_alerts_received_total{status="resolved"}"#);
        assert_eq!(not_fixed, 0.0, "a heal was not confirmed:\n{m}");
        if verified >= 1.0 && resolved >= 1.0 && healthy_after.is_some() {
            assert_eq!(counter(&m, r#"selfheal_runs_total{result="succeeded"}"#), 1.0, "{m}");
            break;
        }
        assert!(stopped.elapsed() < HEALED_WITHIN, "not healed, verified and resolved in time:\n{m}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let state = checked(Command::new("docker").args(["inspect", "-f", "{{.State.Running}}", &container]));
    assert_eq!(String::from_utf8_lossy(&state.stdout).trim(), "true");
    eprintln!(
        "compose: docker stop -> healthy {:?}, -> verified and resolved {:?}",
        healthy_after.unwrap(),
        stopped.elapsed()
    );

    // (2) and (3), typed as the design writes them. The container is not restarted: only the
    // hog is killed, inside it.
    let api = Api::login(&client, project.port("SELFHEAL_PORT")).await;
    let started = started_at(&container);
    let (run, took) =
        heal_hog(&api, &container, &["sh", "-c", "yes > /dev/null &"], "yes", "nginx-runaway-cpu").await;
    assert!(api.output_has(run, "stopped 1 runaway process(es)").await, "the run stopped more than the yes");
    eprintln!("compose: yes -> killed in the container and verified {took:?}");
    let hog = "import time; b = b'x' * (400 << 20); time.sleep(600)";
    let (run, took) =
        heal_hog(&api, &container, &["-d", "python3", "-c", hog], "python3", "nginx-memory").await;
    assert!(api.output_has(run, "stopped 1 runaway process(es)").await);
    assert!(
        api.output_has(run, "caches not dropped: /proc/sys/vm/drop_caches is not writable").await,
        "the memory heal neither dropped the caches nor said why not"
    );
    eprintln!("compose: 400 MiB python -> killed in the container and verified {took:?}");
    assert_eq!(
        started_at(&container),
        started,
        "the nginx container was restarted: only the hogs were to go"
    );
    assert!(get(&client, &nginx).await.is_some(), "nginx serves after all three heals");

    security::security_as_claimed(&project.name);

    // Step 5 of a heal, in the demo config: every verified heal is in notifications.jsonl.
    let selfheal = format!("{}-selfheal-1", project.name);
    let sent = checked(Command::new("docker").args([
        "exec",
        &selfheal,
        "cat",
        "/var/lib/selfheal/notifications.jsonl",
    ]));
    crate::native_stack::every_verified_heal_was_notified(&String::from_utf8_lossy(&sent.stdout));

    // docs/operations.md's compose logs, as written: outside the repository, by project name.
    let logs = checked(
        Command::new("docker")
            .args(["compose", "-p", &project.name, "logs", "--tail", "50", "nginx"])
            .current_dir(std::env::temp_dir()),
    );
    assert!(String::from_utf8_lossy(&logs.stdout).contains("nginx-1"), "no nginx log lines");
    let docs = std::fs::read_to_string(repo().join("docs/operations.md")).unwrap();
    assert!(docs.contains("cd /tmp && docker compose -p selfheal logs --tail 50 nginx"), "the docs changed");
    // ... and the table's `docker logs --tail 50 selfheal-selfheal-1`, by this project's name.
    assert!(docs.contains("`docker logs --tail 50 selfheal-selfheal-1`"), "the docs changed");
    let logs = checked(Command::new("docker").args(["logs", "--tail", "50", &selfheal]));
    assert!(logs.stderr.len() + logs.stdout.len() > 0, "selfheal's log is empty");
}

/// selfheal's JSON API with an admin session.
struct Api<'a> {
    client: &'a reqwest::Client,
    base: String,
    cookie: String,
}

impl<'a> Api<'a> {
    async fn login(client: &'a reqwest::Client, port: &str) -> Api<'a> {
        let base = format!("http://127.0.0.1:{port}");
        let res = client
            .post(format!("{base}/api/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("username=admin&password=pebble-orbit-lantern-73")
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "login: {}", res.status());
        let cookie = res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
        Api { client, base, cookie }
    }

    /// Whether run `id`'s output has `text` in a line.
    async fn output_has(&self, id: i64, text: &str) -> bool {
        let res = self
            .client
            .post(format!("{}/api/run_output", self.base))
            .header("cookie", &self.cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("id={id}&after=0"));
        let lines: serde_json::Value = res.send().await.unwrap().json().await.unwrap();
        lines.as_array().unwrap().iter().any(|l| l["line"].as_str().is_some_and(|l| l.contains(text)))
    }

    /// The newest run of `rule`: (id, status, verification).
    async fn latest_run(&self, rule: &str) -> Option<(i64, String, String)> {
        let res = self.client.post(format!("{}/api/runs", self.base)).header("cookie", &self.cookie);
        let runs: serde_json::Value = res.send().await.ok()?.json().await.ok()?;
        runs["rows"].as_array()?.iter().find(|r| r["rule"] == rule).map(|r| {
            let text = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
            (r["id"].as_i64().unwrap_or(0), text("status"), text("verification"))
        })
    }
}

fn started_at(container: &str) -> String {
    let out = checked(Command::new("docker").args(["inspect", "-f", "{{.State.StartedAt}}", container]));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The commands (`comm`) of the processes running in `container`.
fn processes_in(container: &str) -> Vec<String> {
    // Docker needs the pid column to map host processes to the container.
    let out = checked(Command::new("docker").args(["top", container, "-o", "pid,comm"]));
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().skip(1).filter_map(|l| l.split_whitespace().nth(1).map(str::to_owned)).collect()
}

/// `docker exec <container> ARGS` as the design types it, then waits until a new run of `rule`
/// was verified and no `program` runs in the container any more. Returns the run and how long
/// that took.
async fn heal_hog(
    api: &Api<'_>,
    container: &str,
    args: &[&str],
    program: &str,
    rule: &str,
) -> (i64, Duration) {
    let before = api.latest_run(rule).await.map_or(0, |r| r.0);
    let mut exec = Command::new("docker");
    exec.arg("exec");
    // `docker exec [-d] <container> CMD...`: options before the container's name.
    let (options, command): (Vec<&str>, Vec<&str>) =
        args.iter().partition(|a| a.starts_with('-') && **a == "-d");
    exec.args(options).arg(container).args(command);
    let since = Instant::now();
    checked(&mut exec);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !processes_in(container).iter().any(|p| p == program) {
        assert!(
            Instant::now() < deadline,
            "{program} did not start in {container}: {:?}",
            processes_in(container)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    loop {
        if let Some((id, status, verification)) = api.latest_run(rule).await {
            if id > before && verification != "pending" && !verification.is_empty() {
                assert_eq!((status.as_str(), verification.as_str()), ("succeeded", "verified"));
                let left = processes_in(container);
                assert!(!left.iter().any(|p| p == program), "{program} still runs in {container}: {left:?}");
                assert!(left.iter().any(|p| p == "nginx"), "nginx's processes were killed too: {left:?}");
                return (id, since.elapsed());
            }
        }
        assert!(
            since.elapsed() < HOG_HEALED_WITHIN,
            "{program} in {container} not healed in time: {:?}",
            api.latest_run(rule).await
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
