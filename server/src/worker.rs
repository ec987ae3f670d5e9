//! The worker: takes queued runs from SQLite (woken by the engine, polling as a fallback),
//! runs them under a global concurrency limit, stores their output as it comes, then hands
//! the verification to the verifier (its own stage) and frees the slot.
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use app::ssr::db::backend::Db;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use app::model::{RunMode, RunStatus, Topic, Verification};
use app::ssr::alert::now_utc;
use app::ssr::changes::{Changes, Stamp};
use app::ssr::db::outbound;
use app::ssr::db::runs::{self, ClaimedRun, FinishedRun};
use app::ssr::heal::{LiveRules, Rule};

mod output;

pub use output::Redactor;
use output::{store_output, FLUSH_LINES};

use crate::ansible::{self, Ending, PlaybookRun};
use crate::metrics::{Metrics, ResultLabel};
use crate::notify::{Event, Notifier};
use crate::silence::Silencer;
use crate::verifier::Verifier;

/// Fallback poll of the queue when no wake-up arrives.
const POLL_EVERY: Duration = Duration::from_secs(2);

/// How the worker starts playbooks.
#[derive(Clone, Debug)]
pub struct WorkerSettings {
    pub ansible_dir: PathBuf,
    pub inventory: PathBuf,
    pub command: PathBuf,
    pub python_interpreter: String,
    pub max_output_lines: u32,
    /// Per-run folders (extra-vars files) live here.
    pub work_root: PathBuf,
    pub concurrency: usize,
    /// How long running playbooks may go on after a stop was asked for.
    pub shutdown_grace: Duration,
    /// Secret values kept out of stored output.
    pub redactor: Redactor,
}

/// Takes and executes queued runs.
#[derive(Clone, Debug)]
pub struct Worker {
    pool: Db,
    settings: Arc<WorkerSettings>,
    rules: LiveRules,
    /// Takes each run the worker ends with its verification pending.
    verifier: Verifier,
    metrics: Arc<Metrics>,
    /// Told of the runs it starts, their output and their ends; it wakes on queued runs and
    /// ended pauses (and on its own news, which costs one empty claim).
    changes: Changes,
    /// Cancelled at shutdown: no new runs start; running ones get `settings.shutdown_grace`.
    stop: CancellationToken,
    /// Cancelled when the grace period is over: running playbooks are killed.
    kill: CancellationToken,
    notifier: Notifier,
    /// Alertmanager, for silences while runs are in flight (rules with `silence = true`): the
    /// verifier's, which expires them.
    silencer: Option<Silencer>,
}

impl Worker {
    /// A worker running `rules`' playbooks as `settings` say, woken by `changes` to the queue,
    /// handing finished runs to `verifier`, until `stop`.
    pub fn new(
        pool: Db,
        settings: WorkerSettings,
        rules: LiveRules,
        verifier: Verifier,
        metrics: Arc<Metrics>,
        changes: Changes,
        stop: CancellationToken,
    ) -> Worker {
        Worker {
            notifier: verifier.notifier().clone(),
            silencer: verifier.silencer().cloned(),
            pool,
            settings: Arc::new(settings),
            rules,
            verifier,
            metrics,
            changes,
            stop,
            kill: CancellationToken::new(),
        }
    }

    /// The verification stage this worker hands finished runs to.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// The same worker handing finished runs to `verifier`.
    pub fn with_verifier(self, verifier: Verifier) -> Worker {
        Worker { verifier, ..self }
    }

    /// Runs until `stop`; at most `concurrency` playbooks at once.
    pub async fn run(self) {
        let permits = Arc::new(Semaphore::new(self.settings.concurrency));
        let mut running = JoinSet::new();
        let mut news = self.changes.subscribe();
        let mut seen = *news.borrow_and_update();
        loop {
            while let Ok(permit) = permits.clone().try_acquire_owned() {
                match runs::claim_next_run(&self.pool, &now_utc(), crate::replica::id()).await {
                    Ok(Some(run)) => {
                        let worker = self.clone();
                        running.spawn(async move {
                            worker.execute(run).await;
                            drop(permit);
                        });
                    }
                    Ok(None) => break,
                    Err(e) => {
                        self.metrics.db_error("claim_run");
                        tracing::error!(error = %e, "cannot claim a run");
                        break;
                    }
                }
            }
            tokio::select! {
                () = self.stop.cancelled() => break,
                () = queue_changed(&mut news, &mut seen) => {}
                Some(_) = running.join_next() => {}
                () = tokio::time::sleep(POLL_EVERY) => {}
            }
        }
        let drain = async { while running.join_next().await.is_some() {} };
        if tokio::time::timeout(self.settings.shutdown_grace, drain).await.is_err() {
            tracing::warn!("shutdown grace period over: killing running playbooks");
            self.kill.cancel();
            while running.join_next().await.is_some() {}
        }
    }

    /// Takes one queued run and executes it to the end, then lets the verifier verify the
    /// oldest pending run (this one, when nothing else waits). For tests and for callers that
    /// want to drive the queue step by step.
    pub async fn run_once(&self) -> Result<Option<i64>, sqlx::Error> {
        let Some(run) = runs::claim_next_run(&self.pool, &now_utc(), crate::replica::id()).await? else {
            return Ok(None);
        };
        let id = run.id;
        self.execute(run).await;
        self.verifier.run_once().await?;
        Ok(Some(id))
    }

    async fn execute(&self, run: ClaimedRun) {
        self.changes.touch(&[Topic::Runs, Topic::Alerts]);
        let span = tracing::info_span!("run", run.id = run.id, rule = %run.rule, target = %run.target);
        self.execute_inner(run).instrument(span).await;
    }

    async fn execute_inner(&self, run: ClaimedRun) {
        tracing::info!(playbook = %run.playbook, "run started");
        let rule = self.rules.current().iter().find(|r| r.name() == run.rule).cloned();
        let silence_id = self.silence(&run, rule.as_ref()).await;
        let (status, verifying) = self.play(&run).await;
        if verifying {
            // The verifier takes it from here: the verdict, then the silence and the notification.
            self.verifier.wake();
            return;
        }
        if let (Some(id), Some(s)) = (&silence_id, &self.silencer) {
            match s.expire(id).await {
                Ok(()) => tracing::info!(silence.id = %id, "silence expired"),
                Err(e) => tracing::warn!(error = %e, "cannot expire the silence"),
            }
        }
        if let Some(rule) = &rule {
            let event = Event::run_ended(run.id, &run.rule, &run.target, status, None);
            self.notifier.spawn(&rule.config.notify, event);
        }
    }

    /// Silences the alert on this target while the run is in flight, if the rule asks.
    async fn silence(&self, run: &ClaimedRun, rule: Option<&Rule>) -> Option<String> {
        let (rule, silencer, alert_id) = (rule?, self.silencer.as_ref()?, run.alert_id?);
        if !rule.config.silence {
            return None;
        }
        let alertname = outbound::alert_name(&self.pool, alert_id).await.ok().flatten()?;
        let lasting = rule.config.timeout + rule.config.verify_within + Duration::from_secs(60);
        match silencer.silence(&alertname, &rule.config.target_label, &run.target, lasting, run.id).await {
            Ok(id) => {
                tracing::info!(silence.id = %id, "alert silenced while the run is in flight");
                let _ = outbound::set_run_silence(&self.pool, run.id, Some(&id)).await;
                Some(id)
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot silence the alert; healing anyway");
                None
            }
        }
    }

    /// Runs the playbook and stores how it ended; returns the status and whether its
    /// verification is pending.
    async fn play(&self, run: &ClaimedRun) -> (RunStatus, bool) {
        let run = run.clone();
        // Stored by the queue from a checked plan; if they cannot be read back, the run fails
        // saying so rather than running the playbook without them.
        let (extra_vars, unreadable) = match serde_json::from_str::<BTreeMap<String, String>>(&run.extra_vars)
        {
            Ok(vars) => (vars, None),
            Err(e) => (BTreeMap::new(), Some(format!("the run's stored extra vars cannot be read: {e}"))),
        };
        let work_dir = self.settings.work_root.join(format!("run-{}", run.id));
        let spec = PlaybookRun {
            command: self.settings.command.clone(),
            playbook: self.settings.ansible_dir.join(&run.playbook),
            inventory: self.settings.inventory.clone(),
            limit: run.limit_host.clone(),
            extra_vars,
            check: run.mode == RunMode::DryRun,
            timeout: Duration::from_millis(u64::try_from(run.timeout_ms).unwrap_or(0)),
            python_interpreter: self.settings.python_interpreter.clone(),
            work_dir: work_dir.clone(),
        };
        let (tx, rx) = mpsc::channel(FLUSH_LINES * 2);
        let store = tokio::spawn(store_output(
            self.pool.clone(),
            run.id,
            rx,
            self.settings.max_output_lines,
            self.settings.redactor.clone(),
            self.changes.clone(),
        ));
        let (pid_tx, pid_rx) = tokio::sync::oneshot::channel();
        let pool = self.pool.clone();
        let run_id = run.id;
        tokio::spawn(async move {
            if let Ok(pid) = pid_rx.await {
                let _ = runs::set_run_pid(&pool, run_id, pid).await;
            }
        });
        let ending = match unreadable {
            None => {
                let started = |pid| {
                    let _ = pid_tx.send(pid);
                };
                ansible::run_playbook(&spec, tx, started, self.kill.child_token()).await
            }
            Some(why) => {
                drop(tx); // no output: the output store ends at once
                Ending::SpawnFailed(why)
            }
        };
        let _ = std::fs::remove_dir_all(&work_dir);
        let stored = store.await.unwrap_or_default();

        let (status, exit_code, error) = match &ending {
            Ending::Succeeded => (RunStatus::Succeeded, Some(0), None),
            Ending::Failed(code) => (RunStatus::Failed, Some(*code), None),
            Ending::TimedOut => {
                (RunStatus::TimedOut, None, Some(format!("killed after {} ms (timeout)", run.timeout_ms)))
            }
            Ending::Cancelled => (
                RunStatus::Interrupted,
                None,
                Some("killed: selfheal stopped and the grace period ran out".to_owned()),
            ),
            Ending::SpawnFailed(e) => (RunStatus::Failed, None, Some(e.clone())),
        };
        let verify = ending == Ending::Succeeded && run.mode != RunMode::DryRun;
        let recap = serde_json::to_string(&stored.recap).ok().filter(|_| !stored.recap.is_empty());
        let finished = FinishedRun {
            status,
            exit_code,
            error: error.as_deref(),
            recap: recap.as_deref(),
            output_truncated: stored.truncated,
            verification: if verify { Verification::Pending } else { Verification::Skipped },
            now: &now_utc(),
        };
        // Verification is pending only once the database says so: that is what the verifier claims.
        let pending = self.record_end(run.id, &finished).await && verify;
        self.changes.touch(&[Topic::Runs, Topic::Alerts]);
        self.metrics.runs.get_or_create(&ResultLabel { result: status.as_str() }).inc();
        tracing::info!(status = status.as_str(), lines = stored.lines, "run finished");
        (status, pending)
    }
}

impl Worker {
    /// Stores how run `id` ended, trying again every [`FINISH_RETRY`] while the database cannot
    /// take it (PostgreSQL restarting, its network cut): a run left `running` by a replica that
    /// lives on would never be taken over. Gives up only when the grace period of a stop is
    /// over. Whether it was stored.
    async fn record_end(&self, id: i64, finished: &FinishedRun<'_>) -> bool {
        loop {
            match runs::finish_run(&self.pool, id, finished).await {
                Ok(()) => return true,
                Err(e) => {
                    self.metrics.db_error("finish_run");
                    tracing::error!(error = %e, "cannot record the end of a run; trying again");
                }
            }
            tokio::select! {
                () = self.kill.cancelled() => return false,
                () = tokio::time::sleep(FINISH_RETRY) => {}
            }
        }
    }
}

/// How often the end of a run is tried again while the database cannot take it.
const FINISH_RETRY: Duration = Duration::from_secs(1);

/// Returns once runs may be waiting: one was queued, approved or cancelled (topic `runs`), or a
/// pause ended (topic `pauses`). Alerts and output, which change far more often, do not wake
/// the worker: a claim takes the write lock the inbox writer needs during a storm.
async fn queue_changed(news: &mut watch::Receiver<Stamp>, seen: &mut Stamp) {
    loop {
        if news.changed().await.is_err() {
            // The hub is gone (never while serving): the fallback poll takes over.
            return std::future::pending().await;
        }
        let now = *news.borrow_and_update();
        let woke = now.changed_since(seen).iter().any(|t| matches!(t, Topic::Runs | Topic::Pauses));
        *seen = now;
        if woke {
            return;
        }
    }
}
