//! `selfheal dev seed` on both backends (issue 28: the dashboard benchmark on PostgreSQL): the
//! same alerts, runs and output — ids, names, statuses, links — whatever the backend; the times
//! spread over the same thirty days; PostgreSQL's id sequences continue after the seeded rows.
use app::ssr::db::backend::Db;
use app::ssr::db::seed::{seed, SeedSize};

use super::both;

const SIZE: SeedSize = SeedSize { alerts: 2_000, runs: 50, lines_per_run: 3 };

/// Every seeded row but its times, in id order, as text.
const ROWS: &str = "SELECT 'a' || id || fingerprint || status || alertname || coalesce(severity, '') || \
     coalesce(instance, '') || CASE WHEN resolved_at IS NULL THEN 'n' ELSE 'y' END || source FROM alerts \
     UNION ALL SELECT 'r' || id || alert_id || target || limit_host || status || coalesce(verification, '') || \
     requested_by || coalesce(CAST(exit_code AS TEXT), '-') || output_lines FROM heal_runs \
     UNION ALL SELECT 'o' || run_id || '.' || seq || line FROM run_output ORDER BY 1";

#[tokio::test]
async fn the_seed_is_the_same_on_both_backends() {
    let (_dir, sqlite, _pg, pool) = both().await;
    let on_sqlite = seed(&Db::Sqlite(sqlite.clone()), SIZE).await.unwrap();
    let on_pg = seed(&Db::Pg(pool.clone()), SIZE).await.unwrap();
    assert_eq!(on_sqlite, on_pg, "the first ids");
    let rows_sqlite: Vec<String> = sqlx::query_scalar(ROWS).fetch_all(&sqlite).await.unwrap();
    let rows_pg: Vec<String> = sqlx::query_scalar(ROWS).fetch_all(&pool).await.unwrap();
    assert_eq!(rows_sqlite.len(), 2_000 + 50 + 150);
    let differ = rows_sqlite.iter().zip(&rows_pg).find(|(s, p)| s != p);
    assert!(differ.is_none(), "SQLite, then PostgreSQL: {differ:?}");
    // The same thirty days, to the second: the oldest and newest alert's time, cut to minutes.
    let span = "SELECT substr(min(starts_at), 1, 16) || ' ' || substr(max(starts_at), 1, 16) FROM alerts";
    let (s, p): (String, String) = (
        sqlx::query_scalar(span).fetch_one(&sqlite).await.unwrap(),
        sqlx::query_scalar(span).fetch_one(&pool).await.unwrap(),
    );
    assert_eq!(s, p);
    // The counts the overview reads, kept by PostgreSQL's triggers.
    let firing: i64 =
        sqlx::query_scalar("SELECT CAST(sum(n) AS BIGINT) FROM alert_counts WHERE status = 'firing'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(firing, 400);
    // A webhook's alert after the seed takes the next id.
    let next: i64 = sqlx::query_scalar(
        "INSERT INTO alerts (fingerprint, starts_at, status, alertname, labels, annotations, source, \
         first_seen_at, last_seen_at) VALUES ('new', 'x', 'firing', 'A', '{}', '{}', 'webhook', 'x', 'x') RETURNING id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(next, 2_001);
}
