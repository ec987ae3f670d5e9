//! Serving HTTPS directly (issue 30, item 6): the real binary with `tls_cert`/`tls_key` from a
//! private CA answers over TLS only, sends HSTS, sets `Secure` cookies, and takes a renewed
//! certificate on SIGHUP (a broken one is refused and the one in use stays).
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use server::outgoing::{Outgoing, OutgoingTlsConfig};

use crate::common::alertmanager::free_port;
use crate::common::pki::{issue, make_pki};

const BIN: &str = env!("CARGO_BIN_EXE_selfheal");
const ADMIN_PASSWORD: &str = "granite-meadow-lantern-74";

struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The subject of the certificate the server on `port` presents now (openssl s_client).
fn presented_subject(dir: &Path, port: u16) -> String {
    let out = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}"), "-CAfile"])
        .arg(dir.join("ca.pem"))
        .stdin(Stdio::null())
        .output()
        .expect("openssl runs");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().find(|l| l.starts_with("subject=")).unwrap_or_default().to_owned()
}

fn sighup(server: &Served) {
    let pid = i32::try_from(server.0.id()).unwrap();
    // SAFETY: kill(2) with a pid this test started and still holds.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
}

/// Polls `f` until it holds, or fails with `what` after 10 s.
async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_directly_with_hsts_secure_cookies_and_a_reload_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_pki(d);
    std::fs::create_dir_all(d.join("ansible")).unwrap();
    std::fs::write(
        d.join("selfheal.toml"),
        "database = \"data/selfheal.db\"\ntls_cert = \"server.pem\"\ntls_key = \"server.key\"\n\
         [ansible]\ndir = \"ansible\"\n",
    )
    .unwrap();
    let port = free_port();
    let log = std::fs::File::create(d.join("selfheal.log")).unwrap();
    let server = Served(
        Command::new(BIN)
            .args(["--config", "selfheal.toml", "serve"])
            .current_dir(d)
            .env_remove("SELFHEAL_CONFIG")
            .env("SELFHEAL_LISTEN", format!("127.0.0.1:{port}"))
            .env("SELFHEAL_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("SELFHEAL_WEBHOOK_PASSWORD", "webhook-secret-1")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("selfheal starts"),
    );
    let tls = OutgoingTlsConfig { ca_file: Some(d.join("ca.pem")), ..Default::default() };
    let client = Outgoing::load(&tls).unwrap().client(Duration::from_secs(3));
    let base = format!("https://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let health = loop {
        if let Ok(res) = client.get(format!("{base}/health")).send().await {
            break res;
        }
        assert!(
            Instant::now() < deadline,
            "no https: {}",
            std::fs::read_to_string(d.join("selfheal.log")).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(health.status().is_success());
    assert_eq!(health.headers()["strict-transport-security"], "max-age=31536000");

    // Plain http on the same port gets no answer.
    let plain = reqwest::Client::new().get(format!("http://127.0.0.1:{port}/health")).send().await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success(), "plain http was served");

    // The session cookie is Secure although secure_cookies was not set.
    let login = client
        .post(format!("{base}/api/login"))
        .header("origin", &base)
        .form(&[("username", "admin"), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert!(login.status().is_success(), "login over https: {}", login.status());
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("Secure"), "{cookie}");

    // A renewed certificate, taken on SIGHUP without a restart.
    assert!(presented_subject(d, port).contains("selfheal test server"), "{}", presented_subject(d, port));
    issue(d, "renewed", "serverAuth");
    std::fs::copy(d.join("renewed.pem"), d.join("server.pem")).unwrap();
    std::fs::copy(d.join("renewed.key"), d.join("server.key")).unwrap();
    sighup(&server);
    eventually("the renewed certificate was not taken", || {
        presented_subject(d, port).contains("test renewed")
    })
    .await;

    // A broken one is refused, said in the log, and the renewed one stays.
    std::fs::write(d.join("server.key"), "not a key").unwrap();
    sighup(&server);
    let log = || std::fs::read_to_string(d.join("selfheal.log")).unwrap();
    eventually("no error logged for the broken key", || log().contains("TLS certificate not reloaded")).await;
    assert!(presented_subject(d, port).contains("test renewed"));
    assert!(client.get(format!("{base}/health")).send().await.unwrap().status().is_success());
}

#[test]
fn tls_files_that_do_not_load_stop_the_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_pki(d);
    std::fs::write(d.join("junk.pem"), "junk").unwrap();
    for (config, key) in [
        ("tls_cert = \"server.pem\"\n", "tls_key"),
        ("tls_cert = \"junk.pem\"\ntls_key = \"server.key\"\n", "tls_cert"),
        ("tls_cert = \"server.pem\"\ntls_key = \"junk.pem\"\n", "tls_key"),
        ("tls_cert = \"server.pem\"\ntls_key = \"client.key\"\n", "tls_key"),
    ] {
        std::fs::write(d.join("selfheal.toml"), config).unwrap();
        let out = Command::new(BIN)
            .args(["--config", "selfheal.toml", "check-config"])
            .current_dir(d)
            .env_remove("SELFHEAL_CONFIG")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{config}: {text}");
        assert!(text.contains(key), "{config}: {text}");
    }
}
