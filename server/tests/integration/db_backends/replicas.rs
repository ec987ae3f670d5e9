//! Replicas' heartbeats and the takeover of a dead one on both backends: its running run ends
//! interrupted with the reason, its claimed verification goes back to the queue, a living
//! replica's work is untouched, and two replicas taking over at once do it once.
use std::collections::BTreeMap;

use app::model::{RunStatus, Verification};
use app::ssr::db::replicas::{self, Replica, TakenOver};
use app::ssr::db::{run_verification, runs};
use app::ssr::heal::{Plan, RuleMode};

use super::{both, on_both};

fn plan(target: &str) -> Plan {
    Plan {
        rule: "nginx-down".into(),
        playbook: "heal-nginx.yml".into(),
        target: target.into(),
        limit: None,
        extra_vars: BTreeMap::new(),
        mode: RuleMode::Auto,
        blast_scope: None,
        held: None,
    }
}

fn replica(id: &str) -> Replica<'_> {
    Replica { id, host: "db-host", pid: 42, version: "test" }
}

#[tokio::test]
async fn a_dead_replicas_work_is_taken_over_alike_on_sqlite_and_postgres() {
    let (_dir, sqlite, _pg, pg) = both().await;

    macro_rules! takeover {
        ($pool:expr, $name:expr) => {{
            let pool = $pool;
            replicas::register(pool, &replica("r1"), "2026-12-06T10:00:00.000Z").await.unwrap();
            replicas::register(pool, &replica("r2"), "2026-12-06T10:00:00.000Z").await.unwrap();
            for target in ["a", "b", "c"] {
                let p = plan(target);
                let run = runs::NewRun {
                    alert_id: None,
                    plan: &p,
                    requested_by: "engine",
                    timeout_ms: 60_000,
                    verify_expr: None,
                    verify_within_ms: 60_000,
                    alert_starts_at: None,
                    now: "2026-12-06T10:00:01.000Z",
                };
                let mut tx = pool.begin().await.unwrap();
                runs::enqueue_run(&mut tx, &run).await.unwrap().expect("queued");
                tx.commit().await.unwrap();
            }
            // r1 runs a and has c's verification; r2 runs b.
            let a = runs::claim_next_run(pool, "2026-12-06T10:00:02.000Z", "r1").await.unwrap().unwrap().id;
            let b = runs::claim_next_run(pool, "2026-12-06T10:00:02.000Z", "r2").await.unwrap().unwrap().id;
            let c = runs::claim_next_run(pool, "2026-12-06T10:00:02.000Z", "r1").await.unwrap().unwrap().id;
            let done = runs::FinishedRun {
                status: RunStatus::Succeeded,
                exit_code: Some(0),
                error: None,
                recap: None,
                output_truncated: false,
                verification: Verification::Pending,
                now: "2026-12-06T10:00:03.000Z",
            };
            runs::finish_run(pool, c, &done).await.unwrap();
            let claimed = run_verification::claim_verification(pool, None, "2026-12-06T10:00:04.000Z", "r1")
                .await
                .unwrap();
            assert_eq!(claimed.map(|r| r.id), Some(c), "{}", $name);
            assert!(run_verification::claim_verification(pool, None, "2026-12-06T10:00:04.000Z", "r2")
                .await
                .unwrap()
                .is_none());

            // r2 beats on; r1 goes silent.
            assert!(replicas::heartbeat(pool, "r2", "2026-12-06T10:00:30.000Z").await.unwrap());
            let taken =
                replicas::take_over_dead(pool, "2026-12-06T10:00:15.000Z", "2026-12-06T10:00:31.000Z")
                    .await
                    .unwrap();
            assert_eq!(
                taken,
                [TakenOver {
                    replica: "r1".into(),
                    last_heartbeat: "2026-12-06T10:00:00.000Z".into(),
                    interrupted: vec![a],
                    released: vec![c],
                }],
                "{}",
                $name
            );
            let run = runs::get_run(pool, a).await.unwrap().unwrap();
            assert_eq!(
                (run.status, run.verification),
                (RunStatus::Interrupted, Some(Verification::Skipped)),
                "{}",
                $name
            );
            assert!(
                run.error.as_deref().is_some_and(|e| e
                    .contains("replica r1 on db-host stopped (no heartbeat since 2026-12-06T10:00:00.000Z)")),
                "{}: {:?}",
                $name,
                run.error
            );
            assert_eq!(
                runs::get_run(pool, b).await.unwrap().unwrap().status,
                RunStatus::Running,
                "{}: r2's run",
                $name
            );
            // The verification is r2's to resume.
            let resumed = run_verification::claim_verification(pool, None, "2026-12-06T10:00:32.000Z", "r2")
                .await
                .unwrap();
            assert_eq!(resumed.map(|r| r.id), Some(c), "{}", $name);
            let by: Option<String> = sqlx::query_scalar("SELECT verifying_by FROM heal_runs WHERE id = $1")
                .bind(c)
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(by.as_deref(), Some("r2"), "{}", $name);
            let audited: String =
                sqlx::query_scalar("SELECT target FROM audit_events WHERE action = 'replica.taken_over'")
                    .fetch_one(pool)
                    .await
                    .unwrap();
            assert_eq!(audited, "replica r1", "{}", $name);

            // Once: r1 is gone, and learns it when it beats again.
            assert!(replicas::take_over_dead(pool, "2026-12-06T10:00:15.000Z", "2026-12-06T10:00:40.000Z")
                .await
                .unwrap()
                .is_empty());
            assert!(!replicas::heartbeat(pool, "r1", "2026-12-06T10:00:41.000Z").await.unwrap(), "{}", $name);
            replicas::register(pool, &replica("r1"), "2026-12-06T10:00:42.000Z").await.unwrap();
            let listed: Vec<String> = replicas::list(pool).await.unwrap().into_iter().map(|r| r.id).collect();
            assert_eq!(listed, ["r1", "r2"], "{}", $name);
        }};
    }
    on_both!(&sqlite, &pg, takeover);
}

/// Every living replica looks for dead ones: two at once take a dead one over once.
#[tokio::test]
async fn two_replicas_taking_over_at_once_on_postgres_do_it_once() {
    let (_dir, _sqlite, _pg, pg) = both().await;
    for i in 0..20 {
        replicas::register(&pg, &replica(&format!("dead{i}")), "2026-12-06T10:00:00.000Z").await.unwrap();
    }
    let takers = (0..4).map(|_| {
        let pg = pg.clone();
        tokio::spawn(async move {
            replicas::take_over_dead(&pg, "2026-12-06T10:01:00.000Z", "2026-12-06T10:02:00.000Z")
                .await
                .unwrap()
        })
    });
    let mut taken: Vec<String> = Vec::new();
    for t in futures_util::future::join_all(takers).await {
        taken.extend(t.unwrap().into_iter().map(|t| t.replica));
    }
    taken.sort();
    assert_eq!(taken.len(), 20, "each dead replica taken over once: {taken:?}");
    taken.dedup();
    assert_eq!(taken.len(), 20);
    let audited: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_events WHERE action = 'replica.taken_over'")
            .fetch_one(&pg)
            .await
            .unwrap();
    assert_eq!(audited, 20);
}
