//! What deciding a commit's episodes reads and writes in the transaction that stores them, one
//! implementation per backend: the decision itself ([`super::decide::decide_and_store`]) is one
//! copy of code over [`DecisionTx`]; only the SQL below differs.
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use rusqlite::{OptionalExtension, Transaction};

use super::statements::{
    bind_all, chunk_sizes, statement_sql, AUDIT_COLUMNS, AUDIT_ROW, AUDIT_SQL, DECISION_COLUMNS,
    DECISION_ROW, DECISION_SQL,
};
use crate::ssr::db::blast::{BLAST_HISTORY_SQL, RECORD_TRIP_SQL};
use crate::ssr::db::decisions::TARGET_HISTORY_SQL;
use crate::ssr::db::pauses::PAUSED_SCOPES_SQL;
use crate::ssr::db::runs::{NewRun, ENQUEUE_RUN_SQL};
use crate::ssr::db::windows::WINDOWS_IN_FORCE_SQL;

/// Whether people were told this breaker opened since its last attempt: a `breaker.opened`
/// audit event for the opening ("RULE on TARGET", `?3`) after the rule's (`?1`) last engine run
/// on the target (`?2`).
pub(super) const BREAKER_TOLD_SQL: &str =
    "SELECT EXISTS (SELECT 1 FROM audit_events WHERE action = 'breaker.opened' AND target = ?3 \
       AND at >= (SELECT max(created_at) FROM heal_runs \
                  WHERE rule = ?1 AND target = ?2 AND requested_by = 'engine'))";

/// The run active on a target (at most one: `heal_runs_one_active_per_target`).
pub(super) const ACTIVE_RUN_SQL: &str =
    "SELECT id FROM heal_runs WHERE target = ?1 AND status IN ('queued', 'awaiting_approval', 'running')";

/// One decision row: alert, time, rule, outcome, reason, detail, run, the rules' hash.
#[derive(Debug)]
pub(crate) struct DecisionRow<'a> {
    pub alert_id: i64,
    pub at: &'a str,
    pub rule: Option<&'a str>,
    pub outcome: &'static str,
    pub reason: &'static str,
    pub detail: Cow<'a, str>,
    pub run_id: Option<i64>,
    pub rules_hash: &'a str,
}

/// One audit entry the decision writes: actor, action, target, detail (source `intake`).
pub(crate) type AuditRow<'a> = (&'static str, &'static str, String, Cow<'a, str>);

/// The reads and writes of one decision, in the storing transaction. Every read sees what
/// the transaction wrote before it.
#[allow(async_fn_in_trait)]
pub(crate) trait DecisionTx {
    type Error;

    /// Serialises deciding on `keys` (a target, a blast-radius scope) with every other writer
    /// until the commit. SQLite: nothing (its write lock already serialises every writer);
    /// PostgreSQL: one transaction-level advisory lock per key, taken in order.
    async fn lock(&mut self, keys: &BTreeSet<String>) -> Result<(), Self::Error>;

    /// The pauses in force: their scopes.
    async fn paused_scopes(&mut self) -> Result<Vec<String>, Self::Error>;

    /// The maintenance windows in force: their specs.
    async fn window_specs(&mut self) -> Result<Vec<String>, Self::Error>;

    /// Engine heals of (rule, scope) since `since`, and whether a trip is in force.
    async fn blast_history(
        &mut self,
        rule: &str,
        scope: &str,
        since: &str,
    ) -> Result<(i64, bool), Self::Error>;

    /// (rule, target)'s history since the window start: the run in flight, the last engine
    /// run's start, the attempts that count.
    async fn target_history(
        &mut self,
        rule: &str,
        target: &str,
        window_start: &str,
    ) -> Result<(Option<i64>, Option<String>, i64), Self::Error>;

    /// Whether people were told this breaker opened since its last attempt ([`BREAKER_TOLD_SQL`]).
    async fn breaker_told(&mut self, rule: &str, target: &str, opening: &str) -> Result<bool, Self::Error>;

    /// Queues `run`: its id, or none when its target has a run in flight.
    async fn enqueue(&mut self, run: &NewRun<'_>) -> Result<Option<i64>, Self::Error>;

    /// The run active on `target`.
    async fn active_run_on(&mut self, target: &str) -> Result<Option<i64>, Self::Error>;

    /// Records a trip of (rule, scope) unless one is in force; whether it tripped now.
    async fn record_trip(
        &mut self,
        rule: &str,
        scope: &str,
        now: &str,
        why: &str,
    ) -> Result<bool, Self::Error>;

    /// Stores the decisions and the audit entries they make.
    async fn store(
        &mut self,
        decisions: &[DecisionRow<'_>],
        audits: &[AuditRow<'_>],
    ) -> Result<(), Self::Error>;
}

/// The inbox writer's SQLite transaction, as a [`DecisionTx`]: every call completes at once.
pub(super) struct SqliteTx<'a, 'c>(pub &'a Transaction<'c>);

/// Runs a future of the SQLite decision store to its end: it never waits (rusqlite is
/// synchronous), so one poll finishes it.
pub(super) fn at_once<T>(f: impl Future<Output = rusqlite::Result<T>>) -> rusqlite::Result<T> {
    match pin!(f).as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(result) => result,
        Poll::Pending => Err(rusqlite::Error::ToSqlConversionFailure(
            "the SQLite decision store waited (never expected)".into(),
        )),
    }
}

impl DecisionTx for SqliteTx<'_, '_> {
    type Error = rusqlite::Error;

    async fn lock(&mut self, _keys: &BTreeSet<String>) -> rusqlite::Result<()> {
        Ok(())
    }

    async fn paused_scopes(&mut self) -> rusqlite::Result<Vec<String>> {
        self.0.prepare_cached(PAUSED_SCOPES_SQL)?.query_map([], |r| r.get(0))?.collect()
    }

    async fn window_specs(&mut self) -> rusqlite::Result<Vec<String>> {
        self.0.prepare_cached(WINDOWS_IN_FORCE_SQL)?.query_map([], |r| r.get(0))?.collect()
    }

    async fn blast_history(&mut self, rule: &str, scope: &str, since: &str) -> rusqlite::Result<(i64, bool)> {
        self.0
            .prepare_cached(BLAST_HISTORY_SQL)?
            .query_row(rusqlite::params![rule, scope, since], |r| Ok((r.get(0)?, r.get(1)?)))
    }

    async fn target_history(
        &mut self,
        rule: &str,
        target: &str,
        window_start: &str,
    ) -> rusqlite::Result<(Option<i64>, Option<String>, i64)> {
        self.0
            .prepare_cached(&TARGET_HISTORY_SQL)?
            .query_row(rusqlite::params![rule, target, window_start], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
    }

    async fn breaker_told(&mut self, rule: &str, target: &str, opening: &str) -> rusqlite::Result<bool> {
        self.0
            .prepare_cached(BREAKER_TOLD_SQL)?
            .query_row(rusqlite::params![rule, target, opening], |r| r.get(0))
    }

    async fn enqueue(&mut self, run: &NewRun<'_>) -> rusqlite::Result<Option<i64>> {
        let (mode, status) = run.mode_and_status();
        let vars = serde_json::to_string(&run.plan.extra_vars)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        self.0
            .prepare_cached(ENQUEUE_RUN_SQL)?
            .query_row(
                rusqlite::params![
                    run.alert_id,
                    run.plan.rule,
                    run.plan.playbook,
                    run.plan.target,
                    run.plan.limit,
                    mode,
                    status,
                    run.requested_by,
                    vars,
                    run.timeout_ms,
                    run.verify_expr,
                    run.verify_within_ms,
                    run.alert_starts_at,
                    run.now,
                    run.plan.blast_scope,
                ],
                |r| r.get(0),
            )
            .optional()
    }

    async fn active_run_on(&mut self, target: &str) -> rusqlite::Result<Option<i64>> {
        self.0.prepare_cached(ACTIVE_RUN_SQL)?.query_row([target], |r| r.get(0)).optional()
    }

    async fn record_trip(&mut self, rule: &str, scope: &str, now: &str, why: &str) -> rusqlite::Result<bool> {
        Ok(self.0.prepare_cached(RECORD_TRIP_SQL)?.execute(rusqlite::params![rule, scope, now, why])? == 1)
    }

    /// A few multi-row statements.
    async fn store(
        &mut self,
        decisions: &[DecisionRow<'_>],
        audits: &[AuditRow<'_>],
    ) -> rusqlite::Result<()> {
        let tx = self.0;
        let mut rest = decisions;
        for size in chunk_sizes(decisions.len()) {
            let (chunk, tail) = rest.split_at(size);
            rest = tail;
            let mut stmt =
                tx.prepare_cached(statement_sql(&DECISION_SQL, DECISION_COLUMNS, DECISION_ROW, "", size))?;
            let mut at = 0;
            for d in chunk {
                bind_all(
                    &mut stmt,
                    &mut at,
                    &[
                        &d.alert_id,
                        &d.at,
                        &d.rule,
                        &d.outcome,
                        &d.reason,
                        &d.detail,
                        &d.run_id,
                        &d.rules_hash,
                    ],
                )?;
            }
            stmt.raw_execute()?;
        }
        let mut rest = audits;
        for size in chunk_sizes(audits.len()) {
            let (chunk, tail) = rest.split_at(size);
            rest = tail;
            let mut stmt =
                tx.prepare_cached(statement_sql(&AUDIT_SQL, AUDIT_COLUMNS, AUDIT_ROW, "", size))?;
            let mut at = 0;
            for (actor, action, target, detail) in chunk {
                bind_all(&mut stmt, &mut at, &[actor, action, target, detail, &"intake"])?;
            }
            stmt.raw_execute()?;
        }
        Ok(())
    }
}
