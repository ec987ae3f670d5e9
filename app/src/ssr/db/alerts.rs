//! The durable inbox: `notifications` (raw, deduplicated by content) and `alerts` (one row per
//! episode, keyed by fingerprint + startsAt).
use sqlx::{FromRow, SqliteConnection, SqliteExecutor};

use crate::model::{AlertFilter, AlertSummary};
use crate::ssr::alert::{AlertStatus, NewAlert};

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

/// A notification about to be stored.
#[derive(Clone, Debug)]
pub struct NewNotification<'a> {
    pub payload_sha256: &'a str,
    pub received_at: &'a str,
    pub source: Source,
    pub receiver: &'a str,
    pub status: AlertStatus,
    pub group_key: &'a str,
    pub external_url: Option<&'a str>,
    pub alert_count: i64,
    pub truncated_alerts: i64,
    pub payload: &'a str,
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
    /// The ids of the alert rows written, in payload order.
    pub alert_ids: Vec<i64>,
}

#[derive(FromRow)]
struct Upserted {
    id: i64,
    deliveries: i64,
    resolved_at: Option<String>,
}

/// Stores a notification and upserts each of its alerts, by its own status, on `conn` (the
/// caller owns the transaction). A resolved episode stays resolved: a late, retried "firing"
/// for the same (fingerprint, startsAt) cannot reopen it.
pub async fn record_notification(
    conn: &mut SqliteConnection,
    n: &NewNotification<'_>,
    alerts: &[NewAlert],
) -> Result<StoredNotification, sqlx::Error> {
    let (notification_id, deliveries): (i64, i64) = sqlx::query_as(
        "INSERT INTO notifications (payload_sha256, received_at, last_received_at, source, receiver, \
         status, group_key, external_url, alert_count, truncated_alerts, payload) \
         VALUES (?1, ?2, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
         ON CONFLICT (payload_sha256) DO UPDATE SET deliveries = deliveries + 1, \
         last_received_at = excluded.last_received_at \
         RETURNING id, deliveries",
    )
    .bind(n.payload_sha256)
    .bind(n.received_at)
    .bind(n.source.as_str())
    .bind(n.receiver)
    .bind(n.status.as_str())
    .bind(n.group_key)
    .bind(n.external_url)
    .bind(n.alert_count)
    .bind(n.truncated_alerts)
    .bind(n.payload)
    .fetch_one(&mut *conn)
    .await?;

    let mut stored = StoredNotification {
        notification_id,
        duplicate_notification: deliveries > 1,
        alert_ids: Vec::with_capacity(alerts.len()),
        ..Default::default()
    };
    for a in alerts {
        let row: Upserted = sqlx::query_as(
            "INSERT INTO alerts (fingerprint, starts_at, status, alertname, severity, instance, labels, \
             annotations, ends_at, generator_url, group_key, receiver, source, first_seen_at, last_seen_at, \
             resolved_at, last_notification_id) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14, \
                     CASE WHEN ?3 = 'resolved' THEN ?14 END, ?15) \
             ON CONFLICT (fingerprint, starts_at) DO UPDATE SET \
               status = CASE WHEN alerts.status = 'resolved' THEN 'resolved' ELSE excluded.status END, \
               ends_at = CASE WHEN alerts.status = 'resolved' THEN alerts.ends_at ELSE excluded.ends_at END, \
               resolved_at = coalesce(alerts.resolved_at, excluded.resolved_at), \
               labels = excluded.labels, annotations = excluded.annotations, \
               generator_url = coalesce(excluded.generator_url, alerts.generator_url), \
               group_key = excluded.group_key, receiver = excluded.receiver, \
               last_seen_at = excluded.last_seen_at, deliveries = alerts.deliveries + 1, \
               last_notification_id = excluded.last_notification_id \
             RETURNING id, deliveries, resolved_at",
        )
        .bind(&a.fingerprint)
        .bind(&a.starts_at)
        .bind(a.status.as_str())
        .bind(&a.alertname)
        .bind(&a.severity)
        .bind(&a.instance)
        .bind(&a.labels)
        .bind(&a.annotations)
        .bind(&a.ends_at)
        .bind(&a.generator_url)
        .bind(n.group_key)
        .bind(n.receiver)
        .bind(n.source.as_str())
        .bind(n.received_at)
        .bind(notification_id)
        .fetch_one(&mut *conn)
        .await?;
        if row.deliveries == 1 {
            stored.new_alerts += 1;
        } else {
            stored.duplicate_alerts += 1;
        }
        if a.status == AlertStatus::Resolved && row.resolved_at.as_deref() == Some(n.received_at) {
            stored.resolved_now += 1;
        }
        stored.alert_ids.push(row.id);
    }
    Ok(stored)
}

/// Records a firing alert found by reconciliation, unless the episode is already known
/// (then nothing changes: reconciliation never counts as a delivery). Returns whether it was new.
pub async fn record_reconciled_alert(
    ex: impl SqliteExecutor<'_>,
    a: &NewAlert,
    receiver: Option<&str>,
    now: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO alerts (fingerprint, starts_at, status, alertname, severity, instance, labels, \
         annotations, ends_at, generator_url, receiver, source, first_seen_at, last_seen_at) \
         VALUES (?, ?, 'firing', ?, ?, ?, ?, ?, NULL, ?, ?, 'reconcile', ?, ?) \
         ON CONFLICT (fingerprint, starts_at) DO NOTHING",
    )
    .bind(&a.fingerprint)
    .bind(&a.starts_at)
    .bind(&a.alertname)
    .bind(&a.severity)
    .bind(&a.instance)
    .bind(&a.labels)
    .bind(&a.annotations)
    .bind(&a.generator_url)
    .bind(receiver)
    .bind(now)
    .bind(now)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Alerts, newest first, filtered, one keyset page (`before` is an alert id).
pub async fn list_alerts(
    ex: impl SqliteExecutor<'_>,
    filter: &AlertFilter,
    limit: i64,
) -> Result<Vec<AlertSummary>, sqlx::Error> {
    sqlx::query_as(
        "SELECT a.id, a.fingerprint, a.alertname, a.status, a.severity, a.instance, a.starts_at, a.ends_at, \
         a.resolved_at, a.source, a.deliveries, a.last_seen_at, a.labels, \
         coalesce(n.truncated_alerts, 0) AS truncated_alerts \
         FROM alerts a LEFT JOIN notifications n ON n.id = a.last_notification_id \
         WHERE a.id < coalesce(?1, 9223372036854775807) \
           AND (?2 IS NULL OR a.status = ?2) \
           AND (?3 IS NULL OR a.alertname = ?3) \
         ORDER BY a.id DESC LIMIT ?4",
    )
    .bind(filter.before)
    .bind(filter.status.as_deref().filter(|s| !s.is_empty()))
    .bind(filter.alertname.as_deref().filter(|s| !s.is_empty()))
    .bind(limit)
    .fetch_all(ex)
    .await
}

#[cfg(test)]
#[path = "alerts_tests.rs"]
mod tests;
