//! The approvals queue: runs in `awaiting_approval`, with their alert's name.
use super::backend::{on_backend, Ex};

use crate::model::{PendingApproval, RunStatus};

/// Most runs the queue lists: more waiting than this is a runaway rule, not a queue to read.
pub const MAX_PENDING_APPROVALS: i64 = 500;

/// Runs awaiting approval, oldest first (the order they expire in), at most `limit`.
pub async fn pending_approvals<'c>(
    ex: impl Into<Ex<'c>>,
    limit: i64,
) -> Result<Vec<PendingApproval>, sqlx::Error> {
    on_backend!(ex, |e| sqlx::query_as(
        "SELECT r.id AS run_id, r.alert_id, a.alertname, r.rule, r.target, r.playbook, r.requested_by, \
                r.created_at AS requested_at \
         FROM heal_runs r LEFT JOIN alerts a ON a.id = r.alert_id \
         WHERE r.status = $1 ORDER BY r.id LIMIT $2",
    )
    .bind(RunStatus::AwaitingApproval)
    .bind(limit)
    .fetch_all(e)
    .await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssr::db::test_pool;

    #[tokio::test]
    async fn only_runs_awaiting_approval_are_listed_oldest_first_with_their_alert() {
        let pool = test_pool().await;
        crate::ssr::db::insert_test_alert(&pool, 7, "NginxDown").await;
        for (id, alert, target, status) in [
            (1, Some(7), "web1", "awaiting_approval"),
            (2, None, "web2", "queued"),
            (3, None, "web3", "awaiting_approval"),
            (4, Some(7), "web4", "cancelled"),
        ] {
            sqlx::query(
                "INSERT INTO heal_runs (id, alert_id, rule, playbook, target, mode, status, requested_by, extra_vars, \
                 timeout_ms, verify_within_ms, created_at) \
                 VALUES (?, ?, 'nginx-down', 'heal-nginx.yml', ?, 'approval', ?, 'engine', '{}', 1000, 1000, ?)",
            )
            .bind(id)
            .bind(alert)
            .bind(target)
            .bind(status)
            .bind(format!("2026-01-01T00:00:0{id}.000Z"))
            .execute(&pool)
            .await
            .unwrap();
        }
        let pending = pending_approvals(&pool, 10).await.unwrap();
        let got: Vec<_> =
            pending.iter().map(|p| (p.run_id, p.alertname.as_deref(), p.target.as_str())).collect();
        assert_eq!(got, [(1, Some("NginxDown"), "web1"), (3, None, "web3")]);
        assert_eq!(pending[0].requested_at, "2026-01-01T00:00:01.000Z");
        assert_eq!(pending_approvals(&pool, 1).await.unwrap().len(), 1, "the limit holds");
    }
}
