//! selfheal's own Prometheus metrics, served at `GET /metrics` (OpenMetrics text, through the
//! official `prometheus-client` crate).
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::fmt::Write as _;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Content type of the OpenMetrics text exposition (Prometheus negotiates it).
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Label: an HTTP status code.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabel {
    pub code: u16,
}

/// Label: an alert status (`firing`, `resolved`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    pub status: &'static str,
}

/// Label: the outcome of an operation (`ok`, `error`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    pub result: &'static str,
}

/// Label: why an episode was decided as it was (`enqueued`, `cooldown`, `breaker_open`, ...).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: &'static str,
}

/// A label value from data (an alert's target, a blast scope): escaped as the exposition
/// format requires. prometheus-client 0.23 writes label values as they are, so one `"` in a
/// target made every scrape of /metrics fail to parse.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct LabelText(pub String);

impl From<String> for LabelText {
    fn from(s: String) -> LabelText {
        LabelText(s)
    }
}

impl EncodeLabelValue for LabelText {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        for c in self.0.chars() {
            match c {
                '\\' => encoder.write_str("\\\\")?,
                '"' => encoder.write_str("\\\"")?,
                '\n' => encoder.write_str("\\n")?,
                c => encoder.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// Label: a maintenance window's name.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WindowLabel {
    pub window: LabelText,
}

/// Labels: a circuit breaker's rule and target.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BreakerLabel {
    pub rule: LabelText,
    pub target: LabelText,
}

/// Label: what a pause covers (`*`: everything, or a rule's name).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ScopeLabel {
    pub scope: LabelText,
}

/// Label: a rule's blast scope (`job="api"`; empty for the whole rule).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BlastLabel {
    pub rule: LabelText,
    pub scope: LabelText,
}

/// Label: what the database was doing when it failed.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OpLabel {
    pub op: &'static str,
}

/// Label: a database table.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TableLabel {
    pub table: &'static str,
}

/// Every metric selfheal exports. Cheap to clone handles; register once at start.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub webhook_requests: Family<CodeLabel, Counter>,
    pub alerts_received: Family<StatusLabel, Counter>,
    pub alerts_duplicate: Counter,
    pub notifications_duplicate: Counter,
    pub alerts_truncated: Counter,
    pub intake_seconds: Histogram,
    pub inbox_batch_size: Histogram,
    pub inbox_checkpoint_seconds: Histogram,
    pub reconcile_polls: Family<ResultLabel, Counter>,
    pub reconcile_recorded: Counter,
    pub db_errors: Family<OpLabel, Counter>,
    pub decisions: Family<ReasonLabel, Counter>,
    pub runs: Family<ResultLabel, Counter>,
    pub verifications: Family<ResultLabel, Counter>,
    pub time_to_heal_seconds: Histogram,
    pub runs_recovered: Counter,
    pub queue_depth: Gauge,
    pub breaker_open: Family<BreakerLabel, Gauge>,
    pub paused: Family<ScopeLabel, Gauge>,
    pub blast_tripped: Family<BlastLabel, Gauge>,
    pub window_open: Family<WindowLabel, Gauge>,
    pub retention_pruned: Family<TableLabel, Counter>,
    pub retention_rounds: Family<ResultLabel, Counter>,
}

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        let mut registry = Registry::with_prefix("selfheal");
        let m = Metrics {
            webhook_requests: Family::default(),
            alerts_received: Family::default(),
            alerts_duplicate: Counter::default(),
            notifications_duplicate: Counter::default(),
            alerts_truncated: Counter::default(),
            // 0.25 ms .. 4 s: intake is sub-millisecond when healthy, seconds when the disk stalls.
            intake_seconds: Histogram::new(exponential_buckets(0.000_25, 2.0, 15)),
            inbox_batch_size: Histogram::new(exponential_buckets(1.0, 2.0, 11)),
            // 0.1 ms .. 1.6 s: a tail copy and two syncs, long only when the disk stalls.
            inbox_checkpoint_seconds: Histogram::new(exponential_buckets(0.000_1, 2.0, 15)),
            reconcile_polls: Family::default(),
            reconcile_recorded: Counter::default(),
            db_errors: Family::default(),
            decisions: Family::default(),
            runs: Family::default(),
            verifications: Family::default(),
            // 0.5 s .. ~68 min: a good heal takes seconds, a slow one minutes.
            time_to_heal_seconds: Histogram::new(exponential_buckets(0.5, 2.0, 14)),
            runs_recovered: Counter::default(),
            queue_depth: Gauge::default(),
            breaker_open: Family::default(),
            paused: Family::default(),
            blast_tripped: Family::default(),
            window_open: Family::default(),
            retention_pruned: Family::default(),
            retention_rounds: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "webhook_requests",
            "Webhook requests by HTTP status code",
            m.webhook_requests.clone(),
        );
        registry.register(
            "alerts_received",
            "Alerts received by webhook, by their status",
            m.alerts_received.clone(),
        );
        registry.register(
            "alerts_duplicate",
            "Alerts delivered again (retries, HA pairs, re-sends) and not counted twice",
            m.alerts_duplicate.clone(),
        );
        registry.register(
            "notifications_duplicate",
            "Notifications whose exact bytes had been stored before",
            m.notifications_duplicate.clone(),
        );
        registry.register(
            "alerts_truncated",
            "Alerts Alertmanager left out of notifications (max_alerts, truncatedAlerts)",
            m.alerts_truncated.clone(),
        );
        registry.register(
            "intake_duration_seconds",
            "Time from request to durable commit (or refusal) of a webhook",
            m.intake_seconds.clone(),
        );
        registry.register(
            "inbox_batch_size",
            "Notifications committed together in one transaction (group commit)",
            m.inbox_batch_size.clone(),
        );
        registry.register(
            "inbox_checkpoint_duration_seconds",
            "Time the inbox writer spent checkpointing the WAL between group commits",
            m.inbox_checkpoint_seconds.clone(),
        );
        registry.register(
            "reconcile_polls",
            "Polls of Alertmanager's API by result",
            m.reconcile_polls.clone(),
        );
        registry.register(
            "reconcile_recorded_alerts",
            "Firing alerts found by polling Alertmanager that no webhook had delivered",
            m.reconcile_recorded.clone(),
        );
        registry.register("db_errors", "Database errors by operation", m.db_errors.clone());
        registry.register("decisions", "Decisions on new alert episodes by reason", m.decisions.clone());
        registry.register("runs", "Finished playbook runs by outcome", m.runs.clone());
        registry.register(
            "verifications",
            "Verification verdicts after successful runs",
            m.verifications.clone(),
        );
        registry.register(
            "time_to_heal_seconds",
            "From the alert's startsAt to the verified heal",
            m.time_to_heal_seconds.clone(),
        );
        registry.register("run_queue_depth", "Runs queued and not yet started", m.queue_depth.clone());
        registry.register(
            "breaker_open",
            "1 while the circuit breaker of (rule, target) is open, 0 once it closed",
            m.breaker_open.clone(),
        );
        registry.register(
            "paused",
            "1 while healing is paused for the scope (`*`: everything, or a rule), 0 once resumed",
            m.paused.clone(),
        );
        registry.register(
            "blast_radius_tripped",
            "1 while a rule's blast radius is tripped for the scope (its heals wait for approval), 0 once reset",
            m.blast_tripped.clone(),
        );
        registry.register(
            "maintenance_window_open",
            "1 while the maintenance window is open (its alerts are decided in_maintenance), 0 once closed",
            m.window_open.clone(),
        );
        registry.register(
            "runs_recovered",
            "Runs found running at start (left by a crash) and marked interrupted",
            m.runs_recovered.clone(),
        );
        registry.register(
            "retention_pruned_rows",
            "Rows deleted by retention, by table",
            m.retention_pruned.clone(),
        );
        registry.register(
            "retention_rounds",
            "Retention rounds by result (ok, partial: stopped at its time budget, error)",
            m.retention_rounds.clone(),
        );
        Arc::new(Metrics { registry, ..m })
    }

    /// Counts a database error during `op`.
    pub fn db_error(&self, op: &'static str) {
        self.db_errors.get_or_create(&OpLabel { op }).inc();
    }

    /// The exposition text.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// `GET /metrics`.
pub async fn serve_metrics(State(metrics): State<Arc<Metrics>>) -> Response {
    match metrics.encode() {
        Ok(body) => ([(header::CONTENT_TYPE, OPENMETRICS)], body).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot encode metrics");
            axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
