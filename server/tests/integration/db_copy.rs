//! `selfheal db copy --to postgres://…` into a real PostgreSQL: a SQLite database with real
//! history (webhook deliveries, a packed payload, seeded runs with output, users, sign-ins and
//! their audit chain) arrives whole; ids continue after the copied ones; a non-empty target, a
//! URL that is not PostgreSQL, and a value PostgreSQL cannot hold are refused, the last leaving
//! the target without a row.
use std::process::Command;

use sqlx::{PgPool, SqlitePool};

use app::model::Role;

use crate::common::postgres::Postgres;
use crate::common::{notification, TestAlert, TestApp};

const BIN: &str = env!("CARGO_BIN_EXE_selfheal");

/// Rows per copied table, on either side (`$pool` a SqlitePool or a PgPool).
macro_rules! counts {
    ($pool:expr) => {{
        let mut counts: Vec<(String, i64)> = Vec::new();
        for (table, _) in server::db_copy::TABLES {
            let sql = format!("SELECT count(*) FROM {table}");
            counts.push((table.to_owned(), sqlx::query_scalar(&sql).fetch_one($pool).await.unwrap()));
        }
        counts
    }};
}

async fn sqlite_counts(pool: &SqlitePool) -> Vec<(String, i64)> {
    counts!(pool)
}

async fn pg_counts(pool: &PgPool) -> Vec<(String, i64)> {
    counts!(pool)
}

/// An app with some of everything.
async fn history() -> TestApp {
    let app = TestApp::new().await;
    app.deliver(&notification(&[(
        "f1",
        "NginxDown",
        "critical",
        "web1:9113",
        "2026-12-01T10:00:00.000Z",
        &[],
        &[],
    )]))
    .await;
    // Forty alerts: more than 4 KiB, stored zstd-packed.
    let names: Vec<String> = (0..40).map(|i| format!("big{i:02}")).collect();
    let many: Vec<TestAlert<'_>> = names
        .iter()
        .map(|fp| {
            (fp.as_str(), "DiskFull", "warning", "db1:9100", "2026-12-02T10:00:00.000Z", &[][..], &[][..])
        })
        .collect();
    app.deliver(&notification(&many)).await;
    app.add_user("ann", "ann-password-for-copy", Role::Admin).await;
    app.login("ann", "ann-password-for-copy").await;
    let size = app::ssr::db::seed::SeedSize { alerts: 300, runs: 30, lines_per_run: 10 };
    app::ssr::db::seed::seed(&app.db(), size).await.unwrap();
    // Text COPY must escape: a tab, a newline, a carriage return, a backslash, and non-ASCII.
    sqlx::query("UPDATE run_output SET line = ? WHERE seq = 1 AND run_id = (SELECT min(id) FROM heal_runs)")
        .bind("tab\there\nnew line\r\\N not null ✓ €")
        .execute(&app.pool)
        .await
        .unwrap();
    app::ssr::db::audit_chain::seal_audit(&app.pool).await.unwrap();
    app
}

#[tokio::test]
async fn a_sqlite_database_is_copied_whole_into_an_empty_postgres_and_ids_continue() {
    let app = history().await;
    let packed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM notifications WHERE payload_encoding = 'zstd'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(packed, 1, "the big delivery is stored packed");
    let pg = Postgres::start();
    let url = pg.create_database("copy").await;

    let copied =
        server::db_copy::copy(&app.pool, &url).await.unwrap_or_else(|e| panic!("{e:#}\n{}", pg.log()));
    let pool = PgPool::connect(&url).await.unwrap();
    let want = sqlite_counts(&app.pool).await;
    assert_eq!(pg_counts(&pool).await, want);
    let reported: Vec<(String, i64)> =
        copied.tables.iter().map(|(t, n)| (t.to_string(), *n as i64)).collect();
    assert_eq!(reported, want);
    assert!(
        want.iter().all(|(t, n)| *n > 0
            || [
                "audit_exports",
                "login_throttles",
                "pauses",
                "blast_trips",
                "maintenance_windows",
                "breaker_resets",
                "outbound_notifications",
                "api_tokens"
            ]
            .contains(&t.as_str())),
        "{want:?}"
    );

    // Bytes as bytes, text as text.
    let payloads: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT CAST(payload AS BLOB) FROM notifications ORDER BY id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let copied_payloads: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT payload FROM notifications ORDER BY id").fetch_all(&pool).await.unwrap();
    assert_eq!(payloads, copied_payloads);
    let line: String = sqlx::query_scalar(
        "SELECT line FROM run_output WHERE seq = 1 AND run_id = (SELECT min(id) FROM heal_runs)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(line, "tab\there\nnew line\r\\N not null ✓ €");
    let counts = "SELECT status, CAST(sum(n) AS BIGINT) FROM alert_counts GROUP BY status ORDER BY status";
    let lite: Vec<(String, i64)> = sqlx::query_as(counts).fetch_all(&app.pool).await.unwrap();
    let post: Vec<(String, i64)> = sqlx::query_as(counts).fetch_all(&pool).await.unwrap();
    assert_eq!(lite, post, "PostgreSQL's triggers counted the copied alerts");

    // New rows take the next ids.
    for table in ["alerts", "audit_events", "heal_runs", "users"] {
        let max: i64 =
            sqlx::query_scalar(&format!("SELECT max(id) FROM {table}")).fetch_one(&pool).await.unwrap();
        let next: i64 =
            sqlx::query_scalar(&format!("SELECT nextval(pg_get_serial_sequence('{table}', 'id'))"))
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(next, max + 1, "{table}");
    }

    // Not again into a database that holds rows; nothing changes.
    let again = server::db_copy::copy(&app.pool, &url).await.expect_err("a second copy");
    assert!(format!("{again:#}").contains("is not empty"), "{again:#}");
    assert_eq!(pg_counts(&pool).await, want);
    // Not into something that is not PostgreSQL.
    let wrong = server::db_copy::copy(&app.pool, "mysql://root@127.0.0.1/x").await.expect_err("mysql");
    assert!(format!("{wrong:#}").contains("must be a postgres:// URL"), "{wrong:#}");
}

#[tokio::test]
async fn a_copy_that_fails_leaves_the_target_without_a_row_and_the_cli_copies_after_the_fix() {
    let app = history().await;
    // A NUL in a text value: SQLite holds it, PostgreSQL's text cannot.
    sqlx::query("UPDATE run_output SET line = 'a' || char(0) || 'b' WHERE seq = 2 AND run_id = (SELECT min(id) FROM heal_runs)")
        .execute(&app.pool)
        .await
        .unwrap();
    let pg = Postgres::start();
    let url = pg.create_database("copy").await;
    let failed = server::db_copy::copy(&app.pool, &url).await.expect_err("a NUL is refused");
    let message = format!("{failed:#}");
    assert!(message.contains("copying run_output") && message.contains("NUL"), "{message}");
    let pool = PgPool::connect(&url).await.unwrap();
    assert!(pg_counts(&pool).await.iter().all(|(_, n)| *n == 0), "all or nothing");

    // Fixed, then through the command line, from the database file.
    sqlx::query("UPDATE run_output SET line = 'ab' WHERE line = 'a' || char(0) || 'b'")
        .execute(&app.pool)
        .await
        .unwrap();
    let file: String = sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["db", "copy", "--to", &url])
        .current_dir(elsewhere.path())
        .env_remove("SELFHEAL_CONFIG")
        .env("SELFHEAL_DATABASE", &file)
        .output()
        .unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{said}");
    assert!(said.contains("the audit chain verifies") && said.contains("run_output"), "{said}");
    assert_eq!(pg_counts(&pool).await, sqlite_counts(&app.pool).await);
}
