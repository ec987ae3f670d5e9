//! Outgoing https with real parts (issue 30, item 6): a real Prometheus behind Debian's nginx,
//! which terminates TLS with a certificate of a private CA the test makes with openssl, and on a
//! second port also demands a client certificate. selfheal trusts the CA only through
//! `[outgoing_tls] ca_file`, presents its certificate through `client_cert`/`client_key`, and
//! notifies an https receiver (nginx answering 204) the same way.
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use server::notify::{Event, Notifier};
use server::outgoing::{Outgoing, OutgoingTlsConfig};
use server::verify::Prometheus;

use crate::common::alertmanager::free_port;
use crate::common::prometheus::Prometheus as RealPrometheus;
use crate::common::TestApp;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl runs");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA.
fn make_pki(dir: &Path) {
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend(["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=selfheal test CA"]);
    openssl(dir, &ca);
    for (name, usage) in [("server", "serverAuth"), ("client", "clientAuth")] {
        let mut req = vec!["req"];
        req.extend(ec);
        let (key, csr) = (format!("{name}.key"), format!("{name}.csr"));
        req.extend(["-keyout", &key, "-out", &csr, "-subj"]);
        let subject = format!("/CN=selfheal test {name}");
        req.push(&subject);
        openssl(dir, &req);
        let ext = format!("{name}.ext");
        std::fs::write(
            dir.join(&ext),
            format!("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage={usage}\n"),
        )
        .unwrap();
        let pem = format!("{name}.pem");
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &pem,
                "-days",
                "2",
                "-extfile",
                &ext,
            ],
        );
    }
}

/// Debian's nginx with TLS on two ports in front of `upstream`; killed on drop.
struct Nginx {
    child: Child,
    /// Server TLS only.
    tls: u16,
    /// Server TLS, and a client certificate of the CA required.
    mutual: u16,
}

impl Nginx {
    fn start(dir: &Path, upstream: &str) -> Nginx {
        let (tls, mutual) = (free_port(), free_port());
        let d = dir.display();
        let server = |port: u16, extra: &str| {
            format!(
                "server {{ listen 127.0.0.1:{port} ssl; ssl_certificate {d}/server.pem; \
                 ssl_certificate_key {d}/server.key; {extra} \
                 location = /hook {{ return 204; }} location / {{ proxy_pass {upstream}; }} }}\n"
            )
        };
        let conf = format!(
            "pid {d}/nginx.pid; error_log {d}/nginx-error.log warn; events {{ worker_connections 64; }}\n\
             http {{ access_log off; client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; \
             fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n{}{}}}\n",
            server(tls, ""),
            server(mutual, &format!("ssl_client_certificate {d}/ca.pem; ssl_verify_client on;"))
        );
        std::fs::write(dir.join("nginx.conf"), conf).unwrap();
        let child = Command::new("/usr/sbin/nginx")
            .args([
                "-e",
                &format!("{d}/nginx-error.log"),
                "-c",
                &format!("{d}/nginx.conf"),
                "-g",
                "daemon off;",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx is installed (scripts/setup.sh test)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while [tls, mutual].iter().any(|p| std::net::TcpStream::connect(("127.0.0.1", *p)).is_err()) {
            assert!(
                Instant::now() < deadline,
                "nginx did not start: {:?}",
                std::fs::read_to_string(dir.join("nginx-error.log"))
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Nginx { child, tls, mutual }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn outgoing(ca: Option<PathBuf>, client: Option<(PathBuf, PathBuf)>) -> Outgoing {
    let (client_cert, client_key) = client.unzip();
    Outgoing::load(&OutgoingTlsConfig { ca_file: ca, client_cert, client_key }).expect("valid TLS files")
}

#[tokio::test]
async fn prometheus_and_notifications_over_https_with_a_private_ca_and_mutual_tls() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_pki(d);
    let prom = RealPrometheus::start(d, "global:\n  scrape_interval: 1m\n").await;
    let nginx = Nginx::start(d, &prom.url);
    let https = format!("https://127.0.0.1:{}", nginx.tls);
    let mutual = format!("https://127.0.0.1:{}", nginx.mutual);
    let ca = Some(d.join("ca.pem"));
    let client = Some((d.join("client.pem"), d.join("client.key")));

    // The CA from the config: verified over https. The system's roots alone refuse it.
    assert_eq!(Prometheus::new(&https, &outgoing(ca.clone(), None)).holds("vector(1)").await, Ok(true));
    assert_eq!(Prometheus::new(&https, &outgoing(ca.clone(), None)).holds("vector(1) == 2").await, Ok(false));
    let untrusted = Prometheus::new(&https, &Outgoing::default()).holds("vector(1)").await.unwrap_err();
    assert!(
        untrusted.to_lowercase().contains("certificate") || untrusted.contains("error sending request"),
        "{untrusted}"
    );

    // Mutual TLS: with the client certificate it answers; without, nginx refuses it.
    assert_eq!(
        Prometheus::new(&mutual, &outgoing(ca.clone(), client.clone())).holds("vector(1)").await,
        Ok(true)
    );
    assert!(Prometheus::new(&mutual, &outgoing(ca.clone(), None)).holds("vector(1)").await.is_err());

    // A notification to an https receiver, recorded as delivered; to one it cannot trust, not.
    let app = TestApp::new().await;
    let ended = Event::run_ended(0, "nginx-down", "localhost", app::model::RunStatus::Succeeded, None);
    let event = Event { run_id: None, ..ended };
    Notifier::new(app.pool.clone(), &outgoing(ca.clone(), client))
        .send(&format!("{mutual}/hook"), &event)
        .await;
    Notifier::new(app.pool.clone(), &Outgoing::default()).send(&format!("{https}/hook"), &event).await;
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT url, status FROM outbound_notifications ORDER BY id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let wanted =
        [(format!("{mutual}/hook"), "delivered".to_owned()), (format!("{https}/hook"), "failed".to_owned())];
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
