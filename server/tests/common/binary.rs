//! The real `selfheal` binary, serving from a folder of its own (its `selfheal.toml`, its
//! database, its log), for the tests that kill it, stop it or restart it.
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_selfheal");

/// How long a start may take before the test fails.
const START_WITHIN: Duration = Duration::from_secs(30);

/// `selfheal serve` in a folder; killed (SIGKILL) when dropped, so a failed test leaves nothing.
pub struct Selfheal {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Selfheal {
    /// Starts `selfheal --config selfheal.toml serve` in `dir` on 127.0.0.1:`port`, with the
    /// tests' webhook password, logging at `level` to `dir/selfheal.log` (appended, so a
    /// restart's log follows the first's), then waits until `/health` answers.
    pub async fn start(dir: &Path, port: u16, level: &str) -> Selfheal {
        let log =
            std::fs::OpenOptions::new().create(true).append(true).open(dir.join("selfheal.log")).unwrap();
        let child = Command::new(BIN)
            .args(["--config", "selfheal.toml", "serve"])
            .current_dir(dir)
            .env("SELFHEAL_LISTEN", format!("127.0.0.1:{port}"))
            .env("SELFHEAL_ADMIN_PASSWORD", "granite-meadow-lantern-74")
            .env("SELFHEAL_WEBHOOK_PASSWORD", super::WEBHOOK_PASSWORD)
            .env("RUST_LOG", level)
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("selfheal starts");
        let mut server = Selfheal { child, dir: dir.to_path_buf(), port };
        let deadline = Instant::now() + START_WITHIN;
        while !reqwest::get(format!("http://127.0.0.1:{port}/health"))
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            let exited = server.try_wait();
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "selfheal not healthy ({exited:?}); log:\n{}",
                server.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it logged so far (and any earlier start in the same folder).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("selfheal.log")).unwrap_or_default()
    }

    /// A `kill -9`: no shutdown code runs.
    pub fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Asks it to stop (SIGTERM), as systemd and `docker stop` do.
    pub fn sigterm(&self) {
        let pid = i32::try_from(self.child.id()).unwrap();
        // SAFETY: kill(2) with a pid we spawned and a valid signal.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    }

    /// Its exit status, if it has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().unwrap()
    }

    /// Waits for it to exit.
    pub fn wait(&mut self) -> ExitStatus {
        self.child.wait().unwrap()
    }
}

impl Drop for Selfheal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
