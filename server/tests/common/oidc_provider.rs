//! A real OpenID Provider for the sign-in tests: the certified `oidc-provider` package from npm,
//! run under Node (`server/tests/op/provider.mjs`) on a free 127.0.0.1 port with one client
//! (selfheal) and the accounts of [`ACCOUNTS`]; its accounts changed while it runs
//! (`POST /test/accounts`), and its token answers tampered with on request (`POST /test/tamper`)
//! to prove selfheal refuses them. Killed on drop.
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::alertmanager::free_port;

pub const CLIENT_ID: &str = "selfheal";
pub const CLIENT_SECRET: &str = "selfheal-client-secret-for-tests";

/// (username, password, groups): eve an admin, fay an operator, gus in no mapped group.
pub const ACCOUNTS: [(&str, &str, &[&str]); 3] = [
    ("eve", "eve-provider-pass", &["sre-leads"]),
    ("fay", "fay-provider-pass", &["sre"]),
    ("gus", "gus-provider-pass", &["marketing"]),
];

pub struct Provider {
    child: Child,
    pub issuer: String,
    _dir: TempDir,
}

fn folder() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/op"))
}

/// The accounts as the provider takes them.
pub fn accounts_json(accounts: &[(&str, &str, &[&str])]) -> serde_json::Value {
    accounts
        .iter()
        .map(|(name, password, groups)| {
            serde_json::json!({
                "sub": format!("sub-{name}"),
                "username": name,
                "password": password,
                "email": format!("{name}@example.org"),
                "name": name,
                "groups": groups,
            })
        })
        .collect()
}

impl Provider {
    /// Starts the provider for a selfheal served at `selfheal` (`http://127.0.0.1:PORT`);
    /// returns once it listens.
    pub fn start(selfheal: &str) -> Provider {
        assert!(
            folder().join("node_modules/oidc-provider").exists(),
            "npm ci --prefix server/tests/op first (scripts/setup.sh test does)"
        );
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let issuer = format!("http://127.0.0.1:{port}");
        let config = serde_json::json!({
            "port": port,
            "issuer": issuer,
            "clients": [{
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uris": [format!("{selfheal}/auth/oidc/callback")],
                "post_logout_redirect_uris": [format!("{selfheal}/login")],
            }],
            "accounts": accounts_json(&ACCOUNTS),
        });
        let path = dir.path().join("config.json");
        std::fs::write(&path, config.to_string()).unwrap();
        let mut child = Command::new("node")
            .arg(folder().join("provider.mjs"))
            .arg(&path)
            .stdout(Stdio::piped())
            // Its warnings (Node 20, the in-memory adapter) would fill every test's output.
            .stderr(std::fs::File::create(dir.path().join("stderr.log")).unwrap())
            .spawn()
            .expect("node starts");
        let stdout = child.stdout.take().unwrap();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("listening on") {
                    let _ = ready_tx.send(());
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        while ready_rx.try_recv().is_err() {
            assert!(Instant::now() < deadline, "the OpenID Provider did not start within 30 s");
            if child.try_wait().unwrap().is_some() {
                let log = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();
                panic!("the OpenID Provider exited:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Provider { child, issuer, _dir: dir }
    }

    /// The `[auth.oidc]` section for selfheal served at `selfheal`.
    pub fn config(&self, selfheal: &str) -> serde_json::Value {
        serde_json::json!({
            "issuer": self.issuer,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_url": format!("{selfheal}/auth/oidc/callback"),
            "name": "Test IdP",
            "scopes": ["profile", "email", "groups"],
            "timeout": "3s",
            "roles": { "admin": ["sre-leads"], "operator": ["sre"], "viewer": ["eng"] },
        })
    }

    async fn post(&self, path: &str, body: serde_json::Value) {
        let res =
            reqwest::Client::new().post(format!("{}{path}", self.issuer)).json(&body).send().await.unwrap();
        assert!(res.status().is_success(), "{path}: {}", res.status());
    }

    /// Replaces the provider's accounts (a user removed from a group, say).
    pub async fn set_accounts(&self, accounts: &[(&str, &str, &[&str])]) {
        self.post("/test/accounts", accounts_json(accounts)).await;
    }

    /// Makes the next token answers carry an ID token that is `how` wrong: `"signature"`,
    /// `"audience"`, `"expired"`, `"nonce"` — or right again with `None`.
    pub async fn tamper(&self, how: Option<&str>) {
        self.post("/test/tamper", serde_json::json!({ "id_token": how })).await;
    }

    /// Stops the provider (an outage).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A cookie-keeping HTTP client that follows redirects itself (recording each hop) and sends
/// every cookie it holds to 127.0.0.1 whatever the port, as a browser does: the sign-in flow
/// without a browser.
#[derive(Default)]
pub struct Agent {
    jar: std::collections::BTreeMap<String, String>,
    /// Every URL visited, in order.
    pub visited: Vec<String>,
}

/// Where a walk through redirects ended.
#[derive(Debug)]
pub struct Landed {
    pub url: String,
    pub status: reqwest::StatusCode,
    pub body: String,
}

impl Agent {
    fn client() -> reqwest::Client {
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
    }

    fn cookie_header(&self) -> String {
        self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn keep_cookies(&mut self, res: &reqwest::Response) {
        for set in res.headers().get_all(reqwest::header::SET_COOKIE) {
            let Some((pair, attrs)) =
                set.to_str().unwrap().split_once(';').or(Some((set.to_str().unwrap(), "")))
            else {
                continue;
            };
            let (name, value) = pair.split_once('=').unwrap();
            let expired = attrs.to_ascii_lowercase().contains("max-age=0")
                || attrs.to_ascii_lowercase().contains("expires=thu, 01 jan 1970");
            if expired || value.is_empty() {
                self.jar.remove(name.trim());
            } else {
                self.jar.insert(name.trim().to_owned(), value.to_owned());
            }
        }
    }

    /// The session cookie selfheal set, as a `Cookie` header for `TestApp` calls.
    pub fn selfheal_cookie(&self) -> Option<String> {
        self.jar.get("selfheal_session").map(|v| format!("selfheal_session={v}"))
    }

    async fn send(&mut self, req: reqwest::RequestBuilder, mut url: String) -> Landed {
        let mut res = req.header(reqwest::header::COOKIE, self.cookie_header()).send().await.unwrap();
        self.visited.push(url.clone());
        for _ in 0..20 {
            self.keep_cookies(&res);
            if !res.status().is_redirection() {
                break;
            }
            let location = res.headers()[reqwest::header::LOCATION].to_str().unwrap().to_owned();
            url = reqwest::Url::parse(&url).unwrap().join(&location).unwrap().to_string();
            self.visited.push(url.clone());
            res = Self::client()
                .get(&url)
                .header(reqwest::header::COOKIE, self.cookie_header())
                .send()
                .await
                .unwrap();
        }
        let status = res.status();
        Landed { url, status, body: res.text().await.unwrap() }
    }

    pub async fn get(&mut self, url: &str) -> Landed {
        self.send(Self::client().get(url), url.to_owned()).await
    }

    pub async fn post_form(&mut self, url: &str, form: &[(&str, &str)]) -> Landed {
        self.send(Self::client().post(url).form(form), url.to_owned()).await
    }

    /// Signs in at selfheal (`http://127.0.0.1:PORT`) through the provider's login form.
    pub async fn sign_in(&mut self, selfheal: &str, username: &str, password: &str) -> Landed {
        let form = self.get(&format!("{selfheal}/auth/oidc/login")).await;
        assert!(form.url.contains("/interaction/"), "the provider's login form: {form:?}");
        self.post_form(&format!("{}/login", form.url), &[("login", username), ("password", password)]).await
    }
}
