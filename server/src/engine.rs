//! The decision loop: every new alert episode gets exactly one stored decision — a queued run
//! or a skip with its reason — in one transaction with the run it queues.
use std::sync::Arc;
use std::time::Duration;

use sqlx::SqlitePool;
use time::OffsetDateTime;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use app::ssr::alert::format_utc;
use app::ssr::db::audit::{record_audits, refusal_entries, NewAuditEvent, LABELS_REJECTED};
use app::ssr::db::decisions::{self, DecisionRow, HistoryCache, UndecidedAlert};
use app::ssr::db::runs::{self, NewRun};
use app::ssr::evaluate::{evaluate, Evaluation};
use app::ssr::heal::{Decision, Rule, Skip, SkipReason};

use crate::metrics::{BreakerLabel, Metrics, ReasonLabel};
use crate::notify::{Event, Notifier};

/// Alerts decided per step, in one transaction; the loop takes another step at once while
/// work remains. Large enough to amortise the commit under a storm, small enough that the
/// inbox writer waits only a few milliseconds for the write lock.
const DECIDE_BATCH: i64 = 64;

/// Fallback poll when no wake-up arrives (a missed notify must never strand an alert).
const POLL_EVERY: Duration = Duration::from_secs(2);

/// While full batches keep coming, approvals are expired and gauges refreshed at most this
/// often (each is a trip for the write lock or the pool the storm needs).
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(1);

/// Decides on new alert episodes.
#[derive(Clone, Debug)]
pub struct Engine {
    pub pool: SqlitePool,
    pub rules: Arc<[Rule]>,
    /// The inventory's hosts, which a `--limit` must name.
    pub inventory: app::ssr::inventory::InventoryHosts,
    pub metrics: Arc<Metrics>,
    /// Poked by the inbox after each commit.
    pub wake: Arc<Notify>,
    /// Poked after a run is queued.
    pub worker_wake: Arc<Notify>,
    /// Approvals older than this are cancelled.
    pub approval_ttl: Duration,
    pub notifier: Notifier,
    /// Breakers reported open at least once (to report them closed later).
    pub breakers_seen: Arc<std::sync::Mutex<std::collections::HashSet<BreakerLabel>>>,
    /// When approvals were last expired and gauges refreshed.
    pub housekept: Arc<std::sync::Mutex<Option<std::time::Instant>>>,
    /// Raised by the inbox when it stored a resolution: housekeeping is due at once.
    pub resolutions: crate::intake::Resolutions,
}

impl Engine {
    /// Runs until `stop`: decide what is pending, then wait for a wake-up or the poll.
    pub async fn run(self, stop: CancellationToken) {
        loop {
            match self.decide_pending().await {
                Ok(n) if n as i64 == DECIDE_BATCH => continue,
                Ok(_) => {}
                Err(e) => {
                    self.metrics.db_error("decide");
                    tracing::error!(error = %e, "deciding on alerts failed; will retry");
                }
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(POLL_EVERY) => {}
            }
        }
    }

    /// One step: decides on up to a batch of undecided episodes, all in one transaction (one
    /// write lock for the batch, not one per alert: under a webhook storm the inbox writer
    /// must not queue behind hundreds of tiny transactions); returns how many. The batch is
    /// decided at one instant, reads each target's history once and stores its decisions in
    /// two statements, so the lock is held for as few round trips as the batch allows.
    pub async fn decide_pending(&self) -> Result<usize, sqlx::Error> {
        let pending = decisions::undecided_alerts(&self.pool, DECIDE_BATCH).await?;
        if !pending.is_empty() {
            let now = OffsetDateTime::now_utc();
            let now_text = format_utc(now).unwrap_or_default();
            let mut tx = app::ssr::db::begin_write(&self.pool).await?;
            let mut cache = HistoryCache::default();
            let mut outcomes = Vec::with_capacity(pending.len());
            for alert in &pending {
                outcomes.push(self.decide_one(&mut tx, &mut cache, alert, now, &now_text).await?);
            }
            let rows: Vec<DecisionRow<'_>> = outcomes
                .iter()
                .map(|o| DecisionRow {
                    alert_id: o.alert_id,
                    rule: o.rule.map(Rule::name),
                    decision: &o.decision,
                    run_id: o.run_id,
                })
                .collect();
            decisions::record_decisions(&mut tx, &rows, &now_text).await?;
            // Labels a rule refused to hand to a playbook are a security event, not just a
            // skip: an audit entry per distinct refusal, naming its alerts, written together.
            let refused = refusal_entries(outcomes.iter().filter_map(|o| match &o.decision {
                Decision::Skip(Skip { reason: SkipReason::InvalidLabels, detail }) => {
                    Some((o.alert_id, detail.as_str()))
                }
                _ => None,
            }));
            let events: Vec<NewAuditEvent<'_>> = refused
                .iter()
                .map(|(target, detail)| NewAuditEvent {
                    actor: "system",
                    action: LABELS_REJECTED,
                    target: Some(target),
                    detail: Some(detail),
                    source: Some("engine"),
                })
                .collect();
            record_audits(&mut tx, &events).await?;
            tx.commit().await?;
            let queued = outcomes.iter().any(|o| o.run_id.is_some());
            for outcome in outcomes {
                self.report(outcome);
            }
            if queued {
                self.worker_wake.notify_one();
            }
        }
        if self.housekeeping_due(pending.len()) {
            self.housekeep().await?;
        }
        Ok(pending.len())
    }

    /// Housekeeping is due after every step that decided something and caught up, when the
    /// inbox stored a resolution (an approval may wait on it), and otherwise (a storm of full batches, or wake-ups with nothing to decide) once per
    /// [`HOUSEKEEPING_EVERY`]. Marks it done when due.
    fn housekeeping_due(&self, decided: usize) -> bool {
        let mut last = self.housekept.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = std::time::Instant::now();
        let due = self.resolutions.take() | housekeeping_due(*last, now, decided);
        if due {
            *last = Some(now);
        }
        due
    }

    /// Cancels approvals that expired or whose alert resolved, and refreshes the gauges.
    async fn housekeep(&self) -> Result<(), sqlx::Error> {
        let now = OffsetDateTime::now_utc();
        let older_than = format_utc(now - self.approval_ttl).unwrap_or_default();
        let expired =
            runs::expire_approvals(&self.pool, &older_than, &format_utc(now).unwrap_or_default()).await?;
        if expired > 0 {
            tracing::info!(expired, "approvals cancelled (alert resolved or approval expired)");
        }
        self.update_gauges().await
    }

    /// Queue depth and breaker states for /metrics. A breaker that closed (window passed or
    /// reset) goes back to 0 rather than vanishing, so alerts on it resolve.
    async fn update_gauges(&self) -> Result<(), sqlx::Error> {
        self.metrics.queue_depth.set(runs::queue_depth(&self.pool).await?);
        let open = app::ssr::actions::open_breakers(&self.pool, &self.rules).await?;
        let mut seen = self.breakers_seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for label in seen.iter() {
            self.metrics.breaker_open.get_or_create(label).set(0);
        }
        for b in open {
            let label = BreakerLabel { rule: b.rule, target: b.target };
            self.metrics.breaker_open.get_or_create(&label).set(1);
            seen.insert(label);
        }
        Ok(())
    }

    /// Decides on one episode inside the batch's transaction (runs queued earlier in the batch
    /// are visible to it, so cooldown and breaker count them); the caller stores the decision.
    async fn decide_one<'e>(
        &'e self,
        tx: &mut sqlx::SqliteConnection,
        cache: &mut HistoryCache,
        alert: &UndecidedAlert,
        now: OffsetDateTime,
        now_text: &str,
    ) -> Result<Outcome<'e>, sqlx::Error> {
        let hosts = self.inventory.current_async().await;
        let Evaluation { rule, decision, history, labels } =
            evaluate(&mut *tx, cache, &self.rules, &hosts, alert, now).await?;
        let mut decision = decision;
        let mut run_id = None;
        if let (Decision::Run(p), Some(r)) = (&decision, rule) {
            let new = NewRun::for_alert(r, p, alert.id, &alert.starts_at, "engine", now_text);
            run_id = runs::enqueue_run(&mut *tx, &new).await?;
            if run_id.is_some() {
                cache.forget_target(&p.target);
            } else {
                decision = Decision::Skip(Skip {
                    reason: SkipReason::RunInProgress,
                    detail: format!("a run for {} is already in flight", p.target),
                });
            }
        }
        Ok(Outcome {
            alert_id: alert.id,
            rule,
            decision,
            run_id,
            attempts: history.attempts_in_window,
            labels,
        })
    }

    /// After the commit: metrics, the breaker notification, the log line.
    fn report(&self, o: Outcome<'_>) {
        let Outcome { alert_id, rule, decision, run_id, attempts, labels } = o;
        let reason = match &decision {
            Decision::Run(_) => "enqueued",
            Decision::Skip(s) => s.reason.as_str(),
        };
        self.metrics.decisions.get_or_create(&ReasonLabel { reason }).inc();
        if let (Decision::Skip(s), Some(r)) = (&decision, rule) {
            // Tell people once, when the breaker stops the first attempt (not at every re-fire).
            if s.reason == SkipReason::BreakerOpen && attempts == r.config.max_attempts {
                let target = labels.get(&r.config.target_label).cloned().unwrap_or_default();
                self.notifier.spawn(
                    &r.config.notify,
                    Event {
                        event: "breaker_open",
                        text: format!("selfheal: breaker open for {} on {target}: {}", r.name(), s.detail),
                        rule: r.name().to_owned(),
                        target,
                        run_id: None,
                        status: None,
                        verification: None,
                    },
                );
            }
        }
        tracing::info!(alert.id = alert_id, rule = rule.map(Rule::name).unwrap_or("-"), reason, run.id = ?run_id, "decided");
    }
}

/// Housekeeping is due when a step that decided `decided` alerts caught up (fewer than a
/// batch, but some), or when it last ran [`HOUSEKEEPING_EVERY`] ago. A step that decided
/// nothing waits its turn: the inbox decides most alerts of a storm itself, and the engine,
/// woken by its commits, must not take the write lock (expiring approvals) for each.
fn housekeeping_due(last: Option<std::time::Instant>, now: std::time::Instant, decided: usize) -> bool {
    let caught_up = decided > 0 && (decided as i64) < DECIDE_BATCH;
    caught_up || last.is_none_or(|at| now.duration_since(at) >= HOUSEKEEPING_EVERY)
}

/// One decision, kept until its batch commits.
struct Outcome<'r> {
    alert_id: i64,
    rule: Option<&'r Rule>,
    decision: Decision,
    run_id: Option<i64>,
    attempts: u32,
    labels: std::collections::BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::{housekeeping_due, DECIDE_BATCH, HOUSEKEEPING_EVERY};

    #[test]
    fn housekeeping_runs_after_every_catch_up_and_once_a_second_in_a_storm() {
        let full = DECIDE_BATCH as usize;
        let t0 = Instant::now();
        assert!(housekeeping_due(None, t0, full), "the first step of a storm");
        assert!(housekeeping_due(Some(t0), t0, 3), "a step that caught up, however recent");
        assert!(!housekeeping_due(Some(t0), t0 + Duration::from_millis(300), full), "mid-storm");
        assert!(housekeeping_due(Some(t0), t0 + HOUSEKEEPING_EVERY, full), "a second into the storm");
    }

    #[test]
    fn wake_ups_with_nothing_to_decide_housekeep_once_a_second() {
        let t0 = Instant::now();
        assert!(housekeeping_due(None, t0, 0), "the first ever");
        assert!(!housekeeping_due(Some(t0), t0 + Duration::from_millis(10), 0), "the inbox decided it all");
        assert!(housekeeping_due(Some(t0), t0 + HOUSEKEEPING_EVERY, 0), "idle polls still housekeep");
    }
}
