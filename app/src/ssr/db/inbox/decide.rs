//! Every new episode decided in the commit that stores it: the one decision
//! ([`decide_batch`]) over the history read in the writer's transaction, the runs it queues,
//! the decisions and the audit entries for refused labels — all stored before the commit.
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use rusqlite::{OptionalExtension, Transaction};
use time::OffsetDateTime;

use super::gates::{breaker_told, gates, in_window, record_trip, windows_in_force};
use super::statements::{
    bind_all, chunk_sizes, statement_sql, AUDIT_COLUMNS, AUDIT_ROW, AUDIT_SQL, DECISION_COLUMNS,
    DECISION_ROW, DECISION_SQL,
};
use crate::ssr::alert::{AlertStatus, Labels};
use crate::ssr::db::audit::{refusal_entries, LABELS_REJECTED};
use crate::ssr::db::decisions::{decision_columns, history_from, TARGET_HISTORY_SQL};
use crate::ssr::db::runs::{NewRun, ENQUEUE_RUN_SQL};
use crate::ssr::heal::blast::KnownTargets;
use crate::ssr::heal::{
    breaker, decide_batch, in_flight_detail, prejudge, Decision, Gates, Judged, KnownHosts, Prejudged, Rule,
    RuleSet, Skip, SkipReason, TargetHistory,
};

/// Who the runs the rules queue are requested by (what cooldown and breaker count).
pub const RULES_REQUESTER: &str = "engine";

/// The audit log's actor for what the engine does on its own.
pub const ENGINE: &str = "engine";

/// One notification's alerts, in order: the row id where this batch created the row.
pub type NewIds = Vec<Option<i64>>;

/// An episode a commit created, to decide: its row, its start, and what the rules make of it
/// before history.
#[derive(Clone, Debug)]
pub struct NewEpisode<'a> {
    pub alert_id: i64,
    pub starts_at: &'a str,
    /// Its labels as stored (JSON): what a maintenance window's matchers are checked against.
    pub labels: &'a str,
    pub verdict: Cow<'a, Prejudged>,
}

/// An episode decided in the commit that stored it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decided {
    pub alert_id: i64,
    /// The rule, as an index into the writer's rules.
    pub rule: Option<usize>,
    pub decision: Decision,
    /// The run queued, if the decision is one.
    pub run_id: Option<i64>,
    /// The run in flight that covers it, for a `run_in_progress` skip (stored in the
    /// decision's `run_id`, so the alert links the run that heals it).
    pub covered_by: Option<i64>,
    /// The target, when this decision found its breaker just opened: tell people (once).
    pub breaker_opened: Option<String>,
    /// The (rule, scope) whose blast radius this decision tripped: tell people (once).
    pub blast_tripped: Option<(String, String)>,
}

impl Decided {
    /// The reason stored with the decision: `enqueued`, or why it was skipped.
    pub fn reason(&self) -> &'static str {
        decision_columns(&self.decision).1
    }
}

/// What `rules` make of an alert before history, from its stored labels (JSON): labels that
/// cannot be read are refused, never taken for "no labels".
pub fn verdict_of(rules: &[Rule], hosts: &KnownHosts, status: AlertStatus, labels: &str) -> Prejudged {
    match Labels::parse(labels) {
        Ok(labels) => prejudge(rules, hosts, status, &labels),
        Err(detail) => {
            Prejudged::Skip { rule: None, skip: Skip { reason: SkipReason::InvalidLabels, detail } }
        }
    }
}

/// Decides `episodes` (in the order stored) at `now` and stores, in `tx`: the runs the
/// decision queues (idempotent on the one-run-in-flight-per-target index: a conflict becomes
/// `run_in_progress`), one decision per episode, and one audit entry per distinct refusal of
/// labels. The caller marks the alerts decided and commits.
pub fn decide_and_store(
    tx: &Transaction<'_>,
    rules: &RuleSet,
    episodes: &[NewEpisode<'_>],
    now: OffsetDateTime,
    now_text: &str,
    known: &Arc<KnownTargets>,
) -> rusqlite::Result<Vec<Decided>> {
    // Read only when a rule matched something: most of a storm's commits need no history.
    let checks = episodes.iter().any(|e| matches!(e.verdict.as_ref(), Prejudged::Check { .. }));
    let gates = if checks { gates(tx, rules, episodes, now, known)? } else { Gates::default() };
    let windows = if checks { windows_in_force(tx)? } else { Vec::new() };
    let verdicts: Vec<Cow<'_, Prejudged>> = episodes.iter().map(|e| in_window(&windows, e, now)).collect();
    let judged = decide_batch(rules, verdicts.iter().map(|v| v.as_ref()), &gates, |rule, target| {
        target_history(tx, rule, target, now)
    })?;
    let mut decided = Vec::with_capacity(judged.len());
    // The runs this batch queued, by target: what later episodes on the target are covered by.
    let mut queued: HashMap<String, i64> = HashMap::new();
    // Breakers this batch told people of: a second episode finding the same one open is not news.
    let mut told: std::collections::HashSet<String> = std::collections::HashSet::new();
    for (episode, judged) in episodes.iter().zip(judged) {
        let rule_name = judged.rule.and_then(|i| rules.get(i)).map_or("-", Rule::name);
        let breaker_opened = match episode.verdict.as_ref() {
            Prejudged::Check { plan, .. } if judged.opens_breaker(rules) => {
                let opening = format!("{rule_name} on {}", plan.target);
                let news = !told.contains(&opening) && !breaker_told(tx, rule_name, &plan.target, &opening)?;
                news.then(|| {
                    told.insert(opening);
                    plan.target.clone()
                })
            }
            _ => None,
        };
        let Judged { rule, mut decision, mut covered_by, .. } = judged;
        let mut run_id = None;
        let mut in_flight = None;
        let mut blast_tripped = None;
        if let (Decision::Run(plan), Some(r)) = (&decision, rule.and_then(|i| rules.get(i))) {
            let new =
                NewRun::for_alert(r, plan, episode.alert_id, episode.starts_at, RULES_REQUESTER, now_text);
            run_id = enqueue(tx, &new)?;
            match run_id {
                Some(id) => {
                    queued.insert(plan.target.clone(), id);
                    let blast = plan.held.as_ref().filter(|h| h.is_blast_radius());
                    if let (Some(why), Some(scope)) = (blast, &plan.blast_scope) {
                        blast_tripped = record_trip(tx, &plan.rule, scope, now_text, &why.detail)?
                            .then(|| (plan.rule.clone(), scope.clone()));
                    }
                }
                None => in_flight = Some(plan.target.clone()),
            }
        }
        if let Some(target) = in_flight {
            // Queued in this batch, or already active on the target (another rule's, or one
            // started by hand): named either way.
            covered_by = match queued.get(&target) {
                Some(&id) => Some(id),
                None => active_run_on(tx, &target)?,
            };
            let detail = in_flight_detail(&target, covered_by);
            decision = Decision::Skip(Skip { reason: SkipReason::RunInProgress, detail });
        }
        // Covered by a run an earlier episode of this batch queued: it has an id now.
        if let (Decision::Skip(skip), Prejudged::Check { plan, .. }, None) =
            (&mut decision, episode.verdict.as_ref(), covered_by)
        {
            if skip.reason == SkipReason::RunInProgress {
                covered_by = match queued.get(&plan.target) {
                    Some(&id) => Some(id),
                    None => active_run_on(tx, &plan.target)?,
                };
                skip.detail = in_flight_detail(&plan.target, covered_by);
            }
        }
        decided.push(Decided {
            alert_id: episode.alert_id,
            rule,
            decision,
            run_id,
            covered_by,
            breaker_opened,
            blast_tripped,
        });
    }
    store_decisions(tx, rules, &decided, now_text)?;
    Ok(decided)
}

/// The history of one (rule, target) at `now`, read in the writer's transaction.
fn target_history(
    tx: &Transaction<'_>,
    rule: &Rule,
    target: &str,
    now: OffsetDateTime,
) -> rusqlite::Result<TargetHistory> {
    let (active, last, attempts): (Option<i64>, Option<String>, i64) = tx
        .prepare_cached(&TARGET_HISTORY_SQL)?
        .query_row(rusqlite::params![rule.name(), target, breaker::window_start(rule, now)], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    Ok(history_from(active, last.as_deref(), attempts, now))
}

/// Queues `run` ([`ENQUEUE_RUN_SQL`]); its id, or none when its target has a run in flight.
/// The run active on `target` (at most one: `heal_runs_one_active_per_target`).
fn active_run_on(tx: &Transaction<'_>, target: &str) -> rusqlite::Result<Option<i64>> {
    tx.prepare_cached(
        "SELECT id FROM heal_runs WHERE target = ? AND status IN ('queued', 'awaiting_approval', 'running')",
    )?
    .query_row([target], |r| r.get(0))
    .optional()
}

fn enqueue(tx: &Transaction<'_>, run: &NewRun<'_>) -> rusqlite::Result<Option<i64>> {
    let (mode, status) = run.mode_and_status();
    let vars = serde_json::to_string(&run.plan.extra_vars)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    tx.prepare_cached(ENQUEUE_RUN_SQL)?
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

/// Writes the decisions, and the audit entries for the refused ones (one per distinct
/// refusal, naming its alerts): a few multi-row statements.
fn store_decisions(
    tx: &Transaction<'_>,
    rules: &RuleSet,
    decided: &[Decided],
    now: &str,
) -> rusqlite::Result<()> {
    let mut rest = decided;
    for size in chunk_sizes(decided.len()) {
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        let mut stmt =
            tx.prepare_cached(statement_sql(&DECISION_SQL, DECISION_COLUMNS, DECISION_ROW, "", size))?;
        let mut at = 0;
        for d in chunk {
            let rule = d.rule.and_then(|i| rules.get(i)).map(Rule::name);
            let (outcome, reason, detail) = decision_columns(&d.decision);
            let run = d.run_id.or(d.covered_by);
            let hash = rules.hash();
            bind_all(
                &mut stmt,
                &mut at,
                &[&d.alert_id, &now, &rule, &outcome, &reason, &detail, &run, &hash],
            )?;
        }
        stmt.raw_execute()?;
    }
    let entries = audit_entries(rules, decided);
    let mut rest = entries.as_slice();
    for size in chunk_sizes(entries.len()) {
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        let mut stmt = tx.prepare_cached(statement_sql(&AUDIT_SQL, AUDIT_COLUMNS, AUDIT_ROW, "", size))?;
        let mut at = 0;
        for (actor, action, target, detail) in chunk {
            bind_all(&mut stmt, &mut at, &[actor, action, target, detail, &"intake"])?;
        }
        stmt.raw_execute()?;
    }
    Ok(())
}

/// What a commit's decisions put in the audit log (actor, action, target, detail): labels a
/// rule refused to hand to a playbook (a security event, not just a skip: one entry per
/// distinct refusal), and the engine's own acts — a breaker it found open, a blast radius it
/// tripped (rare: once each until reset).
fn audit_entries<'d>(
    rules: &RuleSet,
    decided: &'d [Decided],
) -> Vec<(&'static str, &'static str, String, Cow<'d, str>)> {
    let refused = refusal_entries(decided.iter().filter_map(|d| match &d.decision {
        Decision::Skip(s) if s.reason == SkipReason::InvalidLabels => Some((d.alert_id, s.detail.as_str())),
        _ => None,
    }));
    let mut entries: Vec<_> = refused
        .into_iter()
        .map(|(target, detail)| ("system", LABELS_REJECTED, target, Cow::Borrowed(detail)))
        .collect();
    for d in decided {
        let rule = d.rule.and_then(|i| rules.get(i)).map_or("-", Rule::name);
        if let (Some(target), Decision::Skip(s)) = (&d.breaker_opened, &d.decision) {
            entries.push((
                ENGINE,
                "breaker.opened",
                format!("{rule} on {target}"),
                Cow::Borrowed(s.detail.as_str()),
            ));
        }
        if let (Some((rule, scope)), Decision::Run(plan)) = (&d.blast_tripped, &d.decision) {
            let why = plan.held.as_ref().map_or("", |h| h.detail.as_str());
            let target = if scope.is_empty() { rule.clone() } else { format!("{rule} {scope}") };
            entries.push((ENGINE, "blast_radius.tripped", target, Cow::Borrowed(why)));
        }
    }
    entries
}
