//! Rounds: bounded by their budget and resumed; audit exports: the file holds exactly what
//! was pruned, with a chain that verifies; a broken chain is never exported.
use std::os::unix::fs::PermissionsExt;

use sha2::Digest;

use app::ssr::db::audit_chain::{seal_audit, verify_audit, ChainReport, GENESIS};

use super::*;
use sqlx::SqlitePool;

const OLD: &str = "2020-01-01T00:00:00.000Z";

/// A migrated database in a temp dir, and a config pointing at it.
async fn database() -> (tempfile::TempDir, SqlitePool, Config) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("db/selfheal.db");
    let config = Config { database: crate::config::Database::Sqlite(path.clone()), ..Config::default() };
    let pool = crate::startup::open_database(&path).await.expect("database");
    (dir, pool, config)
}

async fn exec(pool: &SqlitePool, sql: &str) {
    sqlx::query(sql).execute(pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn scalar(pool: &SqlitePool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// `n` resolved episodes last seen long ago, then one recent (the newest row always stays).
async fn old_alerts(pool: &SqlitePool, n: i64) {
    exec(
        pool,
        &format!(
            "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < {n}) \
             INSERT INTO alerts (fingerprint, starts_at, status, alertname, labels, annotations, source, \
                                 first_seen_at, last_seen_at, resolved_at, decided_at) \
             SELECT 'f' || i, '{OLD}', 'resolved', 'NginxDown', '{{}}', '{{}}', 'webhook', \
                    '{OLD}', '{OLD}', '{OLD}', '{OLD}' FROM k"
        ),
    )
    .await;
    exec(
        pool,
        "INSERT INTO alerts (fingerprint, starts_at, status, alertname, labels, annotations, source, \
         first_seen_at, last_seen_at) VALUES ('new', '2999-01-01T00:00:00.000Z', 'firing', 'NginxDown', '{}', '{}', \
         'webhook', '2999-01-01T00:00:00.000Z', '2999-01-01T00:00:00.000Z')",
    )
    .await;
}

#[tokio::test]
async fn a_round_stops_at_its_budget_and_the_next_goes_on_where_it_stopped() {
    let (_dir, pool, config) = database().await;
    old_alerts(&pool, 25).await;
    let metrics = Metrics::new();
    let mut pruner = Pruner::new(Db::Sqlite(pool.clone()), &config, metrics.clone(), "system");
    (pruner.batch, pruner.budget, pruner.pause) = (10, Some(Duration::ZERO), Duration::ZERO);

    // A spent budget allows one batch per round: run_output (nothing), then alerts 10 at a time.
    let mut per_round = Vec::new();
    loop {
        let round = pruner.run_round().await.expect("round");
        per_round.push(round.pruned.alerts);
        if round.complete {
            break;
        }
        assert!(per_round.len() < 50, "never completes: {per_round:?}");
    }
    assert_eq!(per_round[..5], [0, 10, 10, 5, 0], "{per_round:?}");
    assert_eq!(per_round.iter().sum::<u64>(), 25);
    assert_eq!(scalar(&pool, "SELECT count(*) FROM alerts").await, 1);
    let audited = scalar(&pool, "SELECT count(*) FROM audit_events WHERE action = 'retention.pruned'").await;
    assert_eq!(audited, 3, "one audit event per round that pruned something");
    let text = metrics.encode().unwrap();
    assert!(text.contains("selfheal_retention_pruned_rows_total{table=\"alerts\"} 25"), "{text}");
    assert!(text.contains("selfheal_retention_rounds_total{result=\"partial\"}"), "{text}");
}

#[tokio::test]
async fn a_large_prune_refreshes_the_planner_statistics() {
    let (_dir, pool, config) = database().await;
    old_alerts(&pool, 25).await;
    let stats = "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'";
    assert_eq!(scalar(&pool, stats).await, 0, "a new database has no statistics");
    let mut pruner = Pruner::new(Db::Sqlite(pool.clone()), &config, Metrics::new(), "system");
    (pruner.budget, pruner.tidy_after) = (None, 20);
    assert_eq!(pruner.run_round().await.unwrap().pruned.alerts, 25);
    assert_eq!(scalar(&pool, stats).await, 1, "no ANALYZE after a prune beyond tidy_after");
    assert!(scalar(&pool, "SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'alerts'").await > 0);
}

#[tokio::test]
async fn without_a_budget_one_round_prunes_everything_due() {
    let (_dir, pool, config) = database().await;
    old_alerts(&pool, 25).await;
    let mut pruner = Pruner::new(Db::Sqlite(pool.clone()), &config, Metrics::new(), "cli");
    (pruner.batch, pruner.budget) = (10, None);
    let round = pruner.run_round().await.unwrap();
    assert!(round.complete);
    assert_eq!(round.pruned.alerts, 25);
    let actor: String =
        sqlx::query_scalar("SELECT actor FROM audit_events WHERE action = 'retention.pruned'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(actor, "cli");
}

/// Five old sealed audit events, then a recent one; their hashes by id.
async fn old_audit(pool: &SqlitePool) -> Vec<(i64, String)> {
    for i in 0..5 {
        let sql = format!(
            "INSERT INTO audit_events (at, actor, action, detail) VALUES ('{OLD}', 'ann', 'user.add', 'old {i}')"
        );
        exec(pool, &sql).await;
    }
    exec(pool, "INSERT INTO audit_events (actor, action) VALUES ('bob', 'auth.login')").await;
    seal_audit(pool).await.unwrap();
    sqlx::query_as("SELECT event_id, hash FROM audit_chain ORDER BY event_id").fetch_all(pool).await.unwrap()
}

#[tokio::test]
async fn old_audit_events_are_exported_with_their_hashes_then_pruned() {
    let (dir, pool, config) = database().await;
    let hashes = old_audit(&pool).await;
    let mut pruner = Pruner::new(Db::Sqlite(pool.clone()), &config, Metrics::new(), "system");
    pruner.budget = None;
    let round = pruner.run_round().await.unwrap();
    assert_eq!(round.pruned.audit_events, 5);

    let file = dir.path().join("db/audit-export/audit-000000000001-000000000005.jsonl");
    assert_eq!(round.exports, [std::fs::canonicalize(&file).unwrap()]);
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines[0]["format"], export::EXPORT_FORMAT);
    assert_eq!(lines[0]["prev_hash"], GENESIS);
    assert_eq!(lines.len(), 6, "a header and the five events");
    // The file verifies on its own: each line's hash follows from the one before.
    let mut prev = GENESIS.to_owned();
    for (line, (id, hash)) in lines[1..].iter().zip(&hashes) {
        let event: app::model::AuditEvent = serde_json::from_value(line.clone()).unwrap();
        assert_eq!((event.id, line["hash"].as_str().unwrap()), (*id, hash.as_str()));
        assert_eq!(&app::ssr::db::audit_chain::chain_hash(&prev, &event), hash);
        prev.clone_from(hash);
    }
    let (sha, last_hash): (String, String) =
        sqlx::query_as("SELECT sha256, last_hash FROM audit_exports").fetch_one(&pool).await.unwrap();
    let digest: String = sha2::Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!((sha, last_hash), (digest, hashes[4].1.clone()));

    assert_eq!(scalar(&pool, "SELECT min(id) FROM audit_events").await, 6);
    seal_audit(&pool).await.unwrap();
    assert!(matches!(verify_audit(&pool).await.unwrap(), ChainReport::Intact { unsealed: 0, .. }));
    let detail: String =
        sqlx::query_scalar("SELECT detail FROM audit_events WHERE action = 'retention.pruned'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(detail.contains("audit_events=5") && detail.contains("audit-000000000001"), "{detail}");
}

#[tokio::test]
async fn a_broken_chain_is_not_exported_and_nothing_is_pruned() {
    let (dir, pool, config) = database().await;
    old_audit(&pool).await;
    exec(&pool, "DROP TRIGGER audit_events_no_update").await;
    exec(&pool, "UPDATE audit_events SET actor = 'mallory' WHERE id = 3").await;
    let mut pruner = Pruner::new(Db::Sqlite(pool.clone()), &config, Metrics::new(), "system");
    pruner.budget = None;
    let err = pruner.run_round().await.expect_err("a tampered log is not exported").to_string();
    assert!(err.contains("broken at event 3"), "{err}");
    assert_eq!(scalar(&pool, "SELECT count(*) FROM audit_events").await, 6);
    assert_eq!(scalar(&pool, "SELECT count(*) FROM audit_exports").await, 0);
    assert!(!dir.path().join("db/audit-export/audit-000000000001-000000000005.jsonl").exists());
}

#[tokio::test]
async fn the_task_stops_when_told() {
    let (_dir, pool, config) = database().await;
    let stop = CancellationToken::new();
    let task =
        tokio::spawn(Pruner::new(Db::Sqlite(pool), &config, Metrics::new(), "system").run(stop.clone()));
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), task).await.expect("stops").unwrap();
}

#[test]
fn cutoffs_are_now_minus_each_age() {
    let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(); // 2027-01-15T08:00:00Z
    let c = cutoffs(&RetentionConfig::default(), now).unwrap();
    assert_eq!(c.now, "2027-01-15T08:00:00.000Z");
    assert_eq!(c.alerts, "2026-12-16T08:00:00.000Z");
    assert_eq!(c.notifications, "2027-01-01T08:00:00.000Z");
    assert_eq!(c.audit, "2025-12-11T08:00:00.000Z");
    assert_eq!(c.alerts_max, 1_000_000);
}
