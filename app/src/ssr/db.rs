//! All SQL lives under this module: the pool, the embedded migrations, and one file per table.
pub mod alert_detail;
pub mod alert_search;
pub mod alerts;
pub mod alerts_by_start;
pub mod api_tokens;
pub mod approvals;
pub mod audit;
pub mod audit_chain;
pub mod audit_export;
pub mod backend;
pub mod blast;
pub mod decisions;
pub mod directory_users;
pub mod inbox;
pub mod lists;
pub mod login_attempts;
pub mod notifications;
pub mod outbound;
pub mod overview;
pub mod pauses;
pub mod replicas;
pub mod retention;
pub mod run_output;
pub mod run_stats;
pub mod run_verification;
pub mod runs;
pub mod seed;
pub mod users;
pub mod windows;

use std::path::Path;
use std::time::Duration;

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

/// The migrations in `migrations/`, embedded in the binary at compile time.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// The same schema for PostgreSQL (`migrations/postgres`), kept in step with the SQLite
/// migrations by `server/tests/integration/postgres_schema.rs` on a real PostgreSQL.
pub static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("../migrations/postgres");

/// How long a connection waits for SQLite's write lock before failing: long enough to ride
/// out a burst of writers, short enough that a stuck request fails visibly.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Page size of a new database (an existing one keeps its own): SQLite's default 4 KiB. A
/// group commit writes every page it touched to the WAL, and a commit of a few single-alert
/// notifications touches a page or two of each table and index it writes: at 8 KiB (our
/// setting until session 8) that was twice the bytes to copy, checksum and checkpoint per
/// commit, for no gain on 100-alert notifications (docs/benchmarks.md).
const PAGE_SIZE: u32 = 4096;

/// Longest a restart checkpoint waits for readers while it holds the write lock (see
/// [`checkpoint`]): a webhook's commit may wait this long behind it, not the busy timeout.
const RESTART_WAIT: Duration = Duration::from_millis(100);

/// Connections in the pool. SQLite has one writer at a time; a few readers keep pages fast.
const MAX_CONNECTIONS: u32 = 8;

/// Page cache per pooled connection, in KiB (SQLite's `cache_size` when negative). The
/// default 2 MiB on each of 8 connections is 16 MiB of resident memory that a filter scanning
/// its whole window fills; the kernel's page cache serves re-reads at a system call each.
const CACHE_KIB: i64 = 1024;

/// Opens (creating if needed) the database file in WAL mode with `synchronous=NORMAL`: a commit
/// survives a crash of the process (not of the machine), at a fraction of FULL's cost.
pub async fn connect(path: &Path) -> Result<SqlitePool, sqlx::Error> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(BUSY_TIMEOUT)
        .foreign_keys(true)
        .page_size(PAGE_SIZE)
        .pragma("cache_size", format!("-{CACHE_KIB}"));
    SqlitePoolOptions::new().max_connections(MAX_CONNECTIONS).connect_with(options).await
}

/// Starts a transaction that will write, taking SQLite's write lock up front (`BEGIN
/// IMMEDIATE`). A deferred transaction that reads first and writes later fails at once with
/// "database is locked" when another writer committed in between (its snapshot is stale and
/// the busy timeout does not apply); an immediate one waits its turn in the busy timeout.
pub async fn begin_write(pool: &SqlitePool) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
    pool.begin_with("BEGIN IMMEDIATE").await
}

/// Copies what the WAL holds into the database file without waiting for readers or writers
/// (`PASSIVE`); when more than `restart_after` frames are still in the WAL after that, once
/// more with `RESTART`, which waits for the current writer and makes the next commit start
/// the WAL over. Returns the frames in the WAL and how many were copied, after the last step.
pub async fn checkpoint(pool: &SqlitePool, restart_after: i64) -> Result<(i64, i64), sqlx::Error> {
    let (_busy, log, copied): (i64, i64, i64) =
        sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(pool).await?;
    if log <= restart_after {
        return Ok((log, copied));
    }
    // A restart holds the write lock while it waits for readers, so the inbox writer (and a
    // webhook's 2xx) waits with it: bound that wait; a busy restart is retried next round.
    let mut conn = pool.acquire().await?;
    let set_timeout = |t: Duration| format!("PRAGMA busy_timeout = {}", t.as_millis());
    sqlx::query(&set_timeout(RESTART_WAIT)).execute(&mut *conn).await?;
    let restart = sqlx::query_as("PRAGMA wal_checkpoint(RESTART)").fetch_one(&mut *conn).await;
    if let Err(e) = sqlx::query(&set_timeout(BUSY_TIMEOUT)).execute(&mut *conn).await {
        // Never hand a connection with the short timeout back to the pool.
        conn.close_on_drop();
        return Err(e);
    }
    let (_busy, log, copied): (i64, i64, i64) = restart?;
    Ok((log, copied))
}

/// Applies every migration not yet applied. Forward-only.
///
/// Foreign keys are off while migrations run, on one connection, as SQLite's procedure for
/// rebuilding a table requires (a migration cannot switch them inside its transaction), and
/// checked in full afterwards: a migration that leaves a dangling reference fails here.
pub async fn migrate(pool: &SqlitePool) -> Result<(), MigrateError> {
    let mut conn = pool.acquire().await?;
    sqlx::query("PRAGMA foreign_keys = OFF").execute(&mut *conn).await?;
    let ran = MIGRATOR.run(&mut *conn).await;
    let dangling: Result<Vec<(String, Option<i64>, String)>, sqlx::Error> =
        sqlx::query_as("SELECT \"table\", rowid, parent FROM pragma_foreign_key_check")
            .fetch_all(&mut *conn)
            .await;
    sqlx::query("PRAGMA foreign_keys = ON").execute(&mut *conn).await?;
    ran?;
    match dangling?.first() {
        None => Ok(()),
        Some((table, row, parent)) => Err(MigrateError::Execute(sqlx::Error::Protocol(format!(
            "after the migrations, {table} row {row:?} refers to a missing {parent} row"
        )))),
    }
}

/// Whether the database answers a trivial query.
pub async fn ping(pool: impl Into<backend::PoolRef<'_>>) -> bool {
    backend::on_pool!(pool.into(), |p| sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(p).await.is_ok())
}

/// A fresh, migrated in-memory database for unit tests (one connection: each `:memory:`
/// connection would otherwise be its own database).
#[cfg(test)]
pub async fn test_pool() -> SqlitePool {
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect("sqlite::memory:")
        .await
        .expect("in-memory sqlite");
    migrate(&pool).await.expect("migrations apply");
    pool
}

/// Gives the alerts table the statistics of a million alerts, as retention's ANALYZE leaves
/// them, for the plan tests: with them the planner was once tempted by the (starts_at,
/// fingerprint) key for a time range, then sorted every matching row by id for each page.
#[cfg(test)]
pub async fn pretend_a_million_alerts(pool: &SqlitePool) {
    sqlx::raw_sql(
        "ANALYZE; DELETE FROM sqlite_stat1 WHERE tbl = 'alerts'; \
         INSERT INTO sqlite_stat1 VALUES ('alerts', 'sqlite_autoindex_alerts_1', '1000000 2 1'), \
           ('alerts', 'alerts_status_id', '1000000 500000 1'), ('alerts', 'alerts_alertname_id', '1000000 125000 1'); \
         ANALYZE sqlite_schema;",
    )
    .execute(pool)
    .await
    .unwrap();
}

/// The plan of `b` (an `EXPLAIN QUERY PLAN` query with the real values bound), one line.
#[cfg(test)]
pub async fn query_plan(pool: &SqlitePool, mut b: sqlx::QueryBuilder<'_, sqlx::Sqlite>) -> String {
    let rows: Vec<(i64, i64, i64, String)> = b.build_query_as().fetch_all(pool).await.unwrap();
    rows.iter().map(|r| r.3.as_str()).collect::<Vec<_>>().join(" | ")
}

/// Stores a firing alert episode `id` named `alertname` for unit tests of the tables that
/// refer to alerts.
#[cfg(test)]
pub async fn insert_test_alert(pool: &SqlitePool, id: i64, alertname: &str) {
    sqlx::query(
        "INSERT INTO alerts (id, fingerprint, starts_at, status, alertname, labels, annotations, source, \
         first_seen_at, last_seen_at) \
         VALUES (?, 'f', '2026-01-01T00:00:00.000Z', 'firing', ?, '{}', '{}', 'webhook', 'n', 'n')",
    )
    .bind(id)
    .bind(alertname)
    .execute(pool)
    .await
    .expect("test alert");
}

#[cfg(test)]
#[path = "db/migration_tests.rs"]
mod migration_tests;
