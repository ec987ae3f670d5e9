//! The verification stage's queue: finished runs whose verification is `pending`, claimed one
//! at a time by the verifier (`verifying_since`), released when a stop cuts a verification short.
use super::backend::{on_backend, Ex};

use crate::model::{RunStatus, Verification};

/// A finished run whose verification the verifier has claimed.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct VerifyingRun {
    pub id: i64,
    pub rule: String,
    pub target: String,
    /// How the playbook ended (only `succeeded` runs are verified).
    pub status: RunStatus,
    pub verify_expr: Option<String>,
    pub verify_within_ms: i64,
    pub alert_starts_at: Option<String>,
    /// When the playbook ended: the verification window is measured from here.
    pub finished_at: Option<String>,
    /// The Alertmanager silence covering the run, expired once the verdict is in.
    pub silence_id: Option<String>,
    /// The alertname of the run's alert: what the default verification waits to clear.
    pub alertname: Option<String>,
}

/// A pending verification found at start.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct PendingVerification {
    pub id: i64,
    pub finished_at: Option<String>,
    pub verify_within_ms: i64,
}

/// Atomically takes the oldest unclaimed pending verification (only run `only` when given) and
/// stamps it with `now` and the claiming `replica`. Its verification stays `pending` until the verdict is stored. On
/// PostgreSQL, where replicas claim at once, the candidate is locked and skipped by the others
/// (`FOR UPDATE SKIP LOCKED`), so no verification is claimed twice.
pub async fn claim_verification<'c>(
    ex: impl Into<Ex<'c>>,
    only: Option<i64>,
    now: &str,
    replica: &str,
) -> Result<Option<VerifyingRun>, sqlx::Error> {
    on_backend!(ex, |e, pg| {
        let lock = if pg { " FOR UPDATE SKIP LOCKED" } else { "" };
        sqlx::query_as(&format!(
            "UPDATE heal_runs SET verifying_since = $1, verifying_by = $4 \
             WHERE id = (SELECT id FROM heal_runs WHERE verification = $3 AND verifying_since IS NULL \
                         AND ($2 IS NULL OR id = $2) ORDER BY id LIMIT 1{lock}) \
             RETURNING id, rule, target, status, verify_expr, verify_within_ms, alert_starts_at, finished_at, \
                       silence_id, (SELECT a.alertname FROM alerts a WHERE a.id = heal_runs.alert_id) AS alertname"
        ))
        .bind(now)
        .bind(only)
        .bind(Verification::Pending)
        .bind(replica)
        .fetch_optional(e)
        .await
    })
}

/// Gives a claimed verification back (a stop cut it short): it stays `pending` for the next
/// claim. Returns whether it was still pending.
pub async fn release_verification<'c>(ex: impl Into<Ex<'c>>, run_id: i64) -> Result<bool, sqlx::Error> {
    let done = on_backend!(ex, |e| {
        sqlx::query(
        "UPDATE heal_runs SET verifying_since = NULL, verifying_by = NULL WHERE id = $1 AND verification = $2"
    )
    .bind(run_id)
    .bind(Verification::Pending)
    .execute(e)
    .await
    .map(|d| d.rows_affected())
    })?;
    Ok(done == 1)
}

/// At start: claims left by a previous process (stopped or killed while verifying) no longer
/// hold. Returns every pending verification, oldest first, so the caller can end those whose
/// window closed while selfheal was down. (With several replicas only a dead replica's claims
/// may be given back: that waits for the replicas' heartbeats, docs/ha.md.)
pub async fn unclaim_pending_verifications<'c>(
    ex: impl Into<Ex<'c>>,
) -> Result<Vec<PendingVerification>, sqlx::Error> {
    let mut pending: Vec<PendingVerification> = on_backend!(ex, |e| sqlx::query_as(
        "UPDATE heal_runs SET verifying_since = NULL, verifying_by = NULL WHERE verification = $1 \
         RETURNING id, finished_at, verify_within_ms",
    )
    .bind(Verification::Pending)
    .fetch_all(e)
    .await)?;
    pending.sort_by_key(|p| p.id);
    Ok(pending)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::ssr::db::runs::{
        claim_next_run, enqueue_run, finish_run, set_verification, FinishedRun, NewRun,
    };
    use crate::ssr::db::test_pool;
    use crate::ssr::heal::{Plan, RuleMode};

    /// A run on `target` that ran and ended `succeeded` with `verification`; returns its id.
    async fn finished(pool: &sqlx::SqlitePool, target: &str, verification: Verification) -> i64 {
        let plan = Plan {
            rule: "nginx-down".into(),
            playbook: "heal-nginx.yml".into(),
            target: target.into(),
            limit: None,
            extra_vars: BTreeMap::new(),
            mode: RuleMode::Auto,
            blast_scope: None,
            held: None,
        };
        let run = NewRun {
            alert_id: None,
            plan: &plan,
            requested_by: "engine",
            timeout_ms: 60_000,
            verify_expr: Some("up == 1"),
            verify_within_ms: 30_000,
            alert_starts_at: None,
            now: "2026-01-01T00:00:00.000Z",
        };
        let mut conn = pool.acquire().await.unwrap();
        enqueue_run(&mut conn, &run).await.unwrap().unwrap();
        let id = claim_next_run(&mut *conn, "2026-01-01T00:00:01.000Z", "r1").await.unwrap().unwrap().id;
        let end = FinishedRun {
            status: RunStatus::Succeeded,
            exit_code: Some(0),
            error: None,
            recap: None,
            output_truncated: false,
            verification,
            now: "2026-01-01T00:00:02.000Z",
        };
        finish_run(&mut *conn, id, &end).await.unwrap();
        id
    }

    #[tokio::test]
    async fn pending_verifications_are_claimed_once_in_order_and_can_be_released() {
        let pool = test_pool().await;
        let skipped = finished(&pool, "web0", Verification::Skipped).await;
        let (a, b) = (
            finished(&pool, "web1", Verification::Pending).await,
            finished(&pool, "web2", Verification::Pending).await,
        );
        let now = "2026-01-01T00:00:03.000Z";

        let first = claim_verification(&pool, None, now, "r1").await.unwrap().unwrap();
        assert_eq!((first.id, first.status), (a, RunStatus::Succeeded));
        assert_eq!(first.finished_at.as_deref(), Some("2026-01-01T00:00:02.000Z"));
        assert_eq!((first.verify_expr.as_deref(), first.verify_within_ms), (Some("up == 1"), 30_000));
        assert!(claim_verification(&pool, Some(a), now, "r1").await.unwrap().is_none(), "claimed already");
        assert!(claim_verification(&pool, Some(skipped), now, "r1").await.unwrap().is_none(), "not pending");
        assert_eq!(claim_verification(&pool, None, now, "r1").await.unwrap().map(|r| r.id), Some(b));
        assert!(claim_verification(&pool, None, now, "r1").await.unwrap().is_none(), "all claimed");

        assert!(release_verification(&pool, a).await.unwrap());
        assert_eq!(claim_verification(&pool, None, now, "r1").await.unwrap().map(|r| r.id), Some(a));
        let v: (String, Option<String>) =
            sqlx::query_as("SELECT verification, verifying_since FROM heal_runs WHERE id = ?")
                .bind(a)
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(v, ("pending".to_owned(), Some(now.to_owned())), "claimed, still pending");
    }

    #[tokio::test]
    async fn at_start_every_claim_is_released_and_a_verdict_ends_the_wait() {
        let pool = test_pool().await;
        let (a, b) = (
            finished(&pool, "web1", Verification::Pending).await,
            finished(&pool, "web2", Verification::Pending).await,
        );
        finished(&pool, "web3", Verification::Skipped).await;
        let now = "2026-01-01T00:00:03.000Z";
        claim_verification(&pool, Some(b), now, "r1").await.unwrap().unwrap();

        let pending = unclaim_pending_verifications(&pool).await.unwrap();
        let row = |id| PendingVerification {
            id,
            finished_at: Some("2026-01-01T00:00:02.000Z".to_owned()),
            verify_within_ms: 30_000,
        };
        assert_eq!(pending, [row(a), row(b)]);
        assert_eq!(claim_verification(&pool, Some(b), now, "r1").await.unwrap().map(|r| r.id), Some(b));

        set_verification(&pool, b, Verification::Verified, None, Some(5), now).await.unwrap();
        assert!(!release_verification(&pool, b).await.unwrap(), "a verdict is final");
        assert_eq!(unclaim_pending_verifications(&pool).await.unwrap(), [row(a)]);
        assert_eq!(claim_verification(&pool, None, now, "r1").await.unwrap().map(|r| r.id), Some(a));
        assert!(claim_verification(&pool, None, now, "r1").await.unwrap().is_none());
    }
}
