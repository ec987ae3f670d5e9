//! The `db` modules that run on both backends (`app::ssr::db::backend`). Each scenario runs on
//! SQLite and on a real PostgreSQL with the same calls and the same expectations: what the pages
//! read (`pages`), the queue around the inbox (`queue`), and people (`people`). Within a test the
//! scenarios share one pair of databases and run in order.
use sqlx::{PgPool, SqlitePool};

use crate::common::postgres::Postgres;

mod audit;
mod inbox;
mod lists;
mod pages;
mod people;
mod queue;
mod replicas;
mod retention;
mod runs;
mod seed;

/// The two databases, migrated and empty.
async fn both() -> (tempfile::TempDir, SqlitePool, Postgres, PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = app::ssr::db::connect(&dir.path().join("selfheal.db")).await.unwrap();
    app::ssr::db::migrate(&sqlite).await.unwrap();
    let pg = Postgres::start();
    let pool = PgPool::connect(&pg.create_database("backends").await).await.unwrap();
    app::ssr::db::POSTGRES_MIGRATOR.run(&pool).await.unwrap();
    (dir, sqlite, pg, pool)
}

/// Runs `scenario!(pool)` on each backend, naming the backend in a failure.
macro_rules! on_both {
    ($sqlite:expr, $pg:expr, $scenario:ident) => {
        $scenario!($sqlite, "SQLite");
        $scenario!($pg, "PostgreSQL");
    };
}
use on_both;
