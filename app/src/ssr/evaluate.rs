//! One stored alert through today's rules against the stored history, for replay: the same
//! pure decision ([`prejudge`], then [`weigh`]) the inbox writer makes at intake.
use sqlx::SqliteConnection;
use time::OffsetDateTime;

use crate::ssr::alert::{AlertStatus, Labels};
use crate::ssr::db::decisions::{self, StoredAlert};
use crate::ssr::heal::{
    decide_batch, prejudge, Decision, Judged, KnownHosts, Prejudged, Rule, Skip, SkipReason, TargetHistory,
};

/// What the rules say about an alert now.
#[derive(Debug)]
pub struct Evaluation<'r> {
    pub rule: Option<&'r Rule>,
    pub decision: Decision,
}

/// Evaluates `alert` under `rules` at `now`, with its target's history read through `conn`.
/// Stored labels that cannot be read are refused, never taken for "no labels".
pub async fn evaluate<'r>(
    conn: &mut SqliteConnection,
    rules: &'r [Rule],
    hosts: &KnownHosts,
    alert: &StoredAlert,
    now: OffsetDateTime,
) -> Result<Evaluation<'r>, sqlx::Error> {
    let labels = match Labels::parse(&alert.labels) {
        Ok(labels) => labels,
        Err(detail) => {
            let decision = Decision::Skip(Skip { reason: SkipReason::InvalidLabels, detail });
            return Ok(Evaluation { rule: None, decision });
        }
    };
    let status = if alert.status == "resolved" { AlertStatus::Resolved } else { AlertStatus::Firing };
    let verdict = prejudge(rules, hosts, status, &labels);
    let history = match &verdict {
        Prejudged::Check { rule, plan } => {
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
