//! A real Prometheus (Debian's `prometheus`) on 127.0.0.1, killed on drop.
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::alertmanager::free_port;

pub struct Prometheus {
    child: Child,
    pub url: String,
}

impl Prometheus {
    /// Starts Prometheus with `config_yaml` (and any rule files already written) in `dir`.
    pub async fn start(dir: &Path, config_yaml: &str) -> Prometheus {
        std::fs::write(dir.join("prometheus.yml"), config_yaml).unwrap();
        let port = free_port();
        let child = Command::new("/usr/bin/prometheus")
            .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("tsdb").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(dir.join("prometheus.log")).map(Stdio::from).unwrap_or(Stdio::null()),
            )
            .spawn()
            .expect("prometheus is installed (scripts/setup.sh test)");
        let p = Prometheus { child, url: format!("http://127.0.0.1:{port}") };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if reqwest::get(format!("{}/-/ready", p.url)).await.is_ok_and(|r| r.status().is_success()) {
                return p;
            }
            assert!(Instant::now() < deadline, "prometheus did not become ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
