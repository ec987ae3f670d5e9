//! Rules as tested code, pure: the one decision ([`prejudge`], then [`decide_batch`]) over an
//! in-memory history instead of the database, so `selfheal rules test` decides a case's
//! notifications exactly as the inbox writer decides a webhook's. What the history keeps is
//! what [`TargetHistory`] reads from `heal_runs` and `breaker_resets`: every engine run (created
//! at its decision), in flight for the case's `run_takes`, and the breaker resets.
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use super::blast::{BlastHistory, KnownTargets};
use super::guard::GuardAnswer;
use super::pause::Paused;
use super::window::{Window, WindowHit};
use super::{decide_batch, prejudge, Decision, Gates, KnownHosts, Prejudged, Rule, TargetHistory};
use crate::ssr::alert::AlertStatus;

/// One alert of a notification, as the inbox sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimAlert {
    pub status: AlertStatus,
    pub labels: BTreeMap<String, String>,
    /// With `starts_at`, the episode's key: the same key again is the same episode.
    pub fingerprint: String,
    pub starts_at: String,
}

/// What became of one alert.
#[derive(Clone, Debug, PartialEq, Eq)]
// Boxing the decision would cost every pattern in the cases a deref: a case holds a few dozen.
#[allow(clippy::large_enum_variant)]
pub enum Outcome {
    /// An episode already stored (a repeat, or the other Alertmanager of a pair): not decided again.
    Duplicate,
    /// A new episode, decided: the rule that matched, the target its plan named (none when it
    /// made no plan: resolved, no rule, labels refused), and the decision.
    Decided { rule: Option<String>, target: Option<String>, decision: Decision },
}

/// A run the engine queued: its rule, target and when, its blast scope and whether it was
/// parked by the blast radius.
#[derive(Clone, Debug)]
struct SimRun {
    rule: String,
    target: String,
    created: Duration,
    blast_scope: Option<String>,
    held: bool,
}

/// The history of one simulated selfheal, from the case's start (time zero).
pub struct Simulation<'r> {
    rules: &'r [Rule],
    hosts: KnownHosts,
    run_takes: Duration,
    episodes: HashSet<(String, String)>,
    runs: Vec<SimRun>,
    resets: Vec<(String, String, Duration)>,
    /// What the guards answer, by guard name; a guard not named holds.
    guards: BTreeMap<String, GuardAnswer>,
    /// Blast-radius trips in force, by (rule, scope), and each one's last reset.
    trips: BTreeSet<(String, String)>,
    blast_resets: BTreeMap<(String, String), Duration>,
    known: Arc<KnownTargets>,
    /// Maintenance windows open now.
    windows: Vec<Window>,
}

impl<'r> Simulation<'r> {
    /// No history yet; `hosts` are the inventory's (a `--limit` must name one); every queued
    /// run stays in flight for `run_takes`.
    pub fn new(rules: &'r [Rule], hosts: KnownHosts, run_takes: Duration) -> Simulation<'r> {
        Simulation {
            rules,
            hosts,
            run_takes,
            episodes: HashSet::new(),
            runs: Vec::new(),
            resets: Vec::new(),
            guards: BTreeMap::new(),
            trips: BTreeSet::new(),
            blast_resets: BTreeMap::new(),
            known: Arc::default(),
            windows: Vec::new(),
        }
    }

    /// From now on these maintenance windows are open (their times are not looked at).
    pub fn set_windows(&mut self, windows: Vec<Window>) {
        self.windows = windows;
    }

    /// From now on the known targets per (rule, scope) are these (the others unknown).
    pub fn set_known_targets(&mut self, known: KnownTargets) {
        self.known = Arc::new(known);
    }

    /// An operator resets `rule`'s blast radius for `scope` at `now`: its trip ends, earlier
    /// heals stop counting.
    pub fn reset_blast(&mut self, rule: &str, scope: &str, now: Duration) {
        let key = (rule.to_owned(), scope.to_owned());
        self.trips.remove(&key);
        self.blast_resets.insert(key, now);
    }

    /// From now on the guards named answer so (by guard name, whatever the alert); the others
    /// hold.
    pub fn set_guards(&mut self, answers: BTreeMap<String, GuardAnswer>) {
        self.guards = answers;
    }

    /// One notification's alerts at `now`, decided as the inbox writer decides them: repeats
    /// of a stored episode are not decided again; the new episodes are decided together, in
    /// order, against the history; the runs decided join it.
    pub fn notify(&mut self, now: Duration, alerts: &[SimAlert], paused: &Paused) -> Vec<Outcome> {
        let mut verdicts: Vec<Option<Prejudged>> = Vec::with_capacity(alerts.len());
        for alert in alerts {
            let new = self.episodes.insert((alert.fingerprint.clone(), alert.starts_at.clone()));
            verdicts.push(new.then(|| {
                let mut verdict = prejudge(self.rules, &self.hosts, alert.status, &alert.labels);
                if let Prejudged::Check { guards, window, .. } = &mut verdict {
                    *window = self.windows.iter().find(|w| w.matches(&alert.labels)).map(|w| {
                        Box::new(WindowHit {
                            name: w.name().to_owned(),
                            action: w.config.action,
                            until: time::OffsetDateTime::UNIX_EPOCH,
                        })
                    });
                    for g in guards {
                        g.answer = Some(self.guards.get(&g.name).cloned().unwrap_or(GuardAnswer::Holds));
                    }
                }
                verdict
            }));
        }
        let judged = {
            let this = &*self;
            let gates = Gates {
                paused: paused.clone(),
                blast: this.blast_histories(verdicts.iter().flatten(), now),
                known: this.known.clone(),
            };
            let Ok(judged) =
                decide_batch::<Infallible>(this.rules, verdicts.iter().flatten(), &gates, |rule, target| {
                    Ok(this.history(rule, target, now))
                });
            judged
        };
        let mut judged = judged.into_iter();
        let mut outcomes = Vec::with_capacity(alerts.len());
        for verdict in &verdicts {
            let Some(verdict) = verdict else {
                outcomes.push(Outcome::Duplicate);
                continue;
            };
            let Some(judged) = judged.next() else { break };
            if let Decision::Run(plan) = &judged.decision {
                self.runs.push(SimRun {
                    rule: plan.rule.clone(),
                    target: plan.target.clone(),
                    created: now,
                    blast_scope: plan.blast_scope.clone(),
                    held: plan.held.is_some(),
                });
                let blast = plan.held.as_ref().is_some_and(super::Hold::is_blast_radius);
                if let (true, Some(scope)) = (blast, &plan.blast_scope) {
                    self.trips.insert((plan.rule.clone(), scope.clone()));
                }
            }
            let target = match verdict {
                Prejudged::Check { plan, .. } => Some(plan.target.clone()),
                Prejudged::Skip { .. } => None,
            };
            let rule = judged.rule.and_then(|i| self.rules.get(i)).map(|r| r.name().to_owned());
            outcomes.push(Outcome::Decided { rule, target, decision: judged.decision });
        }
        outcomes
    }

    /// An operator resets `rule`'s breaker on `target` at `now`: earlier attempts stop counting.
    pub fn reset_breaker(&mut self, rule: &str, target: &str, now: Duration) {
        self.resets.push((rule.to_owned(), target.to_owned(), now));
    }

    /// What the blast-radius query would read at `now` for each (rule, scope) `verdicts` touch:
    /// the rule's heals in the scope within its window since the last reset (parked ones not
    /// counted), and whether a trip is in force.
    fn blast_histories<'v>(
        &self,
        verdicts: impl Iterator<Item = &'v Prejudged>,
        now: Duration,
    ) -> BTreeMap<(String, String), BlastHistory> {
        let mut out = BTreeMap::new();
        for verdict in verdicts {
            let Prejudged::Check { rule, plan, .. } = verdict else { continue };
            let (Some(rule), Some(scope)) = (self.rules.get(*rule), &plan.blast_scope) else { continue };
            let Some(cfg) = &rule.config.blast_radius else { continue };
            let key = (rule.name().to_owned(), scope.clone());
            let since =
                now.saturating_sub(cfg.window).max(self.blast_resets.get(&key).copied().unwrap_or_default());
            let heals = self
                .runs
                .iter()
                .filter(|r| r.rule == key.0 && r.blast_scope.as_ref() == Some(scope) && !r.held)
                .filter(|r| r.created >= since && rule.config.mode != super::RuleMode::Approval)
                .count();
            let tripped = self.trips.contains(&key);
            out.insert(key, BlastHistory { heals: u32::try_from(heals).unwrap_or(u32::MAX), tripped });
        }
        out
    }

    /// What [`TargetHistory`]'s query would read at `now`: a run for the target in flight (any
    /// rule), the rule's last engine run on it, its attempts in the window since the last reset.
    fn history(&self, rule: &Rule, target: &str, now: Duration) -> TargetHistory {
        let active_run = self.runs.iter().any(|r| r.target == target && now < r.created + self.run_takes);
        let ours = || self.runs.iter().filter(|r| r.rule == rule.name() && r.target == target);
        let since_last_attempt = ours().map(|r| r.created).max().map(|last| now.saturating_sub(last));
        let window_start = now.saturating_sub(rule.config.window);
        let reset = self
            .resets
            .iter()
            .filter(|(r, t, _)| r == rule.name() && t == target)
            .map(|(_, _, at)| *at)
            .max()
            .unwrap_or_default();
        let counted = ours().filter(|r| r.created >= window_start && r.created >= reset).count();
        let attempts_in_window = u32::try_from(counted).unwrap_or(u32::MAX);
        TargetHistory { active_run, in_flight: None, since_last_attempt, attempts_in_window }
    }
}

#[cfg(test)]
#[path = "simulate_tests.rs"]
mod tests;
