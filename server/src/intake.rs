//! The inbox writer: one task owns the writes of webhook notifications and commits them in
//! groups (one transaction for whatever arrived meanwhile), then answers each request. A 2xx is
//! sent only after the commit its notification was part of.
use std::sync::Arc;

use sqlx::SqlitePool;
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::task::JoinHandle;

use app::ssr::alert::{AlertStatus, NewAlert};
use app::ssr::db::alerts::{record_notifications, NewNotification, Source, StoredNotification};

use crate::metrics::Metrics;

/// Most notifications committed in one transaction: large enough to amortise the commit,
/// small enough that the first request in a group does not wait long for the last.
const MAX_BATCH: usize = 256;

/// Requests that may wait for the writer before senders feel back-pressure.
const QUEUE_CAPACITY: usize = 4096;

/// A validated notification ready to be stored.
#[derive(Debug)]
pub struct Delivery {
    pub payload_sha256: String,
    pub received_at: String,
    pub source: Source,
    pub receiver: String,
    pub status: AlertStatus,
    pub group_key: String,
    pub external_url: Option<String>,
    pub truncated_alerts: i64,
    pub raw: String,
    pub alerts: Vec<NewAlert>,
}

/// Why a delivery was not stored.
#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("the inbox writer has stopped")]
    Closed,
}

struct Job {
    delivery: Delivery,
    reply: oneshot::Sender<Result<StoredNotification, InboxError>>,
}

/// Handle to the writer task; clone freely.
#[derive(Clone, Debug)]
pub struct Inbox {
    tx: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").field("group_key", &self.delivery.group_key).finish()
    }
}

impl Inbox {
    /// Starts the writer; `committed` is poked after every commit (the engine waits on it).
    /// The writer ends when every `Inbox` handle is dropped.
    pub fn start(pool: SqlitePool, metrics: Arc<Metrics>, committed: Arc<Notify>) -> (Inbox, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let task = tokio::spawn(run_writer(pool, metrics, committed, rx));
        (Inbox { tx }, task)
    }

    /// Stores a delivery durably; returns once it is committed.
    pub async fn store(&self, delivery: Delivery) -> Result<StoredNotification, InboxError> {
        let (reply, answer) = oneshot::channel();
        self.tx.send(Job { delivery, reply }).await.map_err(|_| InboxError::Closed)?;
        answer.await.map_err(|_| InboxError::Closed)?
    }
}

async fn run_writer(
    pool: SqlitePool,
    metrics: Arc<Metrics>,
    committed: Arc<Notify>,
    mut rx: mpsc::Receiver<Job>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        metrics.inbox_batch_size.observe(batch.len() as f64);
        let outcomes = match write_together(&pool, &batch).await {
            Ok(stored) => stored.into_iter().map(Ok).collect(),
            Err(e) => {
                // One bad job must not fail its neighbours: retry each on its own.
                tracing::warn!(error = %e, size = batch.len(), "group commit failed, retrying one by one");
                metrics.db_error("inbox_group_commit");
                let mut outcomes = Vec::with_capacity(batch.len());
                for job in &batch {
                    outcomes.push(
                        write_together(&pool, std::slice::from_ref(job)).await.map(|mut v| v.remove(0)),
                    );
                }
                outcomes
            }
        };
        committed.notify_one();
        for (job, outcome) in batch.drain(..).zip(outcomes) {
            if outcome.is_err() {
                metrics.db_error("inbox_write");
            }
            // The request may have gone (client hung up): the data is stored all the same.
            let _ = job.reply.send(outcome.map_err(InboxError::from));
        }
    }
}

/// Writes the jobs in one transaction; all or nothing.
async fn write_together(pool: &SqlitePool, jobs: &[Job]) -> Result<Vec<StoredNotification>, sqlx::Error> {
    let batch: Vec<_> = jobs
        .iter()
        .map(|job| {
            let d = &job.delivery;
            NewNotification {
                payload_sha256: &d.payload_sha256,
                received_at: &d.received_at,
                source: d.source,
                receiver: &d.receiver,
                status: d.status,
                group_key: &d.group_key,
                external_url: d.external_url.as_deref(),
                truncated_alerts: d.truncated_alerts,
                payload: &d.raw,
                alerts: &d.alerts,
            }
        })
        .collect();
    let mut tx = pool.begin().await?;
    let stored = record_notifications(&mut tx, &batch).await?;
    tx.commit().await?;
    Ok(stored)
}
