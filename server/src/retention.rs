//! Retention on the server: a background task that prunes old history in rounds bounded in
//! time, and `selfheal retention run`. The SQL is in `app::ssr::db::retention`.
mod export;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use app::ssr::db::backend::Db;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use app::ssr::alert::format_utc;
use app::ssr::db::audit::{record_audit, NewAuditEvent};
use app::ssr::db::retention::{prune_batch, tidy_after_prune, Cutoffs, Pruned, Step, PRUNE_BATCH};

use crate::config::{Config, RetentionConfig};
use crate::metrics::{Metrics, ResultLabel, TableLabel};

/// Work per round: once its batches took this long a round stops, and the next one goes on
/// where it stopped. A prune never competes with intake for longer.
pub const ROUND_BUDGET: Duration = Duration::from_secs(2);

/// Pause between two batches: the inbox writer takes the write lock in between.
pub const BATCH_PAUSE: Duration = Duration::from_millis(50);

/// The first round after start: once recovery and the first decisions are done.
pub const FIRST_ROUND_AFTER: Duration = Duration::from_secs(30);

/// The next round after one that ran out of budget: a backlog drains in minutes, at a small
/// share of the disk's time, instead of one round per interval.
pub const BACKLOG_PAUSE: Duration = Duration::from_secs(10);

/// Rows pruned after which statistics and the WAL are tidied: a prune this large changes the
/// tables enough for stale statistics to mislead the planner, and has grown the WAL.
pub const LARGE_PRUNE: u64 = 50_000;

/// One phase of a round: a table step, or the audit export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Table(Step),
    Audit,
}

impl Phase {
    /// The `i`th phase: the table steps in order (children first), then the audit log.
    fn nth(i: usize) -> Option<Phase> {
        match Step::ALL.get(i) {
            Some(step) => Some(Phase::Table(*step)),
            None => (i == Step::ALL.len()).then_some(Phase::Audit),
        }
    }
}

/// What one round did.
#[derive(Debug, Default)]
pub struct Round {
    pub pruned: Pruned,
    /// Audit export files written.
    pub exports: Vec<PathBuf>,
    /// Every phase is done; `false` when the budget ran out (the next round goes on).
    pub complete: bool,
}

/// Prunes by `[retention]`, remembering where a round stopped.
pub struct Pruner {
    pool: Db,
    retention: RetentionConfig,
    export_dir: PathBuf,
    metrics: Arc<Metrics>,
    /// Who the `retention.pruned` audit events name: `system` or `cli`.
    actor: &'static str,
    /// Rows per batch ([`PRUNE_BATCH`]).
    pub batch: i64,
    /// Work per round ([`ROUND_BUDGET`]); `None`: a round goes on until everything is done.
    pub budget: Option<Duration>,
    /// Pause between batches ([`BATCH_PAUSE`]).
    pub pause: Duration,
    /// Rows pruned after which the database is tidied ([`LARGE_PRUNE`]).
    pub tidy_after: u64,
    stop: CancellationToken,
    phase: usize,
    cursor: i64,
    since_tidy: u64,
}

impl Pruner {
    pub fn new(pool: Db, config: &Config, metrics: Arc<Metrics>, actor: &'static str) -> Pruner {
        Pruner {
            pool,
            retention: config.retention.clone(),
            export_dir: config.audit_export_dir(),
            metrics,
            actor,
            batch: PRUNE_BATCH,
            budget: Some(ROUND_BUDGET),
            pause: BATCH_PAUSE,
            tidy_after: LARGE_PRUNE,
            stop: CancellationToken::new(),
            phase: 0,
            cursor: 0,
            since_tidy: 0,
        }
    }

    /// Rounds every `interval` (the first [`FIRST_ROUND_AFTER`] start, the next one sooner
    /// while a backlog is left) until `stop`.
    pub async fn run(mut self, stop: CancellationToken) {
        self.stop = stop.clone();
        let mut wait = FIRST_ROUND_AFTER;
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
            wait = match self.run_round().await {
                Ok(round) if !round.complete => BACKLOG_PAUSE,
                Ok(_) => self.retention.interval,
                Err(e) => {
                    tracing::error!(error = format!("{e:#}"), "retention round failed");
                    self.retention.interval
                }
            };
        }
    }

    /// One round: batches from where the last round stopped until every phase is done or the
    /// budget is spent; then counts, metrics, a `retention.pruned` audit event, and after a
    /// large prune, tidying.
    pub async fn run_round(&mut self) -> anyhow::Result<Round> {
        let mut round = Round::default();
        let outcome = self.batches(&mut round).await;
        if outcome.is_err() {
            (self.phase, self.cursor) = (0, 0);
        }
        round.complete = matches!(outcome, Ok(true));
        let result = match &outcome {
            Ok(true) => "ok",
            Ok(false) => "partial",
            Err(_) => "error",
        };
        self.metrics.retention_rounds.get_or_create(&ResultLabel { result }).inc();
        self.report(&round).await?;
        outcome.map(|_| round)
    }

    /// Runs batches into `round`; `Ok(true)` once every phase is done.
    async fn batches(&mut self, round: &mut Round) -> anyhow::Result<bool> {
        let cut = cutoffs(&self.retention, OffsetDateTime::now_utc())?;
        let (mut worked, mut batches) = (Duration::ZERO, 0);
        while let Some(phase) = Phase::nth(self.phase) {
            if batches > 0 {
                if self.budget.is_some_and(|b| worked >= b) {
                    return Ok(false);
                }
                tokio::select! {
                    () = self.stop.cancelled() => return Ok(false),
                    () = tokio::time::sleep(self.pause) => {}
                }
            }
            let started = Instant::now();
            let next = match phase {
                Phase::Table(step) => {
                    let batch = prune_batch(&self.pool, step, &cut, self.cursor, self.batch).await?;
                    round.pruned.add(&batch.pruned);
                    batch.next
                }
                Phase::Audit => {
                    let batch =
                        export::prune_audit(&self.pool, &self.export_dir, &cut.audit, self.batch).await?;
                    round.pruned.audit_events += batch.events;
                    round.exports.extend(batch.file);
                    batch.more.then_some(0)
                }
            };
            worked += started.elapsed();
            batches += 1;
            match next {
                Some(cursor) => self.cursor = cursor,
                None => (self.phase, self.cursor) = (self.phase + 1, 0),
            }
        }
        (self.phase, self.cursor) = (0, 0);
        Ok(true)
    }

    /// Logs and counts what a round pruned, audits it, and tidies after a large prune.
    async fn report(&mut self, round: &Round) -> anyhow::Result<()> {
        let total = round.pruned.total();
        if total == 0 {
            tracing::debug!(complete = round.complete, "retention: nothing to prune");
            return Ok(());
        }
        for (table, rows) in round.pruned.by_table() {
            if rows > 0 {
                self.metrics.retention_pruned.get_or_create(&TableLabel { table }).inc_by(rows);
            }
        }
        let detail = describe(round);
        tracing::info!(rows = total, complete = round.complete, "retention pruned {detail}");
        let event = NewAuditEvent {
            actor: self.actor,
            action: "retention.pruned",
            target: None,
            detail: Some(&detail),
            source: Some(if self.actor == "cli" { "cli" } else { "system" }),
        };
        record_audit(&self.pool, &event).await.context("cannot write the audit log")?;
        self.since_tidy += total;
        if self.since_tidy >= self.tidy_after {
            self.since_tidy = 0;
            tidy_after_prune(&self.pool).await.context("cannot tidy the database after a prune")?;
            tracing::info!("retention: statistics refreshed and WAL truncated after a large prune");
        }
        Ok(())
    }
}

/// `table=rows` for every table something was pruned from, and the export files.
fn describe(round: &Round) -> String {
    let mut parts: Vec<String> =
        round.pruned.by_table().iter().filter(|(_, n)| *n > 0).map(|(t, n)| format!("{t}={n}")).collect();
    for file in &round.exports {
        parts.push(format!("exported to {}", file.display()));
    }
    parts.join(", ")
}

/// The cutoffs at `now`: now minus each age.
fn cutoffs(r: &RetentionConfig, now: OffsetDateTime) -> anyhow::Result<Cutoffs> {
    let before = |age: Duration| -> anyhow::Result<String> {
        let age = time::Duration::try_from(age).context("retention age too large")?;
        let at = now.checked_sub(age).context("retention age too large")?;
        Ok(format_utc(at))
    };
    Ok(Cutoffs {
        alerts: before(r.alerts)?,
        alerts_max: i64::try_from(r.alerts_max).unwrap_or(i64::MAX),
        notifications: before(r.notifications)?,
        run_output: before(r.run_output)?,
        runs: before(r.runs)?,
        audit: before(r.audit)?,
        now: format_utc(now),
    })
}

/// `selfheal retention run`: one full prune, without a time budget; prints what went.
pub async fn run_now(pool: &Db, config: &Config) -> anyhow::Result<Round> {
    anyhow::ensure!(
        config.retention.enabled,
        "retention is off ([retention] enabled = false): nothing pruned"
    );
    let mut pruner = Pruner::new(pool.clone(), config, Metrics::new(), "cli");
    pruner.budget = None;
    pruner.pause = Duration::ZERO;
    let round = pruner.run_round().await?;
    if round.pruned.total() == 0 {
        println!("nothing to prune");
    }
    for (table, rows) in round.pruned.by_table().into_iter().filter(|(_, n)| *n > 0) {
        println!("{table}: {rows} pruned");
    }
    for file in &round.exports {
        println!("audit events exported to {}", file.display());
    }
    Ok(round)
}

#[cfg(test)]
#[path = "retention_tests.rs"]
mod tests;
