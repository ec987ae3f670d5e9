//! The verifier: the stage after the playbook. Claims finished runs whose verification is
//! `pending` (woken by the worker, polling as a fallback), asks Prometheus for what is left of
//! the run's window, records the verdict; a stop leaves them `pending`, resumed at next start.
use std::sync::Arc;
use std::time::Duration;

use app::ssr::db::backend::Db;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio::sync::{Notify, Semaphore};
use tokio::task::{JoinError, JoinSet};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use app::model::Topic;
use app::ssr::alert::{format_utc, now_utc};
use app::ssr::changes::Changes;
use app::ssr::db::run_verification::{self, VerifyingRun};
use app::ssr::db::runs;
use app::ssr::heal::LiveRules;

use crate::metrics::{Metrics, ResultLabel};
use crate::notify::{Event, Notifier};
use crate::outgoing::Outgoing;
use crate::silence::Silencer;
use crate::verify::{alert_cleared_expr, Prometheus, Verdict};
use crate::verify_hold::AlertHolds;

/// Verifications at once. Each is one instant query every 500 ms and otherwise waits, so 16
/// cost Prometheus about 32 queries/s at most, while staying well above `engine.concurrency`:
/// a burst of playbooks ending together does not queue for verification.
pub const VERIFY_CONCURRENCY: usize = 16;

/// Fallback poll for pending verifications when no wake-up arrives (as the worker's queue).
const POLL_EVERY: Duration = Duration::from_secs(2);

/// After a stop, how long verifications get to wind down (give their claim back, or finish
/// storing a verdict that had just come in) before they are abandoned. An abandoned one is
/// still `pending` and resumes at the next start; 3 s keeps the exit inside `shutdown_grace`
/// + 5 s even if the database or a notification is slow.
const STOP_WITHIN: Duration = Duration::from_secs(3);

/// The reason stored for a pending verification whose window closed while selfheal was down.
pub const STOPPED_PAST_WINDOW: &str =
    "selfheal was stopped while verifying and came back after verify_within";

/// Verifies finished runs, at most [`VERIFY_CONCURRENCY`] at once.
#[derive(Clone, Debug)]
pub struct Verifier {
    pool: Db,
    rules: LiveRules,
    prometheus: Option<Prometheus>,
    metrics: Arc<Metrics>,
    notifier: Notifier,
    silencer: Option<Silencer>,
    /// How long heals of rules without `verify_hold` must hold, per alert.
    holds: AlertHolds,
    wake: Arc<Notify>,
    /// Told of each verdict (the run page waits for it, the alerts list shows it).
    changes: Changes,
    stop: CancellationToken,
}

impl Verifier {
    /// A verifier of `rules`' runs until `stop`, asking no Prometheus yet (every verdict
    /// `inconclusive`), expiring no silences, notifying over plain http and the system's roots:
    /// the `with_*` methods give it the outside world.
    pub fn new(
        pool: Db,
        rules: LiveRules,
        metrics: Arc<Metrics>,
        changes: Changes,
        stop: CancellationToken,
    ) -> Verifier {
        let notifier = Notifier::new(pool.clone(), &Outgoing::default());
        let (prometheus, silencer) = (None, None);
        let holds = AlertHolds::default();
        Verifier {
            pool,
            rules,
            prometheus,
            metrics,
            notifier,
            silencer,
            holds,
            wake: Arc::default(),
            changes,
            stop,
        }
    }

    /// Alertmanager, whose silences this verifier expires.
    pub fn silencer(&self) -> Option<&Silencer> {
        self.silencer.as_ref()
    }

    /// Who it tells of each verdict (the worker tells the same of each run's end).
    pub fn notifier(&self) -> &Notifier {
        &self.notifier
    }

    /// The same verifier asking another Prometheus.
    pub fn with_prometheus(self, prometheus: Option<Prometheus>) -> Verifier {
        Verifier { prometheus, ..self }
    }

    /// The same verifier expiring the runs' silences through `silencer`.
    pub fn with_silencer(self, silencer: Option<Silencer>) -> Verifier {
        Verifier { silencer, ..self }
    }

    /// The same verifier notifying through `notifier`.
    pub fn with_notifier(self, notifier: Notifier) -> Verifier {
        Verifier { notifier, ..self }
    }

    /// Tells the loop that a run has finished with its verification pending.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Resumes what a previous process left pending, then verifies until `stop`: the
    /// verifications under way are cut short and left `pending` for the next start.
    pub async fn run(self) {
        if let Err(e) = self.resume().await {
            self.metrics.db_error("resume_verifications");
            tracing::error!(error = %e, "cannot resume pending verifications");
        }
        let permits = Arc::new(Semaphore::new(VERIFY_CONCURRENCY));
        let mut verifying = JoinSet::new();
        loop {
            while let Ok(permit) = permits.clone().try_acquire_owned() {
                match run_verification::claim_verification(&self.pool, None, &now_utc(), crate::replica::id())
                    .await
                {
                    Ok(Some(run)) => {
                        let this = self.clone();
                        verifying.spawn(async move {
                            this.verify(run).await;
                            drop(permit);
                        });
                    }
                    Ok(None) => break,
                    Err(e) => {
                        self.metrics.db_error("claim_verification");
                        tracing::error!(error = %e, "cannot claim a verification");
                        break;
                    }
                }
            }
            tokio::select! {
                () = self.stop.cancelled() => break,
                () = self.wake.notified() => {}
                Some(done) = verifying.join_next() => log_join(done),
                () = tokio::time::sleep(POLL_EVERY) => {}
            }
        }
        let drained = tokio::time::timeout(STOP_WITHIN, async {
            while let Some(done) = verifying.join_next().await {
                log_join(done);
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                left = verifying.len(),
                "verifications still busy after the stop: abandoned, left pending"
            );
            verifying.shutdown().await;
        }
    }

    /// Verifies the oldest pending run to its verdict, if there is one. For tests and for
    /// callers that drive the stages step by step.
    pub async fn run_once(&self) -> Result<Option<i64>, sqlx::Error> {
        let Some(run) =
            run_verification::claim_verification(&self.pool, None, &now_utc(), crate::replica::id()).await?
        else {
            return Ok(None);
        };
        let id = run.id;
        self.verify(run).await;
        Ok(Some(id))
    }

    /// At start: claims of the previous process no longer hold, so its verifications resume in
    /// the loop; those whose window closed while selfheal was down end `inconclusive`.
    async fn resume(&self) -> Result<(), sqlx::Error> {
        // With PostgreSQL other replicas hold claims of their own: only a dead replica's are
        // given back, by the replica that takes it over (`crate::replica`).
        if matches!(self.pool, Db::Pg(_)) {
            return Ok(());
        }
        let pending = run_verification::unclaim_pending_verifications(&self.pool).await?;
        let now = OffsetDateTime::now_utc();
        let mut resumed = 0;
        for p in pending {
            if window_left(p.finished_at.as_deref(), millis(p.verify_within_ms), now).is_some() {
                resumed += 1;
                continue;
            }
            if let Some(run) =
                run_verification::claim_verification(&self.pool, Some(p.id), &now_utc(), crate::replica::id())
                    .await?
            {
                let span =
                    tracing::info_span!("verify", run.id = run.id, rule = %run.rule, target = %run.target);
                let verdict = Verdict::Inconclusive(STOPPED_PAST_WINDOW.to_owned());
                self.conclude(&run, verdict).instrument(span).await;
            }
        }
        if resumed > 0 {
            tracing::info!(resumed, "resuming verifications left pending by the last stop");
        }
        Ok(())
    }

    async fn verify(&self, run: VerifyingRun) {
        let span = tracing::info_span!("verify", run.id = run.id, rule = %run.rule, target = %run.target);
        self.verify_inner(run).instrument(span).await;
    }

    async fn verify_inner(&self, run: VerifyingRun) {
        let within =
            window_left(run.finished_at.as_deref(), millis(run.verify_within_ms), OffsetDateTime::now_utc())
                .unwrap_or(Duration::ZERO);
        tokio::select! {
            verdict = self.check(&run, within) => self.conclude(&run, verdict).await,
            () = self.stop.cancelled() => match run_verification::release_verification(&self.pool, run.id).await {
                Ok(_) => tracing::info!("stopped while verifying: left pending for the next start"),
                Err(e) => {
                    self.metrics.db_error("release_verification");
                    tracing::error!(error = %e, "cannot give the verification back; the next start resumes it");
                }
            },
        }
    }

    /// Asks Prometheus whether the heal holds, within `within`.
    async fn check(&self, run: &VerifyingRun, within: Duration) -> Verdict {
        match &self.prometheus {
            None => Verdict::Inconclusive("no [prometheus] url configured".to_owned()),
            Some(p) => match self.verify_expr(run) {
                Ok(expr) => p.verify(&expr, within, self.verify_hold(p, run).await).await,
                Err(why) => Verdict::Inconclusive(why),
            },
        }
    }

    /// The rule's own `verify` expression, or else: the run's alert no longer firing for the
    /// target. Never a guess: an alert without a name cannot be checked.
    fn verify_expr(&self, run: &VerifyingRun) -> Result<String, String> {
        if let Some(expr) = &run.verify_expr {
            return Ok(expr.clone());
        }
        let alertname = run.alertname.as_deref().filter(|a| !a.is_empty()).ok_or_else(|| {
            "the run has no alert to wait for and its rule no `verify` expression".to_owned()
        })?;
        let rules = self.rules.current();
        let rule = rules.iter().find(|r| r.name() == run.rule);
        let label = rule.map_or("instance", |r| r.config.target_label.as_str());
        Ok(alert_cleared_expr(alertname, label, &run.target))
    }

    /// How long the condition must keep holding: the rule's `verify_hold`, else as long as
    /// the alert takes to re-fire ([`AlertHolds`]), else the default.
    async fn verify_hold(&self, prometheus: &Prometheus, run: &VerifyingRun) -> Duration {
        let rules = self.rules.current();
        let rule = rules.iter().find(|r| r.name() == run.rule);
        if let Some(hold) = rule.and_then(|r| r.config.verify_hold) {
            return hold;
        }
        match run.alertname.as_deref().filter(|a| !a.is_empty()) {
            Some(alertname) => {
                let (hold, why) = self.holds.hold_for(prometheus, alertname).await;
                tracing::debug!(hold = ?hold, why, "verify_hold derived");
                hold
            }
            None => app::ssr::heal::DEFAULT_VERIFY_HOLD,
        }
    }

    /// Stores the verdict (with the time to heal when verified), counts it, then ends the run's
    /// silence and announces the run's end with its verdict.
    async fn conclude(&self, run: &VerifyingRun, verdict: Verdict) {
        let now = OffsetDateTime::now_utc();
        let time_to_heal_ms = (verdict == Verdict::Verified)
            .then_some(run.alert_starts_at.as_deref())
            .flatten()
            .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
            .map(|start| i64::try_from((now - start).whole_milliseconds()).unwrap_or(i64::MAX));
        let error = match &verdict {
            Verdict::Inconclusive(e) => Some(format!("verification inconclusive: {e}")),
            _ => None,
        };
        let now_text = format_utc(now);
        if let Err(e) = runs::set_verification(
            &self.pool,
            run.id,
            verdict.verification(),
            error.as_deref(),
            time_to_heal_ms,
            &now_text,
        )
        .await
        {
            self.metrics.db_error("set_verification");
            tracing::error!(error = %e, "cannot record verification");
        }
        self.changes.touch(&[Topic::Runs, Topic::Alerts]);
        self.metrics.verifications.get_or_create(&ResultLabel { result: verdict.as_str() }).inc();
        if let Some(ms) = time_to_heal_ms {
            self.metrics.time_to_heal_seconds.observe(ms as f64 / 1000.0);
        }
        tracing::info!(verdict = verdict.as_str(), time_to_heal_ms, "verification done");

        if let (Some(id), Some(s)) = (&run.silence_id, &self.silencer) {
            match s.expire(id).await {
                Ok(()) => tracing::info!(silence.id = %id, "silence expired"),
                Err(e) => tracing::warn!(error = %e, "cannot expire the silence"),
            }
        }
        if let Some(rule) = self.rules.current().iter().find(|r| r.name() == run.rule) {
            let event =
                Event::run_ended(run.id, &run.rule, &run.target, run.status, Some(verdict.verification()));
            self.notifier.spawn(&rule.config.notify, event);
        }
    }
}

/// What is left at `now` of a verification window of `within` opened at `finished_at`; `None`
/// once it has closed. An unreadable finish time gives the whole window (never a guessed end).
pub fn window_left(finished_at: Option<&str>, within: Duration, now: OffsetDateTime) -> Option<Duration> {
    let Some(finished) = finished_at.and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok()) else {
        return Some(within);
    };
    Duration::try_from(finished + within - now).ok().filter(|left| !left.is_zero())
}

fn millis(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

fn log_join(done: Result<(), JoinError>) {
    if let Err(e) = done {
        tracing::error!(error = %e, "a verification task failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_measured_from_the_run_s_end() {
        let now = OffsetDateTime::parse("2026-01-01T00:10:00.000Z", &Rfc3339).unwrap();
        let minute = Duration::from_secs(60);
        let cases = [
            ("just finished", Some("2026-01-01T00:10:00.000Z"), Some(minute)),
            ("finished 15 s ago", Some("2026-01-01T00:09:45.000Z"), Some(Duration::from_secs(45))),
            ("closes now", Some("2026-01-01T00:09:00.000Z"), None),
            ("closed while down", Some("2026-01-01T00:01:00.000Z"), None),
            ("no finish time", None, Some(minute)),
            ("unreadable finish time", Some("yesterday"), Some(minute)),
        ];
        for (name, finished_at, left) in cases {
            assert_eq!(window_left(finished_at, minute, now), left, "{name}");
        }
    }
}
