//! Every new episode decided in the commit that stores it: the one decision
//! ([`decide_batch`]) over the history read in the storing transaction, the runs it queues,
//! the decisions and the audit entries for refused labels — all stored before the commit, on
//! either backend ([`DecisionTx`]).
use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use time::OffsetDateTime;

use super::gates::{blast_scopes, gates, in_window, windows_in_force};
use super::store::{AuditRow, DecisionRow, DecisionTx};
use crate::ssr::alert::{AlertStatus, Labels};
use crate::ssr::db::audit::{refusal_entries, LABELS_REJECTED};
use crate::ssr::db::decisions::{decision_columns, history_from};
use crate::ssr::db::runs::NewRun;
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
///
/// First it locks what the episodes' plans decide on (their targets and blast-radius scopes:
/// across writers, one decides on a target at a time), then reads what the decision weighs,
/// decides ([`decide_batch`], no database in it), and writes.
pub(crate) async fn decide_and_store<T: DecisionTx>(
    tx: &mut T,
    rules: &RuleSet,
    episodes: &[NewEpisode<'_>],
    now: OffsetDateTime,
    now_text: &str,
    known: &Arc<KnownTargets>,
) -> Result<Vec<Decided>, T::Error> {
    // Read only when a rule matched something: most of a storm's commits need no history.
    let checks = episodes.iter().any(|e| matches!(e.verdict.as_ref(), Prejudged::Check { .. }));
    if checks {
        tx.lock(&lock_keys(rules, episodes)).await?;
    }
    let gates = if checks { gates(tx, rules, episodes, now, known).await? } else { Gates::default() };
    let windows = if checks { windows_in_force(tx).await? } else { Vec::new() };
    let verdicts: Vec<Cow<'_, Prejudged>> = episodes.iter().map(|e| in_window(&windows, e, now)).collect();
    let mut histories: HashMap<(&str, &str), TargetHistory> = HashMap::new();
    for verdict in &verdicts {
        let Prejudged::Check { rule, plan, .. } = verdict.as_ref() else { continue };
        let Some(rule) = rules.get(*rule) else { continue };
        if let std::collections::hash_map::Entry::Vacant(slot) =
            histories.entry((rule.name(), plan.target.as_str()))
        {
            slot.insert(target_history(tx, rule, &plan.target, now).await?);
        }
    }
    let judged = decide_batch(rules, verdicts.iter().map(|v| v.as_ref()), &gates, |rule, target| {
        Ok::<_, T::Error>(histories.get(&(rule.name(), target)).copied().unwrap_or_default())
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
                let news =
                    !told.contains(&opening) && !tx.breaker_told(rule_name, &plan.target, &opening).await?;
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
            run_id = tx.enqueue(&new).await?;
            match run_id {
                Some(id) => {
                    queued.insert(plan.target.clone(), id);
                    let blast = plan.held.as_ref().filter(|h| h.is_blast_radius());
                    if let (Some(why), Some(scope)) = (blast, &plan.blast_scope) {
                        blast_tripped = tx
                            .record_trip(&plan.rule, scope, now_text, &why.detail)
                            .await?
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
                None => tx.active_run_on(&target).await?,
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
                    None => tx.active_run_on(&plan.target).await?,
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
    let rows: Vec<DecisionRow<'_>> = decided
        .iter()
        .map(|d| {
            let (outcome, reason, detail) = decision_columns(&d.decision);
            DecisionRow {
                alert_id: d.alert_id,
                at: now_text,
                rule: d.rule.and_then(|i| rules.get(i)).map(Rule::name),
                outcome,
                reason,
                detail,
                run_id: d.run_id.or(d.covered_by),
                rules_hash: rules.hash(),
            }
        })
        .collect();
    tx.store(&rows, &audit_entries(rules, &decided)).await?;
    Ok(decided)
}

/// What deciding `episodes` locks: each plan's target, and each (rule, scope) whose blast
/// radius a plan counts against.
fn lock_keys(rules: &RuleSet, episodes: &[NewEpisode<'_>]) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for episode in episodes {
        if let Prejudged::Check { plan, .. } = episode.verdict.as_ref() {
            keys.insert(format!("target {}", plan.target));
        }
    }
    for (rule, scope) in blast_scopes(rules, episodes) {
        keys.insert(format!("blast {} {scope}", rule.name()));
    }
    keys
}

/// The history of one (rule, target) at `now`, read in the storing transaction.
async fn target_history<T: DecisionTx>(
    tx: &mut T,
    rule: &Rule,
    target: &str,
    now: OffsetDateTime,
) -> Result<TargetHistory, T::Error> {
    let (active, last, attempts) =
        tx.target_history(rule.name(), target, &breaker::window_start(rule, now)).await?;
    Ok(history_from(active, last.as_deref(), attempts, now))
}

/// What a commit's decisions put in the audit log (actor, action, target, detail): labels a
/// rule refused to hand to a playbook (a security event, not just a skip: one entry per
/// distinct refusal), and the engine's own acts — a breaker it found open, a blast radius it
/// tripped (rare: once each until reset).
fn audit_entries<'d>(rules: &RuleSet, decided: &'d [Decided]) -> Vec<AuditRow<'d>> {
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
