//! The table rebuilds that re-keyed alerts and notifications by time, on a database holding
//! data from before them: every row and reference survives, the counts stay exact, the keys
//! are time first, and foreign keys are on again afterwards.
use std::borrow::Cow;

use sqlx::migrate::Migrator;
use sqlx::SqlitePool;

use super::{migrate, MIGRATOR};

/// The first migration of the rebuilds.
const REKEY: i64 = 20261122190000;

async fn scalar(pool: &SqlitePool, sql: &str) -> String {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[tokio::test]
async fn rekeying_by_time_keeps_every_row_reference_and_count() {
    let pool =
        sqlx::sqlite::SqlitePoolOptions::new().max_connections(1).connect("sqlite::memory:").await.unwrap();
    let before: Vec<_> = MIGRATOR.iter().filter(|m| m.version < REKEY).cloned().collect();
    Migrator { migrations: Cow::Owned(before), ..Migrator::DEFAULT }.run(&pool).await.unwrap();
    sqlx::query("PRAGMA foreign_keys = ON").execute(&pool).await.unwrap();
    let payload =
        r#"{"alerts":[{"startsAt":"2026-11-22T01:25:10.341Z"},{"startsAt":"2026-11-21T00:00:00Z"}]}"#;
    sqlx::raw_sql(&format!(
        "INSERT INTO notifications (id, payload_sha256, received_at, last_received_at, source, receiver, status, \
           group_key, alert_count, payload) VALUES (7, 'abc', 't', 't', 'webhook', 'r', 'firing', 'g', 2, '{payload}'); \
         INSERT INTO alerts (id, fingerprint, starts_at, status, alertname, labels, annotations, source, \
           first_seen_at, last_seen_at, last_notification_id) \
           VALUES (3, 'f1', '2026-11-22T01:25:10.341Z', 'firing', 'NginxDown', '{{}}', '{{}}', 'webhook', 't', 't', 7), \
                  (4, 'f2', '2026-11-21T00:00:00.000Z', 'resolved', 'NginxDown', '{{}}', '{{}}', 'webhook', 't', 't', 7); \
         INSERT INTO heal_runs (id, alert_id, rule, playbook, target, mode, status, requested_by, extra_vars, \
           timeout_ms, verify_within_ms, created_at) \
           VALUES (9, 3, 'r', 'p.yml', 'web1', 'auto', 'succeeded', 'engine', '{{}}', 1, 1, 't');"
    ))
    .execute(&pool)
    .await
    .unwrap();

    migrate(&pool).await.unwrap();

    let rows =
        scalar(&pool, "SELECT group_concat(id || ':' || fingerprint || ':' || status) FROM alerts").await;
    assert_eq!(rows, "3:f1:firing,4:f2:resolved");
    let counts = scalar(&pool, "SELECT group_concat(status || '=' || n) FROM alert_counts").await;
    assert_eq!(counts, "firing=1,resolved=1");
    let key =
        scalar(&pool, "SELECT newest_starts_at || ' ' || payload_sha256 FROM notifications WHERE id = 7")
            .await;
    assert_eq!(key, "2026-11-22T01:25:10.341Z abc", "backfilled from the raw payload");
    let run_alert: i64 =
        sqlx::query_scalar("SELECT alert_id FROM heal_runs WHERE id = 9").fetch_one(&pool).await.unwrap();
    assert_eq!(run_alert, 3);
    for (index, first) in [("alerts", "starts_at"), ("notifications", "newest_starts_at")] {
        let sql = format!(
            "SELECT ii.name FROM pragma_index_list('{index}') il, pragma_index_info(il.name) ii \
             WHERE il.\"unique\" AND il.origin = 'u' AND ii.seqno = 0"
        );
        assert_eq!(scalar(&pool, &sql).await, first, "{index} is keyed by time first");
    }
    let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys").fetch_one(&pool).await.unwrap();
    assert_eq!(fk, 1, "foreign keys are on again");
    let dangling = sqlx::query("INSERT INTO heal_runs (alert_id, rule, playbook, target, mode, status, requested_by, \
        extra_vars, timeout_ms, verify_within_ms, created_at) VALUES (999, 'r', 'p.yml', 'web2', 'auto', 'queued', \
        'engine', '{}', 1, 1, 't')")
        .execute(&pool)
        .await;
    assert!(dangling.is_err(), "references are enforced on the rebuilt table");
}

#[tokio::test]
async fn a_migration_that_leaves_a_dangling_reference_fails() {
    let pool =
        sqlx::sqlite::SqlitePoolOptions::new().max_connections(1).connect("sqlite::memory:").await.unwrap();
    let before: Vec<_> = MIGRATOR.iter().filter(|m| m.version < REKEY).cloned().collect();
    Migrator { migrations: Cow::Owned(before), ..Migrator::DEFAULT }.run(&pool).await.unwrap();
    sqlx::raw_sql(
        "PRAGMA foreign_keys = OFF; \
         INSERT INTO heal_runs (alert_id, rule, playbook, target, mode, status, requested_by, extra_vars, \
           timeout_ms, verify_within_ms, created_at) VALUES (42, 'r', 'p.yml', 'web1', 'auto', 'queued', 'engine', \
           '{}', 1, 1, 't');",
    )
    .execute(&pool)
    .await
    .unwrap();
    let err = migrate(&pool).await.unwrap_err().to_string();
    assert!(err.contains("heal_runs") && err.contains("alerts"), "{err}");
}
