//! Asking the rules' guards ([`crate::ssr::heal::guard`]) before a decision: the server crate
//! asks Prometheus; the decision code sees only this interface.
use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;

use crate::ssr::heal::guard::{self, GuardAnswers};
use crate::ssr::heal::Prejudged;

/// The answers to a set of guard queries (every query answered, `Unknown` when not).
pub type AnswersFuture<'a> = Pin<Box<dyn Future<Output = GuardAnswers> + Send + 'a>>;

/// Answers guard queries: does each return a sample now?
pub trait AsksGuards: Send + Sync + std::fmt::Debug {
    fn ask<'a>(&'a self, queries: BTreeSet<String>) -> AnswersFuture<'a>;
}

/// Asks the guards `verdicts` have (each query once) through `asker` and gives them their
/// answers; returns the answers, for verdicts made again later (a rules reload in between).
/// With no guards, nothing is asked. Without an asker, guards stay unasked: `guard_unknown`.
pub async fn answer_guards(asker: Option<&dyn AsksGuards>, verdicts: &mut [Prejudged]) -> GuardAnswers {
    let queries = guard::pending_queries(verdicts.iter());
    let Some(asker) = asker.filter(|_| !queries.is_empty()) else {
        return GuardAnswers::new();
    };
    let answers = asker.ask(queries).await;
    for verdict in verdicts.iter_mut() {
        guard::fill(verdict, &answers);
    }
    answers
}
