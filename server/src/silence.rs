//! Auto-silence: while a run is in flight, an Alertmanager silence (API v2) matching the alert
//! on this target, expired when the run ends. Failures are logged; they never block a heal.
use crate::outgoing::Outgoing;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use app::ssr::alert::format_utc;
use app::ssr::heal::matcher::MatchOp;
use app::ssr::heal::window::Window;
use app::ssr::silence::{SilenceAlerts, SilenceFuture, SilenceRequest};

/// Longest a silence call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Matcher<'a> {
    name: &'a str,
    value: &'a str,
    is_regex: bool,
    is_equal: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NewSilence<'a> {
    matchers: Vec<Matcher<'a>>,
    starts_at: String,
    ends_at: String,
    created_by: &'a str,
    comment: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Created {
    #[serde(rename = "silenceID")]
    silence_id: String,
}

/// Talks to one Alertmanager.
#[derive(Clone, Debug)]
pub struct Silencer {
    client: reqwest::Client,
    base_url: String,
}

impl Silencer {
    /// Talks to the Alertmanager at `base_url` (http or https, with `outgoing`'s TLS).
    pub fn new(base_url: &str, outgoing: &Outgoing) -> Silencer {
        let client = outgoing.client(CALL_TIMEOUT);
        Silencer { client, base_url: base_url.trim_end_matches('/').to_owned() }
    }

    /// Silences `alertname` on `label=target` for `lasting`; returns the silence id.
    pub async fn silence(
        &self,
        alertname: &str,
        label: &str,
        target: &str,
        lasting: Duration,
        run_id: i64,
    ) -> Result<String, String> {
        let now = OffsetDateTime::now_utc();
        let body = NewSilence {
            matchers: vec![
                Matcher { name: "alertname", value: alertname, is_regex: false, is_equal: true },
                Matcher { name: label, value: target, is_regex: false, is_equal: true },
            ],
            starts_at: format_utc(now),
            ends_at: format_utc(now + lasting),
            created_by: "selfheal",
            comment: format!("selfheal run #{run_id} is healing this; expires when the run ends"),
        };
        self.create(&body).await
    }

    /// Silences what `window` covers (its matchers) from now `until`; returns the silence id.
    pub async fn silence_window(&self, window: &Window, until: OffsetDateTime) -> Result<String, String> {
        let matchers = window
            .matchers()
            .iter()
            .map(|m| Matcher {
                name: &m.name,
                value: &m.value,
                is_regex: matches!(m.op, MatchOp::Regex | MatchOp::NotRegex),
                is_equal: matches!(m.op, MatchOp::Equal | MatchOp::Regex),
            })
            .collect();
        let reason = &window.config.reason;
        let body = NewSilence {
            matchers,
            starts_at: format_utc(OffsetDateTime::now_utc()),
            ends_at: format_utc(until),
            created_by: "selfheal",
            comment: format!(
                "selfheal maintenance window {}{}",
                window.name(),
                if reason.is_empty() { String::new() } else { format!(": {reason}") }
            ),
        };
        self.create(&body).await
    }

    /// Creates a silence; returns its id.
    async fn create(&self, body: &NewSilence<'_>) -> Result<String, String> {
        let res = self
            .client
            .post(format!("{}/api/v2/silences", self.base_url))
            .json(body)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| format!("cannot create a silence: {e}"))?;
        let created: Created = res.json().await.map_err(|e| format!("unreadable silence answer: {e}"))?;
        Ok(created.silence_id)
    }

    /// Expires a silence.
    pub async fn expire(&self, silence_id: &str) -> Result<(), String> {
        self.client
            .delete(format!("{}/api/v2/silence/{silence_id}", self.base_url))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map(|_| ())
            .map_err(|e| format!("cannot expire silence {silence_id}: {e}"))
    }
}

/// A person's silence from the dashboard: every label of the alert, matched exactly.
impl SilenceAlerts for Silencer {
    fn create_silence(&self, request: SilenceRequest) -> SilenceFuture<'_> {
        Box::pin(async move {
            let now = OffsetDateTime::now_utc();
            let body = NewSilence {
                matchers: request
                    .matchers
                    .iter()
                    .map(|(name, value)| Matcher { name, value, is_regex: false, is_equal: true })
                    .collect(),
                starts_at: format_utc(now),
                ends_at: format_utc(now + request.lasting),
                created_by: &request.created_by,
                comment: request.comment.clone(),
            };
            self.create(&body).await
        })
    }
}
