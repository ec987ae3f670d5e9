//! The durable inbox: `notifications` (raw, deduplicated by content) and `alerts` (one row per
//! episode, keyed by fingerprint + startsAt).
use std::collections::BTreeMap;

use sqlx::{QueryBuilder, SqliteConnection, SqliteExecutor};

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
    pub payload: &'a str,
    pub alerts: &'a [NewAlert],
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

/// Stores a batch of notifications and upserts each of their alerts, by its own status, on
/// `conn` (the caller owns the transaction). Rows go in multi-row statements of up to
/// [`ROWS_PER_STATEMENT`] (so a batch costs a few statements, not one per alert), in a handful
/// of fixed sizes so their prepared statements stay cached. A resolved episode stays resolved:
/// a late, retried "firing" for the same (fingerprint, startsAt) cannot reopen it.
pub async fn record_notifications(
    conn: &mut SqliteConnection,
    batch: &[NewNotification<'_>],
) -> Result<Vec<StoredNotification>, sqlx::Error> {
    let mut returned: Vec<(String, i64, i64)> = Vec::with_capacity(batch.len());
    let mut rest = batch;
    for size in chunk_sizes(batch.len()) {
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        let mut q = QueryBuilder::new(
            "INSERT INTO notifications (payload_sha256, received_at, last_received_at, source, receiver, \
             status, group_key, external_url, alert_count, truncated_alerts, payload) ",
        );
        q.push_values(chunk, |mut row, n| {
            row.push_bind(n.payload_sha256)
                .push_bind(n.received_at)
                .push_bind(n.received_at)
                .push_bind(n.source.as_str())
                .push_bind(n.receiver)
                .push_bind(n.status.as_str())
                .push_bind(n.group_key)
                .push_bind(n.external_url)
                .push_bind(n.alerts.len() as i64)
                .push_bind(n.truncated_alerts)
                .push_bind(n.payload);
        });
        q.push(
            " ON CONFLICT (payload_sha256) DO UPDATE SET deliveries = deliveries + 1, \
             last_received_at = excluded.last_received_at RETURNING payload_sha256, id, deliveries",
        );
        returned.extend(q.build_query_as::<(String, i64, i64)>().fetch_all(&mut *conn).await?);
    }
    // Match returned rows to notifications by hash; the same bytes twice in one batch come
    // back with increasing delivery counts, in batch order.
    let mut by_sha = group_sorted(returned.into_iter().map(|(sha, id, d)| (sha, (d, id))));
    let mut stored = Vec::with_capacity(batch.len());
    for n in batch {
        let (deliveries, id) = by_sha
            .get_mut(n.payload_sha256)
            .and_then(Vec::pop)
            .ok_or_else(|| sqlx::Error::Protocol("a notification row was not returned".into()))?;
        stored.push(StoredNotification {
            notification_id: id,
            duplicate_notification: deliveries > 1,
            ..Default::default()
        });
    }

    let alerts: Vec<(&NewNotification<'_>, i64, &NewAlert)> = batch
        .iter()
        .zip(&stored)
        .flat_map(|(n, s)| n.alerts.iter().map(move |a| (n, s.notification_id, a)))
        .collect();
    let mut returned: Vec<(String, String, i64, Option<String>)> = Vec::with_capacity(alerts.len());
    let mut rest = alerts.as_slice();
    for size in chunk_sizes(alerts.len()) {
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        let mut q = QueryBuilder::new(
            "INSERT INTO alerts (fingerprint, starts_at, status, alertname, severity, instance, labels, \
             annotations, ends_at, generator_url, group_key, receiver, source, first_seen_at, last_seen_at, \
             resolved_at, last_notification_id) ",
        );
        q.push_values(chunk, |mut row, (n, nid, a)| {
            let resolved_at = (a.status == AlertStatus::Resolved).then_some(n.received_at);
            row.push_bind(a.fingerprint.as_str())
                .push_bind(a.starts_at.as_str())
                .push_bind(a.status.as_str())
                .push_bind(a.alertname.as_str())
                .push_bind(a.severity.as_deref())
                .push_bind(a.instance.as_deref())
                .push_bind(a.labels.as_str())
                .push_bind(a.annotations.as_str())
                .push_bind(a.ends_at.as_deref())
                .push_bind(a.generator_url.as_deref())
                .push_bind(n.group_key)
                .push_bind(n.receiver)
                .push_bind(n.source.as_str())
                .push_bind(n.received_at)
                .push_bind(n.received_at)
                .push_bind(resolved_at)
                .push_bind(*nid);
        });
        q.push(
            " ON CONFLICT (fingerprint, starts_at) DO UPDATE SET \
               status = CASE WHEN alerts.status = 'resolved' THEN 'resolved' ELSE excluded.status END, \
               ends_at = CASE WHEN alerts.status = 'resolved' THEN alerts.ends_at ELSE excluded.ends_at END, \
               resolved_at = coalesce(alerts.resolved_at, excluded.resolved_at), \
               labels = excluded.labels, annotations = excluded.annotations, \
               generator_url = coalesce(excluded.generator_url, alerts.generator_url), \
               group_key = excluded.group_key, receiver = excluded.receiver, \
               last_seen_at = excluded.last_seen_at, deliveries = alerts.deliveries + 1, \
               last_notification_id = excluded.last_notification_id \
             RETURNING fingerprint, starts_at, deliveries, resolved_at",
        );
        returned
            .extend(q.build_query_as::<(String, String, i64, Option<String>)>().fetch_all(&mut *conn).await?);
    }
    // The same episode twice in one batch comes back with increasing delivery counts.
    let mut by_key = group_sorted(returned.into_iter().map(|(fp, sa, d, r)| ((fp, sa), (d, r))));
    for (n, s) in batch.iter().zip(stored.iter_mut()) {
        for a in n.alerts {
            let (deliveries, resolved_at) = by_key
                .get_mut(&(a.fingerprint.clone(), a.starts_at.clone()))
                .and_then(Vec::pop)
                .ok_or_else(|| sqlx::Error::Protocol("an alert row was not returned".into()))?;
            if deliveries == 1 {
                s.new_alerts += 1;
            } else {
                s.duplicate_alerts += 1;
            }
            if a.status == AlertStatus::Resolved && resolved_at.as_deref() == Some(n.received_at) {
                s.resolved_now += 1;
            }
        }
    }
    Ok(stored)
}

/// Most rows in one INSERT: 64 alert rows bind 1,088 values, far below SQLite's 32,766 limit,
/// and larger statements gain nothing measurable.
const ROWS_PER_STATEMENT: usize = 64;

/// Splits `n` rows into statement sizes: full chunks, then the remainder in powers of two, so
/// at most seven distinct statement shapes exist per table.
fn chunk_sizes(n: usize) -> impl Iterator<Item = usize> {
    let full = std::iter::repeat_n(ROWS_PER_STATEMENT, n / ROWS_PER_STATEMENT);
    let rem = n % ROWS_PER_STATEMENT;
    let bits = (0..usize::BITS).rev().map(|b| 1usize << b).filter(move |size| rem & size != 0);
    full.chain(bits)
}

/// Groups `(key, (order, value))` pairs by key, each group sorted by `order` descending, so
/// that popping yields the lowest order first.
fn group_sorted<K: Ord, O: Ord, V>(items: impl Iterator<Item = (K, (O, V))>) -> BTreeMap<K, Vec<(O, V)>> {
    let mut map: BTreeMap<K, Vec<(O, V)>> = BTreeMap::new();
    for (k, v) in items {
        map.entry(k).or_default().push(v);
    }
    for group in map.values_mut() {
        group.sort_by(|a, b| b.0.cmp(&a.0));
    }
    map
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
         coalesce(n.truncated_alerts, 0) AS truncated_alerts, \
         (SELECT reason FROM decisions d WHERE d.alert_id = a.id ORDER BY d.id DESC LIMIT 1) AS decision \
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
