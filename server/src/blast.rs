//! The known targets behind blast-radius percentages: each rule's `known_targets` query asked
//! of Prometheus every [`RECOUNT_EVERY`], off the request path; the inbox writer decides with the
//! last counts. A rule whose query fails keeps its last counts for [`STALE_AFTER`], then has
//! none (its `max_heals` alone applies, as `app::ssr::heal::blast` says).
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use app::ssr::heal::blast::{scope_key, KnownTargets, LiveKnownTargets};
use app::ssr::heal::LiveRules;

use crate::verify::Prometheus;

/// How often the known targets are counted again.
pub const RECOUNT_EVERY: Duration = Duration::from_secs(15);

/// How long a rule's last counts stand in for a query that fails.
pub const STALE_AFTER: Duration = Duration::from_secs(600);

/// Counts each rule's known targets per scope.
#[derive(Debug)]
pub struct KnownTargetCounter {
    prometheus: Option<Prometheus>,
    rules: LiveRules,
    known: LiveKnownTargets,
    /// Each rule's last counts, and when they were taken.
    last: Mutex<BTreeMap<String, Counted>>,
}

/// A rule's counts (scope, targets) and when they were taken.
type Counted = (Instant, Vec<(String, u32)>);

impl KnownTargetCounter {
    pub fn new(
        prometheus: Option<Prometheus>,
        rules: LiveRules,
        known: LiveKnownTargets,
    ) -> KnownTargetCounter {
        KnownTargetCounter { prometheus, rules, known, last: Mutex::default() }
    }

    /// Counts every rule's known targets now and puts the counts in force; returns how many
    /// rules' queries answered.
    pub async fn recount(&self) -> usize {
        let rules = self.rules.current();
        let mut last = self.last.lock().await;
        last.retain(|rule, _| rules.iter().any(|r| r.name() == rule));
        let mut answered = 0;
        for rule in rules.iter() {
            let Some(cfg) = &rule.config.blast_radius else { continue };
            let (Some(query), Some(prometheus)) = (&cfg.known_targets, &self.prometheus) else { continue };
            match prometheus.samples(query).await {
                Ok(samples) => {
                    answered += 1;
                    let counts = samples
                        .into_iter()
                        .map(|(labels, value)| {
                            let scope = scope_key(
                                cfg.scope
                                    .iter()
                                    .map(|l| (l.as_str(), labels.get(l).map_or("", String::as_str))),
                            );
                            // A count: whole, never negative.
                            (scope, value.max(0.0).round().min(f64::from(u32::MAX)) as u32)
                        })
                        .collect();
                    last.insert(rule.name().to_owned(), (Instant::now(), counts));
                }
                Err(e) => {
                    tracing::warn!(rule = rule.name(), error = %e, "cannot count the known targets of the blast radius; the last counts stand for a while, then max_heals alone");
                }
            }
        }
        last.retain(|_, (at, _)| at.elapsed() < STALE_AFTER);
        let mut known = KnownTargets::new();
        for (rule, (_, counts)) in last.iter() {
            for (scope, n) in counts {
                known.insert((rule.clone(), scope.clone()), *n);
            }
        }
        self.known.replace(known);
        answered
    }

    /// Counts every [`RECOUNT_EVERY`] until `stop`.
    pub async fn run(self: std::sync::Arc<Self>, stop: CancellationToken) {
        loop {
            self.recount().await;
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(RECOUNT_EVERY) => {}
            }
        }
    }
}
