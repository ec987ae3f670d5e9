//! Notifications out: a JSON POST (a Slack-compatible `text` plus structured fields) to each
//! URL of a rule's `notify`, with a timeout and a few retries, or one JSON line appended to a
//! `file:` target (mode 0640); every outcome recorded. Never blocks a heal: callers spawn it.
use app::model::{RunStatus, Verification};
use std::path::Path;
use std::time::Duration;

use app::ssr::db::backend::Db;
use backon::{ExponentialBuilder, Retryable};
use serde::Serialize;

use app::ssr::alert::now_utc;

use crate::outgoing::Outgoing;
use app::ssr::db::outbound::{record_outbound, NewOutbound};

/// Longest one POST may take.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// Attempts per URL (the first plus retries with exponential backoff from 200 ms).
const ATTEMPTS: usize = 3;

/// What happened, as sent.
#[derive(Clone, Debug, Serialize)]
pub struct Event {
    /// `run_finished`, `not_fixed` or `breaker_open`.
    pub event: &'static str,
    /// One human sentence (Slack shows this).
    pub text: String,
    pub rule: String,
    pub target: String,
    pub run_id: Option<i64>,
    pub status: Option<RunStatus>,
    pub verification: Option<Verification>,
}

impl Event {
    /// A run's end as announced: `not_fixed` when verification found the playbook did not fix
    /// it, else `run_finished` with the status and the verdict, if there is one.
    pub fn run_ended(
        run_id: i64,
        rule: &str,
        target: &str,
        status: RunStatus,
        verification: Option<Verification>,
    ) -> Event {
        let (event, text) = match verification {
            // The event is named after the verdict.
            Some(v @ Verification::NotFixed) => {
                (v.as_str(), format!("selfheal: run #{run_id} of {rule} on {target} ran but did not fix it"))
            }
            v => (
                "run_finished",
                format!(
                    "selfheal: run #{run_id} of {rule} on {target} {status}{}",
                    v.map(|v| format!(", {v}")).unwrap_or_default()
                ),
            ),
        };
        Event {
            event,
            text,
            rule: rule.to_owned(),
            target: target.to_owned(),
            run_id: Some(run_id),
            status: Some(status),
            verification,
        }
    }
}

/// Sends notifications and records how they went.
#[derive(Clone, Debug)]
pub struct Notifier {
    client: reqwest::Client,
    pool: Db,
}

impl Notifier {
    /// Records outcomes in `pool`; POSTs through a client with `outgoing`'s TLS.
    pub fn new(pool: Db, outgoing: &Outgoing) -> Notifier {
        Notifier { client: outgoing.client(SEND_TIMEOUT), pool }
    }

    /// Sends `event` to every URL, in the background.
    pub fn spawn(&self, urls: &[String], event: Event) {
        if urls.is_empty() {
            return;
        }
        let this = self.clone();
        let urls = urls.to_vec();
        tokio::spawn(async move {
            for url in urls {
                this.send(&url, &event).await;
            }
        });
    }

    /// Sends to one URL with retries, or appends to a `file:` target; records the outcome.
    pub async fn send(&self, url: &str, event: &Event) {
        if let Some(path) = url.strip_prefix("file:") {
            let error = append_line(Path::new(path), event).await.err().map(|e| e.to_string());
            if let Some(e) = &error {
                tracing::warn!(file = path, event = event.event, error = %e, "notification failed");
            }
            self.record(url, event, 1, error.as_deref()).await;
            return;
        }
        let mut attempts = 0u32;
        let post = || {
            attempts += 1;
            let req = self.client.post(url).json(event);
            async move { req.send().await.and_then(reqwest::Response::error_for_status).map(|_| ()) }
        };
        let result = post
            .retry(
                ExponentialBuilder::default()
                    .with_min_delay(Duration::from_millis(200))
                    .with_max_times(ATTEMPTS - 1),
            )
            .await;
        let error = result.err().map(|e| e.without_url().to_string());
        if let Some(e) = &error {
            tracing::warn!(url = %redact(url), event = event.event, error = %e, "notification failed");
        }
        self.record(&redact(url), event, attempts, error.as_deref()).await;
    }

    async fn record(&self, shown: &str, event: &Event, attempts: u32, error: Option<&str>) {
        let row = NewOutbound {
            at: &now_utc(),
            event: event.event,
            url: shown,
            run_id: event.run_id,
            rule: Some(&event.rule),
            target: Some(&event.target),
            delivered: error.is_none(),
            attempts,
            error,
        };
        if let Err(e) = record_outbound(&self.pool, &row).await {
            tracing::error!(error = %e, "cannot record a notification");
        }
    }
}

/// One line in a `file:` target: when, then the event as a POST would send it.
#[derive(Serialize)]
struct FileLine<'a> {
    at: String,
    #[serde(flatten)]
    event: &'a Event,
}

/// Appends `event` as one JSON line to `path`, created 0640 (it names hosts and what was
/// healed); one write per line, so concurrent events never interleave within a line.
async fn append_line(path: &Path, event: &Event) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut line = serde_json::to_vec(&FileLine { at: now_utc(), event }).map_err(std::io::Error::other)?;
    line.push(b'\n');
    let mut file = tokio::fs::OpenOptions::new().create(true).append(true).mode(0o640).open(path).await?;
    file.write_all(&line).await?;
    file.flush().await
}

/// A URL without user info or query (tokens live there): safe to store and log.
pub fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.to_string()
        }
        Err(_) => "<invalid url>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_end_is_announced_with_its_verdict() {
        let cases = [
            (
                "verified",
                RunStatus::Succeeded,
                Some(Verification::Verified),
                "run_finished",
                "succeeded, verified",
            ),
            ("skipped", RunStatus::Failed, None, "run_finished", "on web1 failed"),
            (
                "not fixed",
                RunStatus::Succeeded,
                Some(Verification::NotFixed),
                "not_fixed",
                "ran but did not fix it",
            ),
        ];
        for (name, status, verdict, event, text) in cases {
            let e = Event::run_ended(7, "nginx-down", "web1", status, verdict);
            assert_eq!(e.event, event, "{name}");
            assert!(e.text.starts_with("selfheal: run #7 of nginx-down on web1"), "{name}: {}", e.text);
            assert!(e.text.ends_with(text), "{name}: {}", e.text);
            assert_eq!((e.status, e.verification), (Some(status), verdict), "{name}");
        }
    }

    #[tokio::test]
    async fn a_file_target_gets_one_json_line_per_event_and_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notifications.jsonl");
        let first = Event::run_ended(7, "nginx-down", "web1", RunStatus::Succeeded, None);
        let second =
            Event::run_ended(7, "nginx-down", "web1", RunStatus::Succeeded, Some(Verification::Verified));
        append_line(&path, &first).await.unwrap();
        append_line(&path, &second).await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[1]["event"], "run_finished");
        assert_eq!(lines[1]["verification"], "verified");
        assert_eq!(lines[1]["run_id"], 7);
        assert!(lines[1]["text"].as_str().unwrap().ends_with("succeeded, verified"));
        assert!(lines[0]["at"].as_str().unwrap().ends_with('Z'), "{}", lines[0]["at"]);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & !0o640, 0, "{mode:o}");
        // A folder that does not exist: an error to record, not a panic.
        assert!(append_line(&dir.path().join("no/such/file"), &first).await.is_err());
    }

    #[test]
    fn urls_lose_their_secrets_before_they_are_stored() {
        assert_eq!(redact("https://user:pw@hooks.example/x?token=abc"), "https://hooks.example/x");
        assert_eq!(redact("not a url"), "<invalid url>");
    }
}
