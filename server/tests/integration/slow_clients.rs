//! Slow and idle clients against the real binary (issue 25): 2,000 connections that never finish
//! their request head are closed after the header-read timeout while `/health` and the webhook
//! keep answering; idle keep-alive connections and stalled bodies are cut off; connections over
//! the cap wait in the kernel's queue without spinning the accept loop; SIGTERM still drains.
use crate::common;

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::binary::Selfheal;

/// Connections held at once: the probe's slowloris run, scaled to what a test may open.
const HELD: usize = 2_000;
/// The header-read timeout of the hold: long enough to measure while all 2,000 are open.
const HOLD_TIMEOUT: Duration = Duration::from_secs(5);
/// The timeouts of the other tests (the shortest config accepts is 1 s).
const SHORT_TIMEOUT: Duration = Duration::from_secs(2);
/// The budget for `/health` and the webhook while the slow clients are held.
const ANSWER_WITHIN: Duration = Duration::from_secs(1);
/// Room for the server's timers and this test's own scheduling on two shared cores.
const SLACK: Duration = Duration::from_secs(2);
/// A slow client adds one byte to its unfinished header this often (slowloris' trickle).
const TRICKLE_EVERY: Duration = Duration::from_secs(1);
/// The start of a login request; the blank line that would end the head never comes.
const PARTIAL_HEAD: &[u8] = b"POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
const FIXTURE: &str = include_str!("../fixtures/alertmanager/alertmanager-webhook-firing.json");

/// The real binary over its own database and config, killed on drop.
struct Server {
    selfheal: Selfheal,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start(http: &str) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let config = format!("database = \"data/selfheal.db\"\n[http]\n{http}\n");
        std::fs::write(dir.path().join("selfheal.toml"), config).unwrap();
        let port = common::alertmanager::free_port();
        let selfheal = Selfheal::start(dir.path(), port, "warn").await;
        Server { selfheal, port, _dir: dir }
    }

    async fn connect(&self) -> TcpStream {
        TcpStream::connect(("127.0.0.1", self.port)).await.expect("connect")
    }

    fn open_files(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.selfheal.pid())).map_or(0, Iterator::count)
    }

    /// CPU time (user + system) the server has used so far.
    fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.selfheal.pid())).unwrap();
        let fields: Vec<u64> =
            stat.rsplit_once(')').unwrap().1.split_whitespace().filter_map(|f| f.parse().ok()).collect();
        // SAFETY: sysconf only reads a constant.
        let ticks = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).unwrap();
        // After the command name: state, then 10 numbers, then utime and stime (stat(5)).
        Duration::from_millis((fields[10] + fields[11]) * 1000 / ticks)
    }

    fn log(&self) -> String {
        self.selfheal.log()
    }
}

/// Both ends hold a descriptor per connection: lift the soft limit toward the hard one.
fn raise_open_files_limit(want: u64) {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit read and write only the struct passed.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) }, 0);
    if limit.rlim_cur >= want {
        return;
    }
    assert!(limit.rlim_max >= want, "this test needs `ulimit -Hn` of at least {want}");
    limit.rlim_cur = want;
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
}

/// Sends a request on `stream` and reads its response (head and `Content-Length` body).
async fn exchange(stream: &mut TcpStream, request: &[u8]) -> std::io::Result<(u16, String)> {
    stream.write_all(request).await?;
    read_response(stream).await
}

async fn read_response(stream: &mut TcpStream) -> std::io::Result<(u16, String)> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned())
                })
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            if body.len() >= length {
                let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
                return Ok((status, body.to_owned()));
            }
        }
        match stream.read(&mut buf).await? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// How long until the server closes `stream` (EOF or reset), reading whatever it sends first;
/// `None` if it is still open after `limit`.
async fn until_closed(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(limit, async { while stream.read(&mut buf).await.is_ok_and(|n| n > 0) {} })
        .await
        .ok()
        .map(|()| start.elapsed())
}

/// A slowloris client: the start of a head, then one more header byte every second, never
/// the end. How long the server kept it open, or `None` if still open when the test gave up.
async fn hold_partial_head(mut stream: TcpStream) -> Option<Duration> {
    let opened = Instant::now();
    let give_up = tokio::time::sleep(HOLD_TIMEOUT + 2 * SLACK);
    tokio::pin!(give_up);
    let mut trickle = tokio::time::interval(TRICKLE_EVERY);
    let mut buf = [0u8; 1024];
    let mut next: &[u8] = PARTIAL_HEAD;
    loop {
        tokio::select! {
            _ = trickle.tick() => {
                if stream.write_all(next).await.is_err() {
                    return Some(opened.elapsed());
                }
                next = b"a";
            }
            read = stream.read(&mut buf) => {
                if !read.is_ok_and(|n| n > 0) {
                    return Some(opened.elapsed());
                }
            }
            () = &mut give_up => return None,
        }
    }
}

/// An authenticated `POST /webhook` with a real Alertmanager notification.
async fn post_webhook(client: &reqwest::Client, port: u16) -> reqwest::Response {
    client
        .post(format!("http://127.0.0.1:{port}/webhook"))
        .header("content-type", "application/json")
        .header("authorization", common::basic_auth())
        .body(FIXTURE)
        .send()
        .await
        .expect("the webhook answers")
}

fn median_and_max(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    (samples[samples.len() / 2], samples[samples.len() - 1])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_slow_heads_are_closed_while_health_and_the_webhook_answer() {
    raise_open_files_limit(8_192);
    let server = Server::start(&format!(
        "header_read_timeout = \"{}s\"\nmax_connections = 4096",
        HOLD_TIMEOUT.as_secs()
    ))
    .await;
    let files_before = server.open_files();
    let started = Instant::now();
    let mut holders = Vec::with_capacity(HELD);
    for _ in 0..HELD {
        holders.push(tokio::spawn(hold_partial_head(server.connect().await)));
    }
    let opened_in = started.elapsed();

    // Fresh connections each time, as a load balancer's probe and Alertmanager open them.
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let (mut health, mut webhook, mut files_held) = (Vec::new(), Vec::new(), 0);
    let window_end = started + HOLD_TIMEOUT - Duration::from_secs(1);
    while Instant::now() < window_end {
        let t = Instant::now();
        let res = client.get(format!("http://127.0.0.1:{}/health", server.port)).send().await;
        assert!(res.is_ok_and(|r| r.status().is_success()), "/health failed during the hold");
        health.push(t.elapsed());
        if health.len() % 4 == 1 {
            let t = Instant::now();
            let res = post_webhook(&client, server.port).await;
            assert!(res.status().is_success(), "webhook during the hold: {}", res.status());
            webhook.push(t.elapsed());
            files_held = files_held.max(server.open_files());
        }
    }
    let still_held = holders.iter().filter(|h| !h.is_finished()).count();
    assert_eq!(still_held, HELD, "every slow client was still connected while we measured");
    assert!(files_held >= files_before + HELD, "the server held them ({files_held} open files)");

    let mut survived = Vec::new();
    for h in holders {
        survived.push(h.await.unwrap());
    }
    let open = survived.iter().filter(|s| s.is_none()).count();
    assert_eq!(
        open,
        0,
        "{open} of {HELD} slow clients still open {:?} after they connected",
        HOLD_TIMEOUT + 2 * SLACK
    );
    let survived: Vec<Duration> = survived.into_iter().flatten().collect();
    let (health_median, health_max) = median_and_max(health.clone());
    let (webhook_median, webhook_max) = median_and_max(webhook.clone());
    let (survived_median, survived_max) = median_and_max(survived.clone());
    let survived_min = survived.iter().min().copied().unwrap_or_default();
    eprintln!(
        "held {HELD} slow heads (opened in {opened_in:?}, server at {files_held} open files, {files_before} before); \
         /health x{}: median {health_median:?}, max {health_max:?}; webhook x{}: median {webhook_median:?}, \
         max {webhook_max:?}; slow clients closed after min {survived_min:?}, median {survived_median:?}, \
         max {survived_max:?}",
        health.len(),
        webhook.len(),
    );
    assert!(
        health_max < ANSWER_WITHIN && webhook_max < ANSWER_WITHIN,
        "answers took too long during the hold"
    );
    assert!(survived_min >= HOLD_TIMEOUT - Duration::from_millis(500), "closed before the timeout");
    assert!(survived_max <= HOLD_TIMEOUT + SLACK, "closed only after {survived_max:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(server.open_files() < files_before + 10, "descriptors released: {}", server.open_files());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connections_and_stalled_bodies_are_closed() {
    let t = SHORT_TIMEOUT.as_secs();
    let server = Server::start(&format!("header_read_timeout = \"{t}s\"\nbody_timeout = \"{t}s\"")).await;
    let get = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

    // Kept alive between requests: the timer restarts after each response.
    let mut idle = server.connect().await;
    assert_eq!(exchange(&mut idle, get).await.unwrap().0, 200);
    tokio::time::sleep(SHORT_TIMEOUT / 2).await;
    assert_eq!(exchange(&mut idle, get).await.expect("still open half a timeout later").0, 200);
    let idle_for = until_closed(&mut idle, SHORT_TIMEOUT + SLACK).await;
    eprintln!("idle keep-alive connection closed after {idle_for:?} (header_read_timeout {SHORT_TIMEOUT:?})");
    let idle_for = idle_for.expect("an idle keep-alive connection is closed");
    assert!(idle_for >= SHORT_TIMEOUT - Duration::from_millis(250), "closed after only {idle_for:?}");

    // A complete head, then part of the body, then nothing: login and the webhook alike.
    let login =
        "POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\
                 Content-Length: 100\r\n\r\nusername=adm"
            .to_owned();
    let hook = format!(
        "POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: {}\r\n\
         Content-Length: {}\r\n\r\n{}",
        common::basic_auth(),
        FIXTURE.len(),
        &FIXTURE[..FIXTURE.len() / 2]
    );
    for (name, request) in [("login", login), ("webhook", hook)] {
        let mut stalled = server.connect().await;
        stalled.write_all(request.as_bytes()).await.unwrap();
        let cut_after = until_closed(&mut stalled, SHORT_TIMEOUT + SLACK).await;
        eprintln!("stalled {name} body closed after {cut_after:?} (body_timeout {SHORT_TIMEOUT:?})");
        let cut_after = cut_after.unwrap_or_else(|| panic!("a stalled {name} body is cut off"));
        assert!(
            cut_after >= SHORT_TIMEOUT - Duration::from_millis(250),
            "{name} cut after only {cut_after:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_wait_without_spinning_the_accept_loop() {
    let cap = 16;
    let server = Server::start(&format!(
        "header_read_timeout = \"{}s\"\nmax_connections = {cap}",
        SHORT_TIMEOUT.as_secs()
    ))
    .await;
    let mut idle = Vec::new();
    for _ in 0..cap {
        idle.push(server.connect().await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (cpu_before, asked) = (server.cpu_time(), Instant::now());
    let mut probe = server.connect().await;
    let answer = tokio::spawn(async move {
        let res = exchange(&mut probe, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await;
        (res.map(|r| r.0).ok(), Instant::now())
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    let cpu = server.cpu_time().saturating_sub(cpu_before);
    assert!(!answer.is_finished(), "a connection over the cap of {cap} was served at once");
    assert!(cpu < Duration::from_millis(200), "the server used {cpu:?} of CPU in 1 s while full");
    // Bounded: without a header timeout the idle connections never go and this would hang.
    let (status, answered) = tokio::time::timeout(SHORT_TIMEOUT + SLACK, answer)
        .await
        .expect("served once the idle connections were closed")
        .unwrap();
    let waited = answered - asked;
    eprintln!("over the cap: waited {waited:?} (server CPU {cpu:?} in the first second), then {status:?}");
    assert_eq!(status, Some(200), "served once the idle connections were closed");
    assert!(waited < SHORT_TIMEOUT + SLACK, "waited {waited:?}");
    drop(idle);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_request_in_flight_and_refuses_new_connections() {
    let mut server = Server::start("").await;
    let mut in_flight = server.connect().await;
    let (first, rest) = FIXTURE.split_at(FIXTURE.len() / 2);
    let head = format!(
        "POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: {}\r\n\
         Content-Length: {}\r\n\r\n{first}",
        common::basic_auth(),
        FIXTURE.len()
    );
    in_flight.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let asked = Instant::now();
    // SAFETY: kill(2) only sends a signal to the child we started.
    server.selfheal.sigterm();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(server.selfheal.try_wait().is_none(), "waits for the request in flight");
    assert!(TcpStream::connect(("127.0.0.1", server.port)).await.is_err(), "no new connections");
    let (status, body) =
        exchange(&mut in_flight, rest.as_bytes()).await.expect("the request in flight is answered");
    assert_eq!(status, 200, "{body}");
    while server.selfheal.try_wait().is_none() {
        assert!(asked.elapsed() < Duration::from_secs(20), "selfheal did not stop: {}", server.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(server.selfheal.wait().success(), "a clean exit: {}", server.log());
}
