//! Runs by hour for the overview's charts: counts by outcome, and the times to heal.
use sqlx::FromRow;

use super::backend::{on_backend, Ex};

use crate::model::{RunStatus, Verification};

/// Runs created in one hour (`hour` is `YYYY-MM-DDTHH`, UTC).
#[derive(Clone, Debug, PartialEq, Eq, FromRow)]
pub struct HourCounts {
    pub hour: String,
    pub runs: i64,
    pub verified: i64,
    /// Failed, timed out, or finished but the condition did not clear.
    pub failed: i64,
}

/// Runs created at or after `since`, counted per hour, oldest first (hours with no run are
/// absent). A range scan of `heal_runs_created_at`.
pub async fn runs_per_hour<'c>(ex: impl Into<Ex<'c>>, since: &str) -> Result<Vec<HourCounts>, sqlx::Error> {
    on_backend!(ex, |e| sqlx::query_as(
        "SELECT substr(created_at, 1, 13) AS hour, count(*) AS runs, \
                count(*) FILTER (WHERE verification = $2) AS verified, \
                count(*) FILTER (WHERE status IN ($3, $4) OR verification = $5) AS failed \
         FROM heal_runs WHERE created_at >= $1 GROUP BY hour ORDER BY hour",
    )
    .bind(since)
    .bind(Verification::Verified)
    .bind(RunStatus::Failed)
    .bind(RunStatus::TimedOut)
    .bind(Verification::NotFixed)
    .fetch_all(e)
    .await)
}

/// `(hour, time to heal in ms)` of the verified runs created at or after `since`, by hour.
pub async fn times_to_heal<'c>(
    ex: impl Into<Ex<'c>>,
    since: &str,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    on_backend!(ex, |e| sqlx::query_as(
        "SELECT substr(created_at, 1, 13), time_to_heal_ms FROM heal_runs \
         WHERE created_at >= $1 AND time_to_heal_ms IS NOT NULL ORDER BY created_at",
    )
    .bind(since)
    .fetch_all(e)
    .await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssr::db::test_pool;

    async fn run(
        pool: &sqlx::SqlitePool,
        created_at: &str,
        status: &str,
        verification: Option<&str>,
        tth: Option<i64>,
    ) {
        sqlx::query(
            "INSERT INTO heal_runs (rule, playbook, target, mode, status, verification, requested_by, \
             extra_vars, timeout_ms, verify_within_ms, created_at, time_to_heal_ms) \
             VALUES ('r', 'p.yml', 't', 'auto', ?, ?, 'engine', '{}', 1000, 1000, ?, ?)",
        )
        .bind(status)
        .bind(verification)
        .bind(created_at)
        .bind(tth)
        .execute(pool)
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn runs_are_counted_per_hour_by_outcome_from_the_given_time() {
        let pool = test_pool().await;
        run(&pool, "2026-11-22T09:59:59.000Z", "succeeded", Some("verified"), Some(5000)).await;
        run(&pool, "2026-11-22T10:00:00.000Z", "succeeded", Some("verified"), Some(4000)).await;
        run(&pool, "2026-11-22T10:30:00.000Z", "succeeded", Some("not_fixed"), None).await;
        run(&pool, "2026-11-22T10:45:00.000Z", "timed_out", None, None).await;
        run(&pool, "2026-11-22T12:05:00.000Z", "succeeded", Some("verified"), Some(9000)).await;
        run(&pool, "2026-11-22T12:06:00.000Z", "cancelled", None, None).await;

        let hours = runs_per_hour(&pool, "2026-11-22T10:00:00.000Z").await.unwrap();
        let h = |hour: &str, runs, verified, failed| HourCounts { hour: hour.into(), runs, verified, failed };
        assert_eq!(hours, vec![h("2026-11-22T10", 3, 1, 2), h("2026-11-22T12", 2, 1, 0)]);

        let tth = times_to_heal(&pool, "2026-11-22T10:00:00.000Z").await.unwrap();
        assert_eq!(tth, vec![("2026-11-22T10".into(), 4000), ("2026-11-22T12".into(), 9000)]);
    }
}
