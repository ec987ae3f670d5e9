//! Alertmanager's webhook payload (version 4) and its normalisation into alert episodes.
//! Pure: no I/O. An episode is keyed by (fingerprint, startsAt); each alert in a notification
//! is handled by its own status.
use std::collections::BTreeMap;

use serde::Deserialize;
use time::OffsetDateTime;

use crate::ssr::utc::Utc;

/// The only payload version Alertmanager has sent since 0.x; anything else is refused.
pub const WEBHOOK_VERSION: &str = "4";

/// Longest fingerprint accepted (Alertmanager's are 16 hex digits).
const MAX_FINGERPRINT_LEN: usize = 128;

/// Labels per alert beyond which a payload is refused as abusive (Prometheus allows 30 by default).
const MAX_LABELS: usize = 256;

/// An alert's state as Alertmanager reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    Firing,
    Resolved,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        }
    }
}

/// A webhook notification as Alertmanager sends it. Unknown fields are ignored.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookPayload {
    pub version: String,
    pub group_key: String,
    pub receiver: String,
    pub status: AlertStatus,
    pub alerts: Vec<WebhookAlert>,
    #[serde(default, rename = "externalURL")]
    pub external_url: Option<String>,
    #[serde(default)]
    pub truncated_alerts: u64,
}

/// One alert inside a notification.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookAlert {
    pub status: AlertStatus,
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    pub starts_at: String,
    #[serde(default)]
    pub ends_at: Option<String>,
    #[serde(default, rename = "generatorURL")]
    pub generator_url: Option<String>,
    pub fingerprint: String,
}

/// An alert episode ready to be stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAlert {
    pub fingerprint: String,
    /// Normalised: UTC, milliseconds, `Z`.
    pub starts_at: String,
    pub status: AlertStatus,
    pub alertname: String,
    pub severity: Option<String>,
    pub instance: Option<String>,
    /// JSON object text.
    pub labels: String,
    /// JSON object text.
    pub annotations: String,
    /// Normalised; `None` for Alertmanager's "no end" (year 1) or when absent.
    pub ends_at: Option<String>,
    pub generator_url: Option<String>,
}

/// An alert's labels, parsed once from their stored JSON, with an error: labels that cannot
/// be read are never taken for "no labels" (which no rule matches, silently).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Labels(BTreeMap<String, String>);

impl Labels {
    pub fn parse(json: &str) -> Result<Labels, String> {
        serde_json::from_str(json).map(Labels).map_err(|e| format!("the alert's labels cannot be read: {e}"))
    }

    pub fn into_map(self) -> BTreeMap<String, String> {
        self.0
    }
}

impl std::ops::Deref for Labels {
    type Target = BTreeMap<String, String>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// A timestamp in the canonical form we store: `2026-11-22T01:25:10.341Z`.
pub fn normalise_time(raw: &str) -> Result<String, String> {
    Utc::parse(raw).map(|t| t.to_string())
}

/// Formats a time as stored (UTC, milliseconds): [`Utc`]'s form, which cannot fail.
pub fn format_utc(t: OffsetDateTime) -> String {
    Utc::at(t).to_string()
}

/// A stored timestamp plus `by`, as stored; none when `at` does not parse.
pub fn add_utc(at: &str, by: std::time::Duration) -> Option<String> {
    Utc::parse(at).ok().map(|t| t.plus(by).to_string())
}

/// Now, as stored.
pub fn now_utc() -> String {
    Utc::now().to_string()
}

/// Checks one alert and turns it into an episode; `at` names it in error messages.
pub fn normalise_alert(alert: &WebhookAlert, at: &str) -> Result<NewAlert, String> {
    let fp = alert.fingerprint.trim();
    if fp.is_empty() || fp.len() > MAX_FINGERPRINT_LEN || !fp.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(format!("{at}.fingerprint: must be 1 to {MAX_FINGERPRINT_LEN} letters or digits"));
    }
    if alert.labels.len() > MAX_LABELS {
        return Err(format!("{at}.labels: more than {MAX_LABELS} labels"));
    }
    let alertname = alert
        .labels
        .get("alertname")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| format!("{at}.labels.alertname: missing"))?;
    let starts_at = normalise_time(&alert.starts_at).map_err(|e| format!("{at}.startsAt: {e}"))?;
    let ends_at = match alert.ends_at.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) if raw.starts_with("0001-") => None,
        Some(raw) => Some(normalise_time(raw).map_err(|e| format!("{at}.endsAt: {e}"))?),
    };
    let json = |m: &BTreeMap<String, String>| serde_json::to_string(m).unwrap_or_else(|_| "{}".to_owned());
    Ok(NewAlert {
        fingerprint: fp.to_owned(),
        starts_at,
        status: alert.status,
        alertname: alertname.clone(),
        severity: alert.labels.get("severity").cloned(),
        instance: alert.labels.get("instance").cloned(),
        labels: json(&alert.labels),
        annotations: json(&alert.annotations),
        ends_at,
        generator_url: alert.generator_url.clone().filter(|u| !u.is_empty()),
    })
}

/// Checks a whole notification: its version and every alert. All or nothing.
pub fn normalise_payload(payload: &WebhookPayload) -> Result<Vec<NewAlert>, String> {
    if payload.version != WEBHOOK_VERSION {
        return Err(format!("version: `{}` is not supported (expected \"4\")", payload.version));
    }
    if payload.receiver.is_empty() {
        return Err("receiver: must not be empty".to_owned());
    }
    payload.alerts.iter().enumerate().map(|(i, a)| normalise_alert(a, &format!("alerts[{i}]"))).collect()
}

#[cfg(test)]
#[path = "alert_tests.rs"]
mod tests;
