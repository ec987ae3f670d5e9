//! Replicas' heartbeats on a real PostgreSQL (issue 28, item 3): two replicas beat; while both
//! live neither takes the other's run; when one dies without a word, the other interrupts its
//! running run, with the reason, within the timeout and a beat; a replica that stops cleanly
//! leaves the register.
use std::time::{Duration, Instant};

use app::ssr::db::backend::Db;
use server::replica::{run, Liveness};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::common::postgres::Postgres;

const LIVENESS: Liveness =
    Liveness { interval: Duration::from_millis(100), timeout: Duration::from_millis(1_000) };

async fn run_status(pool: &PgPool) -> (String, Option<String>) {
    sqlx::query_as("SELECT status, error FROM heal_runs WHERE id = 1").fetch_one(pool).await.unwrap()
}

#[tokio::test]
async fn a_replica_that_dies_has_its_running_run_interrupted_by_the_other() {
    let pg = Postgres::start();
    let pool = PgPool::connect(&pg.create_database("liveness").await).await.unwrap();
    app::ssr::db::POSTGRES_MIGRATOR.run(&pool).await.unwrap();
    let db = Db::Pg(pool.clone());
    let (stop_a, stop_b) = (CancellationToken::new(), CancellationToken::new());
    let a = tokio::spawn(run(db.clone(), "a".into(), LIVENESS, Default::default(), stop_a.clone()));
    let b = tokio::spawn(run(db.clone(), "b".into(), LIVENESS, Default::default(), stop_b.clone()));
    // Replica a runs a playbook.
    sqlx::query(
        "INSERT INTO heal_runs (id, rule, playbook, target, mode, status, requested_by, extra_vars, timeout_ms, \
         verify_within_ms, created_at, started_at, held_by) VALUES \
         (1, 'r', 'p.yml', 'web-1', 'auto', 'running', 'engine', '{}', 60000, 1, 'n', 'n', 'a')",
    )
    .execute(&pool)
    .await
    .unwrap();
    tokio::time::sleep(LIVENESS.timeout * 2).await;
    assert_eq!(run_status(&pool).await.0, "running", "a lives: its run is its own");
    let listed: Vec<String> =
        app::ssr::db::replicas::list(&db).await.unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(listed, ["a", "b"]);

    // a dies without a word (its task is gone; nothing retires it).
    a.abort();
    let died = Instant::now();
    let (status, error) = loop {
        let (status, error) = run_status(&pool).await;
        if status != "running" || died.elapsed() > Duration::from_secs(10) {
            break (status, error);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let took = died.elapsed();
    eprintln!("taken over {took:?} after the replica died (timeout {:?})", LIVENESS.timeout);
    assert_eq!(status, "interrupted");
    assert!(error.as_deref().is_some_and(|e| e.starts_with("replica a on ")), "{error:?}");
    assert!(took < LIVENESS.timeout + Duration::from_millis(800), "taken over after {took:?}");
    let listed: Vec<String> =
        app::ssr::db::replicas::list(&db).await.unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(listed, ["b"]);

    // b stops cleanly: it leaves the register.
    stop_b.cancel();
    b.await.unwrap();
    assert!(app::ssr::db::replicas::list(&db).await.unwrap().is_empty());
    drop(stop_a);
}
