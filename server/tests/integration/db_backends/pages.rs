//! What the pages read: blast-radius trips, outbound notifications, the overview's and charts'
//! counts, an alert's page, approvals and run output.
use app::ssr::db::outbound::{self, NewOutbound};
use app::ssr::db::run_output::{self, OutputLine};
use app::ssr::db::{alert_detail, alerts, approvals, blast, overview, run_stats};

use super::{both, on_both};

#[tokio::test]
async fn what_the_pages_read_behaves_alike_on_sqlite_and_postgres() {
    let (_dir, sqlite, _pg, pg) = both().await;

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
}
