//! The inbox writer on PostgreSQL: the same jobs as the SQLite writer thread (group commits of
//! deliveries, reconciled alerts, held episodes decided again), on an async task over a pool.
//! Each replica runs its own; the database makes their commits agree (`write_batch_pg`).
use std::sync::Arc;

use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use app::ssr::db::alerts::StoredNotification;
use app::ssr::db::inbox::{decide_leftovers_pg, redecide_pg, write_batch_pg, write_reconciled_pg, Written};
use app::ssr::heal::blast::LiveKnownTargets;
use app::ssr::heal::{LiveRules, RuleSet};
use app::ssr::inventory::InventoryHosts;

use super::{
    notifications, Delivery, Inbox, InboxError, Job, Resolutions, WalTail, MAX_BATCH, QUEUE_CAPACITY,
};
use crate::engine::Reactions;
use crate::metrics::Metrics;

impl Inbox {
    /// Starts the PostgreSQL writer over `pool` (migrated): as [`Inbox::start`], on a task.
    pub fn start_pg(
        pool: PgPool,
        rules: LiveRules,
        hosts: InventoryHosts,
        known: LiveKnownTargets,
        metrics: Arc<Metrics>,
        reactions: Reactions,
    ) -> (Inbox, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let resolutions = Resolutions::default();
        let writer = PgWriter {
            pool,
            rules: rules.clone(),
            hosts: hosts.clone(),
            known,
            metrics,
            reactions,
            resolutions: resolutions.clone(),
        };
        let task = tokio::spawn(writer.run(rx));
        // No WAL on PostgreSQL: the tail flag is never raised.
        (Inbox { tx, tail: WalTail::default(), resolutions, rules, hosts, guards: None }, task)
    }
}

/// The PostgreSQL writer's state: what it decides with, and whom it tells.
struct PgWriter {
    pool: PgPool,
    rules: LiveRules,
    hosts: InventoryHosts,
    known: LiveKnownTargets,
    metrics: Arc<Metrics>,
    reactions: Reactions,
    resolutions: Resolutions,
}

impl PgWriter {
    /// As the SQLite writer's loop: leftovers first, then whatever waits, in groups.
    async fn run(self, mut rx: mpsc::Receiver<Job>) {
        let rules = self.rules.current();
        match decide_leftovers_pg(&self.pool, &rules, &self.hosts.current(), &self.known.current()).await {
            Ok(decided) if !decided.is_empty() => {
                tracing::info!(decided = decided.len(), "decided episodes left undecided");
                self.reactions.after_commit(&rules, &decided);
            }
            Ok(_) => {}
            Err(e) => {
                self.metrics.db_error("inbox_leftovers");
                tracing::error!(error = %e, "cannot decide the episodes left undecided; will retry at the next start");
            }
        }
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
            let rules = self.rules.current();
            let mut deliveries = Vec::with_capacity(batch.len());
            let mut replies = Vec::with_capacity(batch.len());
            for job in batch.drain(..) {
                match job {
                    Job::Deliver { delivery, reply } => {
                        deliveries.push(delivery);
                        replies.push(reply);
                    }
                    Job::Reconcile { alerts, guard_answers, reply } => {
                        let (hosts, known) = (self.hosts.current(), self.known.current());
                        let outcome =
                            write_reconciled_pg(&self.pool, &rules, &hosts, &alerts, &guard_answers, &known)
                                .await;
                        self.answer(&rules, outcome, "inbox_reconcile", reply);
                    }
                    Job::Redecide { alert_ids, guard_answers, reply } => {
                        let (hosts, known) = (self.hosts.current(), self.known.current());
                        let outcome =
                            redecide_pg(&self.pool, &rules, &hosts, &alert_ids, &guard_answers, &known).await;
                        self.answer(&rules, outcome, "inbox_redecide", reply);
                    }
                }
            }
            if !deliveries.is_empty() {
                self.deliver(&rules, deliveries, replies).await;
            }
        }
    }

    /// Reacts to a reconciliation's or a re-decision's commit and answers its caller.
    fn answer(
        &self,
        rules: &Arc<RuleSet>,
        outcome: Result<Vec<app::ssr::db::inbox::Decided>, sqlx::Error>,
        what: &'static str,
        reply: oneshot::Sender<Result<usize, InboxError>>,
    ) {
        match &outcome {
            Ok(decided) => self.reactions.after_commit(rules, decided),
            Err(_) => self.metrics.db_error(what),
        }
        let _ = reply.send(outcome.map(|d| d.len()).map_err(InboxError::from));
    }

    /// Commits `deliveries` together (or, if that fails, each on its own), reacts, answers.
    async fn deliver(
        &self,
        rules: &Arc<RuleSet>,
        deliveries: Vec<Arc<Delivery>>,
        replies: Vec<oneshot::Sender<Result<StoredNotification, InboxError>>>,
    ) {
        self.metrics.inbox_batch_size.observe(deliveries.len() as f64);
        let outcomes: Vec<Result<StoredNotification, sqlx::Error>> = match self
            .write(rules, &deliveries)
            .await
        {
            Ok(written) => {
                self.reactions.after_commit(rules, &written.decided);
                written.stored.into_iter().map(Ok).collect()
            }
            Err(e) if unreachable(&e) => {
                // PostgreSQL cannot be reached: every delivery gets its 503 now (Alertmanager
                // retries), rather than each waiting for a connection in turn.
                tracing::error!(error = %e, size = deliveries.len(), "the database cannot be reached; refusing the batch");
                self.metrics.db_error("inbox_group_commit");
                deliveries.iter().map(|_| Err(copy_unreachable(&e))).collect()
            }
            Err(e) => {
                // One bad job must not fail its neighbours: retry each on its own.
                tracing::warn!(error = %e, size = deliveries.len(), "group commit failed, retrying one by one");
                self.metrics.db_error("inbox_group_commit");
                let mut outcomes = Vec::with_capacity(deliveries.len());
                for d in &deliveries {
                    outcomes.push(match self.write(rules, std::slice::from_ref(d)).await {
                        Ok(mut written) => {
                            self.reactions.after_commit(rules, &written.decided);
                            Ok(written.stored.remove(0))
                        }
                        Err(e) => Err(e),
                    });
                }
                outcomes
            }
        };
        if outcomes.iter().any(|o| o.as_ref().is_ok_and(|s| s.resolved_now > 0)) {
            self.resolutions.raise();
            self.reactions.housekeeping_due();
        }
        for ((delivery, reply), outcome) in deliveries.into_iter().zip(replies).zip(outcomes) {
            if outcome.is_err() {
                self.metrics.db_error("inbox_write");
            }
            drop(delivery);
            let _ = reply.send(outcome.map_err(InboxError::from));
        }
    }

    async fn write(
        &self,
        rules: &Arc<RuleSet>,
        deliveries: &[Arc<Delivery>],
    ) -> Result<Written, sqlx::Error> {
        let batch = notifications(rules, deliveries);
        write_batch_pg(&self.pool, rules, &self.hosts, &batch, &self.known.current()).await
    }
}

/// Whether `e` says PostgreSQL could not be reached (no connection within the pool's timeout,
/// or the connection broke), rather than that this batch was at fault.
fn unreachable(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed)
}

/// The same failure, once per delivery (`sqlx::Error` is not `Clone`).
fn copy_unreachable(e: &sqlx::Error) -> sqlx::Error {
    match e {
        sqlx::Error::PoolClosed => sqlx::Error::PoolClosed,
        sqlx::Error::Io(io) => sqlx::Error::Io(std::io::Error::new(io.kind(), io.to_string())),
        _ => sqlx::Error::PoolTimedOut,
    }
}
