//! What a commit's decisions weigh besides each target's history, read in the storing
//! transaction: the pauses in force, the maintenance windows, the blast-radius history of each
//! (rule, scope) the batch touches.
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use time::OffsetDateTime;

use super::decide::NewEpisode;
use super::store::DecisionTx;
use crate::ssr::alert::{format_utc, Labels};
use crate::ssr::db::windows::windows_from;
use crate::ssr::heal::blast::{BlastHistory, KnownTargets};
use crate::ssr::heal::pause::Paused;
use crate::ssr::heal::window::{covering, Window};
use crate::ssr::heal::{Gates, Prejudged, Rule, RuleSet};

/// What the batch's plans are weighed against besides their targets' histories, read in the
/// storing transaction: the pauses in force, the blast-radius history of each (rule, scope)
/// the plans touch, and the known targets (`known`, counted by the server).
pub(super) async fn gates<T: DecisionTx>(
    tx: &mut T,
    rules: &RuleSet,
    episodes: &[NewEpisode<'_>],
    now: OffsetDateTime,
    known: &Arc<KnownTargets>,
) -> Result<Gates, T::Error> {
    let mut blast = BTreeMap::new();
    for (rule, scope) in blast_scopes(rules, episodes) {
        let key = (rule.name().to_owned(), scope.to_owned());
        if blast.contains_key(&key) {
            continue;
        }
        let Some(cfg) = &rule.config.blast_radius else { continue };
        let since = format_utc(now - cfg.window);
        let (heals, tripped) = tx.blast_history(rule.name(), scope, &since).await?;
        blast.insert(key, BlastHistory { heals: u32::try_from(heals).unwrap_or(u32::MAX), tripped });
    }
    let paused = Paused::of(tx.paused_scopes().await?);
    Ok(Gates { paused, blast, known: known.clone() })
}

/// The (rule, scope) pairs whose blast radius the episodes' plans count against.
pub(super) fn blast_scopes<'r, 'e>(
    rules: &'r RuleSet,
    episodes: &'e [NewEpisode<'_>],
) -> impl Iterator<Item = (&'r Rule, &'e str)> {
    episodes.iter().filter_map(|episode| {
        let Prejudged::Check { rule, plan, .. } = episode.verdict.as_ref() else { return None };
        let (Some(rule), Some(scope)) = (rules.get(*rule), &plan.blast_scope) else { return None };
        rule.config.blast_radius.as_ref()?;
        Some((rule, scope.as_str()))
    })
}

/// The maintenance windows in force, read in the storing transaction.
pub(super) async fn windows_in_force<T: DecisionTx>(tx: &mut T) -> Result<Vec<Window>, T::Error> {
    Ok(windows_from(tx.window_specs().await?))
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
