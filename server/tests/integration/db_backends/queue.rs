//! What decides and runs heals outside the inbox: pauses, the verification and worker claims,
//! maintenance windows.
use app::ssr::db::{pauses, run_verification, runs, windows};
use app::ssr::heal::window::{Window, WindowConfig};

use super::{both, on_both};

#[tokio::test]
async fn pauses_claims_and_windows_behave_alike_on_sqlite_and_postgres() {
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

    // Verifications claimed by many at once (replicas' verifiers): each exactly once.
    macro_rules! verifications {
        ($pool:expr, $name:expr) => {{
            let pool = $pool;
            // The earlier scenarios' pending verification is not this one's.
            sqlx::query("UPDATE heal_runs SET verification = 'verified' WHERE verification = 'pending'")
                .execute(pool)
                .await
                .unwrap();
            sqlx::query(
                "INSERT INTO heal_runs (id, rule, playbook, target, mode, status, verification, requested_by, \
                 extra_vars, timeout_ms, verify_within_ms, created_at, finished_at) VALUES \
                 (101, 'r', 'p.yml', 'v1', 'auto', 'succeeded', 'pending', 'engine', '{}', 1, 60000, 'n', 'f1'), \
                 (102, 'r', 'p.yml', 'v2', 'auto', 'succeeded', 'pending', 'engine', '{}', 1, 60000, 'n', 'f2'), \
                 (103, 'r', 'p.yml', 'v3', 'auto', 'succeeded', 'verified', 'engine', '{}', 1, 60000, 'n', 'f3')",
            )
            .execute(pool)
            .await
            .unwrap();
            let claims = (0..12).map(|_| {
                let pool = pool.clone();
                async move { run_verification::claim_verification(&pool, None, "2026-12-06T15:00:00.000Z", "r1").await.unwrap() }
            });
            let mut claimed: Vec<i64> =
                futures_util::future::join_all(claims).await.into_iter().flatten().map(|r| r.id).collect();
            claimed.sort();
            assert_eq!(claimed, [101, 102], "{}: each pending verification claimed once", $name);
            assert!(run_verification::release_verification(pool, 102).await.unwrap(), "{}", $name);
            let again = run_verification::claim_verification(pool, Some(102), "2026-12-06T15:01:00.000Z", "r1").await.unwrap();
            assert_eq!(again.map(|r| (r.id, r.target)), Some((102, "v2".to_owned())), "{}", $name);
            assert!(run_verification::claim_verification(pool, Some(103), "x", "r1").await.unwrap().is_none(), "{}", $name);
            let pending = run_verification::unclaim_pending_verifications(pool).await.unwrap();
            assert_eq!(pending.iter().map(|p| p.id).collect::<Vec<_>>(), [101, 102], "{}", $name);
        }};
    }
    on_both!(&sqlite, &pg, verifications);

    // Queued runs claimed by many workers at once (every replica's): each started exactly once,
    // none a pause covers.
    macro_rules! worker_claims {
        ($pool:expr, $name:expr) => {{
            let pool = $pool;
            sqlx::query(
                "INSERT INTO heal_runs (id, rule, playbook, target, mode, status, requested_by, extra_vars, \
                 timeout_ms, verify_within_ms, created_at) VALUES \
                 (201, 'q', 'p.yml', 'w1', 'auto', 'queued', 'engine', '{}', 1, 1, 'n'), \
                 (202, 'q', 'p.yml', 'w2', 'auto', 'queued', 'engine', '{}', 1, 1, 'n'), \
                 (203, 'q-paused', 'p.yml', 'w3', 'auto', 'queued', 'engine', '{}', 1, 1, 'n'), \
                 (204, 'q', 'p.yml', 'w4', 'auto', 'queued', 'engine', '{}', 1, 1, 'n')",
            )
            .execute(pool)
            .await
            .unwrap();
            pauses::pause(pool, "q-paused", "hold it", "ann", "n").await.unwrap();
            assert_eq!(runs::queue_depth(pool).await.unwrap(), 4, "{}", $name);
            let claims = (0..16).map(|_| {
                let pool = pool.clone();
                async move { runs::claim_next_run(&pool, "2026-12-06T16:00:00.000Z", "r1").await.unwrap() }
            });
            let mut started: Vec<i64> =
                futures_util::future::join_all(claims).await.into_iter().flatten().map(|r| r.id).collect();
            started.sort();
            assert_eq!(
                started,
                [201, 202, 204],
                "{}: each queued run started once, the paused one waits",
                $name
            );
            assert_eq!(runs::queue_depth(pool).await.unwrap(), 1, "{}", $name);
            assert_eq!(runs::active_run_for(pool, "w2").await.unwrap(), Some(202), "{}", $name);
            assert_eq!(runs::active_run_for(pool, "nowhere").await.unwrap(), None, "{}", $name);
            runs::set_run_pid(pool, 202, 4242).await.unwrap();
            let pid: Option<i64> =
                sqlx::query_scalar("SELECT pid FROM heal_runs WHERE id = 202").fetch_one(pool).await.unwrap();
            assert_eq!(pid, Some(4242), "{}", $name);
        }};
    }
    on_both!(&sqlite, &pg, worker_claims);

    macro_rules! maintenance_windows {
        ($pool:expr, $name:expr) => {{
            let pool = $pool;
            let window = |name: &str, silence: bool| {
                let config: WindowConfig = serde_json::from_value(serde_json::json!({
                    "name": name, "matchers": ["job=\"nginx\""], "reason": "deploy",
                    "starts_at": "2026-12-06T10:00:00Z", "ends_at": "2026-12-06T12:00:00Z", "silence": silence,
                }))
                .unwrap();
                Window::from_config(config).unwrap()
            };
            let now = "2026-12-06T09:00:00.000Z";
            assert!(windows::open(pool, &window("deploy", true), "api", "ann", now).await.unwrap(), "{}", $name);
            assert!(!windows::open(pool, &window("deploy", false), "api", "ann", now).await.unwrap(), "{}: in force", $name);
            // The config's: one kept, one new; then the file drops one.
            let mut conn = pool.acquire().await.unwrap();
            let config = [window("nightly", false), window("freeze", true)];
            assert_eq!(windows::sync_config(&mut conn, &config, now).await.unwrap(), 2, "{}", $name);
            assert_eq!(windows::sync_config(&mut conn, &config, now).await.unwrap(), 0, "{}: unchanged", $name);
            assert_eq!(windows::sync_config(&mut conn, &config[..1], now).await.unwrap(), 1, "{}", $name);
            drop(conn);
            let names: Vec<String> = windows::in_force(pool).await.unwrap().iter().map(|w| w.name().to_owned()).collect();
            assert_eq!(names, ["deploy", "nightly"], "{}", $name);
            // Silences: the one in force that silences, and the cancelled one whose silence was made.
            let silenced = windows::silences(pool).await.unwrap();
            assert_eq!(silenced.len(), 1, "{}: {silenced:?}", $name);
            windows::set_silence(pool, silenced[0].id, Some("sil-9"), Some("2026-12-06T12:00:00Z")).await.unwrap();
            assert!(windows::cancel(pool, "deploy", None, "bob", now).await.unwrap(), "{}", $name);
            assert!(!windows::cancel(pool, "deploy", None, "bob", now).await.unwrap(), "{}", $name);
            let silenced = windows::silences(pool).await.unwrap();
            assert!(silenced.len() == 1 && silenced[0].cancelled, "{}: {silenced:?}", $name);
            let history = windows::history(pool, 10).await.unwrap();
            assert_eq!(history.len(), 3, "{}", $name);
        }};
    }
    on_both!(&sqlite, &pg, maintenance_windows);
}
