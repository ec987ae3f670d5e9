//! One stored alert through today's rules against the stored history, for replay: the same
//! pure decision ([`prejudge`], then [`weigh`]) the inbox writer makes at intake.
use sqlx::SqliteConnection;
use time::OffsetDateTime;

use crate::ssr::alert::{AlertStatus, Labels};
use crate::ssr::db::decisions::{self, StoredAlert};
use crate::ssr::guards::{answer_guards, AsksGuards};
use crate::ssr::heal::guard::{self, GuardAnswers};
use crate::ssr::heal::{
    decide_batch, prejudge, Decision, Judged, KnownHosts, Prejudged, Rule, Skip, SkipReason, TargetHistory,
};

/// What the rules say about an alert now.
#[derive(Debug)]
pub struct Evaluation<'r> {
    pub rule: Option<&'r Rule>,
    pub decision: Decision,
}

/// What a decision is made with: today's rules, the inventory's hosts (a `--limit` must name
/// one), and what asks the rules' guards.
#[derive(Clone, Copy)]
pub struct DecideWith<'a> {
    pub rules: &'a [Rule],
    pub hosts: &'a KnownHosts,
    pub guards: Option<&'a dyn AsksGuards>,
}

/// The answers `alert`'s guards get now (none when its rule has none): asked before a
/// transaction is opened, so no write waits on Prometheus.
pub async fn ask_guards(with: DecideWith<'_>, alert: &StoredAlert) -> GuardAnswers {
    let Ok(labels) = Labels::parse(&alert.labels) else { return GuardAnswers::new() };
    let status = if alert.status == "resolved" { AlertStatus::Resolved } else { AlertStatus::Firing };
    let mut verdict = [prejudge(with.rules, with.hosts, status, &labels)];
    answer_guards(with.guards, &mut verdict).await
}

/// Evaluates `alert` under `with`'s rules at `now`, with its target's history read through
/// `conn` and its guards answered by `answers` ([`ask_guards`]). Stored labels that cannot be
/// read are refused, never taken for "no labels".
pub async fn evaluate<'r>(
    conn: &mut SqliteConnection,
    with: DecideWith<'r>,
    alert: &StoredAlert,
    now: OffsetDateTime,
    answers: &GuardAnswers,
) -> Result<Evaluation<'r>, sqlx::Error> {
    let (rules, hosts) = (with.rules, with.hosts);
    let labels = match Labels::parse(&alert.labels) {
        Ok(labels) => labels,
        Err(detail) => {
            let decision = Decision::Skip(Skip { reason: SkipReason::InvalidLabels, detail });
            return Ok(Evaluation { rule: None, decision });
        }
    };
    let status = if alert.status == "resolved" { AlertStatus::Resolved } else { AlertStatus::Firing };
    let mut verdict = prejudge(rules, hosts, status, &labels);
    guard::fill(&mut verdict, answers);
    let history = match &verdict {
        Prejudged::Check { rule, plan, .. } => {
            decisions::target_history(conn, &rules[*rule], &plan.target, now).await?
        }
        Prejudged::Skip { .. } => TargetHistory::default(),
    };
    let paused = crate::ssr::db::pauses::paused(&mut *conn).await?;
    let judged = decide_batch(rules, [&verdict], &paused, |_, _| Ok::<_, std::convert::Infallible>(history));
    let Ok(mut judged) = judged;
    let Judged { rule, decision, .. } = judged.remove(0);
    Ok(Evaluation { rule: rule.map(|i| &rules[i]), decision })
}
