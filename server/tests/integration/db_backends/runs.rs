//! A run's life outside the inbox on both backends: queued by hand (one per target), approved,
//! rejected, cancelled, finished, verified, recovered after a crash, approvals expired; and the
//! decision's history and breaker read back.
use std::collections::BTreeMap;

use app::model::{RunStatus, Verification};
use app::ssr::db::{decisions, runs};
use app::ssr::heal::{Plan, RuleMode};

use super::{both, on_both};

fn plan(target: &str, mode: RuleMode) -> Plan {
    Plan {
        rule: "nginx-down".into(),
        playbook: "heal-nginx.yml".into(),
        target: target.into(),
        limit: Some(target.into()),
        extra_vars: BTreeMap::from([("service".to_owned(), "{{ not templated }}".to_owned())]),
        mode,
        blast_scope: None,
        held: None,
    }
}

fn new_run<'a>(p: &'a Plan, by: &'a str, now: &'a str) -> runs::NewRun<'a> {
    runs::NewRun {
        alert_id: None,
        plan: p,
        requested_by: by,
        timeout_ms: 60_000,
        verify_expr: None,
        verify_within_ms: 30_000,
        alert_starts_at: None,
        now,
    }
}

#[tokio::test]
async fn a_runs_life_and_its_history_behave_alike_on_sqlite_and_postgres() {
    let (_dir, sqlite, _pg, pg) = both().await;

    macro_rules! life {
        ($pool:expr, $name:expr) => {{
            let pool = $pool;
            let web1 = plan("web-1", RuleMode::Auto);
            let web2 = plan("web-2", RuleMode::Approval);
            // By hand, in a transaction as heal now does: one run per target.
            let mut tx = pool.begin().await.unwrap();
            let first = runs::enqueue_run(&mut tx, &new_run(&web1, "engine", "2026-12-06T10:00:00.000Z"))
                .await
                .unwrap();
            let again =
                runs::enqueue_run(&mut tx, &new_run(&web1, "ann", "2026-12-06T10:00:01.000Z")).await.unwrap();
            let parked = runs::enqueue_run(&mut tx, &new_run(&web2, "engine", "2026-12-06T10:00:02.000Z"))
                .await
                .unwrap();
            tx.commit().await.unwrap();
            let (first, parked) = (first.expect("queued"), parked.expect("parked"));
            assert_eq!(again, None, "{}: web-1 has a run in flight", $name);

            let run = runs::get_run(pool, parked).await.unwrap().expect("stored");
            assert_eq!((run.status, run.previous_run_id), (RunStatus::AwaitingApproval, None), "{}", $name);
            assert!(runs::decide_approval(pool, parked, true, "2026-12-06T10:01:00.000Z").await.unwrap());
            assert!(
                !runs::decide_approval(pool, parked, false, "2026-12-06T10:01:01.000Z").await.unwrap(),
                "{}: approved already",
                $name
            );
            assert!(runs::cancel_pending_run(pool, parked, "changed my mind", "2026-12-06T10:02:00.000Z")
                .await
                .unwrap());
            let run = runs::get_run(pool, parked).await.unwrap().unwrap();
            assert_eq!(
                (run.status, run.error.as_deref()),
                (RunStatus::Cancelled, Some("changed my mind")),
                "{}",
                $name
            );

            // The worker takes web-1's run, which ends and is verified.
            let claimed =
                runs::claim_next_run(pool, "2026-12-06T10:03:00.000Z", "r1").await.unwrap().expect("claimed");
            assert_eq!(claimed.id, first, "{}", $name);
            let finished = runs::FinishedRun {
                status: RunStatus::Succeeded,
                exit_code: Some(0),
                error: None,
                recap: Some("ok=2"),
                output_truncated: true,
                verification: Verification::Pending,
                now: "2026-12-06T10:03:30.000Z",
            };
            runs::finish_run(pool, first, &finished).await.unwrap();
            runs::set_verification(
                pool,
                first,
                Verification::Verified,
                None,
                Some(90_000),
                "2026-12-06T10:04:00.000Z",
            )
            .await
            .unwrap();
            let run = runs::get_run(pool, first).await.unwrap().unwrap();
            assert_eq!(
                (run.status, run.verification, run.exit_code, run.time_to_heal_ms, run.output_truncated),
                (RunStatus::Succeeded, Some(Verification::Verified), Some(0), Some(90_000), true),
                "{}",
                $name
            );

            // The history the decision reads: web-1's last engine run, one attempt, no run in
            // flight; a reset clears the breaker's count.
            let history = decisions::raw_history(pool, "nginx-down", "web-1", "2026-12-06T09:00:00.000Z")
                .await
                .unwrap();
            assert_eq!(history, (None, Some("2026-12-06T10:00:00.000Z".to_owned()), 1), "{}", $name);
            decisions::reset_breaker(pool, "nginx-down", "web-1", "ann", "2026-12-06T10:05:00.000Z")
                .await
                .unwrap();
            let states =
                decisions::breaker_states(pool, "nginx-down", "2026-12-06T09:00:00.000Z").await.unwrap();
            let states: Vec<(&str, i64, Option<&str>)> =
                states.iter().map(|b| (b.target.as_str(), b.attempts, b.last_reset.as_deref())).collect();
            assert_eq!(
                states,
                [("web-1", 0, Some("2026-12-06T10:05:00.000Z")), ("web-2", 1, None)],
                "{}",
                $name
            );
            let history = decisions::raw_history(pool, "nginx-down", "web-1", "2026-12-06T09:00:00.000Z")
                .await
                .unwrap();
            assert_eq!(history.2, 0, "{}: reset", $name);

            // A second run on web-1, left running by a crash, is interrupted at start.
            let mut tx = pool.begin().await.unwrap();
            let second = runs::enqueue_run(&mut tx, &new_run(&web1, "ann", "2026-12-06T10:06:00.000Z"))
                .await
                .unwrap()
                .unwrap();
            tx.commit().await.unwrap();
            runs::claim_next_run(pool, "2026-12-06T10:06:01.000Z", "r1").await.unwrap().expect("claimed");
            runs::set_run_pid(pool, second, 4242).await.unwrap();
            assert_eq!(
                runs::recover_running_runs(pool, "2026-12-06T10:07:00.000Z").await.unwrap(),
                [(second, Some(4242))],
                "{}",
                $name
            );
            let run = runs::get_run(pool, second).await.unwrap().unwrap();
            assert_eq!((run.status, run.previous_run_id), (RunStatus::Interrupted, Some(first)), "{}", $name);

            // Approvals expire; the engine says so in the audit log.
            let mut tx = pool.begin().await.unwrap();
            let waiting = runs::enqueue_run(&mut tx, &new_run(&web2, "engine", "2026-12-06T10:08:00.000Z"))
                .await
                .unwrap()
                .unwrap();
            tx.commit().await.unwrap();
            assert_eq!(
                runs::expire_approvals(pool, "2026-12-06T10:07:00.000Z", "2026-12-06T11:00:00.000Z")
                    .await
                    .unwrap(),
                0
            );
            assert_eq!(
                runs::expire_approvals(pool, "2026-12-06T10:09:00.000Z", "2026-12-06T11:00:00.000Z")
                    .await
                    .unwrap(),
                1
            );
            let run = runs::get_run(pool, waiting).await.unwrap().unwrap();
            assert_eq!(
                (run.status, run.error.as_deref()),
                (RunStatus::Cancelled, Some("approval expired")),
                "{}",
                $name
            );
            let audited: (String, String) = sqlx::query_as(
                "SELECT actor, target FROM audit_events WHERE action = 'run.approval_cancelled'",
            )
            .fetch_one(pool)
            .await
            .unwrap();
            assert_eq!(audited, ("engine".to_owned(), format!("run #{waiting}")), "{}", $name);
        }};
    }
    on_both!(&sqlite, &pg, life);
}
