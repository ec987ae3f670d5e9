//! `./start.sh` as the README's first command, natively, in a network namespace of the test's
//! own (the shipped ports, colliding with nothing) and a state folder of its own (STACK_DIR):
//! start, status, a second start that changes nothing, stop that leaves no process behind. The
//! banner's URLs answer, its password logs in. STACK_BIN hands it this test's selfheal, so
//! nothing is built; STACK_MODE=native, since a Docker engine may run on the machine.
use crate::common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;

use common::netns::Netns;
use common::process::repo;

struct Demo {
    ns: Netns,
    dir: tempfile::TempDir,
}

impl Demo {
    fn start_sh(&self, verb: &str) -> Output {
        let script = repo().join("start.sh");
        let mut cmd = self.ns.cmd(["bash", script.to_str().unwrap(), verb]);
        cmd.env("STACK_DIR", self.dir.path())
            .env("STACK_MODE", "native")
            .env("STACK_BIN", env!("CARGO_BIN_EXE_selfheal"));
        cmd.output().expect("bash runs")
    }

    /// Runs `./start.sh VERB` and returns its output, which must end in success.
    fn ok(&self, verb: &str) -> String {
        let out = self.start_sh(verb);
        let text =
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "./start.sh {verb} failed:\n{text}");
        text
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = self.start_sh("stop");
        }
    }
}

/// The pids `status` lists, one per component.
fn pids(status: &str) -> BTreeSet<i32> {
    status.lines().filter_map(|l| l.split(" pid ").nth(1)?.split_whitespace().next()?.parse().ok()).collect()
}

/// The processes whose command line or environment names `dir` (every component of the stack
/// started there has it in one or the other), or that are in `pids`.
fn left_behind(dir: &Path, pids: &BTreeSet<i32>) -> Vec<String> {
    let needle = dir.to_string_lossy().into_owned();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "));
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let names_dir = cmdline.contains(&needle) || String::from_utf8_lossy(&environ).contains(&needle);
        if !zombie && (pids.contains(&pid) || names_dir) && pid != std::process::id() as i32 {
            found.push(format!("{pid} {cmdline}"));
        }
    }
    found
}

#[test]
fn start_sh_starts_reports_restarts_nothing_and_stops_everything() {
    let Some(_turn) = crate::provisioned("start_sh_starts_reports_restarts_nothing_and_stops_everything")
    else {
        return;
    };
    let demo = Demo { ns: Netns::new("selfheal-start"), dir: tempfile::tempdir().unwrap() };

    // An unknown mode is refused before anything starts.
    let bogus =
        demo.ns.cmd(["bash", repo().join("start.sh").to_str().unwrap()]).env("STACK_MODE", "podman").output();
    let bogus = bogus.unwrap();
    assert_eq!(bogus.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bogus.stderr).contains("unknown STACK_MODE: podman"));

    let banner = demo.ok("start");
    assert!(banner.contains("mode         : native (STACK_MODE=native)"), "{banner}");
    for url in [
        "http://127.0.0.1:5000/",
        "http://127.0.0.1:8080/",
        "http://127.0.0.1:9090/classic/alerts",
        "http://127.0.0.1:9093/",
    ] {
        assert!(banner.contains(url), "the banner lacks {url}:\n{banner}");
        let page = demo.ns.get(url);
        assert!(page.is_some(), "{url} from the banner does not answer");
    }
    assert!(demo.ns.get("http://127.0.0.1:8080/").unwrap().contains("nginx is serving this page"));
    // The banner's login works.
    let password = banner
        .lines()
        .find_map(|l| l.split("admin / ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the banner names the admin password");
    let login = demo
        .ns
        .cmd(["curl", "-fsS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "3"])
        .args(["--data-urlencode", "username=admin", "--data-urlencode"])
        .arg(format!("password={password}"))
        .arg("http://127.0.0.1:5000/api/login")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&login.stdout), "200", "the banner's password does not log in");
    // ... and the webhook's.
    let webhook =
        banner.lines().find_map(|l| l.split("alertmanager / ").nth(1)).expect("the webhook password");
    assert_eq!(
        webhook.trim(),
        std::fs::read_to_string(demo.dir.path().join("webhook-password")).unwrap().trim()
    );

    let status = demo.ok("status");
    let running = pids(&status);
    assert_eq!(running.len(), 9, "one pid per component:\n{status}");

    // A second start: every component already runs, none is restarted.
    let again = demo.ok("start");
    assert_eq!(again.matches("already running").count(), 9, "{again}");
    assert_eq!(pids(&demo.ok("status")), running, "a second start restarted something");

    let stopped = demo.ok("stop");
    assert_eq!(stopped.matches("stack: stopped").count(), 9, "{stopped}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let left = left_behind(demo.dir.path(), &running);
        if left.is_empty() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "stop left processes behind:\n{}", left.join("\n"));
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let status = demo.start_sh("status");
    assert_eq!(
        status.status.code(),
        Some(3),
        "status after stop: {}",
        String::from_utf8_lossy(&status.stdout)
    );
}
