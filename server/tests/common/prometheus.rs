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

impl Prometheus {
    /// The first series `expr` returns, asked every 200 ms until one comes within 30 s.
    pub async fn first_series(&self, expr: &str) -> serde_json::Value {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let answer: serde_json::Value = client
                .get(format!("{}/api/v1/query", self.url))
                .query(&[("query", expr)])
                .send()
                .await
                .expect("prometheus answers")
                .json()
                .await
                .expect("a JSON answer");
            if let Some(series) = answer["data"]["result"].as_array().and_then(|r| r.first()) {
                return series.clone();
            }
            assert!(Instant::now() < deadline, "no sample of {expr} within 30 s: {answer}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
