//! The durable inbox: `notifications` (raw, deduplicated by content) and `alerts` (one row per
//! episode, keyed by fingerprint + startsAt).
use super::notifications::StoredBody;
use crate::ssr::alert::{AlertStatus, NewAlert};
use crate::ssr::heal::guard::GuardAnswers;
use crate::ssr::heal::Prejudged;

/// Where an alert or notification came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Delivered to `POST /webhook`.
    Webhook,
    /// Found by polling Alertmanager's API, never delivered by webhook.
    Reconcile,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Webhook => "webhook",
            Source::Reconcile => "reconcile",
        }
    }
}

/// A notification about to be stored, with its validated alerts.
#[derive(Clone, Debug)]
pub struct NewNotification<'a> {
    pub payload_sha256: &'a str,
    pub received_at: &'a str,
    pub source: Source,
    pub receiver: &'a str,
    pub status: AlertStatus,
    pub group_key: &'a str,
    pub external_url: Option<&'a str>,
    pub truncated_alerts: i64,
    /// The raw body as stored ([`super::notifications::pack`]).
    pub payload: &'a StoredBody,
    pub alerts: &'a [NewAlert],
    /// What the rules say about each alert without history, in the order of `alerts`; the
    /// inbox writer decides new episodes with them in the commit that stores them. An alert
    /// without one is prejudged by the writer.
    pub verdicts: &'a [Prejudged],
    /// The answers the verdicts' guards were given, for verdicts the writer makes again (the
    /// rules were reloaded since): the same query asked moments ago.
    pub guard_answers: &'a GuardAnswers,
}

/// What storing one notification did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoredNotification {
    pub notification_id: i64,
    /// The same bytes had been stored before.
    pub duplicate_notification: bool,
    /// Alerts seen for the first time.
    pub new_alerts: u64,
    /// Alerts already stored (retries, HA pairs, repeat_interval re-sends).
    pub duplicate_alerts: u64,
    /// Alerts that moved from firing to resolved with this notification.
    pub resolved_now: u64,
}

/// The columns of an [`AlertSummary`](crate::model::AlertSummary), from `alerts a` joined to
/// its last notification `n` and its latest run `r` (one lookup on `heal_runs_alert`), or else
/// the run its latest decision names (the run in flight that covered it).
pub const ALERT_SUMMARY_FROM: &str =
    "SELECT a.id, a.fingerprint, a.alertname, a.status, a.severity, a.instance, a.starts_at, a.ends_at, \
     a.resolved_at, a.source, a.deliveries, a.last_seen_at, a.labels, \
     coalesce(n.truncated_alerts, 0) AS truncated_alerts, \
     (SELECT reason FROM decisions d WHERE d.alert_id = a.id ORDER BY d.id DESC LIMIT 1) AS decision, \
     r.id AS run_id, r.status AS run_status, r.verification AS run_verification, \
     r.time_to_heal_ms AS run_time_to_heal_ms \
     FROM alerts a LEFT JOIN notifications n ON n.id = a.last_notification_id \
     LEFT JOIN heal_runs r ON r.id = coalesce((SELECT max(id) FROM heal_runs WHERE alert_id = a.id), \
         (SELECT run_id FROM decisions d WHERE d.alert_id = a.id ORDER BY d.id DESC LIMIT 1))";

/// The labels of the `limit` most recent alerts (the catalog's targets to pick); an unreadable
/// row is skipped.
pub async fn recent_labels<'c>(
    ex: impl Into<super::backend::Ex<'c>>,
    limit: i64,
) -> Result<Vec<std::collections::BTreeMap<String, String>>, sqlx::Error> {
    let rows: Vec<String> = super::backend::on_backend!(ex, |e| sqlx::query_scalar(
        "SELECT labels FROM alerts ORDER BY id DESC LIMIT $1"
    )
    .bind(limit)
    .fetch_all(e)
    .await)?;
    Ok(rows.iter().filter_map(|l| serde_json::from_str(l).ok()).collect())
}
