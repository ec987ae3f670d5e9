//! A database stays fast through and after a large prune: the prune's own lookups use indexes,
//! and afterwards the statistics are fresh and `list_alerts` still walks its indexes.
use super::*;
use crate::ssr::db::lists::{alerts_sql, Window};
use crate::ssr::db::test_pool;
use crate::ssr::filter::AlertQuery;
use sqlx::SqlitePool;

const OLD: &str = "2026-01-01T00:00:00.000Z";

/// Runs `step` until it is done.
async fn drain(pool: &SqlitePool, step: Step, cut: &Cutoffs) -> Pruned {
    let (mut total, mut from) = (Pruned::default(), 0);
    loop {
        let batch = prune_batch(pool, step, cut, from, PRUNE_BATCH).await.unwrap();
        total.add(&batch.pruned);
        match batch.next {
            Some(next) => from = next,
            None => return total,
        }
    }
}

#[tokio::test]
async fn a_large_prune_leaves_fresh_statistics_and_list_alerts_on_its_indexes() {
    let pool = test_pool().await;
    // 50,000 episodes three minutes apart, from OLD on; every 50th still firing.
    sqlx::query(
        "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 50000), \
         t AS (SELECT i, strftime('%Y-%m-%dT%H:%M:%fZ', ?1, '+' || (i * 3) || ' minutes') AS at FROM k) \
         INSERT INTO alerts (fingerprint, starts_at, status, alertname, labels, annotations, source, \
                             first_seen_at, last_seen_at, resolved_at, decided_at) \
         SELECT printf('f%08d', i), at, CASE WHEN i % 50 = 0 THEN 'firing' ELSE 'resolved' END, \
                CASE i % 4 WHEN 0 THEN 'NginxDown' WHEN 1 THEN 'DiskFull' WHEN 2 THEN 'HostDown' ELSE 'Backlog' END, \
                '{}', '{}', 'webhook', at, at, at, at FROM t",
    )
    .bind(OLD)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO decisions (alert_id, at, outcome, reason, detail) \
         SELECT id, '', 'skipped', 'x', '' FROM alerts",
    )
    .execute(&pool)
    .await
    .unwrap();
    // Statistics from when the table was full: what a large prune makes wrong.
    sqlx::query("ANALYZE").execute(&pool).await.unwrap();
    // The episode 49,000 started then: all resolved ones before it go, 48,020 of 50,000 rows.
    let cutoff = Cutoffs {
        alerts: "2026-04-13T02:00:00.000Z".into(),
        alerts_max: 1_000_000,
        notifications: OLD.into(),
        run_output: OLD.into(),
        runs: OLD.into(),
        audit: OLD.into(),
        now: OLD.into(),
    };
    let pruned = drain(&pool, Step::Alerts, &cutoff).await;
    assert_eq!((pruned.alerts, pruned.decisions), (48_020, 48_020));

    tidy_after_prune(&pool).await.unwrap();
    let stat: String = sqlx::query_scalar("SELECT stat FROM sqlite_stat1 WHERE idx = 'alerts_status_id'")
        .fetch_one(&pool)
        .await
        .unwrap();
    let rows: i64 = stat.split(' ').next().unwrap().parse().unwrap();
    assert!(rows <= 2_000, "statistics still describe the table before the prune: {stat}");

    for (name, status, alertname) in [
        ("newest first", None, None),
        ("by status", Some("firing"), None),
        ("by name", None, Some("DiskFull")),
    ] {
        let q = AlertQuery {
            status: status.map(str::to_owned),
            alertname: alertname.map(str::to_owned),
            ..Default::default()
        };
        let mut explain = alerts_sql("EXPLAIN QUERY PLAN ", &q, Window::page(None, 50_000, 50));
        let plan: Vec<(i64, i64, i64, String)> = explain.build_query_as().fetch_all(&pool).await.unwrap();
        let text = plan.iter().map(|r| r.3.as_str()).collect::<Vec<_>>().join(" | ");
        let on_index = ["SEARCH a USING INTEGER PRIMARY KEY", "alerts_status_id", "alerts_alertname_id"];
        assert!(
            on_index.iter().any(|i| text.contains(i)),
            "{name}: alerts not read through an index: {text}"
        );
        assert!(!text.contains("TEMP B-TREE"), "{name}: sorts instead of walking an index: {text}");
        assert!(text.contains("SEARCH d USING INDEX decisions_alert"), "{name}: {text}");
        assert!(text.contains("SEARCH n USING INTEGER PRIMARY KEY"), "{name}: {text}");
    }
}

#[tokio::test]
async fn every_foreign_key_a_prune_deletes_through_is_indexed() {
    // Deleting a parent makes SQLite look up its children: without an index, a scan per row.
    let pool = test_pool().await;
    for (child, column) in [
        ("alerts", "last_notification_id"),
        ("heal_runs", "alert_id"),
        ("decisions", "alert_id"),
        ("decisions", "run_id"),
        ("outbound_notifications", "run_id"),
        ("run_output", "run_id"),
        ("audit_chain", "event_id"),
    ] {
        // A literal and a bound value: a partial index (`WHERE column IS NOT NULL`) must serve
        // both, as it serves SQLite's own child-key scan.
        for value in ["1", "?"] {
            let sql = format!("EXPLAIN QUERY PLAN SELECT 1 FROM {child} WHERE {column} = {value}");
            let mut query = sqlx::query_as::<_, (i64, i64, i64, String)>(&sql);
            if value == "?" {
                query = query.bind(1_i64);
            }
            let plan = query.fetch_all(&pool).await.unwrap();
            let text = plan.iter().map(|r| r.3.as_str()).collect::<Vec<_>>().join(" | ");
            assert!(text.starts_with(&format!("SEARCH {child} USING")), "{child}.{column} = {value}: {text}");
        }
    }
}
