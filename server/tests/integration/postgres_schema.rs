//! The PostgreSQL schema (`migrations/postgres`) against the SQLite one (`migrations/`), on a
//! real PostgreSQL: both migrations apply, every table has the same columns (same kind, same
//! NOT NULL), the same indexes and triggers exist, and the triggers do on PostgreSQL what they
//! do on SQLite (alert counts, the no-rule flag, the append-only audit trail). A change to one
//! schema without the other fails here.
use std::collections::BTreeSet;

use sqlx::{PgPool, SqlitePool};

use crate::common::postgres::Postgres;

/// SQLite-only: the full-text index (PostgreSQL searches through a trigram index on `alerts`)
/// and its indexer's mark.
const SQLITE_ONLY_TABLES: [&str; 2] = ["alerts_search", "alert_search_state"];
/// SQLite-only triggers: they keep that full-text index in step with `alerts`.
const SQLITE_ONLY_TRIGGERS: [&str; 2] = ["alerts_search_prune", "alerts_search_reindex"];
/// PostgreSQL-only indexes: the trigram search, and SQLite's `UNIQUE COLLATE NOCASE` username.
const POSTGRES_ONLY_INDEXES: [&str; 2] = ["alerts_search_trigrams", "users_username_nocase"];
/// PostgreSQL-only columns: the alert counts' shards (replicas add to different rows).
const POSTGRES_ONLY_COLUMNS: [(&str, &str); 1] = [("alert_counts", "shard")];

/// A column: table, name, kind (`int` or `text`), NOT NULL.
type Column = (String, String, &'static str, bool);

/// Bytes on PostgreSQL, where SQLite declares TEXT and holds text or (zstd-packed) blobs.
const BYTES: [(&str, &str); 1] = [("notifications", "payload")];

fn kind(declared: &str) -> &'static str {
    match declared.to_ascii_lowercase().as_str() {
        "integer" | "bigint" => "int",
        "text" => "text",
        "bytea" => "bytes",
        other => panic!("a column type neither schema should use: {other}"),
    }
}

async fn sqlite_schema(pool: &SqlitePool) -> (BTreeSet<Column>, BTreeSet<String>, BTreeSet<String>) {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         AND name NOT LIKE '\\_sqlx%' ESCAPE '\\' AND name NOT LIKE 'alerts_search_%'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut columns = BTreeSet::new();
    for table in tables.iter().filter(|t| !SQLITE_ONLY_TABLES.contains(&t.as_str())) {
        let rows: Vec<(String, String, bool, i64)> =
            sqlx::query_as("SELECT name, type, \"notnull\", pk FROM pragma_table_info(?)")
                .bind(table)
                .fetch_all(pool)
                .await
                .unwrap();
        for (name, declared, notnull, pk) in rows {
            let bytes = BYTES.contains(&(table.as_str(), name.as_str()));
            let kind = if bytes { "bytes" } else { kind(&declared) };
            columns.insert((table.clone(), name, kind, notnull || pk > 0));
        }
    }
    let named = |kind: &'static str| async move {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = ? AND sql IS NOT NULL AND tbl_name NOT LIKE 'alerts_search%'",
        )
        .bind(kind)
        .fetch_all(pool)
        .await
        .unwrap();
        names.into_iter().collect::<BTreeSet<_>>()
    };
    let mut triggers = named("trigger").await;
    triggers.retain(|t| !SQLITE_ONLY_TRIGGERS.contains(&t.as_str()));
    (columns, named("index").await, triggers)
}

async fn postgres_schema(pool: &PgPool) -> (BTreeSet<Column>, BTreeSet<String>, BTreeSet<String>) {
    let rows: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text \
         FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let columns = rows
        .into_iter()
        .filter(|(t, c, _, _)| !POSTGRES_ONLY_COLUMNS.contains(&(t.as_str(), c.as_str())))
        .map(|(t, c, ty, nullable)| (t, c, kind(&ty), nullable == "NO"))
        .collect();
    // Constraint-backed indexes (`_pkey`, `_key`) are SQLite's autoindexes, not named there.
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT i.indexname::text FROM pg_indexes i WHERE i.schemaname = 'public' \
         AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let indexes = indexes.into_iter().filter(|i| !POSTGRES_ONLY_INDEXES.contains(&i.as_str())).collect();
    let triggers: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT trigger_name::text FROM information_schema.triggers WHERE trigger_schema = 'public'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    (columns, indexes, triggers.into_iter().collect())
}

#[tokio::test]
async fn the_postgres_schema_matches_the_sqlite_one_and_its_triggers_behave_alike() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = app::ssr::db::connect(&dir.path().join("selfheal.db")).await.unwrap();
    app::ssr::db::migrate(&sqlite).await.unwrap();
    let pg = Postgres::start();
    let url = pg.create_database("schema").await;
    let pool = PgPool::connect(&url).await.unwrap();
    app::ssr::db::POSTGRES_MIGRATOR.run(&pool).await.unwrap_or_else(|e| panic!("{e}\n{}", pg.log()));
    // Applying again changes nothing (a replica starting next to a running one).
    app::ssr::db::POSTGRES_MIGRATOR.run(&pool).await.unwrap();

    let (lite_columns, lite_indexes, lite_triggers) = sqlite_schema(&sqlite).await;
    let (pg_columns, pg_indexes, pg_triggers) = postgres_schema(&pool).await;
    let only = |a: &BTreeSet<Column>, b: &BTreeSet<Column>| a.difference(b).cloned().collect::<Vec<_>>();
    assert!(
        lite_columns == pg_columns,
        "only in SQLite: {:?}\nonly in PostgreSQL: {:?}",
        only(&lite_columns, &pg_columns),
        only(&pg_columns, &lite_columns)
    );
    assert_eq!(lite_indexes, pg_indexes);
    assert_eq!(lite_triggers, pg_triggers);
    assert!(lite_columns.len() > 150, "{} columns compared", lite_columns.len());

    // The triggers, on PostgreSQL.
    let exec = |sql: &'static str| {
        let pool = pool.clone();
        async move { sqlx::query(sql).execute(&pool).await }
    };
    let counts = || async {
        sqlx::query_as::<_, (i64, i64)>(
            "SELECT (SELECT CAST(sum(n) AS BIGINT) FROM alert_counts WHERE status = 'firing'), \
                    (SELECT CAST(sum(n) AS BIGINT) FROM alert_counts WHERE status = 'resolved')",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    exec(
        "INSERT INTO alerts (id, fingerprint, starts_at, status, alertname, labels, annotations, source, \
         first_seen_at, last_seen_at) VALUES (7, 'f', '2026-12-06T10:00:00.000Z', 'firing', 'NginxDown', '{}', \
         '{}', 'webhook', 'n', 'n')",
    )
    .await
    .unwrap();
    assert_eq!(counts().await, (1, 0));
    exec("UPDATE alerts SET status = 'resolved' WHERE id = 7").await.unwrap();
    assert_eq!(counts().await, (0, 1));
    exec(
        "INSERT INTO decisions (alert_id, at, outcome, reason, detail) \
         VALUES (7, 'n', 'skipped', 'no_rule', 'no rule matches')",
    )
    .await
    .unwrap();
    let flagged: i64 =
        sqlx::query_scalar("SELECT no_rule FROM alerts WHERE id = 7").fetch_one(&pool).await.unwrap();
    assert_eq!(flagged, 1, "a no-rule decision flags its alert");
    exec("DELETE FROM decisions").await.unwrap();
    exec("DELETE FROM alerts").await.unwrap();
    assert_eq!(counts().await, (0, 0));

    exec("INSERT INTO audit_events (id, actor, action) VALUES (1, 'cli', 'user.add')").await.unwrap();
    exec("INSERT INTO audit_chain (event_id, hash) VALUES (1, 'h1')").await.unwrap();
    let at: String = sqlx::query_scalar("SELECT at FROM audit_events").fetch_one(&pool).await.unwrap();
    assert!(time::OffsetDateTime::parse(&at, &time::format_description::well_known::Rfc3339).is_ok(), "{at}");
    assert_eq!(at.len(), "2026-12-06T10:00:00.000Z".len(), "{at}: as the application writes times");
    for (sql, refusal) in [
        ("UPDATE audit_events SET actor = 'someone else'", "audit_events is append-only"),
        ("DELETE FROM audit_events", "only exported events may be pruned"),
        ("UPDATE audit_chain SET hash = 'forged'", "audit_chain is append-only"),
        ("DELETE FROM audit_chain", "only exported events may be pruned"),
    ] {
        let e = exec(sql).await.expect_err(sql).to_string();
        assert!(e.contains(refusal), "{sql}: {e}");
    }
    exec(
        "INSERT INTO audit_exports (from_event_id, up_to_event_id, events, file, sha256, last_hash) \
         VALUES (1, 1, 1, 'audit-1.jsonl', 's', 'h1')",
    )
    .await
    .unwrap();
    exec("DELETE FROM audit_chain").await.expect("an exported event's link may be pruned");
    exec("DELETE FROM audit_events").await.expect("an exported event may be pruned");
    assert!(exec("DELETE FROM audit_exports").await.is_err(), "the export record stays");

    // Usernames are unique in any case, as SQLite's COLLATE NOCASE makes them.
    exec("INSERT INTO users (username, password_hash, role) VALUES ('ann', 'x', 'admin')").await.unwrap();
    assert!(exec("INSERT INTO users (username, password_hash, role) VALUES ('Ann', 'x', 'viewer')")
        .await
        .is_err());
}
