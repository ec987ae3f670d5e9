//! One stored alert through today's rules against the stored history, for replay: the same
//! pure decision ([`prejudge`], then [`weigh`]) the inbox writer makes at intake.
use std::sync::Arc;

use crate::ssr::db::backend::{on_conn, pg_sql, Conn};
use time::OffsetDateTime;

use crate::ssr::alert::{AlertStatus, Labels};
use crate::ssr::db::decisions::{self, StoredAlert};
use crate::ssr::guards::{answer_guards, AsksGuards};
use crate::ssr::heal::blast::{BlastHistory, KnownTargets};
use crate::ssr::heal::guard::{self, GuardAnswers};
use crate::ssr::heal::{
    decide_batch, prejudge, Decision, Gates, Judged, KnownHosts, Prejudged, Rule, Skip, SkipReason,
    TargetHistory,
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
    /// The known targets per blast scope, as the server last counted them.
    pub known: &'a Arc<KnownTargets>,
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
    conn: impl Into<Conn<'_>>,
    with: DecideWith<'r>,
    alert: &StoredAlert,
    now: OffsetDateTime,
    answers: &GuardAnswers,
) -> Result<Evaluation<'r>, sqlx::Error> {
    let mut conn: Conn<'_> = conn.into();
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
    if let Prejudged::Check { window, .. } = &mut verdict {
        let windows = on_conn!(&mut conn, |e| crate::ssr::db::windows::in_force(e).await)?;
        *window = crate::ssr::heal::window::covering(&windows, &labels, now).map(Box::new);
    }
    let mut gates = Gates {
        paused: on_conn!(&mut conn, |e| crate::ssr::db::pauses::paused(e).await)?,
        known: with.known.clone(),
        ..Gates::default()
    };
    let history = match &verdict {
        Prejudged::Check { rule, plan, .. } => {
            let rule = &rules[*rule];
            if let (Some(cfg), Some(scope)) = (&rule.config.blast_radius, &plan.blast_scope) {
                let since = crate::ssr::alert::format_utc(now - cfg.window);
                let pg = conn.is_pg();
                let sql = if pg {
                    pg_sql!(crate::ssr::db::blast::BLAST_HISTORY_SQL)
                } else {
                    crate::ssr::db::blast::BLAST_HISTORY_SQL
                };
                let (heals, tripped): (i64, bool) = on_conn!(&mut conn, |e| sqlx::query_as(sql)
                    .bind(rule.name())
                    .bind(scope)
                    .bind(&since)
                    .fetch_one(&mut *e)
                    .await)?;
                let heals = u32::try_from(heals).unwrap_or(u32::MAX);
                gates.blast.insert((rule.name().to_owned(), scope.clone()), BlastHistory { heals, tripped });
            }
            on_conn!(&mut conn, |e| decisions::target_history(e, rule, &plan.target, now).await)?
        }
        Prejudged::Skip { .. } => TargetHistory::default(),
    };
    let judged = decide_batch(rules, [&verdict], &gates, |_, _| Ok::<_, std::convert::Infallible>(history));
    let Ok(mut judged) = judged;
    let Judged { rule, decision, .. } = judged.remove(0);
    Ok(Evaluation { rule: rule.map(|i| &rules[i]), decision })
}
