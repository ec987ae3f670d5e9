//! What operators do to runs — heal now, approve, reject, cancel, reset a breaker — each in one
//! transaction with its audit entry. Server functions check the role, then call these.
use crate::ssr::db::backend::{on_pool, Ex, PoolRef, WritePool};

use crate::error::AppError;
use crate::model::{CurrentUser, OpenBreaker, ReplayOutcome};
use crate::ssr::alert::{now_utc, Labels};
use crate::ssr::db::audit::{record_audit, NewAuditEvent};
use crate::ssr::db::runs::{self, NewRun};
use crate::ssr::db::{decisions, pauses};
use crate::ssr::evaluate::{ask_guards, evaluate, DecideWith};
use crate::ssr::heal::{plan, select_rule, Decision, KnownHosts, Rule, RuleMode};
use crate::ssr::silence::{self, SilenceAlerts, SilenceRequest};
use crate::ssr::{internal, respond_with};

pub(crate) fn db(e: sqlx::Error) -> AppError {
    internal("operator action failed", e)
}

/// Queues the matching rule's playbook for an alert now, bypassing cooldown and breaker (a
/// person decided) but never the one-run-per-target lock. Returns the run id.
pub async fn heal_now(
    pool: impl Into<PoolRef<'_>>,
    rules: &[Rule],
    hosts: &KnownHosts,
    user: &CurrentUser,
    alert_id: i64,
    dry_run: bool,
    source: Option<&str>,
) -> Result<i64, AppError> {
    let pool: PoolRef<'_> = pool.into();
    let alert = decisions::alert_for_action(pool, alert_id)
        .await
        .map_err(db)?
        .ok_or_else(|| respond_with(AppError::NotFound))?;
    let labels = Labels::parse(&alert.labels).map_err(|e| respond_with(AppError::Invalid(e)))?;
    let rule = select_rule(rules, &labels).ok_or_else(|| {
        respond_with(AppError::Invalid("no rule matches this alert: nothing to run".to_owned()))
    })?;
    let mut p = plan(rule, &labels, hosts).map_err(|s| respond_with(AppError::Invalid(s.detail)))?;
    p.mode = if dry_run { RuleMode::DryRun } else { RuleMode::Auto };
    let now = now_utc();
    on_pool!(pool, |pool| {
        let mut tx = pool.begin_write().await.map_err(db)?;
        let new = NewRun::for_alert(rule, &p, alert_id, &alert.starts_at, &user.username, &now);
        let Some(run_id) = runs::enqueue_run(&mut tx, &new).await.map_err(db)? else {
            let active = runs::active_run_for(&mut *tx, &p.target).await.map_err(db)?;
            let which = active.map(|id| format!(" (run #{id})")).unwrap_or_default();
            return Err(respond_with(AppError::Conflict(format!(
                "a run for {} is already in flight{which}",
                p.target
            ))));
        };
        let detail = format!(
            "{} on {}{} (alert #{alert_id})",
            p.playbook,
            p.target,
            if dry_run { ", dry run" } else { "" }
        );
        let target = format!("run #{run_id}");
        audit(&mut *tx, &user.username, "run.heal_now", &target, &detail, source).await?;
        tx.commit().await.map_err(db)?;
        Ok(run_id)
    })
}

/// Silences an alert in Alertmanager for `hours`, matching every one of its labels exactly, on
/// behalf of `user`; audited. Returns the silence id.
pub async fn silence_alert(
    pool: impl Into<PoolRef<'_>>,
    silences: Option<&dyn SilenceAlerts>,
    user: &CurrentUser,
    alert_id: i64,
    hours: u32,
    comment: &str,
    source: Option<&str>,
) -> Result<String, AppError> {
    let (lasting, comment) =
        silence::validate(hours, comment).map_err(|e| respond_with(AppError::Invalid(e)))?;
    let silences = silences.ok_or_else(|| {
        respond_with(AppError::Conflict(
            "no [alertmanager] url is configured to create silences in".to_owned(),
        ))
    })?;
    let pool: PoolRef<'_> = pool.into();
    let alert = decisions::alert_for_action(pool, alert_id)
        .await
        .map_err(db)?
        .ok_or_else(|| respond_with(AppError::NotFound))?;
    let labels = Labels::parse(&alert.labels).map_err(|e| respond_with(AppError::Invalid(e)))?;
    let request = SilenceRequest {
        matchers: labels.into_map().into_iter().collect(),
        lasting,
        created_by: user.username.clone(),
        comment: comment.clone(),
    };
    let id = silences.create_silence(request).await.map_err(|e| {
        tracing::warn!(alert_id, error = %e, "silence refused");
        respond_with(AppError::Conflict(format!("Alertmanager did not take the silence: {e}")))
    })?;
    let detail = format!("silence {id} for {hours} h: {comment}");
    on_pool!(pool, |pool| {
        let mut tx = pool.begin_write().await.map_err(db)?;
        audit(&mut *tx, &user.username, "alert.silence", &format!("alert #{alert_id}"), &detail, source)
            .await?;
        tx.commit().await.map_err(db)
    })?;
    Ok(id)
}

/// Approves (queues) or rejects (cancels) a run awaiting approval.
pub async fn approve(
    pool: impl Into<PoolRef<'_>>,
    user: &CurrentUser,
    run_id: i64,
    approve: bool,
    comment: &str,
    source: Option<&str>,
) -> Result<(), AppError> {
    on_pool!(pool.into(), |pool| {
        let mut tx = pool.begin_write().await.map_err(db)?;
        if !runs::decide_approval(&mut *tx, run_id, approve, &now_utc()).await.map_err(db)? {
            return Err(respond_with(AppError::Conflict("this run is not awaiting approval".to_owned())));
        }
        let action = if approve { "run.approve" } else { "run.reject" };
        audit(&mut *tx, &user.username, action, &format!("run #{run_id}"), comment, source).await?;
        tx.commit().await.map_err(db)
    })
}

/// Cancels a run that has not started yet.
pub async fn cancel(
    pool: impl Into<PoolRef<'_>>,
    user: &CurrentUser,
    run_id: i64,
    source: Option<&str>,
) -> Result<(), AppError> {
    let reason = format!("cancelled by {}", user.username);
    on_pool!(pool.into(), |pool| {
        let mut tx = pool.begin_write().await.map_err(db)?;
        if !runs::cancel_pending_run(&mut *tx, run_id, &reason, &now_utc()).await.map_err(db)? {
            return Err(respond_with(AppError::Conflict(
                "only a queued run or one awaiting approval can be cancelled".to_owned(),
            )));
        }
        audit(&mut *tx, &user.username, "run.cancel", &format!("run #{run_id}"), &reason, source).await?;
        tx.commit().await.map_err(db)
    })
}

/// Closes the breaker of (rule, target): attempts before now stop counting.
pub async fn reset_breaker(
    pool: impl Into<PoolRef<'_>>,
    rules: &[Rule],
    user: &CurrentUser,
    rule: &str,
    target: &str,
    source: Option<&str>,
) -> Result<(), AppError> {
    if !rules.iter().any(|r| r.name() == rule) || target.is_empty() {
        return Err(respond_with(AppError::Invalid(format!("no rule `{rule}`, or no target"))));
    }
    on_pool!(pool.into(), |pool| {
        let mut tx = pool.begin_write().await.map_err(db)?;
        decisions::reset_breaker(&mut *tx, rule, target, &user.username, &now_utc()).await.map_err(db)?;
        audit(
            &mut *tx,
            &user.username,
            "breaker.reset",
            &format!("{rule} / {target}"),
            "breaker reset",
            source,
        )
        .await?;
        tx.commit().await.map_err(db)
    })
}

/// The scope a pause of `rule` (none: everything) has, if that rule exists.
fn pause_scope<'a>(rules: &[Rule], rule: Option<&'a str>) -> Result<&'a str, AppError> {
    match rule {
        None => Ok(crate::ssr::heal::pause::EVERYTHING),
        Some(r) if rules.iter().any(|x| x.name() == r) => Ok(r),
        Some(r) => Err(respond_with(AppError::Invalid(format!("no rule `{r}`")))),
    }
}

/// Pauses healing everywhere (`rule` none) or for one rule, on behalf of `actor`, saying why
/// (required); audited. New episodes it covers are decided `paused`; queued runs it covers wait.
pub async fn pause_healing(
    pool: impl Into<PoolRef<'_>>,
    rules: &[Rule],
    actor: &str,
    rule: Option<&str>,
    reason: &str,
    source: Option<&str>,
) -> Result<(), AppError> {
    let scope = pause_scope(rules, rule)?;
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(respond_with(AppError::Invalid(
            "a reason (1 to 500 characters) is required to pause".to_owned(),
        )));
    }
    on_pool!(pool.into(), |pool| {
        let mut tx = pool.begin_write().await.map_err(db)?;
        pauses::pause(&mut *tx, scope, reason, actor, &now_utc()).await.map_err(db)?;
        audit(&mut *tx, actor, "healing.pause", scope, reason, source).await?;
        tx.commit().await.map_err(db)
    })
}

/// Ends the pause of everything (`rule` none) or of one rule; audited. Runs it held start.
pub async fn resume_healing(
    pool: impl Into<PoolRef<'_>>,
    rules: &[Rule],
    actor: &str,
    rule: Option<&str>,
    source: Option<&str>,
) -> Result<(), AppError> {
    let scope = pause_scope(rules, rule)?;
    on_pool!(pool.into(), |pool| {
        let mut tx = pool.begin_write().await.map_err(db)?;
        if !pauses::resume(&mut *tx, scope).await.map_err(db)? {
            return Err(respond_with(AppError::Conflict(format!("`{scope}` is not paused"))));
        }
        audit(&mut *tx, actor, "healing.resume", scope, "resumed", source).await?;
        tx.commit().await.map_err(db)
    })
}

/// Every (rule, target) whose breaker is open now.
pub async fn open_breakers(
    pool: impl Into<PoolRef<'_>>,
    rules: &[Rule],
) -> Result<Vec<OpenBreaker>, sqlx::Error> {
    Ok(breakers_to_watch(pool, rules).await?.0)
}

/// The open breakers, and those one engine attempt from opening (a rule allowing more than one).
pub async fn breakers_to_watch(
    pool: impl Into<PoolRef<'_>>,
    rules: &[Rule],
) -> Result<(Vec<OpenBreaker>, Vec<OpenBreaker>), sqlx::Error> {
    let pool: PoolRef<'_> = pool.into();
    let now = time::OffsetDateTime::now_utc();
    let (mut open, mut nearly) = (Vec::new(), Vec::new());
    for rule in rules {
        for b in crate::ssr::rule_view::rule_breakers(pool, rule, now).await? {
            let (target, attempts, max_attempts) = (b.target, b.attempts, b.max_attempts);
            let row = OpenBreaker { rule: rule.name().to_owned(), target, attempts, max_attempts };
            if b.open {
                open.push(row);
            } else if max_attempts > 1 && attempts + 1 == max_attempts {
                nearly.push(row);
            }
        }
    }
    Ok((open, nearly))
}

/// Runs a stored alert through today's rules and history; queues the run only if asked (and
/// if the rules would run it), marked with who asked.
pub async fn replay(
    pool: impl Into<PoolRef<'_>>,
    with: DecideWith<'_>,
    user: &CurrentUser,
    alert_id: i64,
    enqueue: bool,
    source: Option<&str>,
) -> Result<ReplayOutcome, AppError> {
    let pool: PoolRef<'_> = pool.into();
    let alert = decisions::alert_for_action(pool, alert_id)
        .await
        .map_err(db)?
        .ok_or_else(|| respond_with(AppError::NotFound))?;
    let now = time::OffsetDateTime::now_utc();
    let now_text = now_utc();
    let answers = ask_guards(with, &alert).await;
    on_pool!(pool, |pool| {
        let mut tx = pool.begin_write().await.map_err(db)?;
        let eval = evaluate(&mut tx, with, &alert, now, &answers).await.map_err(db)?;
        let (reason, detail) = match &eval.decision {
            Decision::Run(p) => (
                "enqueued".to_owned(),
                format!("would run {} on {}", p.playbook, p.limit.as_deref().unwrap_or(&p.target)),
            ),
            Decision::Skip(s) => (s.reason.as_str().to_owned(), s.detail.clone()),
        };
        let mut run_id = None;
        if let (true, Decision::Run(p), Some(rule)) = (enqueue, &eval.decision, eval.rule) {
            let new = NewRun::for_alert(rule, p, alert_id, &alert.starts_at, &user.username, &now_text);
            run_id = runs::enqueue_run(&mut tx, &new).await.map_err(db)?;
            if let Some(id) = run_id {
                audit(
                    &mut *tx,
                    &user.username,
                    "run.replay",
                    &format!("run #{id}"),
                    &format!("alert #{alert_id}: {detail}"),
                    source,
                )
                .await?;
            }
        }
        tx.commit().await.map_err(db)?;
        Ok(ReplayOutcome { reason, detail, run_id })
    })
}

/// Records what `actor` did, from `source`, in the transaction of the change itself.
pub(crate) async fn audit(
    tx: impl Into<Ex<'_>>,
    actor: &str,
    action: &str,
    target: &str,
    detail: &str,
    source: Option<&str>,
) -> Result<(), AppError> {
    let event = NewAuditEvent { actor, action, target: Some(target), detail: Some(detail), source };
    record_audit(tx, &event).await.map_err(db)
}
