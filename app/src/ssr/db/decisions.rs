//! The decisions' memory: per-target history (cooldown, breaker and its resets), the stored
//! decisions, and breaker resets.
use std::borrow::Cow;
use std::sync::LazyLock;

use super::backend::{on_backend, pg_sql, Ex};
use time::OffsetDateTime;

use crate::model::{DecisionReason, RunStatus};
use crate::ssr::heal::{breaker, Decision, Plan, Rule, TargetHistory};

/// A stored alert episode, as heal now and replay read it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct StoredAlert {
    pub id: i64,
    pub status: String,
    pub labels: String,
    pub starts_at: String,
}

/// The history of one (rule, target) at `now`: whether a run is in flight (for the target, any
/// rule), when the last engine run of this rule began, and how many began in the rule's window
/// since the last breaker reset.
pub async fn target_history<'c>(
    ex: impl Into<Ex<'c>>,
    rule: &Rule,
    target: &str,
    now: OffsetDateTime,
) -> Result<TargetHistory, sqlx::Error> {
    let (active, last, attempts) =
        raw_history(ex, rule.name(), target, &breaker::window_start(rule, now)).await?;
    Ok(history_from(active, last.as_deref(), attempts, now))
}

/// [`TARGET_HISTORY_SQL`]'s row for (rule, target) since `window_start`: the run in flight, last
/// engine run's start, attempts since the window start or the last reset, if later.
pub async fn raw_history<'c>(
    ex: impl Into<Ex<'c>>,
    rule: &str,
    target: &str,
    window_start: &str,
) -> Result<(Option<i64>, Option<String>, i64), sqlx::Error> {
    on_backend!(ex, |e, pg| sqlx::query_as(if pg {
        pg_sql!(*TARGET_HISTORY_SQL)
    } else {
        TARGET_HISTORY_SQL.as_str()
    })
    .bind(rule)
    .bind(target)
    .bind(window_start)
    .fetch_one(e)
    .await)
}

/// [`target_history`]'s query (the inbox writer runs it too, on its own connection):
/// parameters rule, target, window start ([`breaker::window_start`]); columns the run in flight (its id), last start,
/// attempts ([`history_from`]).
pub static TARGET_HISTORY_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT \
         (SELECT max(id) FROM heal_runs WHERE target = ?2 AND status IN {active}), \
         (SELECT max(created_at) FROM heal_runs WHERE rule = ?1 AND target = ?2 AND requested_by = 'engine'), \
         coalesce((SELECT attempts FROM ({BREAKER_SQL}) AS breaker), 0)",
        active = RunStatus::sql_list(&RunStatus::ACTIVE)
    )
});

/// The breaker's one query, read by the decision ([`TARGET_HISTORY_SQL`], one target) and by
/// the rules page and the breaker gauge ([`breaker_states`], every target): parameters rule,
/// target (NULL: every target), window start; per target the engine attempts in the window
/// that count (those since the target's last reset, if later), the last one, the last reset.
/// The window is its own range predicate, so only the window's runs are visited (on
/// `(rule, created_at)`); the reset lookup then runs for those few.
pub const BREAKER_SQL: &str =
    "SELECT target, count(*) FILTER (WHERE created_at >= coalesce(reset_at, '')) AS attempts, \
        max(created_at) AS last_attempt, max(reset_at) AS last_reset \
     FROM (SELECT r.target, r.created_at, \
                  (SELECT max(reset_at) FROM breaker_resets b WHERE b.rule = ?1 AND b.target = r.target) \
                  AS reset_at \
           FROM heal_runs r WHERE r.rule = ?1 AND r.requested_by = 'engine' AND r.created_at >= ?3 \
                AND (?2 IS NULL OR r.target = ?2)) AS in_window \
     GROUP BY target ORDER BY target";

/// A decision as the `decisions` table stores it: outcome, reason, detail.
pub fn decision_columns(decision: &Decision) -> (&'static str, &'static str, Cow<'_, str>) {
    match decision {
        Decision::Run(Plan { held: Some(hold), playbook, limit, target, .. }) => (
            "enqueued",
            hold.reason.as_str(),
            Cow::Owned(format!(
                "{playbook} on {} awaits approval: {}",
                limit.as_deref().unwrap_or(target),
                hold.detail
            )),
        ),
        Decision::Run(p) => (
            "enqueued",
            DecisionReason::Enqueued.as_str(),
            Cow::Owned(format!(
                "{} on {} ({})",
                p.playbook,
                p.limit.as_deref().unwrap_or(&p.target),
                p.mode.as_str()
            )),
        ),
        Decision::Skip(s) => ("skipped", s.reason.as_str(), Cow::Borrowed(&s.detail)),
    }
}

/// Converts raw history into what `decide` needs, given now.
pub fn history_from(
    in_flight: Option<i64>,
    last: Option<&str>,
    attempts: i64,
    now: OffsetDateTime,
) -> TargetHistory {
    let since_last_attempt = last
        .and_then(|t| time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok())
        .map(|t| (now - t).try_into().unwrap_or_default());
    let attempts_in_window = u32::try_from(attempts).unwrap_or(u32::MAX);
    TargetHistory { active_run: in_flight.is_some(), in_flight, since_last_attempt, attempts_in_window }
}

/// An alert's status, labels and start, for heal now and replay.
pub async fn alert_for_action<'c>(
    ex: impl Into<Ex<'c>>,
    alert_id: i64,
) -> Result<Option<StoredAlert>, sqlx::Error> {
    on_backend!(ex, |e| sqlx::query_as("SELECT id, status, labels, starts_at FROM alerts WHERE id = $1")
        .bind(alert_id)
        .fetch_optional(e)
        .await)
}

/// Records an operator's breaker reset for (rule, target).
pub async fn reset_breaker<'c>(
    ex: impl Into<Ex<'c>>,
    rule: &str,
    target: &str,
    by: &str,
    now: &str,
) -> Result<(), sqlx::Error> {
    on_backend!(ex, |e| sqlx::query(
        "INSERT INTO breaker_resets (rule, target, reset_at, reset_by) VALUES ($1, $2, $3, $4)"
    )
    .bind(rule)
    .bind(target)
    .bind(now)
    .bind(by)
    .execute(e)
    .await
    .map(|_| ()))
}

/// One target of a rule as its circuit breaker sees it.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct BreakerRow {
    pub target: String,
    /// Engine attempts in the window since the target's last reset: what the breaker counts.
    pub attempts: i64,
    /// The latest engine attempt in the window.
    pub last_attempt: String,
    pub last_reset: Option<String>,
}

/// Every target of one rule with engine attempts since the window start ([`BREAKER_SQL`]).
pub async fn breaker_states<'c>(
    ex: impl Into<Ex<'c>>,
    rule: &str,
    window_start: &str,
) -> Result<Vec<BreakerRow>, sqlx::Error> {
    on_backend!(ex, |e, pg| sqlx::query_as(if pg { pg_sql!(BREAKER_SQL) } else { BREAKER_SQL })
        .bind(rule)
        .bind(None::<&str>)
        .bind(window_start)
        .fetch_all(e)
        .await)
}
