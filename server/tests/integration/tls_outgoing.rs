//! Outgoing https with real parts (issue 30, item 6): a real Prometheus and a real Alertmanager
//! serving TLS themselves (`--web.config.file`) with certificates of a private CA the test makes
//! with openssl, one Prometheus also demanding a client certificate, and Debian's nginx as an
//! https notification receiver. selfheal trusts the CA only through `[outgoing_tls] ca_file`
//! and presents its certificate through `client_cert`/`client_key`.
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use server::notify::{Event, Notifier};
use server::outgoing::{Outgoing, OutgoingTlsConfig};
use server::verify::Prometheus;

use server::reconcile::Reconciler;

use crate::common::alertmanager::{config_blackhole, free_port};
use crate::common::pki::make_pki;
use crate::common::TestApp;

/// A server process, killed on drop.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `program ARGS` and waits until `https://127.0.0.1:port/ready_path` answers 2xx to a
/// client trusting the test's CA (and presenting its certificate).
async fn start_tls(dir: &Path, program: &str, args: &[String], port: u16, ready_path: &str) -> Server {
    let log = std::fs::File::create(dir.join(format!("{port}.log"))).unwrap();
    let child = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap_or_else(|e| panic!("{program} is installed (scripts/setup.sh test): {e}"));
    let server = Server(child);
    let client = outgoing(Some(dir.join("ca.pem")), Some((dir.join("client.pem"), dir.join("client.key"))))
        .client(Duration::from_secs(2));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let res = client.get(format!("https://127.0.0.1:{port}{ready_path}")).send().await;
        if res.is_ok_and(|r| r.status().is_success()) {
            return server;
        }
        assert!(
            Instant::now() < deadline,
            "{program} did not become ready: {}",
            std::fs::read_to_string(dir.join(format!("{port}.log"))).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A `--web.config.file` serving TLS with the test's server certificate; with `mutual`, a
/// client certificate of the CA is required.
fn web_config(dir: &Path, name: &str, mutual: bool) -> String {
    let d = dir.display();
    let mut yaml = format!("tls_server_config:\n  cert_file: {d}/server.pem\n  key_file: {d}/server.key\n");
    if mutual {
        yaml.push_str(&format!(
            "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {d}/ca.pem\n"
        ));
    }
    let path = dir.join(name);
    std::fs::write(&path, yaml).unwrap();
    format!("--web.config.file={}", path.display())
}

async fn prometheus(dir: &Path, name: &str, mutual: bool) -> (Server, String) {
    let port = free_port();
    let data = dir.join(format!("{name}-data"));
    std::fs::write(dir.join("prometheus.yml"), "global:\n  scrape_interval: 1m\n").unwrap();
    let args = vec![
        format!("--config.file={}", dir.join("prometheus.yml").display()),
        format!("--storage.tsdb.path={}", data.display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
        web_config(dir, &format!("{name}-web.yml"), mutual),
        "--log.level=warn".to_owned(),
    ];
    (
        start_tls(dir, "/usr/bin/prometheus", &args, port, "/-/ready").await,
        format!("https://127.0.0.1:{port}"),
    )
}

async fn alertmanager(dir: &Path) -> (Server, String) {
    let port = free_port();
    std::fs::write(dir.join("alertmanager.yml"), config_blackhole()).unwrap();
    let args = vec![
        format!("--config.file={}", dir.join("alertmanager.yml").display()),
        format!("--storage.path={}", dir.join("am-data").display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
        web_config(dir, "am-web.yml", false),
        "--cluster.listen-address=".to_owned(),
        "--log.level=warn".to_owned(),
    ];
    let server = start_tls(dir, "/usr/bin/prometheus-alertmanager", &args, port, "/-/ready").await;
    (server, format!("https://127.0.0.1:{port}"))
}

/// Debian's nginx answering 204 to anything over TLS: an https notification receiver.
async fn receiver(dir: &Path) -> (Server, String) {
    let port = free_port();
    let d = dir.display();
    let conf = format!(
        "pid {d}/nginx.pid; error_log {d}/nginx-error.log warn; events {{ worker_connections 64; }}\n\
         http {{ access_log off; client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; \
         fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
         server {{ listen 127.0.0.1:{port} ssl; ssl_certificate {d}/server.pem; ssl_certificate_key {d}/server.key; \
         location / {{ return 204; }} }} }}\n"
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let args = ["-e", &format!("{d}/nginx-error.log"), "-c", &format!("{d}/nginx.conf"), "-g", "daemon off;"]
        .map(str::to_owned)
        .to_vec();
    let server = start_tls(dir, "/usr/sbin/nginx", &args, port, "/").await;
    (server, format!("https://127.0.0.1:{port}"))
}

fn outgoing(ca: Option<PathBuf>, client: Option<(PathBuf, PathBuf)>) -> Outgoing {
    let (client_cert, client_key) = client.unzip();
    Outgoing::load(&OutgoingTlsConfig { ca_file: ca, client_cert, client_key }).expect("valid TLS files")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_reconciliation_and_notifications_over_https_with_a_private_ca() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_pki(d);
    let ca = Some(d.join("ca.pem"));
    let client = Some((d.join("client.pem"), d.join("client.key")));

    // Prometheus over TLS: verified through the CA from the config; the system's roots alone
    // refuse it.
    let (_prom, https) = prometheus(d, "tls", false).await;
    assert_eq!(Prometheus::new(&https, &outgoing(ca.clone(), None)).holds("vector(1)").await, Ok(true));
    assert_eq!(Prometheus::new(&https, &outgoing(ca.clone(), None)).holds("vector(1) == 2").await, Ok(false));
    let untrusted = Prometheus::new(&https, &Outgoing::default()).holds("vector(1)").await.unwrap_err();
    assert!(untrusted.contains("error sending request"), "{untrusted}");

    // Mutual TLS: with the client certificate it answers; without, Prometheus refuses it.
    let (_mutual_prom, mutual) = prometheus(d, "mutual", true).await;
    assert_eq!(
        Prometheus::new(&mutual, &outgoing(ca.clone(), client.clone())).holds("vector(1)").await,
        Ok(true)
    );
    assert!(Prometheus::new(&mutual, &outgoing(ca.clone(), None)).holds("vector(1)").await.is_err());

    // Alertmanager over TLS: reconciliation records the alert it holds.
    let app = TestApp::new().await;
    let (_am, am) = alertmanager(d).await;
    let alert = serde_json::json!([{ "labels": { "alertname": "TlsReconciled", "instance": "x" },
                                      "startsAt": app::ssr::alert::now_utc() }]);
    let posted =
        outgoing(ca.clone(), None).client(Duration::from_secs(3)).post(format!("{am}/api/v2/alerts"));
    assert!(posted.json(&alert).send().await.unwrap().status().is_success());
    let metrics = server::metrics::Metrics::new();
    let reconciler =
        Reconciler::new(&am, &outgoing(ca.clone(), None), None, app.inbox.clone(), metrics.clone());
    let deadline = Instant::now() + Duration::from_secs(10);
    while reconciler.poll_once().await.unwrap() == 0 {
        assert!(Instant::now() < deadline, "the alert never showed in Alertmanager's API");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let untrusted = Reconciler::new(&am, &Outgoing::default(), None, app.inbox.clone(), metrics);
    assert!(untrusted.poll_once().await.is_err(), "the system's roots alone do not trust the CA");
    let name: String = sqlx::query_scalar("SELECT alertname FROM alerts").fetch_one(&app.pool).await.unwrap();
    assert_eq!(name, "TlsReconciled");

    // A notification to an https receiver, recorded as delivered; to one it cannot trust, failed.
    let (_receiver, hook) = receiver(d).await;
    let ended = Event::run_ended(0, "nginx-down", "localhost", app::model::RunStatus::Succeeded, None);
    let event = Event { run_id: None, ..ended };
    Notifier::new(app.db(), &outgoing(ca.clone(), None)).send(&format!("{hook}/hook"), &event).await;
    Notifier::new(app.db(), &Outgoing::default()).send(&format!("{hook}/other"), &event).await;
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT url, status FROM outbound_notifications ORDER BY id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let wanted =
        [(format!("{hook}/hook"), "delivered".to_owned()), (format!("{hook}/other"), "failed".to_owned())];
    assert_eq!(rows, wanted);
}

#[test]
fn bad_tls_files_are_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_pki(d);
    std::fs::write(d.join("not-pem.txt"), "hello").unwrap();
    let cases = [
        (
            OutgoingTlsConfig { ca_file: Some(d.join("missing.pem")), ..Default::default() },
            "outgoing_tls.ca_file",
            "cannot read",
        ),
        (
            OutgoingTlsConfig { ca_file: Some(d.join("not-pem.txt")), ..Default::default() },
            "outgoing_tls.ca_file",
            "no certificate",
        ),
        (
            OutgoingTlsConfig { client_cert: Some(d.join("client.pem")), ..Default::default() },
            "outgoing_tls.client_key",
            "needs client_key",
        ),
        (
            OutgoingTlsConfig {
                client_cert: Some(d.join("client.pem")),
                client_key: Some(d.join("not-pem.txt")),
                ..Default::default()
            },
            "outgoing_tls.client_cert",
            "not a PEM identity",
        ),
    ];
    for (config, key, words) in cases {
        let (got_key, message) = Outgoing::load(&config).expect_err(key);
        assert_eq!(got_key, key, "{message}");
        assert!(message.contains(words), "{key}: {message}");
    }
}
