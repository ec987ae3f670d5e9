//! The lists on both backends: every filter of the alerts, runs and audit lists finds the same
//! rows, in the same order, on SQLite and on PostgreSQL (where the free text goes through the
//! trigram index and still matches only names, instances and label or annotation values).
use app::model::RunStatus;
use app::ssr::db::lists::{self, Listed, Window};
use app::ssr::db::{alerts_by_start, audit};
use app::ssr::filter::{AlertQuery, AuditQuery, RunOutcome, RunQuery, TimeRange};

use super::{both, on_both};

/// Five alerts (id, name, instance, status, severity, labels' extra, annotations, start), one
/// delivered late (id 2 started before id 1), two decisions, four runs and a replay's audit.
const DATA: &[&str] = &[
    "INSERT INTO alerts (id, fingerprint, starts_at, status, alertname, severity, instance, labels, annotations, \
     source, first_seen_at, last_seen_at) VALUES \
     (1, 'f1', '2026-12-06T09:00:00.000Z', 'firing', 'NginxDown', 'critical', 'web-1', \
      '{\"alertname\":\"NginxDown\",\"instance\":\"web-1\",\"team\":\"Payments\"}', '{}', 'webhook', 'n', 'n'), \
     (2, 'f2', '2026-12-06T08:00:00.000Z', 'resolved', 'NginxDown', 'warning', 'web-2', \
      '{\"alertname\":\"NginxDown\",\"instance\":\"web-2\"}', '{}', 'webhook', 'n', 'n'), \
     (3, 'f3', '2026-12-06T10:00:00.000Z', 'firing', 'DiskFull', 'Critical', 'db-1', \
      '{\"alertname\":\"DiskFull\",\"mount\":\"/var\"}', '{}', 'webhook', 'n', 'n'), \
     (4, 'f4', '2026-12-06T07:00:00.000Z', 'firing', 'DiskFull', NULL, 'db-2', \
      '{\"alertname\":\"DiskFull\"}', '{\"summary\":\"disk almost full on db-2\"}', 'webhook', 'n', 'n'), \
     (5, 'f5', '2026-12-06T11:00:00.000Z', 'firing', 'Api5xx', NULL, 'api-1', \
      '{\"alertname\":\"Api5xx\",\"path\":\"a%b_c\"}', '{}', 'webhook', 'n', 'n')",
    "INSERT INTO decisions (alert_id, at, rule, outcome, reason, detail) VALUES \
     (1, 'n', 'nginx-down', 'enqueued', 'enqueued', 'heal'), (3, 'n', NULL, 'skipped', 'no_rule', 'no rule')",
    "INSERT INTO heal_runs (id, rule, playbook, target, mode, status, verification, requested_by, extra_vars, \
     timeout_ms, verify_within_ms, created_at) VALUES \
     (1, 'nginx-down', 'heal-nginx.yml', 'web-1', 'auto', 'failed', 'skipped', 'engine', '{}', 1, 1, '2026-12-06T09:01:00.000Z'), \
     (2, 'nginx-down', 'heal-nginx.yml', 'web-1', 'auto', 'succeeded', 'verified', 'engine', '{}', 1, 1, '2026-12-06T09:02:00.000Z'), \
     (3, 'disk', 'clean.yml', 'db-1', 'auto', 'succeeded', 'pending', 'ann', '{}', 1, 1, '2026-12-06T10:01:00.000Z'), \
     (4, 'disk', 'clean.yml', 'db-1', 'auto', 'queued', NULL, 'bob', '{}', 1, 1, '2026-12-06T10:02:00.000Z')",
];

fn ids<T>(rows: &[T], id: impl Fn(&T) -> i64) -> Vec<i64> {
    rows.iter().map(id).collect()
}

#[tokio::test]
async fn every_list_filter_finds_the_same_rows_on_sqlite_and_postgres() {
    let (_dir, sqlite, _pg, pg) = both().await;

    macro_rules! lists {
        ($pool:expr, $name:expr) => {{
            let pool = $pool;
            for sql in DATA {
                sqlx::query(sql).execute(pool).await.unwrap();
            }
            let event = |actor, action, target| audit::NewAuditEvent {
                actor,
                action,
                target: Some(target),
                detail: None,
                source: Some("ui"),
            };
            audit::record_audit(pool, &event("bob", "run.replay", "run #4")).await.unwrap();
            audit::record_audit(pool, &event("ann", "run.heal_now", "run #3")).await.unwrap();
            assert_eq!(lists::id_bounds(pool, Listed::Alerts).await.unwrap(), (1, 5), "{}", $name);

            let w = Window::page(None, 5, 50);
            let alerts =
                |q: AlertQuery| async move { ids(&lists::list_alerts(pool, &q, w).await.unwrap(), |a| a.id) };
            let q = AlertQuery::default;
            let text = |t: &str| AlertQuery { text: Some(t.to_owned()), ..q() };
            let cases: Vec<(&str, AlertQuery, Vec<i64>)> = vec![
                ("everything", q(), vec![5, 4, 3, 2, 1]),
                ("firing", AlertQuery { status: Some("firing".into()), ..q() }, vec![5, 4, 3, 1]),
                ("exact name", AlertQuery { alertname: Some("NginxDown".into()), ..q() }, vec![2, 1]),
                ("part of a name", AlertQuery { alertname: Some("nginx".into()), ..q() }, vec![2, 1]),
                ("severity in any case", AlertQuery { severity: Some("CRIT".into()), ..q() }, vec![3, 1]),
                ("instance", AlertQuery { instance: Some("db-".into()), ..q() }, vec![4, 3]),
                ("a label's value", text("payments"), vec![1]),
                ("a label's name is not text", text("team"), vec![]),
                ("an annotation", text("almost full"), vec![4]),
                ("wildcards taken literally", text("a%b_"), vec![5]),
                ("a short text", text("db"), vec![4, 3]),
                ("decision", AlertQuery { decision: Some("no_rule".parse().unwrap()), ..q() }, vec![3]),
                (
                    "start range",
                    AlertQuery {
                        range: TimeRange {
                            from: Some("2026-12-06T09:00:00.000Z".into()),
                            to: Some("2026-12-06T10:30:00.000Z".into()),
                        },
                        ..q()
                    },
                    vec![3, 1],
                ),
            ];
            for (what, query, want) in cases {
                assert_eq!(alerts(query).await, want, "{}: {what}", $name);
            }

            // In the alerts' own time: the late delivery (2) sits below the first (1).
            let page = alerts_by_start::page(pool, &q(), None, 2).await.unwrap().unwrap();
            assert_eq!((ids(&page.rows, |a| a.id), page.next_before), (vec![5, 3], Some(3)), "{}", $name);
            let page = alerts_by_start::page(pool, &q(), Some(3), 10).await.unwrap().unwrap();
            assert_eq!(ids(&page.rows, |a| a.id), [1, 2, 4], "{}", $name);
            let page = alerts_by_start::page(pool, &text("disk"), None, 10).await.unwrap().unwrap();
            assert_eq!(ids(&page.rows, |a| a.id), [3, 4], "{}: text, in start order", $name);
            assert!(alerts_by_start::page(pool, &q(), Some(99), 10).await.unwrap().is_none(), "{}", $name);

            let runs =
                |q: RunQuery| async move { ids(&lists::list_runs(pool, &q, w).await.unwrap(), |r| r.id) };
            let r = RunQuery::default;
            let cases: Vec<(&str, RunQuery, Vec<i64>)> = vec![
                ("every run", r(), vec![4, 3, 2, 1]),
                ("status", RunQuery { status: Some(RunStatus::Succeeded), ..r() }, vec![3, 2]),
                ("a rule or playbook", RunQuery { rule: Some("clean.yml".into()), ..r() }, vec![4, 3]),
                ("needs attention", RunQuery { outcome: Some(RunOutcome::Attention), ..r() }, vec![1]),
                ("verified", RunQuery { outcome: Some(RunOutcome::Verified), ..r() }, vec![2]),
                ("by the engine", RunQuery { trigger: Some("engine".parse().unwrap()), ..r() }, vec![2, 1]),
                ("by hand", RunQuery { trigger: Some("heal_now".parse().unwrap()), ..r() }, vec![3]),
                ("replayed", RunQuery { trigger: Some("replay".parse().unwrap()), ..r() }, vec![4]),
            ];
            for (what, query, want) in cases {
                assert_eq!(runs(query).await, want, "{}: {what}", $name);
            }

            let events = |q: AuditQuery| async move {
                lists::list_audit(pool, &q, Window::page(None, 100, 50))
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|e| e.action)
                    .collect::<Vec<_>>()
            };
            assert_eq!(
                events(AuditQuery { actor: Some("ann".into()), ..AuditQuery::default() }).await,
                ["run.heal_now"]
            );
            assert_eq!(events(AuditQuery::default()).await, ["run.heal_now", "run.replay"], "{}", $name);
        }};
    }
    on_both!(&sqlite, &pg, lists);
}
