//! The rules' guards asked of Prometheus, on the webhook request's own task before the alerts
//! are stored (and by reconciliation and replay): each distinct query once, all at once, each
//! within [`GUARD_TIMEOUT`]. An answer is reused for [`GUARD_REUSE`], so a storm of alerts
//! under one guard asks Prometheus once, not once per alert.
use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use app::ssr::guards::{AnswersFuture, AsksGuards};
use app::ssr::heal::guard::{GuardAnswer, GuardAnswers};

use crate::outgoing::Outgoing;
use crate::verify::Prometheus;

/// Longest wait for one guard's answer: past it the guard is unknown and nothing runs. Short,
/// since the webhook's answer to Alertmanager waits for it.
pub const GUARD_TIMEOUT: Duration = Duration::from_secs(2);

/// How long an answer is reused. Short: a dependency that came back counts within seconds.
pub const GUARD_REUSE: Duration = Duration::from_secs(2);

/// Asks one Prometheus the guards' queries.
#[derive(Debug)]
pub struct PrometheusGuards {
    prometheus: Prometheus,
    recent: Mutex<HashMap<String, (Instant, GuardAnswer)>>,
}

impl PrometheusGuards {
    pub fn new(base_url: &str, outgoing: &Outgoing) -> PrometheusGuards {
        let prometheus = Prometheus::with_timeout(base_url, outgoing, GUARD_TIMEOUT);
        PrometheusGuards { prometheus, recent: Mutex::new(HashMap::new()) }
    }

    async fn answer(&self, query: String) -> (String, GuardAnswer) {
        let answer = match self.prometheus.holds(&query).await {
            Ok(true) => GuardAnswer::Holds,
            Ok(false) => GuardAnswer::Fails,
            Err(why) => GuardAnswer::Unknown(why),
        };
        (query, answer)
    }
}

impl AsksGuards for PrometheusGuards {
    fn ask<'a>(&'a self, queries: BTreeSet<String>) -> AnswersFuture<'a> {
        Box::pin(async move {
            let mut answers = GuardAnswers::new();
            let mut ask = Vec::new();
            {
                let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
                recent.retain(|_, (at, _)| at.elapsed() < GUARD_REUSE);
                for q in queries {
                    match recent.get(&q) {
                        Some((_, answer)) => {
                            answers.insert(q, answer.clone());
                        }
                        None => ask.push(q),
                    }
                }
            }
            let asked = futures_util::future::join_all(ask.into_iter().map(|q| self.answer(q))).await;
            let now = Instant::now();
            let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
            for (q, answer) in asked {
                // An unknown answer is not reused: the next alert asks again.
                if matches!(answer, GuardAnswer::Unknown(_)) {
                    answers.insert(q, answer);
                    continue;
                }
                recent.insert(q.clone(), (now, answer.clone()));
                answers.insert(q, answer);
            }
            answers
        })
    }
}
