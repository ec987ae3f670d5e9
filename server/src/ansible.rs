//! Runs `ansible-playbook`: no shell, its own process group, the interpreter pinned, label
//! values in an extra-vars file marked `__ansible_unsafe` (never templated), output streamed
//! line by line, and a timeout or cancel that kills the whole group.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// After SIGTERM, how long the group gets to exit before SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(3);

/// Longest output line kept; longer lines are cut and marked.
const MAX_LINE_BYTES: usize = 8 * 1024;

/// Which pipe a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// One playbook run to make.
#[derive(Clone, Debug)]
pub struct PlaybookRun {
    /// `ansible-playbook` (or a stand-in in tests).
    pub command: PathBuf,
    /// Absolute or relative path of the playbook, already checked against the allowlist.
    pub playbook: PathBuf,
    pub inventory: PathBuf,
    /// A validated plain host name (see `heal::limit_host`).
    pub limit: Option<String>,
    /// Label values; each reaches Ansible as an unsafe string.
    pub extra_vars: BTreeMap<String, String>,
    /// `--check --diff`: report, change nothing.
    pub check: bool,
    pub timeout: Duration,
    pub python_interpreter: String,
    /// Where the extra-vars file is written (a per-run folder).
    pub work_dir: PathBuf,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ending {
    /// Exit code 0.
    Succeeded,
    /// Any other exit code (2: a task failed; 4: unreachable; ...).
    Failed(i32),
    /// Killed at the timeout.
    TimedOut,
    /// Killed because someone cancelled it (or selfheal is stopping).
    Cancelled,
    /// Could not start at all.
    SpawnFailed(String),
}

/// The unsafe-marked extra vars file: `{"name": {"__ansible_unsafe": "value"}, ...}`.
#[derive(Serialize)]
struct UnsafeValue<'a> {
    __ansible_unsafe: &'a str,
}

/// Writes the extra-vars file for a run and returns its path.
pub fn write_extra_vars(dir: &Path, vars: &BTreeMap<String, String>) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let wrapped: BTreeMap<&str, UnsafeValue<'_>> =
        vars.iter().map(|(k, v)| (k.as_str(), UnsafeValue { __ansible_unsafe: v })).collect();
    let path = dir.join("extra-vars.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&wrapped)?)?;
    Ok(path)
}

/// The argument vector (without the program). Every value is one argv element: no shell.
pub fn arguments(run: &PlaybookRun, vars_file: &Path) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = vec![
        run.playbook.clone().into(),
        "--inventory".into(),
        run.inventory.clone().into(),
        "--extra-vars".into(),
        format!("@{}", vars_file.display()).into(),
    ];
    if let Some(limit) = &run.limit {
        // `--limit=VALUE` in one element: even a value that looked like an option stays a value.
        args.push(format!("--limit={limit}").into());
    }
    if run.check {
        args.push("--check".into());
        args.push("--diff".into());
    }
    args
}

/// Starts the playbook, streams its lines into `lines`, and waits for it, the timeout or
/// `cancel`. `started` receives the process id (= its process group id) once running.
pub async fn run_playbook(
    run: &PlaybookRun,
    lines: mpsc::Sender<(Stream, String)>,
    started: impl FnOnce(u32),
    cancel: CancellationToken,
) -> Ending {
    let vars_file = match write_extra_vars(&run.work_dir, &run.extra_vars) {
        Ok(p) => p,
        Err(e) => return Ending::SpawnFailed(format!("cannot write the extra-vars file: {e}")),
    };
    let mut cmd = Command::new(&run.command);
    cmd.args(arguments(run, &vars_file))
        .env("ANSIBLE_PYTHON_INTERPRETER", &run.python_interpreter)
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_FORCE_COLOR", "0")
        .env("ANSIBLE_RETRY_FILES_ENABLED", "0")
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Ending::SpawnFailed(format!("cannot start {}: {e}", run.command.display())),
    };
    let Some(pid) = child.id() else {
        return Ending::SpawnFailed("the process vanished at start".to_owned());
    };
    started(pid);
    let out = child.stdout.take().map(|s| tokio::spawn(pump(s, Stream::Stdout, lines.clone())));
    let err = child.stderr.take().map(|s| tokio::spawn(pump(s, Stream::Stderr, lines)));

    let ending = tokio::select! {
        status = child.wait() => match status {
            Ok(s) if s.success() => Ending::Succeeded,
            Ok(s) => Ending::Failed(s.code().unwrap_or(-1)),
            Err(e) => Ending::SpawnFailed(format!("cannot wait for the playbook: {e}")),
        },
        () = tokio::time::sleep(run.timeout) => {
            kill_group(pid, &mut child).await;
            Ending::TimedOut
        }
        () = cancel.cancelled() => {
            kill_group(pid, &mut child).await;
            Ending::Cancelled
        }
    };
    // The pipes close when the last writer in the group is gone.
    for pump in [out, err].into_iter().flatten() {
        let _ = pump.await;
    }
    ending
}

/// SIGTERM to the whole group, then SIGKILL after a grace period.
async fn kill_group(pgid: u32, child: &mut tokio::process::Child) {
    signal_group(pgid, libc::SIGTERM);
    if tokio::time::timeout(KILL_GRACE, child.wait()).await.is_err() {
        signal_group(pgid, libc::SIGKILL);
        let _ = child.wait().await;
    }
    // Members of the group may outlive the leader (forks, ssh): make sure none is left.
    signal_group(pgid, libc::SIGKILL);
}

/// Sends `signal` to every process in group `pgid`; a group that is gone is not an error.
pub fn signal_group(pgid: u32, signal: i32) {
    let Ok(pgid) = i32::try_from(pgid) else { return };
    if pgid <= 1 {
        return; // never signal "every process" or init
    }
    // SAFETY: killpg only sends a signal; no memory is shared with the callee.
    unsafe {
        libc::killpg(pgid, signal);
    }
}

/// Reads a pipe line by line (invalid UTF-8 replaced, long lines cut) into `tx`.
async fn pump(pipe: impl AsyncRead + Unpin, stream: Stream, tx: mpsc::Sender<(Stream, String)>) {
    let mut reader = BufReader::new(pipe);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                    buf.pop();
                }
                let mut line = String::from_utf8_lossy(&buf[..buf.len().min(MAX_LINE_BYTES)]).into_owned();
                if buf.len() > MAX_LINE_BYTES {
                    line.push_str(" …[line cut]");
                }
                if tx.send((stream, line)).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Per-host counts from the PLAY RECAP section.
pub type Recap = BTreeMap<String, BTreeMap<String, u64>>;

/// Parses `host : ok=2 changed=1 unreachable=0 failed=0 ...` lines after `PLAY RECAP`.
pub fn parse_recap<'a>(lines: impl IntoIterator<Item = &'a str>) -> Recap {
    let mut recap = Recap::new();
    let mut in_recap = false;
    for line in lines {
        if line.starts_with("PLAY RECAP") {
            in_recap = true;
            continue;
        }
        if !in_recap {
            continue;
        }
        let Some((host, counts)) = line.split_once(" : ") else { continue };
        let counts: BTreeMap<String, u64> = counts
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .filter_map(|(k, v)| Some((k.to_owned(), v.parse().ok()?)))
            .collect();
        if !counts.is_empty() {
            recap.insert(host.trim().to_owned(), counts);
        }
    }
    recap
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recap_lines_parse_per_host() {
        let out = [
            "TASK [x] ***",
            "ok: [web1]",
            "PLAY RECAP *********************************************************************",
            "web1                       : ok=2    changed=1    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0",
            "web2                       : ok=0    changed=0    unreachable=1    failed=0    skipped=0    rescued=0    ignored=0   ",
            "",
        ];
        let recap = parse_recap(out);
        assert_eq!(recap["web1"]["changed"], 1);
        assert_eq!(recap["web2"]["unreachable"], 1);
        assert_eq!(recap.len(), 2);
        assert!(parse_recap(["ok: [x] : ok=1"]).is_empty(), "only after PLAY RECAP");
    }

    #[test]
    fn arguments_keep_every_value_in_its_own_element() {
        let run = PlaybookRun {
            command: "ansible-playbook".into(),
            playbook: "/srv/ansible/heal.yml".into(),
            inventory: "/srv/ansible/inv.ini".into(),
            limit: Some("web1".into()),
            extra_vars: BTreeMap::new(),
            check: true,
            timeout: Duration::from_secs(1),
            python_interpreter: "/usr/bin/python3".into(),
            work_dir: "/tmp/x".into(),
        };
        let args: Vec<String> = arguments(&run, Path::new("/tmp/x/extra-vars.json"))
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        assert_eq!(
            args,
            [
                "/srv/ansible/heal.yml",
                "--inventory",
                "/srv/ansible/inv.ini",
                "--extra-vars",
                "@/tmp/x/extra-vars.json",
                "--limit=web1",
                "--check",
                "--diff"
            ]
        );
    }

    #[test]
    fn extra_vars_are_all_marked_unsafe() {
        let dir = tempfile::tempdir().unwrap();
        let vars = BTreeMap::from([("service".to_string(), "{{ lookup('pipe', 'id') }}".to_string())]);
        let path = write_extra_vars(dir.path(), &vars).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        assert_eq!(v["service"]["__ansible_unsafe"], "{{ lookup('pipe', 'id') }}");
    }
}
