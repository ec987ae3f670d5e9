//! A real PostgreSQL for the tests: Debian's server (the `postgresql` package) as a throwaway
//! cluster per test — `initdb` and `pg_ctl` in its own temp directory, run as the non-root
//! `postgres` user when the tests run as root, C locale, a free 127.0.0.1 port, its socket in
//! the temp directory — never the machine's own cluster. Stopped at once on drop.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

use super::alertmanager::free_port;

/// The cluster's superuser (trust authentication on loopback: a test cluster only).
pub const USER: &str = "selfheal";

pub struct Postgres {
    dir: TempDir,
    bin: PathBuf,
    pub port: u16,
}

/// The newest installed server's binaries (`/usr/lib/postgresql/<major>/bin`).
fn server_bin() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed (scripts/setup.sh test installs Debian's postgresql)")
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop().expect("a PostgreSQL server under /usr/lib/postgresql").1
}

/// Runs `program` as the `postgres` user when we are root (PostgreSQL refuses to run as root).
fn as_postgres(program: &Path) -> Command {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn check(what: &str, out: std::io::Result<Output>) {
    let out = out.unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Postgres {
    /// A new cluster, started and accepting connections.
    pub fn start() -> Postgres {
        let bin = server_bin();
        let dir = tempfile::Builder::new().prefix("selfheal-pg-").tempdir().unwrap();
        if unsafe { libc::geteuid() } == 0 {
            let pg = Command::new("id").args(["-u", "postgres"]).output().unwrap();
            let uid: u32 = String::from_utf8_lossy(&pg.stdout).trim().parse().expect("a postgres user");
            std::os::unix::fs::chown(dir.path(), Some(uid), None).unwrap();
        }
        let data = dir.path().join("data");
        check(
            "initdb",
            as_postgres(&bin.join("initdb"))
                .arg("-D")
                .arg(&data)
                .args(["-U", USER, "-A", "trust", "--no-locale", "-E", "UTF8", "--no-sync"])
                .output(),
        );
        let pg = Postgres { dir, bin, port: free_port() };
        pg.start_again();
        pg
    }

    /// Starts the stopped cluster again, on the same port.
    pub fn start_again(&self) {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories={}",
            self.port,
            self.dir.path().display()
        );
        check(
            "pg_ctl start",
            as_postgres(&self.bin.join("pg_ctl"))
                .arg("-D")
                .arg(self.dir.path().join("data"))
                .arg("-l")
                .arg(self.dir.path().join("server.log"))
                .args(["-w", "-t", "60", "-o", &options, "start"])
                .output(),
        );
    }

    /// Stops the cluster at once (`immediate`: as if it crashed; every connection is cut).
    pub fn stop(&self) {
        check(
            "pg_ctl stop",
            as_postgres(&self.bin.join("pg_ctl"))
                .arg("-D")
                .arg(self.dir.path().join("data"))
                .args(["-w", "-m", "immediate", "stop"])
                .output(),
        );
    }

    /// The URL of database `db` on this cluster.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates an empty database `name` and returns its URL.
    pub async fn create_database(&self, name: &str) -> String {
        use sqlx::Connection;
        let mut c =
            sqlx::PgConnection::connect(&self.url("postgres")).await.expect("connect to the test cluster");
        sqlx::query(&format!("CREATE DATABASE \"{name}\"")).execute(&mut c).await.expect("create database");
        self.url(name)
    }

    /// The server's log so far (for a failing test's message).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = as_postgres(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "stop"])
            .output();
    }
}
