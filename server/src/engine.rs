//! What follows a decision. The inbox writer decides every new episode in the commit that
//! stores it (`app::ssr::db::inbox`); here are the reactions to what it decided (metrics, the
//! log, waking the worker, telling people a breaker opened) and the engine's housekeeping
//! (expiring approvals, the queue and breaker gauges).
use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use app::ssr::db::backend::Db;
use time::OffsetDateTime;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use app::model::Topic;
use app::ssr::alert::format_utc;
use app::ssr::changes::Changes;
use app::ssr::db::inbox::Decided;
use app::ssr::db::runs;
use app::ssr::heal::{Decision, LiveRules, Rule, RuleSet};
use app::ssr::utc::Utc;

use crate::intake::Resolutions;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

use crate::metrics::{BlastLabel, BreakerLabel, Metrics, ReasonLabel, ScopeLabel, WindowLabel};
use crate::notify::{Event, Notifier};

/// Housekeeping happens at least this often, even with nothing decided.
const POLL_EVERY: Duration = Duration::from_secs(2);

/// At most this often while commits keep coming (each housekeeping is a trip for the write
/// lock and the pool a webhook storm needs), unless an alert resolved.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(1);

/// The reactions to decisions, run by the inbox writer after each commit.
#[derive(Clone, Debug)]
pub struct Reactions {
    metrics: Arc<Metrics>,
    notifier: Notifier,
    /// Poked after a commit that decided something: the gauges are due.
    housekeeping: Arc<Notify>,
    /// Told after every commit: the open pages show alerts.
    changes: Changes,
}

impl Reactions {
    pub fn new(
        metrics: Arc<Metrics>,
        notifier: Notifier,
        housekeeping: Arc<Notify>,
        changes: Changes,
    ) -> Reactions {
        Reactions { metrics, notifier, housekeeping, changes }
    }

    /// After a commit of `decided` (made under `rules`, the writer's snapshot): counts and logs each decision, tells the pages (and, for a queued run,
    /// the worker) what changed, and tells people about a breaker that just opened. Called on
    /// the writer's thread, inside the runtime (notifications are sent from tasks of their own).
    pub fn after_commit(&self, rules: &RuleSet, decided: &[Decided]) {
        if decided.is_empty() {
            // Stored or resolved, not decided: a page may still show it.
            self.changes.touch(&[Topic::Alerts]);
            return;
        }
        // One counter update per reason, not per alert: a storm decides thousands per commit.
        let mut by_reason: Vec<(&'static str, u64)> = Vec::new();
        let mut queued = false;
        let mut opened = false;
        for d in decided {
            let reason = d.reason();
            match by_reason.iter_mut().find(|(r, _)| *r == reason) {
                Some((_, n)) => *n += 1,
                None => by_reason.push((reason, 1)),
            }
            queued |= d.run_id.is_some();
            let rule = d.rule.and_then(|i| rules.get(i));
            tracing::info!(alert.id = d.alert_id, rule = rule.map_or("-", Rule::name), reason, run.id = ?d.run_id, "decided");
            if let (Some(target), Some(r), Decision::Skip(s)) = (&d.breaker_opened, rule, &d.decision) {
                opened = true;
                let target = target.clone();
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
            if let (Some((rule_name, scope)), Some(r), Decision::Run(plan)) =
                (&d.blast_tripped, rule, &d.decision)
            {
                opened = true;
                let scope = app::ssr::heal::blast::scope_text(scope);
                tracing::warn!(rule = %rule_name, scope, "blast radius tripped: the scope's heals wait for approval");
                self.notifier.spawn(
                    &r.config.notify,
                    Event {
                        event: "blast_radius",
                        text: format!(
                            "selfheal: blast radius of {rule_name} tripped for {scope}: {} (an operator resets it)",
                            plan.held.as_ref().map_or("", |h| h.detail.as_str())
                        ),
                        rule: rule_name.clone(),
                        target: plan.target.clone(),
                        run_id: d.run_id,
                        status: None,
                        verification: None,
                    },
                );
            }
        }
        for (reason, n) in by_reason {
            self.metrics.decisions.get_or_create(&ReasonLabel { reason }).inc_by(n);
        }
        // A queued run wakes the worker through the same news.
        let mut topics = vec![Topic::Alerts];
        if queued {
            topics.extend([Topic::Runs, Topic::Approvals]);
        }
        if opened {
            topics.push(Topic::Breakers);
        }
        self.changes.touch(&topics);
        self.housekeeping_due();
    }

    /// Wakes the engine's housekeeping (after decisions, or a resolution an approval waits on).
    pub fn housekeeping_due(&self) {
        self.housekeeping.notify_one();
    }
}

/// The engine's housekeeping: approvals that expired or whose alert resolved are cancelled,
/// and the queue and breaker gauges refreshed.
#[derive(Clone, Debug)]
pub struct Engine {
    pool: Db,
    rules: LiveRules,
    metrics: Arc<Metrics>,
    /// Poked by the reactions after each commit that decided something.
    wake: Arc<Notify>,
    /// Raised by the inbox when it stored a resolution: housekeeping is due at once.
    resolutions: Resolutions,
    /// Approvals older than this are cancelled.
    approval_ttl: Duration,
    /// Breakers reported open at least once (to report them closed later).
    breakers_seen: Arc<Mutex<HashSet<BreakerLabel>>>,
    /// Pauses reported at least once (to report them ended later).
    pauses_seen: Arc<Mutex<HashSet<ScopeLabel>>>,
    blasts_seen: Arc<Mutex<HashSet<BlastLabel>>>,
    windows_seen: Arc<Mutex<HashSet<WindowLabel>>>,
    /// Told when approvals expire.
    changes: Changes,
}

impl Engine {
    pub fn new(
        pool: Db,
        rules: LiveRules,
        metrics: Arc<Metrics>,
        wake: Arc<Notify>,
        resolutions: Resolutions,
        approval_ttl: Duration,
        changes: Changes,
    ) -> Engine {
        Engine {
            changes,
            pool,
            rules,
            metrics,
            wake,
            resolutions,
            approval_ttl,
            breakers_seen: Arc::default(),
            pauses_seen: Arc::default(),
            blasts_seen: Arc::default(),
            windows_seen: Arc::default(),
        }
    }

    /// Runs until `stop`: housekeeping after each wake-up (at most once per
    /// [`HOUSEKEEPING_EVERY`] unless an alert resolved), or every [`POLL_EVERY`].
    pub async fn run(self, stop: CancellationToken) {
        loop {
            let done = Instant::now();
            if let Err(e) = self.step().await {
                self.metrics.db_error("housekeeping");
                tracing::error!(error = %e, "housekeeping failed; will retry");
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(POLL_EVERY) => {}
            }
            if !self.resolutions.take() {
                let due = tokio::time::Instant::from_std(done + HOUSEKEEPING_EVERY);
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep_until(due) => {}
                }
            }
        }
    }

    /// One housekeeping pass (tests drive it step by step).
    pub async fn step(&self) -> Result<(), sqlx::Error> {
        let now = OffsetDateTime::now_utc();
        let older_than = Utc::at(now).minus(self.approval_ttl).to_string();
        let now_text = format_utc(now);
        let expired = runs::expire_approvals(&self.pool, &older_than, &now_text).await?;
        if expired > 0 {
            tracing::info!(expired, "approvals cancelled (alert resolved or approval expired)");
            self.changes.touch(&[Topic::Approvals, Topic::Runs]);
        }
        self.update_gauges().await
    }

    /// Queue depth and breaker states for /metrics. A breaker that closed (window passed or
    /// reset) goes back to 0 rather than vanishing, so alerts on it resolve.
    async fn update_gauges(&self) -> Result<(), sqlx::Error> {
        self.metrics.queue_depth.set(runs::queue_depth(&self.pool).await?);
        let open = app::ssr::actions::open_breakers(&self.pool, &self.rules.current()).await?;
        let breakers =
            open.into_iter().map(|b| BreakerLabel { rule: b.rule.into(), target: b.target.into() });
        let mut moved = Vec::new();
        if report(&self.metrics.breaker_open, &self.breakers_seen, breakers) {
            moved.push(Topic::Breakers);
        }
        let pauses = app::ssr::db::pauses::list_pauses(&self.pool).await?;
        // A pause from the CLI (another process) reaches the open pages this way.
        if report(
            &self.metrics.paused,
            &self.pauses_seen,
            pauses.into_iter().map(|p| ScopeLabel { scope: p.scope.into() }),
        ) {
            moved.push(Topic::Pauses);
        }
        let trips = app::ssr::db::blast::trips(&self.pool).await?;
        if report(
            &self.metrics.blast_tripped,
            &self.blasts_seen,
            trips.into_iter().map(|t| BlastLabel { rule: t.rule.into(), scope: t.scope.into() }),
        ) {
            moved.push(Topic::Breakers);
        }
        let now = time::OffsetDateTime::now_utc();
        let windows = app::ssr::db::windows::in_force(&self.pool).await?;
        let open = windows.iter().filter(|w| w.open_until(now).is_some());
        // A window opening or closing on its own time changes the Windows page.
        if report(
            &self.metrics.window_open,
            &self.windows_seen,
            open.map(|w| WindowLabel { window: w.name().to_owned().into() }),
        ) {
            moved.push(Topic::Pauses);
        }
        self.changes.touch(&moved);
        Ok(())
    }
}

/// Sets `gauge` to 1 for each of `now`, and back to 0 for those reported before (in `seen`)
/// that are gone: a gauge that vanished would leave alerts on it firing. Returns whether the
/// set at 1 changed.
fn report<L>(gauge: &Family<L, Gauge>, seen: &Mutex<HashSet<L>>, now: impl Iterator<Item = L>) -> bool
where
    L: Clone + std::hash::Hash + Eq + prometheus_client::encoding::EncodeLabelSet + std::fmt::Debug,
{
    let mut seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
    let before: HashSet<L> = seen.iter().filter(|l| gauge.get_or_create(l).get() == 1).cloned().collect();
    for label in seen.iter() {
        gauge.get_or_create(label).set(0);
    }
    let mut after = HashSet::new();
    for label in now {
        gauge.get_or_create(&label).set(1);
        seen.insert(label.clone());
        after.insert(label);
    }
    before != after
}
