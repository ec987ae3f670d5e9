//! `selfheal retention run` on a real database file: old rows go, audit events leave through a
//! recorded export, `audit verify` still holds and notices a changed export file.
use std::path::Path;
use std::process::{Command, Output};

use app::ssr::db::audit_chain::seal_audit;
use server::startup;

const BIN: &str = env!("CARGO_BIN_EXE_selfheal");

const OLD: &str = "2020-01-01T00:00:00.000Z";

/// Runs `selfheal ARGS` with its database in `dir` and extra environment `env`.
fn selfheal(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("SELFHEAL_CONFIG")
        .env("SELFHEAL_DATABASE", dir.join("db/selfheal.db"))
        .envs(env.iter().copied())
        .output()
        .expect("selfheal runs")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Three old resolved alerts and a firing one; five old audit events and a recent one, sealed.
async fn seed_history(db: &Path) {
    let pool = startup::open_database(db).await.expect("database");
    for (fp, status, seen) in
        [("a", "resolved", OLD), ("b", "resolved", OLD), ("c", "resolved", OLD), ("d", "firing", OLD)]
    {
        sqlx::query(
            "INSERT INTO alerts (fingerprint, starts_at, status, alertname, labels, annotations, source, \
             first_seen_at, last_seen_at, resolved_at, decided_at) VALUES (?1, ?3, ?2, 'NginxDown', '{}', '{}', \
             'webhook', ?3, ?3, ?3, ?3)",
        )
        .bind(fp)
        .bind(status)
        .bind(seen)
        .execute(&pool)
        .await
        .expect("alert");
    }
    for i in 0..5 {
        sqlx::query("INSERT INTO audit_events (at, actor, action, detail) VALUES (?, 'ann', 'user.add', ?)")
            .bind(OLD)
            .bind(format!("old {i}"))
            .execute(&pool)
            .await
            .expect("audit event");
    }
    sqlx::query("INSERT INTO audit_events (actor, action) VALUES ('bob', 'auth.login')")
        .execute(&pool)
        .await
        .expect("audit event");
    seal_audit(&pool).await.expect("sealed");
    pool.close().await;
}

#[tokio::test]
async fn retention_run_prunes_exports_audit_and_verify_still_holds() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    seed_history(&d.join("db/selfheal.db")).await;

    let off = selfheal(d, &["retention", "run"], &[("SELFHEAL_RETENTION__ENABLED", "false")]);
    assert!(!off.status.success(), "{}", text(&off));
    assert!(text(&off).contains("retention is off"), "{}", text(&off));

    let run = selfheal(d, &["retention", "run"], &[]);
    assert!(run.status.success(), "{}", text(&run));
    let out = text(&run);
    assert!(out.contains("alerts: 3 pruned") && out.contains("audit_events: 5 pruned"), "{out}");
    let export = d.join("db/audit-export/audit-000000000001-000000000005.jsonl");
    assert!(export.exists(), "{out}");

    let verify = selfheal(d, &["audit", "verify"], &[]);
    assert!(verify.status.success(), "{}", text(&verify));
    assert!(text(&verify).contains("audit log intact: 2 events sealed, 0 newer"), "{}", text(&verify));
    assert!(text(&verify).contains("audit exports: 1 (events up to 5), 0 not found"), "{}", text(&verify));

    let again = selfheal(d, &["retention", "run"], &[]);
    assert!(text(&again).contains("nothing to prune"), "{}", text(&again));

    // Someone edits the exported history: verify names the file.
    let edited = std::fs::read_to_string(&export).unwrap().replace("old 2", "old 9");
    std::fs::write(&export, edited).unwrap();
    let broken = selfheal(d, &["audit", "verify"], &[]);
    assert!(!broken.status.success(), "{}", text(&broken));
    assert!(text(&broken).contains("audit export CHANGED"), "{}", text(&broken));
}
