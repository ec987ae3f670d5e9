//! Episodes a maintenance window held, decided again once no window covers them: in the
//! writer's own commit, through the same decision as at intake, a second decision on the
//! alert's timeline.
use std::sync::Arc;

use rusqlite::{Connection, TransactionBehavior};
use time::OffsetDateTime;

use super::decide::{decide_and_store, verdict_of, Decided, NewEpisode};
use super::store::{at_once, SqliteTx};
use crate::ssr::alert::{format_utc, AlertStatus};
use crate::ssr::heal::blast::KnownTargets;
use crate::ssr::heal::guard::{self, GuardAnswers};
use crate::ssr::heal::{KnownHosts, RuleSet};

/// The held episodes still firing whose latest decision is the hold: their id and labels.
pub const HELD_EPISODES_SQL: &str =
    "SELECT a.id, a.labels FROM decisions d JOIN alerts a ON a.id = d.alert_id \
     WHERE d.reason = 'in_maintenance' AND d.outcome = 'skipped' AND a.status = 'firing' \
       AND d.id = (SELECT max(id) FROM decisions WHERE alert_id = d.alert_id) \
     ORDER BY a.id";

/// One alert (`?1`) if it is still firing and its latest decision is still the hold: id,
/// labels, start.
pub(super) const STILL_HELD_SQL: &str =
    "SELECT a.id, a.labels, a.starts_at FROM alerts a JOIN decisions d ON d.alert_id = a.id \
     WHERE a.id = ?1 AND a.status = 'firing' AND d.reason = 'in_maintenance' AND d.outcome = 'skipped' \
       AND d.id = (SELECT max(id) FROM decisions WHERE alert_id = a.id)";

/// A held episode as read back: id, labels, start.
pub(super) type Held = (i64, String, String);

/// The held episodes, each with its verdict as a firing alert now.
pub(super) fn held_episodes<'a>(
    rules: &RuleSet,
    hosts: &KnownHosts,
    rows: &'a [Held],
    guard_answers: &GuardAnswers,
) -> Vec<NewEpisode<'a>> {
    rows.iter()
        .map(|(alert_id, labels, starts_at)| {
            let mut verdict = verdict_of(rules, hosts, AlertStatus::Firing, labels);
            guard::fill(&mut verdict, guard_answers);
            NewEpisode { alert_id: *alert_id, starts_at, labels, verdict: std::borrow::Cow::Owned(verdict) }
        })
        .collect()
}

/// Decides `alert_ids` again (those still firing and still held when the commit starts, so a
/// second call decides nothing twice), their guards answered by `guard_answers`.
pub fn redecide(
    conn: &mut Connection,
    rules: &RuleSet,
    hosts: &KnownHosts,
    alert_ids: &[i64],
    guard_answers: &GuardAnswers,
    known: &Arc<KnownTargets>,
) -> rusqlite::Result<Vec<Decided>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut rows: Vec<Held> = Vec::new();
    {
        let mut stmt = tx.prepare_cached(STILL_HELD_SQL)?;
        for id in alert_ids {
            let row = stmt.query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)));
            match row {
                Ok(row) => rows.push(row),
                Err(rusqlite::Error::QueryReturnedNoRows) => {}
                Err(e) => return Err(e),
            }
        }
    }
    let now = OffsetDateTime::now_utc();
    let now_text = format_utc(now);
    let episodes = held_episodes(rules, hosts, &rows, guard_answers);
    let decided = if episodes.is_empty() {
        Vec::new()
    } else {
        at_once(decide_and_store(&mut SqliteTx(&tx), rules, &episodes, now, &now_text, known))?
    };
    tx.commit()?;
    Ok(decided)
}
