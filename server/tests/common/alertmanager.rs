//! A real Alertmanager (Debian's prometheus-alertmanager) on 127.0.0.1, killed on drop.
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// Debian's Alertmanager binary.
const BINARY: &str = "/usr/bin/prometheus-alertmanager";

/// How long Alertmanager may take to become ready.
const READY_WITHIN: Duration = Duration::from_secs(20);

pub struct Alertmanager {
    child: Child,
    pub url: String,
    _dir: TempDir,
}

/// A free port on 127.0.0.1 (bound, then released for the child to take).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// An alertmanager.yml routing everything to `receiver_yaml` (a receiver named `selfheal`).
pub fn config_for_webhook(webhook_url: &str, user: &str, password: &str) -> String {
    format!(
        r#"route:
  receiver: selfheal
  group_by: [alertname, instance]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: selfheal
    webhook_configs:
      - url: {webhook_url}
        send_resolved: true
        http_config:
          basic_auth:
            username: {user}
            password: {password}
"#
    )
}

/// An alertmanager.yml whose only receiver sends nowhere: alerts are never delivered.
pub fn config_blackhole() -> String {
    "route:\n  receiver: nowhere\nreceivers:\n  - name: nowhere\n".to_owned()
}

impl Alertmanager {
    /// Every silence it holds (`GET /api/v2/silences`).
    pub async fn silences(&self) -> serde_json::Value {
        reqwest::get(format!("{}/api/v2/silences", self.url))
            .await
            .expect("alertmanager answers")
            .json()
            .await
            .expect("a JSON answer")
    }

    /// One Alertmanager on its own (no cluster).
    pub async fn start(config_yaml: &str) -> Alertmanager {
        Alertmanager::start_with(config_yaml, &["--cluster.listen-address=".to_owned()]).await
    }

    /// One member of a cluster gossiping on 127.0.0.1:`gossip` with `peers` (gossip ports). A
    /// peer waits `peer_timeout` per position before it sends what the other may have sent.
    pub async fn start_clustered(
        config_yaml: &str,
        gossip: u16,
        peers: &[u16],
        peer_timeout: &str,
    ) -> Alertmanager {
        let mut args = vec![
            format!("--cluster.listen-address=127.0.0.1:{gossip}"),
            format!("--cluster.peer-timeout={peer_timeout}"),
            "--cluster.settle-timeout=2s".to_owned(),
            "--cluster.gossip-interval=100ms".to_owned(),
            "--cluster.pushpull-interval=1s".to_owned(),
        ];
        args.extend(peers.iter().map(|p| format!("--cluster.peer=127.0.0.1:{p}")));
        Alertmanager::start_with(config_yaml, &args).await
    }

    async fn start_with(config_yaml: &str, cluster: &[String]) -> Alertmanager {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("alertmanager.yml");
        std::fs::write(&config, config_yaml).unwrap();
        let port = free_port();
        let child = Command::new(BINARY)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(cluster)
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(log_file(dir.path()))
            .spawn()
            .expect("prometheus-alertmanager is installed (scripts/setup.sh test)");
        let am = Alertmanager { child, url: format!("http://127.0.0.1:{port}"), _dir: dir };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if let Ok(res) = client.get(format!("{}/-/ready", am.url)).send().await {
                if res.status().is_success() {
                    return am;
                }
            }
            assert!(Instant::now() < deadline, "alertmanager did not become ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Posts alerts to Alertmanager's API v2, as Prometheus would.
    pub async fn post_alerts(&self, alerts: serde_json::Value) {
        let res = reqwest::Client::new()
            .post(format!("{}/api/v2/alerts", self.url))
            .json(&alerts)
            .send()
            .await
            .expect("alertmanager answers");
        assert!(res.status().is_success(), "alertmanager refused the alerts: {}", res.status());
    }
}

fn log_file(dir: &Path) -> Stdio {
    std::fs::File::create(dir.join("alertmanager.log")).map(Stdio::from).unwrap_or_else(|_| Stdio::null())
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
