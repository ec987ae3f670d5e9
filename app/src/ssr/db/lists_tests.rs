//! The filtered lists: right rows in, right rows out, paging across filters, the scan window,
//! and a plan that walks an index for every filter.
use super::*;
use crate::model::RunStatus;
use crate::ssr::db::{query_plan, test_pool};
use sqlx::SqlitePool;

/// One alert episode: id (which also orders it), status, name, severity, instance, labels,
/// annotations.
type Row<'a> = (i64, &'a str, &'a str, &'a str, &'a str, &'a str, &'a str);

/// Inserts an alert episode.
async fn alert(pool: &SqlitePool, row: Row<'_>) {
    let (i, status, name, sev, inst, labels, ann) = row;
    let at = format!("2026-11-{:02}T10:00:00.000Z", i);
    sqlx::query(
        "INSERT INTO alerts (id, fingerprint, starts_at, status, alertname, severity, instance, labels, annotations, \
         source, first_seen_at, last_seen_at, decided_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'webhook', ?, ?, ?)",
    )
    .bind(i)
    .bind(format!("fp{i}"))
    .bind(&at)
    .bind(status)
    .bind(name)
    .bind(sev)
    .bind(inst)
    .bind(labels)
    .bind(ann)
    .bind(&at)
    .bind(&at)
    .bind(&at)
    .execute(pool)
    .await
    .unwrap();
}

async fn fixture() -> SqlitePool {
    let pool = test_pool().await;
    let l = |x: &str| format!(r#"{{"alertname":"A","job":"{x}"}}"#);
    alert(&pool, (1, "resolved", "NginxDown", "critical", "web1:9113", &l("nginx"), r#"{"summary":"down"}"#))
        .await;
    alert(
        &pool,
        (2, "firing", "NginxDown", "warning", "web2:9113", &l("nginx"), r#"{"summary":"50% \"odd\""}"#),
    )
    .await;
    alert(
        &pool,
        (3, "firing", "DiskFull", "critical", "db1:9100", &l("node"), r#"{"runbook":"https://x/disk"}"#),
    )
    .await;
    alert(&pool, (4, "resolved", "HostDown", "critical", "web1:9113", &l("blackbox"), "{}")).await;
    alert(&pool, (5, "firing", "NginxDown", "critical", "web1:9113", &l("nginx"), r#"{"summary":"again"}"#))
        .await;
    pool
}

async fn ids(pool: &SqlitePool, q: &AlertQuery, w: Window) -> Vec<i64> {
    list_alerts(pool, q, w).await.unwrap().iter().map(|a| a.id).collect()
}

fn text(s: &str) -> Option<String> {
    Some(s.to_owned())
}

/// What the plan tests put before each query.
const EXPLAIN: &str = "EXPLAIN QUERY PLAN ";

/// Every row, no scan window (as an export reads).
const ALL: Window = Window { before: i64::MAX, floor: None, limit: 50 };

#[tokio::test]
async fn each_alert_filter_selects_its_rows_newest_first() {
    let pool = fixture().await;
    let range = |from: &str, to: Option<&str>| TimeRange { from: text(from), to: to.map(str::to_owned) };
    let cases: Vec<(&str, AlertQuery, Vec<i64>)> = vec![
        ("none", AlertQuery::default(), vec![5, 4, 3, 2, 1]),
        ("status", AlertQuery { status: text("firing"), ..Default::default() }, vec![5, 3, 2]),
        ("alertname", AlertQuery { alertname: text("NginxDown"), ..Default::default() }, vec![5, 2, 1]),
        ("severity", AlertQuery { severity: text("warning"), ..Default::default() }, vec![2]),
        ("instance", AlertQuery { instance: text("web1:9113"), ..Default::default() }, vec![5, 4, 1]),
        // Filters people type: a part of the value, in any case.
        (
            "part of a name, any case",
            AlertQuery { alertname: text("nginx"), ..Default::default() },
            vec![5, 2, 1],
        ),
        ("a name no alert has", AlertQuery { alertname: text("Nginx_"), ..Default::default() }, vec![]),
        (
            "part of a severity, any case",
            AlertQuery { severity: text("WARN"), ..Default::default() },
            vec![2],
        ),
        (
            "part of an instance, any case",
            AlertQuery { instance: text("WEB1"), ..Default::default() },
            vec![5, 4, 1],
        ),
        ("% in an instance is literal", AlertQuery { instance: text("web%"), ..Default::default() }, vec![]),
        (
            "from",
            AlertQuery { range: range("2026-11-03T10:00:00.000Z", None), ..Default::default() },
            vec![5, 4, 3],
        ),
        (
            "from and to (to excluded)",
            AlertQuery {
                range: range("2026-11-02T00:00:00.000Z", Some("2026-11-04T10:00:00.000Z")),
                ..Default::default()
            },
            vec![3, 2],
        ),
        (
            "every exact filter at once",
            AlertQuery {
                status: text("firing"),
                alertname: text("NginxDown"),
                severity: text("critical"),
                instance: text("web1:9113"),
                ..Default::default()
            },
            vec![5],
        ),
        ("text in the name, any case", AlertQuery { text: text("diskf"), ..Default::default() }, vec![3]),
        ("text in the instance", AlertQuery { text: text("db1:"), ..Default::default() }, vec![3]),
        ("text in a label value", AlertQuery { text: text("blackbox"), ..Default::default() }, vec![4]),
        ("text in an annotation value", AlertQuery { text: text("x/disk"), ..Default::default() }, vec![3]),
        ("not a label name", AlertQuery { text: text("runbook"), ..Default::default() }, vec![]),
        ("% is literal", AlertQuery { text: text("50%"), ..Default::default() }, vec![2]),
        ("_ is literal", AlertQuery { text: text("a_b"), ..Default::default() }, vec![]),
        ("a quote in a value", AlertQuery { text: text("\"odd\""), ..Default::default() }, vec![2]),
        (
            "text and status",
            AlertQuery { text: text("nginx"), status: text("resolved"), ..Default::default() },
            vec![1],
        ),
    ];
    for (name, q, want) in cases {
        assert_eq!(ids(&pool, &q, ALL).await, want, "{name}");
    }
}

#[tokio::test]
async fn pages_follow_the_cursor_within_a_filter_and_stop_at_the_window() {
    let pool = fixture().await;
    let nginx = AlertQuery { alertname: text("NginxDown"), ..Default::default() };
    let first = Window { limit: 2, ..ALL };
    let page = into_page(list_alerts(&pool, &nginx, first).await.unwrap(), |a| a.id, &first, 1);
    assert_eq!((page.rows.iter().map(|a| a.id).collect::<Vec<_>>(), page.next_before), (vec![5, 2], Some(2)));
    let second = Window { before: 2, ..first };
    let page = into_page(list_alerts(&pool, &nginx, second).await.unwrap(), |a| a.id, &second, 1);
    assert_eq!((page.rows.len(), page.rows[0].id, page.next_before), (1, 1, None));

    // A bounded page: ids 3..=4 only; older rows exist, so the search goes on from 3.
    let bounded = Window { before: 5, floor: Some(3), limit: 50 };
    let firing = AlertQuery { status: text("firing"), ..Default::default() };
    let page = into_page(list_alerts(&pool, &firing, bounded).await.unwrap(), |a| a.id, &bounded, 1);
    assert_eq!((page.rows.len(), page.next_before, page.scan_limited), (1, Some(3), true));
    let w = Window::page(None, 5, 50);
    assert_eq!(w, Window { before: 6, floor: Some(6 - SCAN_WINDOW), limit: 50 });
    let page = into_page(list_alerts(&pool, &firing, w).await.unwrap(), |a| a.id, &w, 1);
    assert_eq!((page.rows.len(), page.next_before, page.scan_limited), (3, None, false), "window covers all");
    assert_eq!(id_bounds(&pool, Listed::Alerts).await.unwrap(), (1, 5));
    assert_eq!(id_bounds(&pool, Listed::Runs).await.unwrap(), (0, 0));
}

/// Whether a plan reads a bounded range of ids (the table's, or an index's ending in id).
fn walks_a_range(plan: &str) -> bool {
    plan.contains("(rowid>? AND rowid<?)") || plan.contains(" AND id>? AND id<?)")
}

#[tokio::test]
async fn every_filter_walks_ids_or_an_index_and_never_sorts() {
    let pool = fixture().await;
    // The statistics of a million alerts, as retention's ANALYZE leaves them: with them the
    // planner was tempted by the (starts_at, fingerprint) key for a time range, then sorted
    // every matching row by id for each page (an export of 100,000 rows took 10 s).
    crate::ssr::db::pretend_a_million_alerts(&pool).await;
    let w = Window::page(None, 5, 50);
    let range = TimeRange { from: text("2026-11-01T00:00:00.000Z"), to: text("2026-11-02T00:00:00.000Z") };
    let alerts = [
        AlertQuery::default(),
        AlertQuery { status: text("firing"), ..Default::default() },
        AlertQuery { alertname: text("x"), ..Default::default() },
        AlertQuery { severity: text("x"), ..Default::default() },
        AlertQuery { instance: text("x"), ..Default::default() },
        AlertQuery { text: text("x"), ..Default::default() },
        AlertQuery { range: range.clone(), ..Default::default() },
        AlertQuery {
            status: text("firing"),
            alertname: text("x"),
            text: text("y"),
            range: range.clone(),
            ..Default::default()
        },
    ];
    for (q, w) in alerts.iter().flat_map(|q| [(q, w), (q, Window::chunk(5, 1000))]) {
        let p = query_plan(&pool, alerts_sql(EXPLAIN, q, w)).await;
        // A page has a floor (`>?`), an export chunk does not.
        let walks = [
            "SEARCH a USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)",
            "SEARCH a USING INTEGER PRIMARY KEY (rowid<?)",
            "alerts_status_id (status=? AND id>? AND id<?)",
            "alerts_status_id (status=? AND id<?)",
            "alerts_alertname_id (alertname=? AND id>? AND id<?)",
            "alerts_alertname_id (alertname=? AND id<?)",
        ];
        assert!(walks.iter().any(|w| p.contains(w)), "{q:?}: {p}");
        assert!(!p.contains("TEMP B-TREE") && !p.contains("SCAN a"), "{q:?}: {p}");
    }
    // Free text through the full-text index: walked in its rowid order, each alert looked up by
    // id, nothing sorted.
    for q in &alerts {
        let phrase = "\"nginx\"";
        let p = query_plan(
            &pool,
            alerts_search_sql(EXPLAIN, q, phrase, Window { before: 9, floor: None, limit: 50 }),
        )
        .await;
        assert!(p.contains("SCAN alerts_search VIRTUAL TABLE INDEX"), "{q:?}: {p}");
        let by_id = p.contains("SEARCH a USING INTEGER PRIMARY KEY (rowid=?)") || p.contains("rowid=?)");
        let scans_alerts = p.split(" | ").any(|step| step == "SCAN a" || step.starts_with("SCAN a "));
        assert!(by_id && !scans_alerts, "{q:?}: {p}");
        assert!(!p.contains("TEMP B-TREE"), "{q:?}: {p}");
    }
    let runs = [
        RunQuery::default(),
        RunQuery { status: Some(RunStatus::Failed), ..Default::default() },
        RunQuery {
            rule: text("x"),
            target: text("y"),
            trigger: Some(Trigger::HealNow),
            range: range.clone(),
            ..Default::default()
        },
    ];
    for q in &runs {
        let p = query_plan(&pool, runs_sql(EXPLAIN, q, w)).await;
        assert!(walks_a_range(&p), "{q:?}: {p}");
        assert!(!p.contains("TEMP B-TREE") && !p.contains("SCAN r"), "{q:?}: {p}");
    }
    // Replays are few: SQLite starts from their audit entries and looks each run up.
    let replays = RunQuery { trigger: Some(Trigger::Replay), ..Default::default() };
    let p = query_plan(&pool, runs_sql(EXPLAIN, &replays, w)).await;
    assert!(p.contains("SEARCH r USING INTEGER PRIMARY KEY (rowid=?)"), "{p}");
    assert!(p.contains("SEARCH e USING INDEX audit_events_action_at") && !p.contains("SCAN"), "{p}");
    let audit = AuditQuery { actor: text("x"), action: text("y"), range };
    let p = query_plan(&pool, audit_sql(EXPLAIN, &audit, w)).await;
    // Action and time together: SQLite may take the (action, at) index and sort what it finds,
    // bounded by that range; never a scan of the whole log.
    assert!(p.starts_with("SEARCH e USING") && !p.contains("SCAN"), "{p}");
    let by_actor = AuditQuery { actor: text("x"), ..Default::default() };
    let p = query_plan(&pool, audit_sql(EXPLAIN, &by_actor, w)).await;
    assert!(walks_a_range(&p) && !p.contains("TEMP B-TREE"), "{p}");
}

#[tokio::test]
async fn runs_filter_by_status_rule_or_playbook_target_trigger_and_time() {
    let pool = fixture().await;
    for (id, rule, playbook, target, status, by, at) in [
        (1, "nginx-down", "heal-nginx.yml", "web1", "succeeded", "engine", "2026-11-01T10:00:00.000Z"),
        (2, "nginx-down", "heal-nginx.yml", "web2", "failed", "ada", "2026-11-02T10:00:00.000Z"),
        (3, "disk", "system-recovery.yml", "db1", "succeeded", "ada", "2026-11-03T10:00:00.000Z"),
    ] {
        sqlx::query(
            "INSERT INTO heal_runs (id, rule, playbook, target, mode, status, requested_by, extra_vars, timeout_ms, \
             verify_within_ms, created_at) VALUES (?, ?, ?, ?, 'auto', ?, ?, '{}', 1, 1, ?)",
        )
        .bind(id).bind(rule).bind(playbook).bind(target).bind(status).bind(by).bind(at)
        .execute(&pool)
        .await
        .unwrap();
    }
    sqlx::query("INSERT INTO audit_events (actor, action, target) VALUES ('ada', 'run.replay', 'run #3')")
        .execute(&pool)
        .await
        .unwrap();
    let cases: Vec<(&str, RunQuery, Vec<i64>)> = vec![
        ("none", RunQuery::default(), vec![3, 2, 1]),
        ("status", RunQuery { status: Some(RunStatus::Succeeded), ..Default::default() }, vec![3, 1]),
        ("rule", RunQuery { rule: text("nginx-down"), ..Default::default() }, vec![2, 1]),
        ("playbook", RunQuery { rule: text("system-recovery.yml"), ..Default::default() }, vec![3]),
        ("target", RunQuery { target: text("web2"), ..Default::default() }, vec![2]),
        ("engine", RunQuery { trigger: Some(Trigger::Engine), ..Default::default() }, vec![1]),
        ("heal now", RunQuery { trigger: Some(Trigger::HealNow), ..Default::default() }, vec![2]),
        ("replay", RunQuery { trigger: Some(Trigger::Replay), ..Default::default() }, vec![3]),
        (
            "time",
            RunQuery {
                range: TimeRange { from: text("2026-11-02T00:00:00.000Z"), to: None },
                ..Default::default()
            },
            vec![3, 2],
        ),
    ];
    for (name, q, want) in cases {
        let got: Vec<i64> = list_runs(&pool, &q, ALL).await.unwrap().iter().map(|r| r.id).collect();
        assert_eq!(got, want, "{name}");
    }
}

#[tokio::test]
async fn audit_filters_by_actor_action_and_time() {
    let pool = test_pool().await;
    for (actor, action, at) in [
        ("ada", "auth.login", "2026-11-01T10:00:00.000Z"),
        ("bob", "auth.login", "2026-11-02T10:00:00.000Z"),
        ("ada", "run.heal_now", "2026-11-03T10:00:00.000Z"),
    ] {
        sqlx::query("INSERT INTO audit_events (actor, action, at) VALUES (?, ?, ?)")
            .bind(actor)
            .bind(action)
            .bind(at)
            .execute(&pool)
            .await
            .unwrap();
    }
    let cases: Vec<(AuditQuery, Vec<&str>)> = vec![
        (AuditQuery { actor: text("ada"), ..Default::default() }, vec!["run.heal_now", "auth.login"]),
        (AuditQuery { action: text("auth.login"), ..Default::default() }, vec!["auth.login", "auth.login"]),
        (
            AuditQuery {
                actor: text("ada"),
                range: TimeRange { from: None, to: text("2026-11-02T00:00:00.000Z") },
                ..Default::default()
            },
            vec!["auth.login"],
        ),
    ];
    for (q, want) in cases {
        let got: Vec<String> =
            list_audit(&pool, &q, ALL).await.unwrap().into_iter().map(|e| e.action).collect();
        assert_eq!(got, want, "{q:?}");
    }
}

#[test]
fn like_patterns_take_wildcards_literally() {
    assert_eq!(like_pattern("a%b_c\\d"), "%a\\%b\\_c\\\\d%");
}

/// Free text of three characters or more goes through the full-text index: any part of a name,
/// instance, label or annotation value, in any case, over the whole history (beyond the scan
/// window), newest first; alerts not indexed yet are found by the bounded scan; changed
/// annotations are indexed again and pruned alerts leave the index.
#[tokio::test]
async fn free_text_searches_the_whole_history_through_the_full_text_index() {
    use crate::ssr::db::alert_search::index_all;
    use crate::ssr::db::seed::{seed, SeedSize};
    let pool = fixture().await;
    // An old alert far below the scan window, then 60,000 newer ones.
    alert(&pool, (6, "resolved", "Checkout", "warning", "shop1:80", r#"{"team":"Payments-EU"}"#, "{}")).await;
    seed(
        &crate::ssr::db::backend::Db::Sqlite(pool.clone()),
        SeedSize { alerts: 60_000, runs: 0, lines_per_run: 0 },
    )
    .await
    .unwrap();
    assert_eq!(index_all(&pool).await.unwrap(), 60_006);
    let max: i64 = sqlx::query_scalar("SELECT max(id) FROM alerts").fetch_one(&pool).await.unwrap();
    let all = Window { before: max + 1, floor: None, limit: 50 };
    let text = |t: &str| AlertQuery { text: Some(t.into()), ..Default::default() };
    assert!(text("ments-e").searches_everything());
    assert_eq!(ids(&pool, &text("ments-e"), all).await, vec![6], "a label value, in any case");
    assert_eq!(ids(&pool, &text("SHOP1"), all).await, vec![6], "the instance");
    assert_eq!(ids(&pool, &text("odd\""), all).await, vec![2], "a quote in an annotation");
    assert_eq!(ids(&pool, &text("no such text"), all).await, Vec::<i64>::new());
    let nginx = ids(&pool, &text("nginxdown"), all).await;
    assert_eq!(nginx.len(), 50, "a page");
    assert!(nginx.windows(2).all(|w| w[0] > w[1]) && nginx[0] > 59_000, "newest first: {nginx:?}");

    // Stored after the index's mark: the scan finds it, above the indexed ones.
    alert(&pool, (max + 1, "firing", "Checkout", "warning", "shop2:80", r#"{"team":"payments-us"}"#, "{}"))
        .await;
    let all = Window { before: max + 2, floor: None, limit: 50 };
    assert_eq!(ids(&pool, &text("payments"), all).await, vec![max + 1, 6]);

    // A later delivery's annotations are what is searched.
    sqlx::query("UPDATE alerts SET annotations = '{\"summary\":\"card processor timeout\"}' WHERE id = 6")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(ids(&pool, &text("processor time"), all).await, vec![6]);
    // Pruned: gone from the index too.
    sqlx::query("DELETE FROM alerts WHERE id = 6").execute(&pool).await.unwrap();
    assert_eq!(ids(&pool, &text("processor time"), all).await, Vec::<i64>::new());
    // Two characters: the scan, as before (the index needs three).
    assert!(!text("eu").searches_everything());
    let with_status = AlertQuery { status: Some("firing".into()), ..text("payments") };
    assert!(!with_status.searches_everything(), "other filters keep the scan window");
}
