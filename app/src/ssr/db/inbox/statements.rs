//! The inbox's multi-row statements: their SQL in a few fixed shapes (so prepared statements
//! stay cached), how a batch splits into them, and binding values in order.
use std::sync::OnceLock;

use rusqlite::types::ToSql;
use rusqlite::Statement;

/// Most rows in one INSERT. One statement per row would copy every page it touches into a
/// statement journal (each upsert may have to undo itself alone), so a group commit of
/// thousands of alerts would copy the same few index pages thousands of times; multi-row
/// statements copy them once per statement. 64 alert rows bind 1,152 values, far below
/// SQLite's 32,766 limit, and larger statements gain nothing measurable.
pub(super) const ROWS_PER_STATEMENT: usize = 64;

/// Statement sizes are powers of two up to [`ROWS_PER_STATEMENT`]: seven shapes per table.
pub(super) const SHAPES: usize = ROWS_PER_STATEMENT.trailing_zeros() as usize + 1;

pub(super) const NOTIFICATION_COLUMNS: &str =
    "INSERT INTO notifications (newest_starts_at, payload_sha256, received_at, last_received_at, \
     source, receiver, status, group_key, external_url, alert_count, truncated_alerts, payload, \
     payload_encoding) VALUES ";
pub(super) const NOTIFICATION_ROW: &str = "(?,?,?,?,?,?,?,?,?,?,?,?,?)";
pub(super) const NOTIFICATION_CONFLICT: &str =
    " ON CONFLICT (newest_starts_at, payload_sha256) DO UPDATE SET deliveries = notifications.deliveries + 1, \
     last_received_at = excluded.last_received_at RETURNING payload_sha256, id, deliveries";

pub(super) const ALERT_COLUMNS: &str =
    "INSERT INTO alerts (fingerprint, starts_at, status, alertname, severity, \
     instance, labels, annotations, ends_at, generator_url, group_key, receiver, source, first_seen_at, \
     last_seen_at, resolved_at, last_notification_id, decided_at) VALUES ";
pub(super) const ALERT_ROW: &str = "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
pub(super) const ALERT_CONFLICT: &str = " ON CONFLICT (fingerprint, starts_at) DO UPDATE SET \
       status = CASE WHEN alerts.status = 'resolved' THEN 'resolved' ELSE excluded.status END, \
       ends_at = CASE WHEN alerts.status = 'resolved' THEN alerts.ends_at ELSE excluded.ends_at END, \
       resolved_at = coalesce(alerts.resolved_at, excluded.resolved_at), \
       labels = excluded.labels, annotations = excluded.annotations, \
       generator_url = coalesce(excluded.generator_url, alerts.generator_url), \
       group_key = excluded.group_key, receiver = excluded.receiver, \
       last_seen_at = excluded.last_seen_at, deliveries = alerts.deliveries + 1, \
       last_notification_id = excluded.last_notification_id \
     RETURNING fingerprint, starts_at, deliveries, resolved_at, id";

/// One alert found by reconciliation: inserted unless its episode is known (never a delivery);
/// returns its id when inserted. Parameters: fingerprint, startsAt, alertname, severity,
/// instance, labels, annotations, generatorURL, receiver, first and last seen, decided at.
pub(super) const RECONCILED_ALERT_SQL: &str =
    "INSERT INTO alerts (fingerprint, starts_at, status, alertname, severity, instance, labels, \
     annotations, ends_at, generator_url, receiver, source, first_seen_at, last_seen_at, decided_at) \
     VALUES (?, ?, 'firing', ?, ?, ?, ?, ?, NULL, ?, ?, 'reconcile', ?, ?, ?) \
     ON CONFLICT (fingerprint, starts_at) DO NOTHING RETURNING id";

pub(super) const DECISION_COLUMNS: &str =
    "INSERT INTO decisions (alert_id, at, rule, outcome, reason, detail, run_id, rules_hash) VALUES ";
pub(super) const DECISION_ROW: &str = "(?,?,?,?,?,?,?,?)";

pub(super) const AUDIT_COLUMNS: &str =
    "INSERT INTO audit_events (actor, action, target, detail, source) VALUES ";
pub(super) const AUDIT_ROW: &str = "(?,?,?,?,?)";

/// The SQL of a `rows`-row statement (a power of two), built once per shape.
pub(super) fn statement_sql(
    cache: &'static OnceLock<[String; SHAPES]>,
    head: &str,
    row: &str,
    tail: &str,
    rows: usize,
) -> &'static str {
    let shapes = cache.get_or_init(|| {
        std::array::from_fn(|shape| {
            let values = vec![row; 1 << shape].join(",");
            format!("{head}{values}{tail}")
        })
    });
    &shapes[rows.trailing_zeros() as usize]
}

pub(super) static NOTIFICATION_SQL: OnceLock<[String; SHAPES]> = OnceLock::new();
pub(super) static ALERT_SQL: OnceLock<[String; SHAPES]> = OnceLock::new();
pub(super) static DECISION_SQL: OnceLock<[String; SHAPES]> = OnceLock::new();
pub(super) static AUDIT_SQL: OnceLock<[String; SHAPES]> = OnceLock::new();

/// Splits `n` rows into statement sizes: full chunks, then the remainder in powers of two.
pub(super) fn chunk_sizes(n: usize) -> impl Iterator<Item = usize> {
    let full = std::iter::repeat_n(ROWS_PER_STATEMENT, n / ROWS_PER_STATEMENT);
    let rem = n % ROWS_PER_STATEMENT;
    let bits = (0..usize::BITS).rev().map(|b| 1usize << b).filter(move |size| rem & size != 0);
    full.chain(bits)
}

/// Binds `values` in order to the next parameters of `stmt`, starting after `*at`.
pub(super) fn bind_all(
    stmt: &mut Statement<'_>,
    at: &mut usize,
    values: &[&dyn ToSql],
) -> rusqlite::Result<()> {
    for v in values {
        *at += 1;
        stmt.raw_bind_parameter(*at, v)?;
    }
    Ok(())
}
