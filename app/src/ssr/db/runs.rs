//! The run queue: `heal_runs` from queued (or awaiting approval) to finished and verified.
use super::backend::{on_backend, on_conn, on_pool, pg_sql, Conn, Ex, PoolRef, WritePool};

use crate::model::{RunMode, RunStatus, RunSummary, Verification};
use crate::ssr::db::audit::NewAuditEvent;
use crate::ssr::heal::{Plan, Rule, RuleMode};

/// A run about to be queued.
#[derive(Clone, Debug)]
pub struct NewRun<'a> {
    pub alert_id: Option<i64>,
    pub plan: &'a Plan,
    pub requested_by: &'a str,
    pub timeout_ms: i64,
    pub verify_expr: Option<&'a str>,
    pub verify_within_ms: i64,
    pub alert_starts_at: Option<&'a str>,
    pub now: &'a str,
}

impl<'a> NewRun<'a> {
    /// A run of `rule`'s plan for an alert episode, asked for by `requested_by` (`engine` or a
    /// user): timeout and verification come from the rule.
    pub fn for_alert(
        rule: &'a Rule,
        plan: &'a Plan,
        alert_id: i64,
        alert_starts_at: &'a str,
        requested_by: &'a str,
        now: &'a str,
    ) -> NewRun<'a> {
        let millis = |d: std::time::Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        NewRun {
            alert_id: Some(alert_id),
            plan,
            requested_by,
            timeout_ms: millis(rule.config.timeout),
            verify_expr: rule.config.verify.as_deref(),
            verify_within_ms: millis(rule.config.verify_within),
            alert_starts_at: Some(alert_starts_at),
            now,
        }
    }
}

impl NewRun<'_> {
    /// The run's mode and first status: an approval rule's run waits for an operator.
    pub fn mode_and_status(&self) -> (RunMode, RunStatus) {
        match self.plan.mode {
            RuleMode::Approval => (RunMode::Approval, RunStatus::AwaitingApproval),
            RuleMode::DryRun => (RunMode::DryRun, RunStatus::Queued),
            RuleMode::Auto | RuleMode::Shadow => (RunMode::Auto, RunStatus::Queued),
        }
    }
}

/// Inserts a run ([`NewRun`]'s fields in order: alert id, rule, playbook, target, limit, mode,
/// status, requested by, extra vars as JSON, timeout, verification, its deadline, the alert's
/// start, now); returns its id, or no row when the target already has a run in flight. The
/// inbox writer runs it too, on its own connection.
pub const ENQUEUE_RUN_SQL: &str =
    "INSERT INTO heal_runs (alert_id, rule, playbook, target, limit_host, mode, status, requested_by, extra_vars, \
     timeout_ms, verify_expr, verify_within_ms, alert_starts_at, created_at, blast_scope) \
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
     ON CONFLICT DO NOTHING RETURNING id";

/// Queues a run (or parks it for approval). `Ok(None)` when the target already has a run in
/// flight: the database's unique index is the final word on "one run per target". On
/// PostgreSQL it first takes the target's decision lock (the one the inbox's decisions take,
/// until the commit of the caller's transaction), so a run started by hand and a replica's
/// decision on the same target never interleave.
pub async fn enqueue_run<'c>(
    conn: impl Into<Conn<'c>>,
    run: &NewRun<'_>,
) -> Result<Option<i64>, sqlx::Error> {
    let (mode, status) = run.mode_and_status();
    let vars = serde_json::to_string(&run.plan.extra_vars).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let (conn, sql) = match conn.into() {
        Conn::Pg(pg) => {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind(format!("target {}", run.plan.target))
                .execute(&mut *pg)
                .await?;
            (Conn::Pg(pg), pg_sql!(ENQUEUE_RUN_SQL))
        }
        sqlite => (sqlite, ENQUEUE_RUN_SQL),
    };
    on_conn!(conn, |e| sqlx::query_scalar(sql)
        .bind(run.alert_id)
        .bind(&run.plan.rule)
        .bind(&run.plan.playbook)
        .bind(&run.plan.target)
        .bind(&run.plan.limit)
        .bind(mode)
        .bind(status)
        .bind(run.requested_by)
        .bind(vars)
        .bind(run.timeout_ms)
        .bind(run.verify_expr)
        .bind(run.verify_within_ms)
        .bind(run.alert_starts_at)
        .bind(run.now)
        .bind(&run.plan.blast_scope)
        .fetch_optional(&mut *e)
        .await)
}

/// One queued run as the worker sees it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ClaimedRun {
    pub id: i64,
    pub alert_id: Option<i64>,
    pub rule: String,
    pub playbook: String,
    pub target: String,
    pub limit_host: Option<String>,
    pub mode: RunMode,
    pub extra_vars: String,
    pub timeout_ms: i64,
    pub verify_expr: Option<String>,
    pub verify_within_ms: i64,
    pub alert_starts_at: Option<String>,
    /// The alertname of the run's alert: what the default verification waits to clear.
    pub alertname: Option<String>,
}

/// Atomically takes the oldest queued run no pause covers and marks it running (runs a pause
/// covers wait in the queue until it ends). On PostgreSQL, where every replica's workers claim
/// at once, the candidate is locked and skipped by the others (`FOR UPDATE SKIP LOCKED`): each
/// queued run starts exactly once. The run names the replica that holds it (`replica`), so
/// another can interrupt it if that replica dies.
pub async fn claim_next_run<'c>(
    ex: impl Into<Ex<'c>>,
    now: &str,
    replica: &str,
) -> Result<Option<ClaimedRun>, sqlx::Error> {
    on_backend!(ex, |e, pg| {
        let lock = if pg { " FOR UPDATE SKIP LOCKED" } else { "" };
        sqlx::query_as(&format!(
            "UPDATE heal_runs SET status = $2, started_at = $1, held_by = $5 \
             WHERE id = (SELECT id FROM heal_runs WHERE status = $3 \
                         AND NOT EXISTS (SELECT 1 FROM pauses p WHERE p.scope IN ($4, heal_runs.rule)) \
                         ORDER BY id LIMIT 1{lock}) \
             RETURNING id, alert_id, rule, playbook, target, limit_host, mode, extra_vars, timeout_ms, verify_expr, \
                       verify_within_ms, alert_starts_at, \
                       (SELECT a.alertname FROM alerts a WHERE a.id = heal_runs.alert_id) AS alertname"
        ))
        .bind(now)
        .bind(RunStatus::moved(&[RunStatus::Queued], RunStatus::Running))
        .bind(RunStatus::Queued)
        .bind(crate::ssr::heal::pause::EVERYTHING)
        .bind(replica)
        .fetch_optional(e)
        .await
    })
}

/// The run in flight (waiting or running) for `target`, if any: there is at most one.
pub async fn active_run_for<'c>(ex: impl Into<Ex<'c>>, target: &str) -> Result<Option<i64>, sqlx::Error> {
    on_backend!(ex, |e| sqlx::query_scalar(
        "SELECT id FROM heal_runs WHERE target = $1 AND status IN ($2, $3, $4)"
    )
    .bind(target)
    .bind(RunStatus::ACTIVE[0])
    .bind(RunStatus::ACTIVE[1])
    .bind(RunStatus::ACTIVE[2])
    .fetch_optional(e)
    .await)
}

/// How many runs wait in the queue.
pub async fn queue_depth<'c>(ex: impl Into<Ex<'c>>) -> Result<i64, sqlx::Error> {
    on_backend!(ex, |e| sqlx::query_scalar("SELECT count(*) FROM heal_runs WHERE status = $1")
        .bind(RunStatus::Queued)
        .fetch_one(e)
        .await)
}

/// Records the process (group) id of a running playbook, for recovery after a crash.
pub async fn set_run_pid<'c>(ex: impl Into<Ex<'c>>, run_id: i64, pid: u32) -> Result<(), sqlx::Error> {
    on_backend!(ex, |e| sqlx::query("UPDATE heal_runs SET pid = $1 WHERE id = $2")
        .bind(i64::from(pid))
        .bind(run_id)
        .execute(e)
        .await
        .map(|_| ()))
}

/// How a run ended, as stored.
#[derive(Clone, Debug)]
pub struct FinishedRun<'a> {
    /// How it ended: `succeeded`, `failed`, `timed_out` or `interrupted`.
    pub status: RunStatus,
    pub exit_code: Option<i32>,
    pub error: Option<&'a str>,
    pub recap: Option<&'a str>,
    pub output_truncated: bool,
    /// `pending` when verification follows, `skipped` when it does not.
    pub verification: Verification,
    pub now: &'a str,
}

/// Stores how a run ended. Only a running run can finish (a cancelled one stays cancelled).
pub async fn finish_run<'c>(
    ex: impl Into<Ex<'c>>,
    run_id: i64,
    f: &FinishedRun<'_>,
) -> Result<(), sqlx::Error> {
    on_backend!(ex, |e| sqlx::query(
        "UPDATE heal_runs SET status = $1, exit_code = $2, error = $3, recap = $4, output_truncated = $5, \
         verification = $6, finished_at = $7, pid = NULL WHERE id = $8 AND status = $9",
    )
    .bind(RunStatus::moved(&[RunStatus::Running], f.status))
    .bind(f.exit_code)
    .bind(f.error)
    .bind(f.recap)
    .bind(i64::from(f.output_truncated))
    .bind(f.verification)
    .bind(f.now)
    .bind(run_id)
    .bind(RunStatus::Running)
    .execute(e)
    .await
    .map(|_| ()))
}

/// Stores the verification verdict and, when verified, the time from the alert's start.
pub async fn set_verification<'c>(
    ex: impl Into<Ex<'c>>,
    run_id: i64,
    verdict: Verification,
    error: Option<&str>,
    time_to_heal_ms: Option<i64>,
    now: &str,
) -> Result<(), sqlx::Error> {
    on_backend!(ex, |e| sqlx::query(
        "UPDATE heal_runs SET verification = $1, verified_at = $2, time_to_heal_ms = $3, \
         error = coalesce($4, error) WHERE id = $5",
    )
    .bind(verdict)
    .bind((verdict == Verification::Verified).then_some(now))
    .bind(time_to_heal_ms)
    .bind(error)
    .bind(run_id)
    .execute(e)
    .await
    .map(|_| ()))
}

/// At start: every run left `running` by a crash becomes `interrupted`; returns (id, pid) so
/// surviving process groups can be killed.
pub async fn recover_running_runs<'c>(
    ex: impl Into<Ex<'c>>,
    now: &str,
) -> Result<Vec<(i64, Option<i64>)>, sqlx::Error> {
    on_backend!(ex, |e| sqlx::query_as(
        "UPDATE heal_runs SET status = $2, finished_at = $1, verification = $3, \
         error = 'selfheal stopped while this run was running' WHERE status = $4 RETURNING id, pid",
    )
    .bind(now)
    .bind(RunStatus::moved(&[RunStatus::Running], RunStatus::Interrupted))
    .bind(Verification::Skipped)
    .bind(RunStatus::Running)
    .fetch_all(e)
    .await)
}

/// Moves a run awaiting approval to `queued` (approve) or `cancelled` (reject); returns whether
/// it was awaiting approval.
pub async fn decide_approval<'c>(
    ex: impl Into<Ex<'c>>,
    run_id: i64,
    approve: bool,
    now: &str,
) -> Result<bool, sqlx::Error> {
    let changed = on_backend!(ex, |e| {
        sqlx::query(
        "UPDATE heal_runs SET status = $1, finished_at = $2, verification = $3 WHERE id = $4 AND status = $5",
    )
    .bind(RunStatus::moved(
        &[RunStatus::AwaitingApproval],
        if approve { RunStatus::Queued } else { RunStatus::Cancelled },
    ))
    .bind((!approve).then_some(now))
    .bind((!approve).then_some(Verification::Skipped))
    .bind(run_id)
    .bind(RunStatus::AwaitingApproval)
    .execute(e)
    .await
    .map(|d| d.rows_affected())
    })?;
    Ok(changed == 1)
}

/// Cancels a run that has not started (queued or awaiting approval); returns whether it did.
pub async fn cancel_pending_run<'c>(
    ex: impl Into<Ex<'c>>,
    run_id: i64,
    reason: &str,
    now: &str,
) -> Result<bool, sqlx::Error> {
    let changed = on_backend!(ex, |e| sqlx::query(
        "UPDATE heal_runs SET status = $1, finished_at = $2, verification = $3, error = $4 \
         WHERE id = $5 AND status IN ($6, $7)",
    )
    .bind(RunStatus::moved(&[RunStatus::Queued, RunStatus::AwaitingApproval], RunStatus::Cancelled))
    .bind(now)
    .bind(Verification::Skipped)
    .bind(reason)
    .bind(run_id)
    .bind(RunStatus::Queued)
    .bind(RunStatus::AwaitingApproval)
    .execute(e)
    .await
    .map(|d| d.rows_affected()))?;
    Ok(changed == 1)
}

/// Approvals that must not wait any longer: the alert resolved, or the approval expired.
/// Returns how many were cancelled.
pub async fn expire_approvals<'p>(
    pool: impl Into<PoolRef<'p>>,
    older_than: &str,
    now: &str,
) -> Result<u64, sqlx::Error> {
    on_pool!(pool, |p| {
        let mut tx = p.begin_write().await?;
        let cancelled: Vec<(i64, String)> = sqlx::query_as(
            "UPDATE heal_runs SET status = $3, finished_at = $1, verification = $4, \
             error = CASE WHEN created_at < $2 THEN 'approval expired' ELSE 'the alert resolved before approval' END \
             WHERE status = $5 AND (created_at < $2 \
               OR alert_id IN (SELECT id FROM alerts WHERE status = 'resolved')) \
             RETURNING id, error",
        )
        .bind(now)
        .bind(older_than)
        .bind(RunStatus::moved(&[RunStatus::AwaitingApproval], RunStatus::Cancelled))
        .bind(Verification::Skipped)
        .bind(RunStatus::AwaitingApproval)
        .fetch_all(&mut *tx)
        .await?;
        // The engine's own act, in the audit log beside the people's approvals and rejections.
        for (id, why) in &cancelled {
            let target = format!("run #{id}");
            let event = NewAuditEvent {
                actor: crate::ssr::db::inbox::ENGINE,
                action: "run.approval_cancelled",
                target: Some(&target),
                detail: Some(why),
                source: Some("engine"),
            };
            crate::ssr::db::audit::record_audit(&mut tx, &event).await?;
        }
        tx.commit().await?;
        Ok(cancelled.len() as u64)
    })
}

/// Columns of a [`RunSummary`].
pub const RUN_COLUMNS: &str =
    "id, alert_id, rule, playbook, target, mode, status, verification, requested_by, created_at, \
     started_at, finished_at, exit_code, error, time_to_heal_ms, output_lines, \
     (output_truncated <> 0) AS output_truncated";

/// One run.
pub async fn get_run<'c>(ex: impl Into<Ex<'c>>, id: i64) -> Result<Option<RunSummary>, sqlx::Error> {
    // The previous run through (rule, target, created_at): a short walk of one pair's runs.
    let sql = format!(
        "SELECT {RUN_COLUMNS}, (SELECT max(p.id) FROM heal_runs p WHERE p.rule = r.rule \
           AND p.target = r.target AND p.id < r.id) AS previous_run_id FROM heal_runs r WHERE r.id = $1"
    );
    on_backend!(ex, |e| sqlx::query_as(&sql).bind(id).fetch_optional(e).await)
}

#[cfg(test)]
#[path = "runs_tests.rs"]
mod tests;
