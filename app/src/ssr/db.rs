//! All SQL lives under this module: the pool, the embedded migrations, and one file per table.
pub mod alerts;
pub mod audit;
pub mod audit_chain;
pub mod decisions;
pub mod outbound;
pub mod run_output;
pub mod runs;
pub mod seed;
pub mod users;

use std::path::Path;
use std::time::Duration;

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

/// The migrations in `migrations/`, embedded in the binary at compile time.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// How long a connection waits for SQLite's write lock before failing: long enough to ride
/// out a burst of writers, short enough that a stuck request fails visibly.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections in the pool. SQLite has one writer at a time; a few readers keep pages fast.
const MAX_CONNECTIONS: u32 = 8;

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
        .foreign_keys(true);
    SqlitePoolOptions::new().max_connections(MAX_CONNECTIONS).connect_with(options).await
}

/// Applies every migration not yet applied. Forward-only.
pub async fn migrate(pool: &SqlitePool) -> Result<(), MigrateError> {
    MIGRATOR.run(pool).await
}

/// Whether the database answers a trivial query.
pub async fn ping(pool: &SqlitePool) -> bool {
    sqlx::query_scalar::<_, i64>("SELECT 1").fetch_one(pool).await.is_ok()
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
