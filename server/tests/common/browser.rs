//! Helpers for the headless-browser tests: a ChromeDriver process, a Chromium session, waits
//! for elements, paths and hydration, logging in through the form, and the screenshot folder.
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;

/// How long any one browser condition may take (hydration of a debug bundle included).
pub const WAIT: Duration = Duration::from_secs(20);

/// One browser at a time: two Chromiums on two cores make every wait flaky.
pub static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A chromedriver process, killed on drop.
struct ChromeDriver {
    child: Child,
    url: String,
}

impl ChromeDriver {
    fn start() -> ChromeDriver {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is installed (scripts/setup.sh test)");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + WAIT;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        ChromeDriver { child, url }
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a browser session keeps alive beside its client: its chromedriver and its throw-away
/// profile directory. On drop, every Chromium process of that profile is killed too: killing
/// chromedriver alone orphans the browser it started, and a panicking test never closes its
/// session, so each failure used to leave a dozen Chromium processes burning CPU for the rest
/// of the run.
pub struct Chromium {
    _driver: ChromeDriver,
    profile: tempfile::TempDir,
}

impl Chromium {
    /// The `--user-data-dir` this session's Chromium runs with.
    pub fn profile(&self) -> &std::path::Path {
        self.profile.path()
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let _ =
            Command::new("pkill").args(["-KILL", "-f", "--"]).arg(profile_flag(self.profile.path())).status();
    }
}

/// The command-line flag that names a session's profile, unique to its processes.
pub fn profile_flag(profile: &std::path::Path) -> String {
    format!("--user-data-dir={}", profile.display())
}

/// How many processes run with this profile.
pub fn processes_of(profile: &std::path::Path) -> usize {
    let out = Command::new("pgrep").args(["-f", "--"]).arg(profile_flag(profile)).output().unwrap();
    String::from_utf8_lossy(&out.stdout).lines().count()
}

/// A fresh headless Chromium session with its own chromedriver and profile; keep the
/// [`Chromium`] for as long as the client is used.
pub async fn browser() -> (Client, Chromium) {
    let driver = ChromeDriver::start();
    let profile = tempfile::tempdir().unwrap();
    let c = connect(&driver, profile.path()).await;
    (c, Chromium { _driver: driver, profile })
}

async fn connect(driver: &ChromeDriver, profile: &std::path::Path) -> Client {
    let caps = serde_json::json!({
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--window-size=1280,900",
                profile_flag(profile),
            ]
        },
        // The console's messages, read by `console_errors`.
        "goog:loggingPrefs": { "browser": "ALL" }
    });
    let serde_json::Value::Object(caps) = caps else { unreachable!() };
    // ChromeDriver may accept connections a moment before it accepts sessions.
    let mut last_error = None;
    for _ in 0..5 {
        match ClientBuilder::new(HttpConnector::new()).capabilities(caps.clone()).connect(&driver.url).await {
            Ok(client) => return client,
            Err(e) => last_error = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("no browser session: {last_error:?}")
}

pub fn artifacts() -> PathBuf {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../test-artifacts"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub async fn text_of(c: &Client, css: &str) -> String {
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .unwrap()
}

/// ChromeDriver's log of the browser console since the last read (`POST /session/{id}/se/log`).
#[derive(Debug)]
struct ConsoleLog;

impl fantoccini::wd::WebDriverCompatibleCommand for ConsoleLog {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/se/log", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        (axum::http::Method::POST, Some(r#"{"type":"browser"}"#.to_owned()))
    }
}

/// The console errors and warnings logged since the last call (each message once).
pub async fn console_problems(c: &Client) -> Vec<String> {
    let log = c.issue_cmd(ConsoleLog).await.expect("the browser's console log");
    log.as_array()
        .into_iter()
        .flatten()
        .filter(|e| matches!(e["level"].as_str(), Some("SEVERE" | "WARNING")))
        .map(|e| format!("{}: {}", e["level"].as_str().unwrap_or("?"), e["message"].as_str().unwrap_or("?")))
        .collect()
}

/// Fails on any console error or warning since the last check, except those containing one of
/// `expected` (a test that provokes a refusal names it).
pub async fn assert_quiet_console(c: &Client, expected: &[&str]) {
    let problems: Vec<String> =
        console_problems(c).await.into_iter().filter(|m| !expected.iter().any(|e| m.contains(e))).collect();
    assert!(problems.is_empty(), "the console at {:?} logged: {problems:#?}", c.current_url().await.ok());
}

/// Waits until the wasm bundle has hydrated the page (the marker only flips in the browser).
/// Fails on a panic in the browser (kept by the bundle in `window.__selfheal_panic`), and on
/// any console error or warning logged so far (hydration mismatches among them).
pub async fn wait_hydrated(c: &Client) {
    let hydrated = c.wait().at_most(WAIT).for_element(Locator::Css("#app[data-hydrated='true']")).await;
    let panic = c.execute("return window.__selfheal_panic || null", vec![]).await.ok();
    let panic = panic.as_ref().and_then(|v| v.as_str());
    if panic.is_some() {
        let console = console_problems(c).await;
        panic!(
            "the page panicked in the browser at {:?}: {panic:?}\nconsole: {console:#?}",
            c.current_url().await.ok()
        );
    }
    hydrated.expect("the page hydrates (is target/test-site built? run SITE_DIR=target/test-site scripts/build.sh --site)");
    // Hydration warnings and errors are logged by then.
    assert_quiet_console(c, &[]).await;
}

/// Waits until the browser is at `path` and the router has shown its page (a page's code is
/// fetched on its first visit: until it arrives, the previous page stays on screen).
pub async fn wait_path(c: &Client, path: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let url = c.current_url().await.unwrap();
        if url.path() == path && count(c, "#app[data-routing='true']").await == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "expected {path}, still at {url}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn log_in(c: &Client, addr: SocketAddr, name: &str, password: &str) {
    c.goto(&format!("http://{addr}/")).await.unwrap();
    wait_path(c, "/login").await;
    wait_hydrated(c).await;
    c.find(Locator::Css("input[name=username]")).await.unwrap().send_keys(name).await.unwrap();
    c.find(Locator::Css("input[name=password]")).await.unwrap().send_keys(password).await.unwrap();
    c.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
}

/// Whether the page is wider than the window (a phone would scroll sideways).
pub async fn overflows_sideways(c: &Client) -> bool {
    let v = c
        .execute("return document.documentElement.scrollWidth > window.innerWidth + 1;", vec![])
        .await
        .unwrap();
    v.as_bool().unwrap()
}

/// How many elements match `css` now.
pub async fn count(c: &Client, css: &str) -> usize {
    c.find_all(Locator::Css(css)).await.unwrap().len()
}

/// Logs out with the shell's button and lands on the login page.
pub async fn log_out(c: &Client) {
    c.find(Locator::Css("[data-testid=logout]")).await.unwrap().click().await.unwrap();
    wait_path(c, "/login").await;
}

/// Logs out and in as `name`, then opens `path` hydrated.
pub async fn switch_user(c: &Client, addr: SocketAddr, name: &str, password: &str, path: &str) {
    log_out(c).await;
    log_in(c, addr, name, password).await;
    wait_path(c, "/").await;
    c.goto(&format!("http://{addr}{path}")).await.unwrap();
    wait_hydrated(c).await;
}

/// A served app with the nginx-down rule, an operator `olga` (operator-password-1) and a viewer
/// `vera` (viewer-password-1), for the browser tests of operator controls.
pub async fn operator_and_viewer_app() -> (super::TestApp, SocketAddr) {
    assert!(
        super::site_root().join("hash.txt").exists(),
        "run SITE_DIR=target/test-site scripts/build.sh --site first"
    );
    let rule = serde_json::json!({ "name": "nginx-down", "match": { "alertname": "NginxDown" }, "playbook": "heal-nginx.yml" });
    let app = super::TestApp::with(|config, dir| super::one_rule(config, dir, rule)).await;
    app.add_user("olga", "operator-password-1", app::model::Role::Operator).await;
    app.add_user("vera", "viewer-password-1", app::model::Role::Viewer).await;
    let addr = app.serve().await;
    (app, addr)
}
