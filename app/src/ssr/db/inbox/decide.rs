//! The inbox writer's decisions: the skips it stores with the alerts a group commit creates,
//! so the engine is left only the runs to queue and the breakers to report.
use std::collections::HashMap;

use rusqlite::Transaction;
use time::OffsetDateTime;

use super::statements::{
    bind_all, chunk_sizes, statement_sql, AUDIT_COLUMNS, AUDIT_ROW, AUDIT_SQL, DECISION_COLUMNS,
    DECISION_ROW, DECISION_SQL,
};
use crate::ssr::alert::format_utc;
use crate::ssr::db::alerts::NewNotification;
use crate::ssr::db::audit::{refusal_entries, LABELS_REJECTED};
use crate::ssr::db::decisions::{history_from, TARGET_HISTORY_SQL};
use crate::ssr::evaluate::Prejudged;
use crate::ssr::heal::{weigh, Decision, Rule, Skip, SkipReason, TargetHistory};

/// One notification's alerts, in order: the row id where this batch created the row.
pub type NewIds = Vec<Option<i64>>;

/// An alert episode the inbox writer decided in the commit that stored it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decided {
    pub alert_id: i64,
    /// The rule, as an index into the writer's rules.
    pub rule: Option<usize>,
    pub reason: SkipReason,
}

/// A skip worked out for an alert before it is stored: the rule (an index) and why.
pub type Planned = Option<(Option<usize>, Skip)>;

/// For each alert of `batch` (by notification, in order), the skip the engine would decide
/// at `now` when that skip needs no action: resolved, no rule, refused labels (audited), a run
/// in flight, the cooldown, shadow mode. The history is read in `tx`, under the write lock the
/// engine would decide under, so it is the engine's decision at this instant, stored with the
/// alert rather than by a second transaction rewriting it: under a webhook storm of re-fires
/// the engine had to decide every alert, and held the write lock the webhooks wait for. A run
/// to queue, and a breaker that must be reported, are left to the engine (`None`), as is an
/// alert without a verdict. Only the alerts the batch creates are decided ([`store_decisions`]).
pub fn plan_skips(
    tx: &Transaction<'_>,
    rules: &[Rule],
    batch: &[NewNotification<'_>],
    now: OffsetDateTime,
) -> rusqlite::Result<Vec<Vec<Planned>>> {
    let mut histories: HashMap<(usize, &str), TargetHistory> = HashMap::new();
    let mut planned = Vec::with_capacity(batch.len());
    for n in batch {
        let mut skips = Vec::with_capacity(n.alerts.len());
        for i in 0..n.alerts.len() {
            let skip = match n.verdicts.get(i) {
                None => None,
                Some(Prejudged::Skip { rule, skip }) => Some((*rule, skip.clone())),
                Some(Prejudged::Check { rule, plan }) => match rules.get(*rule) {
                    None => None,
                    Some(r) => {
                        let key = (*rule, plan.target.as_str());
                        let history = match histories.get(&key) {
                            Some(h) => *h,
                            None => {
                                *histories.entry(key).or_insert(target_history(tx, r, &plan.target, now)?)
                            }
                        };
                        match weigh(r, plan, history) {
                            Decision::Skip(s) => Some((Some(*rule), s)),
                            Decision::Run(_) => None,
                        }
                    }
                },
            };
            skips.push(skip.filter(|(_, s)| s.reason != SkipReason::BreakerOpen));
        }
        planned.push(skips);
    }
    Ok(planned)
}

/// The engine's history read ([`TARGET_HISTORY_SQL`]) for one (rule, target) at `now`.
fn target_history(
    tx: &Transaction<'_>,
    rule: &Rule,
    target: &str,
    now: OffsetDateTime,
) -> rusqlite::Result<TargetHistory> {
    let window_start = format_utc(now - rule.config.window).unwrap_or_default();
    let (active, last, attempts): (bool, Option<String>, i64) = tx
        .prepare_cached(TARGET_HISTORY_SQL)?
        .query_row(rusqlite::params![rule.name(), target, window_start], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    Ok(history_from(active, last.as_deref(), u32::try_from(attempts).unwrap_or(u32::MAX), now))
}

/// Writes the planned skips of the alerts this batch created (`ids`), and the audit entries
/// for the refused ones (one per distinct refusal, as the engine does): a few multi-row
/// statements. Their `decided_at` was stored with the row. Returns what was decided and how many new episodes are the engine's.
pub(super) fn store_decisions(
    tx: &Transaction<'_>,
    rules: &[Rule],
    planned: &[Vec<Planned>],
    ids: &[NewIds],
    now: &str,
) -> rusqlite::Result<(Vec<Decided>, usize)> {
    let mut rows: Vec<(i64, Option<usize>, &Skip)> = Vec::new();
    let mut undecided = 0;
    for (n, ids) in ids.iter().enumerate() {
        for (i, id) in ids.iter().enumerate() {
            let Some(id) = *id else { continue };
            match planned.get(n).and_then(|p| p.get(i)) {
                Some(Some((rule, skip))) => rows.push((id, *rule, skip)),
                _ => undecided += 1,
            }
        }
    }
    let mut rest = rows.as_slice();
    for size in chunk_sizes(rows.len()) {
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        let mut stmt =
            tx.prepare_cached(statement_sql(&DECISION_SQL, DECISION_COLUMNS, DECISION_ROW, "", size))?;
        let mut at = 0;
        for (id, rule, skip) in chunk {
            let rule = rule.and_then(|i| rules.get(i)).map(Rule::name);
            let reason = skip.reason.as_str();
            bind_all(&mut stmt, &mut at, &[id, &now, &rule, &"skipped", &reason, &skip.detail])?;
        }
        stmt.raw_execute()?;
    }
    let refused = refusal_entries(
        rows.iter()
            .filter(|(_, _, s)| s.reason == SkipReason::InvalidLabels)
            .map(|(id, _, s)| (*id, s.detail.as_str())),
    );
    let mut rest = refused.as_slice();
    for size in chunk_sizes(refused.len()) {
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        let mut stmt = tx.prepare_cached(statement_sql(&AUDIT_SQL, AUDIT_COLUMNS, AUDIT_ROW, "", size))?;
        let mut at = 0;
        for (target, detail) in chunk {
            // Labels a rule refused to hand to a playbook are a security event, not just a skip.
            bind_all(&mut stmt, &mut at, &[&"system", &LABELS_REJECTED, target, detail, &"intake"])?;
        }
        stmt.raw_execute()?;
    }
    let decided = rows
        .into_iter()
        .map(|(alert_id, rule, skip)| Decided { alert_id, rule, reason: skip.reason })
        .collect();
    Ok((decided, undecided))
}
