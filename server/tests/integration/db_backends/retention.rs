//! Retention on both backends: every step prunes the same rows (children before parents, runs
//! in flight and their alerts kept, the newest row of a table kept), in batches.
use app::ssr::db::retention::{prune_batch, tidy_after_prune, Cutoffs, Pruned, Step};

use super::both;

const OLD: &str = "2026-01-01T00:00:00.000Z";
const NEW: &str = "2026-12-06T00:00:00.000Z";

/// Old and new rows of every table retention prunes.
fn data() -> Vec<String> {
    vec![
        format!(
            "INSERT INTO notifications (id, payload_sha256, received_at, last_received_at, source, receiver, \
             status, group_key, alert_count, payload) VALUES \
             (1, 'a', '{OLD}', '{OLD}', 'webhook', 'r', 'firing', 'g', 1, 'x'), \
             (2, 'b', '{OLD}', '{OLD}', 'webhook', 'r', 'firing', 'g', 1, 'x'), \
             (3, 'c', '{OLD}', '{OLD}', 'webhook', 'r', 'firing', 'g', 1, 'x'), \
             (4, 'd', '{NEW}', '{NEW}', 'webhook', 'r', 'firing', 'g', 1, 'x')"
        ),
        // 1, 2 old and resolved (gone); 3 firing; 4 resolved but its run is queued; 5 new; 6
        // old and resolved but the newest row.
        format!(
            "INSERT INTO alerts (id, fingerprint, starts_at, status, alertname, labels, annotations, source, \
             first_seen_at, last_seen_at, last_notification_id, decided_at) VALUES \
             (1, 'f1', '{OLD}', 'resolved', 'A', '{{}}', '{{}}', 'webhook', '{OLD}', '{OLD}', 1, '{OLD}'), \
             (2, 'f2', '{OLD}', 'resolved', 'A', '{{}}', '{{}}', 'webhook', '{OLD}', '{OLD}', NULL, '{OLD}'), \
             (3, 'f3', '{OLD}', 'firing', 'A', '{{}}', '{{}}', 'webhook', '{OLD}', '{OLD}', 2, '{OLD}'), \
             (4, 'f4', '{OLD}', 'resolved', 'A', '{{}}', '{{}}', 'webhook', '{OLD}', '{OLD}', NULL, '{OLD}'), \
             (5, 'f5', '{NEW}', 'resolved', 'A', '{{}}', '{{}}', 'webhook', '{NEW}', '{NEW}', NULL, '{NEW}'), \
             (6, 'f6', '{OLD}', 'resolved', 'A', '{{}}', '{{}}', 'webhook', '{OLD}', '{OLD}', NULL, '{OLD}')"
        ),
        format!(
            "INSERT INTO heal_runs (id, alert_id, rule, playbook, target, mode, status, requested_by, extra_vars, \
             timeout_ms, verify_within_ms, created_at, finished_at) VALUES \
             (1, 1, 'r', 'p.yml', 't1', 'auto', 'succeeded', 'engine', '{{}}', 1, 1, '{OLD}', '{OLD}'), \
             (2, 4, 'r', 'p.yml', 't2', 'auto', 'queued', 'engine', '{{}}', 1, 1, '{OLD}', NULL), \
             (3, NULL, 'r', 'p.yml', 't3', 'auto', 'failed', 'engine', '{{}}', 1, 1, '{OLD}', '{OLD}'), \
             (4, NULL, 'r', 'p.yml', 't4', 'auto', 'failed', 'engine', '{{}}', 1, 1, '{NEW}', '{NEW}')"
        ),
        format!(
            "INSERT INTO decisions (alert_id, at, outcome, reason, detail, run_id) VALUES \
             (1, '{OLD}', 'enqueued', 'enqueued', 'd', 1), (3, '{OLD}', 'skipped', 'no_rule', 'd', NULL)"
        ),
        format!(
            "INSERT INTO run_output (run_id, seq, stream, at, line) VALUES \
             (1, 1, 'stdout', '{OLD}', 'a'), (1, 2, 'stdout', '{OLD}', 'b'), (1, 3, 'stdout', '{OLD}', 'c'), \
             (4, 1, 'stdout', '{NEW}', 'kept')"
        ),
        format!(
            "INSERT INTO outbound_notifications (at, event, url, run_id, status, attempts) VALUES \
             ('{OLD}', 'run_finished', 'http://x', 3, 'delivered', 1), ('{NEW}', 'run_finished', 'http://x', 4, 'delivered', 1)"
        ),
        format!(
            "INSERT INTO breaker_resets (rule, target, reset_at, reset_by) VALUES \
             ('r', 't1', '{OLD}', 'ann'), ('r', 't1', '{NEW}', 'ann')"
        ),
    ]
}

/// What is left: (table, ids or keys).
const LEFT: &[(&str, &str)] = &[
    ("alerts", "SELECT id FROM alerts ORDER BY id"),
    ("decisions", "SELECT alert_id FROM decisions ORDER BY alert_id"),
    ("heal_runs", "SELECT id FROM heal_runs ORDER BY id"),
    ("run_output", "SELECT run_id * 10 + seq FROM run_output ORDER BY 1"),
    ("outbound", "SELECT run_id FROM outbound_notifications ORDER BY run_id"),
    ("resets", "SELECT CAST(length(reset_at) AS BIGINT) FROM breaker_resets WHERE reset_at > '2026-06-01'"),
    ("notifications", "SELECT id FROM notifications ORDER BY id"),
];

#[tokio::test]
async fn every_retention_step_prunes_alike_on_sqlite_and_postgres() {
    let (_dir, sqlite, _pg, pg) = both().await;
    let cut = Cutoffs {
        alerts: "2026-06-01".into(),
        alerts_max: 1_000,
        notifications: "2026-06-01".into(),
        run_output: "2026-06-01".into(),
        runs: "2026-06-01".into(),
        audit: "2026-06-01".into(),
        now: NEW.into(),
    };

    macro_rules! prune {
        ($pool:expr, $name:expr) => {{
            let pool = $pool;
            for sql in data() {
                sqlx::query(&sql).execute(pool).await.unwrap();
            }
            let mut total = Pruned::default();
            for step in Step::ALL {
                let mut from = Some(0);
                while let Some(cursor) = from {
                    // Batches of two: the cursors carry each step on.
                    let batch = prune_batch(pool, step, &cut, cursor, 2).await.unwrap();
                    total.add(&batch.pruned);
                    from = batch.next;
                }
            }
            tidy_after_prune(pool).await.unwrap();
            let mut left = Vec::new();
            for (table, sql) in LEFT {
                let ids: Vec<i64> = sqlx::query_scalar(sql).fetch_all(pool).await.unwrap();
                left.push((*table, ids));
            }
            (total, left)
        }};
    }
    let (lite_total, lite_left) = prune!(&sqlite, "SQLite");
    let (pg_total, pg_left) = prune!(&pg, "PostgreSQL");
    assert_eq!(pg_left, lite_left);
    assert_eq!(pg_total, lite_total);
    assert_eq!(
        pg_left,
        [
            ("alerts", vec![3, 4, 5, 6]),
            ("decisions", vec![3]),
            ("heal_runs", vec![2, 4]),
            ("run_output", vec![41]),
            ("outbound", vec![4]),
            ("resets", vec![24]),
            ("notifications", vec![2, 4]),
        ],
        "the firing alert, the alert with a run in flight, the new rows and each table's newest kept"
    );
}
