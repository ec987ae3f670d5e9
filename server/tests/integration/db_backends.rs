//! The `db` modules that run on both backends (`app::ssr::db::backend`): pauses, the audit
//! log's writes, the login throttle, blast-radius trips, outbound notifications, the overview's
//! and charts' counts, maintenance windows, an alert's page, approvals, run output, users,
//! directory users and API tokens. Each scenario runs on SQLite and on a real PostgreSQL with
//! the same calls and the same expectations.

use sqlx::{PgPool, SqlitePool};

use app::model::Role;
use app::model::UserSource;
use app::ssr::auth::PasswordHash;
use app::ssr::db::audit::{record_audit, record_audits, NewAuditEvent};
use app::ssr::db::directory_users::{self, Recorded};
use app::ssr::db::login_attempts::{self as attempts, Limits, Outcome};
use app::ssr::db::outbound::{self, NewOutbound};
use app::ssr::db::run_output::{self, OutputLine};
use app::ssr::db::{
    alert_detail, alerts, api_tokens, approvals, blast, overview, pauses, run_stats, users, windows,
};
use app::ssr::db::{run_verification, runs};
use app::ssr::directory::roles::Granted;
use app::ssr::heal::window::{Window, WindowConfig};

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
async fn the_ported_modules_behave_alike_on_sqlite_and_postgres() {
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

    macro_rules! audit {
        ($pool:expr, $name:expr) => {{
            let pool = $pool;
            let one =
                NewAuditEvent { actor: "ann", action: "user.add", target: Some("bob"), ..Default::default() };
            record_audit(pool, &one).await.unwrap();
            // More than one statement's worth, through a transaction.
            let many: Vec<NewAuditEvent<'_>> = (0..300)
                .map(|_| NewAuditEvent {
                    actor: "engine",
                    action: "engine.labels_rejected",
                    detail: Some("tab\there"),
                    ..Default::default()
                })
                .collect();
            let mut tx = pool.begin().await.unwrap();
            record_audits(&mut tx, &many).await.unwrap();
            tx.commit().await.unwrap();
            let rows: Vec<(i64, String, String, Option<String>)> =
                sqlx::query_as("SELECT id, at, action, detail FROM audit_events ORDER BY id")
                    .fetch_all(pool)
                    .await
                    .unwrap();
            assert_eq!(rows.len(), 301, "{}", $name);
            assert!(rows.windows(2).all(|w| w[0].0 < w[1].0), "{}: ids ascend", $name);
            assert_eq!(
                (rows[0].2.as_str(), rows[300].3.as_deref()),
                ("user.add", Some("tab\there")),
                "{}",
                $name
            );
            assert_eq!(rows[0].1.len(), "2026-12-06T10:00:00.000Z".len(), "{}: {}", $name, rows[0].1);
            assert!(rows[0].1.ends_with('Z') && rows[0].1.as_bytes()[10] == b'T', "{}: {}", $name, rows[0].1);
        }};
    }
    on_both!(&sqlite, &pg, audit);

    macro_rules! login_attempts {
        ($pool:expr, $name:expr) => {{
            let pool = $pool;
            let limits = Limits { per_name: 2, per_source: 3, window: std::time::Duration::from_secs(900) };
            let now = time::OffsetDateTime::now_utc();
            // Twenty guesses at once for one name: exactly its limit get through.
            let guesses = (0..20).map(|i| {
                let pool = pool.clone();
                let source = format!("192.0.2.{i}");
                async move { attempts::reserve_login_attempt(&pool, "ann", Some(&source), limits, now).await.unwrap() }
            });
            let reserved: Vec<Option<i64>> = futures_util::future::join_all(guesses).await;
            let through: Vec<i64> = reserved.into_iter().flatten().collect();
            assert_eq!(through.len(), 2, "{}: parallel guesses all count", $name);
            // One succeeds: it no longer counts, so one more may try.
            attempts::settle_login_attempt(pool, through[0], Outcome::Succeeded).await.unwrap();
            attempts::settle_login_attempt(pool, through[1], Outcome::Failed).await.unwrap();
            let third = attempts::reserve_login_attempt(pool, "ann", Some("192.0.2.99"), limits, now).await.unwrap();
            let third = third.expect("a success frees its place");
            assert_eq!(attempts::reserve_login_attempt(pool, "ann", None, limits, now).await.unwrap(), None, "{}", $name);
            attempts::forget_login_attempt(pool, third).await.unwrap();
            assert!(attempts::reserve_login_attempt(pool, "ann", None, limits, now).await.unwrap().is_some(), "{}: forgotten", $name);
            // Refusals counted per name, address and minute, then flushed into one audit event.
            for _ in 0..3 {
                attempts::count_login_throttle(pool, "ann", Some("192.0.2.7"), now).await.unwrap();
            }
            let later = now + time::Duration::minutes(2);
            assert_eq!(attempts::flush_login_throttles(pool, limits.window, later).await.unwrap(), 1, "{}", $name);
            let detail: String = sqlx::query_scalar(
                "SELECT detail FROM audit_events WHERE action = 'auth.login_throttled' ORDER BY id DESC LIMIT 1",
            )
            .fetch_one(pool)
            .await
            .unwrap();
            assert!(detail.contains("\"attempts\":3"), "{}: {detail}", $name);
            assert_eq!(attempts::flush_login_throttles(pool, limits.window, later).await.unwrap(), 0, "{}", $name);
        }};
    }
    on_both!(&sqlite, &pg, login_attempts);

    macro_rules! trips_and_outbound {
        ($pool:expr, $name:expr) => {{
            let pool = $pool;
            for sql in [
                "INSERT INTO blast_trips (rule, scope, tripped_at, detail) \
                 VALUES ('nginx-down', 'web', '2026-12-06T10:00:00.000Z', '3 heals in 10m')",
                "INSERT INTO alerts (id, fingerprint, starts_at, status, alertname, labels, annotations, source, \
                 first_seen_at, last_seen_at) VALUES (50, 'f50', '2026-12-06T10:00:00.000Z', 'firing', \
                 'NginxDown', '{}', '{}', 'webhook', 'n', 'n')",
                "INSERT INTO heal_runs (id, alert_id, rule, playbook, target, mode, status, requested_by, \
                 extra_vars, timeout_ms, verify_within_ms, created_at) VALUES (60, 50, 'nginx-down', \
                 'heal-nginx.yml', 'web1', 'auto', 'succeeded', 'engine', '{}', 1000, 1000, '2026-12-05T10:00:00.000Z')",
            ] {
                sqlx::query(sql).execute(pool).await.unwrap();
            }
            let trips = blast::trips(pool).await.unwrap();
            assert_eq!(trips.len(), 1, "{}", $name);
            assert!(blast::reset(pool, "nginx-down", "web", "ann", "2026-12-06T11:00:00.000Z").await.unwrap());
            assert!(!blast::reset(pool, "nginx-down", "web", "ann", "2026-12-06T11:00:00.000Z").await.unwrap(), "{}", $name);
            assert!(blast::trips(pool).await.unwrap().is_empty(), "{}", $name);

            let n = NewOutbound {
                at: "2026-12-06T10:05:00.000Z",
                event: "run_finished",
                url: "https://chat.example.org/hook",
                run_id: Some(60),
                rule: Some("nginx-down"),
                target: Some("web1"),
                delivered: false,
                attempts: 3,
                error: Some("503"),
            };
            outbound::record_outbound(pool, &n).await.unwrap();
            outbound::set_run_silence(pool, 60, Some("sil-1")).await.unwrap();
            assert_eq!(outbound::alert_name(pool, 50).await.unwrap().as_deref(), Some("NginxDown"), "{}", $name);
            assert_eq!(outbound::alert_name(pool, 51).await.unwrap(), None, "{}", $name);
            let row: (String, i64, Option<String>) = sqlx::query_as(
                "SELECT o.status, o.attempts, r.silence_id FROM outbound_notifications o JOIN heal_runs r ON r.id = o.run_id",
            )
            .fetch_one(pool)
            .await
            .unwrap();
            assert_eq!(row, ("failed".to_owned(), 3, Some("sil-1".to_owned())), "{}", $name);
        }};
    }
    on_both!(&sqlite, &pg, trips_and_outbound);

    // The overview's and the charts' counts: the same figures from the same rows.
    macro_rules! figures {
        ($pool:expr, $name:expr) => {{
            let pool = $pool;
            for sql in [
                "INSERT INTO alerts (id, fingerprint, starts_at, status, alertname, labels, annotations, source, \
                 first_seen_at, last_seen_at) VALUES (70, 'f70', '2026-12-06T10:00:00.000Z', 'firing', 'DiskFull', \
                 '{}', '{}', 'webhook', 'n', 'n'), (71, 'f71', '2026-12-06T10:01:00.000Z', 'resolved', 'DiskFull', \
                 '{}', '{}', 'webhook', 'n', 'n')",
                "INSERT INTO decisions (alert_id, at, outcome, reason, detail) \
                 VALUES (70, 'n', 'skipped', 'no_rule', 'no rule matches')",
                "INSERT INTO heal_runs (rule, playbook, target, mode, status, verification, requested_by, extra_vars, \
                 timeout_ms, verify_within_ms, created_at, time_to_heal_ms) VALUES \
                 ('r', 'p.yml', 't1', 'auto', 'succeeded', 'verified', 'engine', '{}', 1, 1, '2026-12-06T10:05:00.000Z', 5400), \
                 ('r', 'p.yml', 't2', 'auto', 'succeeded', 'not_fixed', 'engine', '{}', 1, 1, '2026-12-06T10:20:00.000Z', NULL), \
                 ('r', 'p.yml', 't3', 'auto', 'timed_out', NULL, 'engine', '{}', 1, 1, '2026-12-06T11:00:00.000Z', NULL), \
                 ('r', 'p.yml', 't4', 'approval', 'awaiting_approval', NULL, 'engine', '{}', 1, 1, '2026-12-06T11:30:00.000Z', NULL), \
                 ('r', 'p.yml', 't5', 'auto', 'running', 'pending', 'ann', '{}', 1, 1, '2026-12-06T11:40:00.000Z', NULL)",
            ] {
                sqlx::query(sql).execute(pool).await.unwrap();
            }
            let since = "2026-12-06T00:00:00.000Z";
            (
                overview::overview_counts(pool, since).await.unwrap(),
                overview::nav_counts(pool).await.unwrap(),
                overview::alert_status_counts(pool).await.unwrap(),
                run_stats::runs_per_hour(pool, since).await.unwrap(),
                run_stats::times_to_heal(pool, since).await.unwrap(),
            )
        }};
    }
    let on_sqlite = figures!(&sqlite, "SQLite");
    let on_pg = figures!(&pg, "PostgreSQL");
    assert_eq!(on_sqlite, on_pg);
    let (counts, nav, statuses, hours, heals) = on_pg;
    assert_eq!(
        (counts.firing_alerts, counts.runs_in_flight, counts.awaiting_approval, counts.runs_24h),
        (2, 1, 1, 5),
        "{counts:?}"
    );
    assert_eq!(
        (counts.concluded_24h, counts.verified_24h, counts.failed_24h, counts.firing_no_rule),
        (3, 1, 2, 1)
    );
    assert_eq!((nav, statuses), ((2, 1), (2, 1)));
    assert_eq!(
        hours.iter().map(|h| (h.runs, h.verified, h.failed)).collect::<Vec<_>>(),
        [(2, 1, 1), (3, 0, 1)]
    );
    assert_eq!(heals, [("2026-12-06T10".to_owned(), 5400)]);

    // An alert's page and the approvals queue: the same rows read the same on both.
    macro_rules! alert_page {
        ($pool:expr) => {{
            let pool = $pool;
            for sql in [
                "INSERT INTO notifications (id, newest_starts_at, payload_sha256, received_at, last_received_at, source, \
                 receiver, status, group_key, external_url, alert_count, truncated_alerts, payload) VALUES (90, \
                 '2026-12-06T13:00:00.000Z', 'sha', 'n', 'n', 'webhook', 'selfheal', 'firing', '{}', \
                 'http://am:9093', 1, 2, 'x')",
                "INSERT INTO alerts (id, fingerprint, starts_at, status, alertname, severity, instance, labels, \
                 annotations, source, first_seen_at, last_seen_at, last_notification_id, deliveries) VALUES (91, \
                 'f91', '2026-12-06T13:00:00.000Z', 'firing', 'QueueBacklog', 'warning', 'mq1:9419', \
                 '{\"queue\":\"orders\"}', '{\"summary\":\"deep\"}', 'webhook', 'n', 'n', 90, 3)",
                "INSERT INTO heal_runs (id, alert_id, rule, playbook, target, mode, status, requested_by, extra_vars, \
                 timeout_ms, verify_within_ms, created_at, output_truncated) VALUES (92, 91, 'drain', 'drain.yml', \
                 'mq1', 'approval', 'awaiting_approval', 'engine', '{}', 1, 1, '2026-12-06T13:00:01.000Z', 1)",
                "INSERT INTO decisions (alert_id, at, rule, outcome, reason, detail, run_id, rules_hash) VALUES \
                 (91, '2026-12-06T13:00:01.000Z', 'drain', 'enqueued', 'enqueued', 'awaiting approval', 92, 'h1')",
            ] {
                sqlx::query(sql).execute(pool).await.unwrap();
            }
            format!(
                "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
                alert_detail::alert_summary(pool, 91).await.unwrap(),
                alert_detail::alert_extra(pool, 91).await.unwrap(),
                alert_detail::alert_decisions(pool, 91).await.unwrap(),
                alert_detail::alert_runs(pool, 91, 20).await.unwrap(),
                // Ids the earlier scenario left differ: explicit ids do not move PostgreSQL's sequence.
                approvals::pending_approvals(pool, 10)
                    .await
                    .unwrap()
                    .iter()
                    .map(|p| (p.alert_id, p.alertname.clone(), p.target.clone(), p.requested_at.clone()))
                    .collect::<Vec<_>>(),
                alerts::recent_labels(pool, 1).await.unwrap(),
            )
        }};
    }
    let on_sqlite = alert_page!(&sqlite);
    let on_pg = alert_page!(&pg);
    assert_eq!(on_sqlite, on_pg);
    for seen in [
        "QueueBacklog",
        "truncated_alerts: 2",
        "deliveries: 3",
        "http://am:9093",
        "awaiting approval",
        "output_truncated: true",
        "run_id: Some(92)",
        "\"orders\"",
    ] {
        assert!(on_pg.contains(seen), "{seen}: {on_pg}");
    }

    // A run's output: appended in statements of 200, paged, searched in any case, its tasks.
    macro_rules! output {
        ($pool:expr) => {{
            let pool = $pool;
            sqlx::query(
                "INSERT INTO heal_runs (id, rule, playbook, target, mode, status, requested_by, extra_vars, \
                 timeout_ms, verify_within_ms, created_at, recap) VALUES (93, 'r', 'p.yml', 'web9', 'auto', \
                 'succeeded', 'engine', '{}', 1, 1, '2026-12-06T14:00:00.000Z', '{\"web9\":{\"ok\":2}}')",
            )
            .execute(pool)
            .await
            .unwrap();
            let lines: Vec<OutputLine> = (1..=250)
                .map(|seq| OutputLine {
                    seq,
                    stream: if seq % 50 == 0 { "stderr" } else { "stdout" },
                    at: format!("2026-12-06T14:00:{:02}.000Z", seq % 60),
                    line: match seq % 10 {
                        1 => format!("TASK [step {seq}] ****"),
                        2 => "ok: [web9]".to_owned(),
                        3 => "task [lowercase, not a task line]".to_owned(),
                        _ => format!("line {seq} with 100% of a_b"),
                    },
                })
                .collect();
            let mut conn = pool.acquire().await.unwrap();
            run_output::append_output(&mut conn, 93, &lines).await.unwrap();
            drop(conn);
            let count: i64 = sqlx::query_scalar("SELECT output_lines FROM heal_runs WHERE id = 93").fetch_one(pool).await.unwrap();
            format!(
                "{count}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
                run_output::run_output(pool, 93, 240, 5).await.unwrap(),
                run_output::search_output(pool, 93, "TASK [", 4).await.unwrap(),
                run_output::search_output(pool, 93, "100%", 2).await.unwrap(),
                run_output::task_lines(pool, 93).await.unwrap().len(),
                run_output::run_recap(pool, 93).await.unwrap(),
            )
        }};
    }
    let on_sqlite = output!(&sqlite);
    let on_pg = output!(&pg);
    assert_eq!(on_sqlite, on_pg);
    assert!(
        on_pg.starts_with("250\n") && on_pg.contains("seq: 241") && on_pg.contains("task [lowercase"),
        "{on_pg}"
    );

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
                async move { run_verification::claim_verification(&pool, None, "2026-12-06T15:00:00.000Z").await.unwrap() }
            });
            let mut claimed: Vec<i64> =
                futures_util::future::join_all(claims).await.into_iter().flatten().map(|r| r.id).collect();
            claimed.sort();
            assert_eq!(claimed, [101, 102], "{}: each pending verification claimed once", $name);
            assert!(run_verification::release_verification(pool, 102).await.unwrap(), "{}", $name);
            let again = run_verification::claim_verification(pool, Some(102), "2026-12-06T15:01:00.000Z").await.unwrap();
            assert_eq!(again.map(|r| (r.id, r.target)), Some((102, "v2".to_owned())), "{}", $name);
            assert!(run_verification::claim_verification(pool, Some(103), "x").await.unwrap().is_none(), "{}", $name);
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
                async move { runs::claim_next_run(&pool, "2026-12-06T16:00:00.000Z").await.unwrap() }
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

    macro_rules! users {
        ($pool:expr, $name:expr) => {{
            let pool = $pool;
            let hash = |s: &str| PasswordHash::from_stored(s.to_owned());
            assert_eq!(users::count_users(pool).await.unwrap(), 0);
            let alice = users::insert_user(pool, "Alice", &hash("h1"), Role::Operator).await.unwrap();
            users::insert_user(pool, "bob", &hash("h"), Role::Viewer).await.unwrap();
            assert!(
                users::insert_user(pool, "ALICE", &hash("h2"), Role::Viewer).await.is_err(),
                "{}: taken in any case",
                $name
            );
            let row = users::find_user_by_name(pool, "alice").await.unwrap().expect("any case");
            assert_eq!(
                (row.id, row.role, row.disabled, row.session_epoch),
                (alice, Role::Operator, false, 0),
                "{}",
                $name
            );
            assert!(users::set_password(pool, "ALICE", &hash("h3")).await.unwrap(), "{}", $name);
            assert!(!users::set_password(pool, "nobody", &hash("h3")).await.unwrap(), "{}", $name);
            assert!(users::set_disabled(pool, "alice", true).await.unwrap(), "{}", $name);
            let row = users::find_user_by_id(pool, alice).await.unwrap().unwrap();
            assert_eq!(
                (row.password_hash.as_str(), row.disabled, row.session_epoch),
                ("h3", true, 2),
                "{}",
                $name
            );
            assert!(users::set_role(pool, "BOB", Role::Admin).await.unwrap(), "{}", $name);
            assert_eq!(users::count_active_admins(pool).await.unwrap(), 1, "{}", $name);
            users::record_login(pool, alice).await.unwrap();
            let listed = users::list_users(pool).await.unwrap();
            let names: Vec<&str> = listed.iter().map(|u| u.username.as_str()).collect();
            assert_eq!(names, ["Alice", "bob"], "{}: by name in any case", $name);
            assert!(listed[0].disabled && listed[0].last_login_at.is_some(), "{}: {:?}", $name, listed[0]);
        }};
    }
    on_both!(&sqlite, &pg, users);

    macro_rules! directory {
        ($pool:expr, $name:expr) => {{
            let pool = $pool;
            let granted = |role, by: &[&str]| Granted { role, by: by.iter().map(|g| g.to_string()).collect() };
            let mut conn = pool.acquire().await.unwrap();
            let first = directory_users::record_sign_in(&mut conn, UserSource::Ldap, "dora", "uid=dora", &granted(Role::Operator, &["sre"]))
                .await
                .unwrap();
            let Recorded::SignedIn { user, was: None } = first else { panic!("{}: {first:?}", $name) };
            assert_eq!((user.role, user.source, user.disabled), (Role::Operator, UserSource::Ldap, false), "{}", $name);
            // Again, promoted, the name in another case.
            let again = directory_users::record_sign_in(&mut conn, UserSource::Ldap, "Dora", "uid=dora", &granted(Role::Admin, &["sre-leads"]))
                .await
                .unwrap();
            assert!(matches!(again, Recorded::SignedIn { ref user, was: Some(Role::Operator) } if user.role == Role::Admin), "{}: {again:?}", $name);
            // A local user's name is not taken over by the directory.
            users::insert_user(&mut *conn, "lou", &PasswordHash::from_stored("x".into()), Role::Viewer).await.unwrap();
            let taken = directory_users::record_sign_in(&mut conn, UserSource::Oidc, "lou", "sub-1", &granted(Role::Admin, &["a"]))
                .await
                .unwrap();
            assert!(matches!(taken, Recorded::NameTaken(UserSource::Local)), "{}: {taken:?}", $name);
            drop(conn);
            // Due for a check (never checked long ago: not yet), withdrawn, then back by signing in.
            assert!(directory_users::due_for_refresh(pool, UserSource::Ldap, 300).await.unwrap().is_empty(), "{}", $name);
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            let due = directory_users::due_for_refresh(pool, UserSource::Ldap, 0).await.unwrap();
            assert_eq!(due, [("dora".to_owned(), Role::Admin)], "{}", $name);
            directory_users::confirm_role(pool, "DORA", &granted(Role::Viewer, &["eng"])).await.unwrap();
            assert_eq!(users::find_user_by_name(pool, "dora").await.unwrap().unwrap().role, Role::Viewer, "{}", $name);
            directory_users::set_refresh_token(pool, "dora", Some("rt-1")).await.unwrap();
            assert_eq!(directory_users::refresh_token(pool, "DORA").await.unwrap().as_deref(), Some("rt-1"), "{}", $name);
            assert!(directory_users::withdraw(pool, "dora").await.unwrap(), "{}", $name);
            assert!(!directory_users::withdraw(pool, "dora").await.unwrap(), "{}: withdrawn already", $name);
            assert_eq!(directory_users::refresh_token(pool, "dora").await.unwrap(), None, "{}", $name);
            let row = users::find_user_by_name(pool, "dora").await.unwrap().unwrap();
            assert!(row.disabled && row.disabled_by_directory, "{}", $name);
            let mut conn = pool.acquire().await.unwrap();
            let back = directory_users::record_sign_in(&mut conn, UserSource::Ldap, "dora", "uid=dora", &granted(Role::Viewer, &["eng"]))
                .await
                .unwrap();
            assert!(matches!(back, Recorded::SignedIn { ref user, .. } if !user.disabled), "{}: {back:?}", $name);
        }};
    }
    on_both!(&sqlite, &pg, directory);

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

    macro_rules! tokens {
        ($pool:expr, $name:expr) => {{
            let pool = $pool;
            let hash = PasswordHash::from_stored("x".to_owned());
            users::insert_user(pool, "ada", &hash, Role::Admin).await.unwrap();
            users::insert_user(pool, "bea", &hash, Role::Viewer).await.unwrap();
            users::set_disabled(pool, "bea", true).await.unwrap();
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
