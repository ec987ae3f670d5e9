//! The `db` modules that run on both backends (`app::ssr::db::backend`), each scenario run on
//! SQLite and on a real PostgreSQL with the same calls and the same expectations.
use sqlx::{PgPool, SqlitePool};

use app::model::Role;
use app::ssr::db::{api_tokens, pauses};

use crate::common::postgres::Postgres;

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

#[tokio::test]
async fn pauses_and_api_tokens_behave_alike_on_sqlite_and_postgres() {
    let (_dir, sqlite, _pg, pg) = both().await;

    macro_rules! pauses {
        ($pool:expr, $name:expr) => {{
            let pool = $pool;
            pauses::pause(pool, "rule:nginx-down", "flapping", "ann", "2026-12-06T10:00:00.000Z")
                .await
                .unwrap();
            pauses::pause(pool, "*", "change freeze", "bob", "2026-12-06T10:01:00.000Z").await.unwrap();
            // Paused again: who and why are restated, not added.
            pauses::pause(pool, "*", "change freeze, day 2", "cat", "2026-12-07T09:00:00.000Z")
                .await
                .unwrap();
            let listed = pauses::list_pauses(pool).await.unwrap();
            let scopes: Vec<(&str, &str, &str)> =
                listed.iter().map(|p| (p.scope.as_str(), p.reason.as_str(), p.paused_by.as_str())).collect();
            assert_eq!(
                scopes,
                [("*", "change freeze, day 2", "cat"), ("rule:nginx-down", "flapping", "ann")],
                "{}: everything first",
                $name
            );
            assert!(pauses::resume(pool, "*").await.unwrap(), "{}", $name);
            assert!(!pauses::resume(pool, "*").await.unwrap(), "{}: resumed already", $name);
            assert_eq!(pauses::list_pauses(pool).await.unwrap().len(), 1, "{}", $name);
        }};
    }
    on_both!(&sqlite, &pg, pauses);

    macro_rules! tokens {
        ($pool:expr, $name:expr) => {{
            let pool = $pool;
            on_backend_users(pool).await;
            // The creator's name in another case still counts (SQLite's NOCASE, lower() on both).
            let ops = api_tokens::insert_token(pool, "ops", Role::Admin, "sha-ops", "ADA").await.unwrap();
            let read = api_tokens::insert_token(pool, "read", Role::Viewer, "sha-read", "bea").await.unwrap();
            let used = api_tokens::use_token(pool, "sha-ops").await.unwrap().expect("an admin's token works");
            assert_eq!((used.id, used.role), (ops, Role::Admin), "{}", $name);
            assert!(api_tokens::use_token(pool, "sha-nope").await.unwrap().is_none(), "{}", $name);
            // bea is disabled: her token stops.
            assert!(api_tokens::use_token(pool, "sha-read").await.unwrap().is_none(), "{}", $name);
            assert!(api_tokens::revoke_token(pool, ops).await.unwrap(), "{}", $name);
            assert!(!api_tokens::revoke_token(pool, ops).await.unwrap(), "{}: revoked already", $name);
            assert!(api_tokens::use_token(pool, "sha-ops").await.unwrap().is_none(), "{}: revoked", $name);
            let listed = api_tokens::list_tokens(pool).await.unwrap();
            assert_eq!(
                listed.iter().map(|t| t.id).collect::<Vec<_>>(),
                [read, ops],
                "{}: newest first",
                $name
            );
            let ops_row = &listed[1];
            assert!(ops_row.last_used_at.is_some() && ops_row.revoked_at.is_some(), "{}: {ops_row:?}", $name);
            assert_eq!(ops_row.created_at.len(), "2026-12-06T10:00:00.000Z".len(), "{}", $name);
        }};
    }
    on_both!(&sqlite, &pg, tokens);
}

/// ada (an admin) and bea (a disabled viewer): raw rows, as the users module is SQLite's still.
async fn on_backend_users<'c>(ex: impl Into<app::ssr::db::backend::Ex<'c>>) {
    app::ssr::db::backend::on_backend!(ex, |e| {
        sqlx::query(
            "INSERT INTO users (username, password_hash, role, disabled) \
             VALUES ('ada', 'x', 'admin', 0), ('bea', 'x', 'viewer', 1)",
        )
        .execute(e)
        .await
        .map(|_| ())
    })
    .unwrap();
}
