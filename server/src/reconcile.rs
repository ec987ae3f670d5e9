//! Reconciliation: poll Alertmanager's `GET /api/v2/alerts` and record firing alerts that no
//! webhook delivered (lost deliveries, the silent re-fire after a restart or a quick flap).
//! Failures are logged and counted, never fatal.
use crate::outgoing::Outgoing;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use app::ssr::alert::{normalise_alert, AlertStatus, WebhookAlert};
use app::ssr::db::inbox::ReconciledAlert;

use crate::intake::{Inbox, InboxError};
use crate::metrics::{Metrics, ResultLabel};

/// Longest a poll may take before it counts as failed.
const POLL_TIMEOUT: Duration = Duration::from_secs(10);

/// One alert as Alertmanager's API v2 lists it (only the fields we use).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GettableAlert {
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    starts_at: String,
    #[serde(default, rename = "generatorURL")]
    generator_url: Option<String>,
    fingerprint: String,
    #[serde(default)]
    receivers: Vec<Receiver>,
}

#[derive(Debug, Deserialize)]
struct Receiver {
    name: String,
}

/// Where and how to poll.
#[derive(Clone, Debug)]
pub struct Reconciler {
    pub client: reqwest::Client,
    /// Alertmanager's base URL, e.g. `http://127.0.0.1:9093`.
    pub base_url: String,
    /// Only alerts routed to this receiver, when set.
    pub receiver: Option<String>,
    /// Stores what was found through the intake path, deciding new episodes as a webhook's.
    pub inbox: Inbox,
    pub metrics: Arc<Metrics>,
}

/// Why a poll failed.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("cannot query Alertmanager: {0}")]
    Http(#[from] reqwest::Error),
    #[error("cannot store: {0}")]
    Store(#[from] InboxError),
}

impl Reconciler {
    /// Polls the Alertmanager at `base_url` (http or https, with `outgoing`'s TLS).
    pub fn new(
        base_url: &str,
        outgoing: &Outgoing,
        receiver: Option<String>,
        inbox: Inbox,
        metrics: Arc<Metrics>,
    ) -> Self {
        let client = outgoing.client(POLL_TIMEOUT);
        Reconciler { client, base_url: base_url.trim_end_matches('/').to_owned(), receiver, inbox, metrics }
    }

    /// Polls every `interval` until `stop` is cancelled.
    pub async fn run(self, interval: Duration, stop: CancellationToken) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = ticker.tick() => {}
            }
            match self.poll_once().await {
                Ok(recorded) => {
                    self.metrics.reconcile_polls.get_or_create(&ResultLabel { result: "ok" }).inc();
                    if recorded > 0 {
                        tracing::warn!(recorded, "reconcile found firing alerts no webhook delivered");
                    }
                }
                Err(e) => {
                    self.metrics.reconcile_polls.get_or_create(&ResultLabel { result: "error" }).inc();
                    if matches!(e, ReconcileError::Store(_)) {
                        self.metrics.db_error("reconcile");
                    }
                    tracing::warn!(error = %e, url = %self.base_url, "reconcile poll failed");
                }
            }
        }
    }

    /// One poll: records every active alert not yet known, in one commit through the inbox
    /// (which decides the new episodes); returns how many were new.
    pub async fn poll_once(&self) -> Result<u64, ReconcileError> {
        let url = format!("{}/api/v2/alerts?active=true&unprocessed=false", self.base_url);
        let alerts: Vec<GettableAlert> =
            self.client.get(&url).send().await?.error_for_status()?.json().await?;
        let mut found = Vec::with_capacity(alerts.len());
        for a in alerts {
            let receiver = a.receivers.first().map(|r| r.name.clone());
            if let Some(want) = &self.receiver {
                if !a.receivers.iter().any(|r| &r.name == want) {
                    continue;
                }
            }
            let alert = WebhookAlert {
                status: AlertStatus::Firing,
                labels: a.labels,
                annotations: a.annotations,
                starts_at: a.starts_at,
                // An active alert's endsAt is only its expiry horizon, not an end.
                ends_at: None,
                generator_url: a.generator_url,
                fingerprint: a.fingerprint,
            };
            match normalise_alert(&alert, "alert") {
                Ok(alert) => found.push(ReconciledAlert { alert, receiver }),
                Err(e) => tracing::warn!(error = %e, "reconcile skipped an alert it cannot read"),
            }
        }
        if found.is_empty() {
            return Ok(0);
        }
        let recorded = self.inbox.reconcile(found).await? as u64;
        self.metrics.reconcile_recorded.inc_by(recorded);
        Ok(recorded)
    }
}
