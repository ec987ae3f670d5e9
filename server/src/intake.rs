//! The inbox writer: one thread owns a synchronous SQLite connection and the writes of webhook
//! notifications. It commits them in groups (one transaction for whatever arrived meanwhile),
//! then answers each request. A 2xx is sent only after the commit its notification was part of.
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::SqlitePool;
use tokio_util::sync::CancellationToken;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use app::ssr::alert::{AlertStatus, NewAlert};
use app::ssr::db::alerts::{NewNotification, Source, StoredNotification};
use app::ssr::db::inbox::{
    checkpoint_between_commits, decide_leftovers, open_writer, redecide, verdict_of, write_batch,
    write_reconciled, Connection, ReconciledAlert, Written,
};
use app::ssr::db::notifications::StoredBody;
use app::ssr::guards::{answer_guards, AsksGuards};
use app::ssr::heal::blast::LiveKnownTargets;
use app::ssr::heal::guard::GuardAnswers;
use app::ssr::heal::{prejudge, LiveRules, Prejudged, Rule, RuleSet};
use app::ssr::inventory::InventoryHosts;

use crate::engine::Reactions;
use crate::metrics::Metrics;

mod pg;

/// Most notifications committed in one transaction: large enough to amortise the commit,
/// small enough that the first request in a group does not wait long for the last.
const MAX_BATCH: usize = 256;

/// Requests that may wait for the writer before senders feel back-pressure.
const QUEUE_CAPACITY: usize = 4096;

/// How often the WAL is checkpointed into the database file by a task beside the writer. It
/// does the bulk of the copying and syncing without stalling any group commit; the writer then
/// copies only the tail (see [`WalTail`]). Often, so that each sync flushes little: the WAL
/// grows by hundreds of MB/s under a webhook storm.
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// WAL frames beyond which a checkpoint also restarts the WAL. A passive checkpoint never
/// blocks the writer, but under a steady stream of commits it never catches up with the last
/// frame, and SQLite only starts the WAL over once it has; a restart checkpoint waits for the
/// writer's current commit and holds off the next one while it copies what the passive one
/// left (little, it just ran) and syncs. At 4 KiB pages this is about 32 MiB of WAL.
pub const RESTART_AFTER_FRAMES: i64 = 8192;

/// A flag one task raises and another takes (and lowers) when it next looks.
#[derive(Clone, Debug, Default)]
pub struct Flag(Arc<AtomicBool>);

impl Flag {
    pub fn raise(&self) {
        self.0.store(true, Ordering::Release);
    }

    pub fn take(&self) -> bool {
        self.0.swap(false, Ordering::AcqRel)
    }
}

/// Raised by the checkpointer after each pass, taken by the inbox writer: the bulk of the WAL is
/// now in the database file, so the writer's own checkpoint between two group commits
/// ([`checkpoint_between_commits`]) copies a short tail, after which its next commit starts the
/// WAL over. The checkpointer alone never gets there under a steady stream of commits.
pub type WalTail = Flag;

/// Raised by the inbox writer when a commit resolved an alert, taken by the engine: approvals
/// waiting on that alert are cancelled at its next housekeeping, at once.
pub type Resolutions = Flag;

/// Checkpoints the WAL every [`CHECKPOINT_EVERY`] until `stop`, then once more; after each
/// pass, leaves the tail to the writer.
pub async fn run_checkpointer(
    pool: SqlitePool,
    tail: WalTail,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
) {
    loop {
        let stopping = tokio::select! {
            () = stop.cancelled() => true,
            () = tokio::time::sleep(CHECKPOINT_EVERY) => false,
        };
        match app::ssr::db::checkpoint(&pool, RESTART_AFTER_FRAMES).await {
            Ok(_) => tail.raise(),
            Err(e) => {
                metrics.db_error("checkpoint");
                tracing::warn!(error = %e, "WAL checkpoint failed; will retry");
            }
        }
        if stopping {
            return;
        }
    }
}

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
    /// The raw body as stored (`app::ssr::db::notifications::pack`).
    pub raw: StoredBody,
    pub alerts: Vec<NewAlert>,
    /// [`Inbox::prejudge`] of each alert, in order (an alert without one is prejudged by the
    /// writer).
    pub verdicts: Vec<Prejudged>,
    /// The rules the verdicts were made under: a reload since makes the writer judge again
    /// (a verdict names its rule by position in its own rule set).
    pub verdicts_under: Option<Arc<RuleSet>>,
    /// What the verdicts' guards were answered, for verdicts the writer makes again.
    pub guard_answers: GuardAnswers,
}

/// Why a delivery was not stored.
#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    #[error("database error: {0}")]
    Database(#[from] app::ssr::db::inbox::Error),
    #[error("database error: {0}")]
    Postgres(#[from] sqlx::Error),
    #[error("the inbox writer has stopped")]
    Closed,
}

/// Work for the writer.
enum Job {
    /// A webhook delivery, committed with whatever else waits.
    Deliver {
        /// Shared with the request, which drops it last: freeing a storm's bodies and alerts
        /// is the handlers' work, not the single writer's.
        delivery: Arc<Delivery>,
        reply: oneshot::Sender<Result<StoredNotification, InboxError>>,
    },
    /// Alerts reconciliation found: stored unless known, in a commit of their own.
    /// Episodes a maintenance window held, to decide again (no window covers them now).
    Redecide {
        alert_ids: Vec<i64>,
        guard_answers: GuardAnswers,
        reply: oneshot::Sender<Result<usize, InboxError>>,
    },
    Reconcile {
        alerts: Vec<ReconciledAlert>,
        /// Their guards' answers, asked before the writer decides them.
        guard_answers: GuardAnswers,
        reply: oneshot::Sender<Result<usize, InboxError>>,
    },
}

/// Handle to the writer task; clone freely.
#[derive(Clone, Debug)]
pub struct Inbox {
    tx: mpsc::Sender<Job>,
    tail: WalTail,
    resolutions: Resolutions,
    rules: LiveRules,
    hosts: InventoryHosts,
    /// Asks the rules' guards (Prometheus); none: guards go unanswered (`guard_unknown`).
    guards: Option<Arc<dyn AsksGuards>>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Job::Deliver { delivery, .. } => {
                f.debug_struct("Deliver").field("group_key", &delivery.group_key).finish()
            }
            Job::Reconcile { alerts, .. } => {
                f.debug_struct("Reconcile").field("alerts", &alerts.len()).finish()
            }
            Job::Redecide { alert_ids, .. } => {
                f.debug_struct("Redecide").field("alerts", &alert_ids.len()).finish()
            }
        }
    }
}

impl Inbox {
    /// Opens the writer's own connection to the (migrated) database at `database` and starts
    /// the writer thread, which decides every new episode under `rules` in the commit that
    /// stores it (first those an earlier version left undecided) and hands what it decided to
    /// `reactions`; [`Inbox::resolutions`] is raised after a commit that resolved an alert. The
    /// writer ends when every `Inbox` handle is dropped.
    pub fn start(
        database: &Path,
        rules: LiveRules,
        hosts: InventoryHosts,
        known: LiveKnownTargets,
        metrics: Arc<Metrics>,
        reactions: Reactions,
    ) -> Result<(Inbox, JoinHandle<()>), InboxError> {
        let conn = open_writer(database)?;
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let tail = WalTail::default();
        let resolutions = Resolutions::default();
        let writer = Writer {
            rules: rules.clone(),
            hosts: hosts.clone(),
            known,
            metrics,
            reactions,
            tail: tail.clone(),
            resolutions: resolutions.clone(),
        };
        let task = tokio::task::spawn_blocking(move || writer.run(conn, rx));
        Ok((Inbox { tx, tail, resolutions, rules, hosts, guards: None }, task))
    }

    /// The signal the engine takes to cancel approvals of resolved alerts promptly.
    pub fn resolutions(&self) -> Resolutions {
        self.resolutions.clone()
    }

    /// The rules in force now: the ones [`Inbox::prejudge`] is to be given.
    pub fn rules(&self) -> Arc<RuleSet> {
        self.rules.current()
    }

    /// This inbox, its rules' guards asked through `guards`.
    pub fn with_guards(mut self, guards: Option<Arc<dyn AsksGuards>>) -> Inbox {
        self.guards = guards;
        self
    }

    /// What `rules` ([`Inbox::rules`]) make of each alert before history, its guards asked:
    /// call on the request's own task, so the writer only reads history. Returns the verdicts
    /// and the guards' answers.
    pub async fn prejudge(
        &self,
        rules: &RuleSet,
        alerts: &[app::ssr::alert::WebhookAlert],
    ) -> (Vec<Prejudged>, GuardAnswers) {
        // Cached (listed again only after the inventory changed; serve keeps it warm).
        let hosts = self.hosts.current();
        let mut verdicts: Vec<Prejudged> =
            alerts.iter().map(|a| prejudge(rules, &hosts, a.status, &a.labels)).collect();
        let answers = answer_guards(self.guards.as_deref(), &mut verdicts).await;
        (verdicts, answers)
    }

    /// The signal [`run_checkpointer`] gives this inbox's writer.
    pub fn wal_tail(&self) -> WalTail {
        self.tail.clone()
    }

    /// Stores a delivery durably; returns once it is committed.
    pub async fn store(&self, delivery: Delivery) -> Result<StoredNotification, InboxError> {
        let (reply, answer) = oneshot::channel();
        let delivery = Arc::new(delivery);
        let job = Job::Deliver { delivery: delivery.clone(), reply };
        self.tx.send(job).await.map_err(|_| InboxError::Closed)?;
        let stored = answer.await.map_err(|_| InboxError::Closed)?;
        drop(delivery);
        stored
    }

    /// Decides again the held episodes `held` (id, labels as stored) once no maintenance
    /// window covers them, their guards asked first; returns how many were decided.
    pub async fn redecide(&self, held: Vec<(i64, String)>) -> Result<usize, InboxError> {
        let (reply, answer) = oneshot::channel();
        let rules = self.rules();
        let hosts = self.hosts.current();
        let mut verdicts: Vec<Prejudged> =
            held.iter().map(|(_, labels)| verdict_of(&rules, &hosts, AlertStatus::Firing, labels)).collect();
        let guard_answers = answer_guards(self.guards.as_deref(), &mut verdicts).await;
        let alert_ids = held.into_iter().map(|(id, _)| id).collect();
        self.tx
            .send(Job::Redecide { alert_ids, guard_answers, reply })
            .await
            .map_err(|_| InboxError::Closed)?;
        answer.await.map_err(|_| InboxError::Closed)?
    }

    /// Stores the alerts reconciliation found, each unless its episode is known, deciding the
    /// new ones as a delivery's; returns how many were new, once committed.
    pub async fn reconcile(&self, alerts: Vec<ReconciledAlert>) -> Result<usize, InboxError> {
        let (reply, answer) = oneshot::channel();
        // The guards of what the rules make of them now (known episodes included: the writer
        // tells them apart; a storm's alerts share their queries).
        let rules = self.rules();
        let guard_answers = if rules.iter().any(Rule::has_guards) {
            let hosts = self.hosts.current();
            let mut verdicts: Vec<Prejudged> = alerts
                .iter()
                .map(|r| verdict_of(&rules, &hosts, AlertStatus::Firing, &r.alert.labels))
                .collect();
            answer_guards(self.guards.as_deref(), &mut verdicts).await
        } else {
            GuardAnswers::new()
        };
        let job = Job::Reconcile { alerts, guard_answers, reply };
        self.tx.send(job).await.map_err(|_| InboxError::Closed)?;
        answer.await.map_err(|_| InboxError::Closed)?
    }
}

/// The writer thread's state: what it decides with, and whom it tells.
struct Writer {
    rules: LiveRules,
    hosts: InventoryHosts,
    /// The known targets per blast scope, as the server's counter last found them.
    known: LiveKnownTargets,
    metrics: Arc<Metrics>,
    reactions: Reactions,
    /// Taken: the checkpointer asks for the WAL's tail.
    tail: WalTail,
    /// Raised after a commit that resolved an alert.
    resolutions: Resolutions,
}

impl Writer {
    /// The writer thread's loop: first the episodes an earlier version left undecided; then
    /// block for the first job, take whatever else is waiting (up to [`MAX_BATCH`]), commit
    /// the deliveries as one transaction, answer, repeat. Waiting a little for a fuller batch
    /// was measured (200 and 500 µs when fewer than 16 wait) and gained nothing.
    fn run(self, mut conn: Connection, mut rx: mpsc::Receiver<Job>) {
        let rules = self.rules.current();
        match decide_leftovers(&mut conn, &rules, &self.hosts.current(), &self.known.current()) {
            Ok(decided) if !decided.is_empty() => {
                tracing::info!(decided = decided.len(), "decided episodes an earlier version left undecided");
                self.reactions.after_commit(&rules, &decided);
            }
            Ok(_) => {}
            Err(e) => {
                self.metrics.db_error("inbox_leftovers");
                tracing::error!(error = %e, "cannot decide the episodes left undecided; will retry at the next start");
            }
        }
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while rx.blocking_recv_many(&mut batch, MAX_BATCH) > 0 {
            // One rule set per batch: a reload takes effect at the next.
            let rules = self.rules.current();
            let mut deliveries = Vec::with_capacity(batch.len());
            let mut replies = Vec::with_capacity(batch.len());
            let mut reconciles = Vec::new();
            let mut redecides = Vec::new();
            for job in batch.drain(..) {
                match job {
                    Job::Deliver { delivery, reply } => {
                        deliveries.push(delivery);
                        replies.push(reply);
                    }
                    Job::Reconcile { alerts, guard_answers, reply } => {
                        reconciles.push((alerts, guard_answers, reply))
                    }
                    Job::Redecide { alert_ids, guard_answers, reply } => {
                        redecides.push((alert_ids, guard_answers, reply))
                    }
                }
            }
            if !deliveries.is_empty() {
                self.deliver(&mut conn, &rules, deliveries, replies);
            }
            for (alerts, answers, reply) in reconciles {
                let outcome = write_reconciled(
                    &mut conn,
                    &rules,
                    &self.hosts.current(),
                    &alerts,
                    &answers,
                    &self.known.current(),
                );
                if let Ok(decided) = &outcome {
                    self.reactions.after_commit(&rules, decided);
                } else {
                    self.metrics.db_error("inbox_reconcile");
                }
                let _ = reply.send(outcome.map(|d| d.len()).map_err(InboxError::from));
            }
            for (ids, answers, reply) in redecides {
                let known = self.known.current();
                let outcome = redecide(&mut conn, &rules, &self.hosts.current(), &ids, &answers, &known);
                if let Ok(decided) = &outcome {
                    self.reactions.after_commit(&rules, decided);
                } else {
                    self.metrics.db_error("inbox_redecide");
                }
                let _ = reply.send(outcome.map(|d| d.len()).map_err(InboxError::from));
            }
            if self.tail.take() {
                let started = Instant::now();
                if let Err(e) = checkpoint_between_commits(&conn) {
                    self.metrics.db_error("inbox_checkpoint");
                    tracing::warn!(error = %e, "WAL checkpoint by the inbox writer failed; will retry");
                }
                self.metrics.inbox_checkpoint_seconds.observe(started.elapsed().as_secs_f64());
            }
        }
    }

    /// Commits `deliveries` together (or, if that fails, each on its own), reacts to what was
    /// decided, then answers each request.
    fn deliver(
        &self,
        conn: &mut Connection,
        rules: &Arc<RuleSet>,
        deliveries: Vec<Arc<Delivery>>,
        replies: Vec<oneshot::Sender<Result<StoredNotification, InboxError>>>,
    ) {
        self.metrics.inbox_batch_size.observe(deliveries.len() as f64);
        let outcomes: Vec<Result<StoredNotification, app::ssr::db::inbox::Error>> = match write_together(
            conn,
            rules,
            &self.hosts,
            &self.known,
            &deliveries,
        ) {
            Ok(written) => {
                self.reactions.after_commit(rules, &written.decided);
                written.stored.into_iter().map(Ok).collect()
            }
            Err(e) => {
                // One bad job must not fail its neighbours: retry each on its own.
                tracing::warn!(error = %e, size = deliveries.len(), "group commit failed, retrying one by one");
                self.metrics.db_error("inbox_group_commit");
                deliveries
                    .iter()
                    .map(|d| {
                        let mut written =
                            write_together(conn, rules, &self.hosts, &self.known, std::slice::from_ref(d))?;
                        self.reactions.after_commit(rules, &written.decided);
                        Ok(written.stored.remove(0))
                    })
                    .collect()
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
            // Before the answer, so that the waiting request holds the last reference.
            drop(delivery);
            // The request may have gone (client hung up): the data is stored all the same.
            let _ = reply.send(outcome.map_err(InboxError::from));
        }
    }
}

/// Writes the deliveries in one transaction; all or nothing.
fn write_together(
    conn: &mut Connection,
    rules: &Arc<RuleSet>,
    hosts: &InventoryHosts,
    known: &LiveKnownTargets,
    deliveries: &[Arc<Delivery>],
) -> Result<Written, app::ssr::db::inbox::Error> {
    write_batch(conn, rules, hosts, &notifications(rules, deliveries), &known.current())
}

/// The deliveries as the group commit stores them, each with its verdicts when they were made
/// under `rules`.
fn notifications<'d>(rules: &Arc<RuleSet>, deliveries: &'d [Arc<Delivery>]) -> Vec<NewNotification<'d>> {
    deliveries
        .iter()
        .map(|d| NewNotification {
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
            // Made under other rules (a reload came between): the writer judges again.
            verdicts: match &d.verdicts_under {
                Some(set) if Arc::ptr_eq(set, rules) => &d.verdicts,
                _ => &[],
            },
            guard_answers: &d.guard_answers,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(n: usize) -> Delivery {
        let fingerprint = format!("{n:016x}");
        Delivery {
            payload_sha256: format!("sha-{n}"),
            received_at: "2026-11-22T01:25:10.000Z".to_owned(),
            source: Source::Webhook,
            receiver: "heal-webhook".to_owned(),
            status: AlertStatus::Firing,
            group_key: "{}".to_owned(),
            external_url: None,
            truncated_alerts: 0,
            raw: app::ssr::db::notifications::pack(&format!("{{\"n\":{n}}}")).unwrap(),
            verdicts: Vec::new(),
            verdicts_under: None,
            guard_answers: Default::default(),
            alerts: vec![NewAlert {
                fingerprint,
                starts_at: "2026-11-22T01:25:10.341Z".to_owned(),
                status: AlertStatus::Firing,
                alertname: "NginxDown".to_owned(),
                severity: None,
                instance: None,
                labels: "{}".to_owned(),
                annotations: "{}".to_owned(),
                ends_at: None,
                generator_url: None,
            }],
        }
    }

    fn writer_checkpoints(metrics: &Metrics) -> u64 {
        let text = metrics.encode().unwrap();
        text.lines()
            .find(|l| l.starts_with("selfheal_inbox_checkpoint_duration_seconds_count "))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or(0)
    }

    #[tokio::test]
    async fn the_writer_checkpoints_only_after_the_checkpointer_did_the_bulk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("selfheal.db");
        let pool = app::ssr::db::connect(&path).await.unwrap();
        app::ssr::db::migrate(&pool).await.unwrap();
        let metrics = Metrics::new();
        let hosts = InventoryHosts::fixed(Default::default());
        let no_rules = LiveRules::from(Vec::new());
        let reactions = Reactions::new(
            metrics.clone(),
            crate::notify::Notifier::new(
                app::ssr::db::backend::Db::Sqlite(pool.clone()),
                &Default::default(),
            ),
            Arc::default(),
            Default::default(),
        );
        let (inbox, _writer) =
            Inbox::start(&path, no_rules, hosts, Default::default(), metrics.clone(), reactions).unwrap();

        // The writer answers a job before its own checkpoint, and handles jobs one after another:
        // once the answer to a later job arrives, the work after the earlier commit is done.
        inbox.store(delivery(1)).await.unwrap();
        inbox.store(delivery(2)).await.unwrap();
        assert_eq!(writer_checkpoints(&metrics), 0, "no checkpoint inside the writer unasked");

        inbox.wal_tail().raise();
        inbox.store(delivery(3)).await.unwrap();
        inbox.store(delivery(4)).await.unwrap();
        assert_eq!(writer_checkpoints(&metrics), 1, "the tail is taken after the next commit");
        inbox.store(delivery(5)).await.unwrap();
        inbox.store(delivery(6)).await.unwrap();
        assert_eq!(writer_checkpoints(&metrics), 1, "once per pass of the checkpointer");
    }
}
