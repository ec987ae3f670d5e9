//! What a commit's decisions weigh besides each target's history, read in the inbox writer's
//! transaction: the pauses in force, the maintenance windows, the blast-radius history of each
//! (rule, scope) the batch touches; and what the commit records of the fleet gates (a blast
//! radius tripped, a breaker already told).
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use rusqlite::Transaction;
use time::OffsetDateTime;

use super::decide::NewEpisode;
use crate::ssr::alert::{format_utc, Labels};
use crate::ssr::db::blast::{BLAST_HISTORY_SQL, RECORD_TRIP_SQL};
use crate::ssr::db::pauses::PAUSED_SCOPES_SQL;
use crate::ssr::db::windows::{windows_from, WINDOWS_IN_FORCE_SQL};
use crate::ssr::heal::blast::{BlastHistory, KnownTargets};
use crate::ssr::heal::pause::Paused;
use crate::ssr::heal::window::{covering, Window};
use crate::ssr::heal::{Gates, Prejudged, RuleSet};

/// What the batch's plans are weighed against besides their targets' histories, read in the
/// writer's transaction: the pauses in force, the blast-radius history of each (rule, scope)
/// the plans touch, and the known targets (`known`, counted by the server).
pub(super) fn gates(
    tx: &Transaction<'_>,
    rules: &RuleSet,
    episodes: &[NewEpisode<'_>],
    now: OffsetDateTime,
    known: &Arc<KnownTargets>,
) -> rusqlite::Result<Gates> {
    let mut blast = BTreeMap::new();
    for episode in episodes {
        let Prejudged::Check { rule, plan, .. } = episode.verdict.as_ref() else { continue };
        let (Some(rule), Some(scope)) = (rules.get(*rule), &plan.blast_scope) else { continue };
        let Some(cfg) = &rule.config.blast_radius else { continue };
        let key = (rule.name().to_owned(), scope.clone());
        if blast.contains_key(&key) {
            continue;
        }
        let since = format_utc(now - cfg.window);
        let (heals, tripped): (i64, bool) = tx
            .prepare_cached(BLAST_HISTORY_SQL)?
            .query_row(rusqlite::params![rule.name(), scope, since], |r| Ok((r.get(0)?, r.get(1)?)))?;
        blast.insert(key, BlastHistory { heals: u32::try_from(heals).unwrap_or(u32::MAX), tripped });
    }
    Ok(Gates { paused: paused(tx)?, blast, known: known.clone() })
}

/// Whether people were told this breaker opened since its last attempt (a `breaker.opened`
/// audit event for `opening`, "RULE on TARGET", after the rule's last engine run on the
/// target): it stays open at the maximum until the window passes or a reset, and every new
/// episode meanwhile finds it open again — that is not news.
pub(super) fn breaker_told(
    tx: &Transaction<'_>,
    rule: &str,
    target: &str,
    opening: &str,
) -> rusqlite::Result<bool> {
    tx.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM audit_events WHERE action = 'breaker.opened' AND target = ?3 \
           AND at >= (SELECT max(created_at) FROM heal_runs \
                      WHERE rule = ?1 AND target = ?2 AND requested_by = 'engine'))",
    )?
    .query_row(rusqlite::params![rule, target, opening], |r| r.get(0))
}

/// The maintenance windows in force ([`WINDOWS_IN_FORCE_SQL`]), read in the writer's transaction.
pub(super) fn windows_in_force(tx: &Transaction<'_>) -> rusqlite::Result<Vec<Window>> {
    let specs: Vec<String> = tx
        .prepare_cached(WINDOWS_IN_FORCE_SQL)?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(windows_from(specs))
}

/// `episode`'s verdict with the window covering it at `now`, if one does (its labels are read
/// only then: most commits have no window open).
pub(super) fn in_window<'e>(
    windows: &[Window],
    episode: &'e NewEpisode<'_>,
    now: OffsetDateTime,
) -> Cow<'e, Prejudged> {
    let verdict = episode.verdict.as_ref();
    if windows.is_empty() || !matches!(verdict, Prejudged::Check { .. }) {
        return Cow::Borrowed(verdict);
    }
    let Ok(labels) = Labels::parse(episode.labels) else { return Cow::Borrowed(verdict) };
    match covering(windows, &labels, now) {
        Some(hit) => {
            let mut verdict = verdict.clone();
            if let Prejudged::Check { window, .. } = &mut verdict {
                *window = Some(Box::new(hit));
            }
            Cow::Owned(verdict)
        }
        None => Cow::Borrowed(verdict),
    }
}

/// Records that `rule`'s blast radius tripped for `scope` (unless a trip is in force);
/// whether it tripped now.
pub(super) fn record_trip(
    tx: &Transaction<'_>,
    rule: &str,
    scope: &str,
    now: &str,
    why: &str,
) -> rusqlite::Result<bool> {
    Ok(tx.prepare_cached(RECORD_TRIP_SQL)?.execute(rusqlite::params![rule, scope, now, why])? == 1)
}

/// The pauses in force ([`PAUSED_SCOPES_SQL`]), read in the writer's transaction.
pub(super) fn paused(tx: &Transaction<'_>) -> rusqlite::Result<Paused> {
    let scopes: Vec<String> = tx
        .prepare_cached(PAUSED_SCOPES_SQL)?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Paused::of(scopes))
}
