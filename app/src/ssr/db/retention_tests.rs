//! Retention SQL: what goes, what must stay (firing, active, referenced), and that the
//! database keeps its query plans after a large prune.
use super::*;
use crate::ssr::db::test_pool;
use sqlx::SqlitePool;

const OLD: &str = "2026-01-01T00:00:00.000Z";
const CUT: &str = "2026-05-01T00:00:00.000Z";
const RECENT: &str = "2026-05-20T00:00:00.000Z";
const NOW: &str = "2026-06-01T00:00:00.000Z";

fn cut() -> Cutoffs {
    Cutoffs {
        alerts: CUT.into(),
        alerts_max: 1_000_000,
        notifications: CUT.into(),
        run_output: CUT.into(),
        runs: CUT.into(),
        audit: CUT.into(),
        now: NOW.into(),
    }
}

/// Runs `step` batch after batch until it is done; the sum and the number of batches.
async fn drain(pool: &SqlitePool, step: Step, cut: &Cutoffs, limit: i64) -> (Pruned, usize) {
    let (mut total, mut batches, mut from) = (Pruned::default(), 0, 0);
    loop {
        let batch = prune_batch(pool, step, cut, from, limit).await.unwrap();
        total.add(&batch.pruned);
        batches += 1;
        match batch.next {
            Some(next) => from = next,
            None => return (total, batches),
        }
        assert!(batches < 10_000, "{step:?} never finishes");
    }
}

async fn count(pool: &SqlitePool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

async fn notification(pool: &SqlitePool, received: &str, last_received: &str) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO notifications (payload_sha256, received_at, last_received_at, source, receiver, status, \
         group_key, alert_count, payload) VALUES (hex(randomblob(16)), ?, ?, 'webhook', 'r', 'firing', 'g', 1, '{}') \
         RETURNING id",
    )
    .bind(received)
    .bind(last_received)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn alert(pool: &SqlitePool, status: &str, last_seen: &str, notification: Option<i64>) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO alerts (fingerprint, starts_at, status, alertname, labels, annotations, source, first_seen_at, \
         last_seen_at, resolved_at, last_notification_id, decided_at) \
         VALUES (hex(randomblob(8)), ?1, ?2, 'NginxDown', '{}', '{}', 'webhook', ?1, ?1, \
                 CASE WHEN ?2 = 'resolved' THEN ?1 END, ?3, ?1) RETURNING id",
    )
    .bind(last_seen)
    .bind(status)
    .bind(notification)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn run(pool: &SqlitePool, alert_id: Option<i64>, status: &str, at: &str, target: &str) -> i64 {
    let finished = (!matches!(status, "queued" | "running" | "awaiting_approval")).then_some(at);
    sqlx::query_scalar(
        "INSERT INTO heal_runs (alert_id, rule, playbook, target, mode, status, requested_by, extra_vars, \
         timeout_ms, verify_within_ms, created_at, finished_at) \
         VALUES (?, 'r', 'p.yml', ?, 'auto', ?, 'engine', '{}', 1000, 1000, ?, ?) RETURNING id",
    )
    .bind(alert_id)
    .bind(target)
    .bind(status)
    .bind(at)
    .bind(finished)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn output(pool: &SqlitePool, run_id: i64, lines: i64) {
    sqlx::query(
        "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ?2) \
         INSERT INTO run_output (run_id, seq, stream, at, line) SELECT ?1, n, 'stdout', '', 'ok' FROM s",
    )
    .bind(run_id)
    .bind(lines)
    .execute(pool)
    .await
    .unwrap();
}

async fn decision(pool: &SqlitePool, alert_id: i64, run_id: Option<i64>) {
    sqlx::query(
        "INSERT INTO decisions (alert_id, at, outcome, reason, detail, run_id) VALUES (?, '', 'skipped', 'x', '', ?)",
    )
    .bind(alert_id)
    .bind(run_id)
    .execute(pool)
    .await
    .unwrap();
}

async fn alert_exists(pool: &SqlitePool, id: i64) -> bool {
    count(pool, &format!("SELECT count(*) FROM alerts WHERE id = {id}")).await == 1
}

#[tokio::test]
async fn old_resolved_alerts_go_and_firing_recent_active_or_undecided_ones_stay() {
    let pool = test_pool().await;
    let old = alert(&pool, "resolved", OLD, None).await;
    decision(&pool, old, None).await;
    let with_finished_run = alert(&pool, "resolved", OLD, None).await;
    let finished = run(&pool, Some(with_finished_run), "succeeded", OLD, "t0").await;
    decision(&pool, with_finished_run, Some(finished)).await;
    let firing = alert(&pool, "firing", OLD, None).await;
    let recent = alert(&pool, "resolved", RECENT, None).await;
    let mut active = Vec::new();
    for (i, status) in ["queued", "running", "awaiting_approval"].into_iter().enumerate() {
        let id = alert(&pool, "resolved", OLD, None).await;
        run(&pool, Some(id), status, OLD, &format!("t{}", i + 1)).await;
        active.push(id);
    }
    let undecided = alert(&pool, "resolved", OLD, None).await;
    sqlx::query("UPDATE alerts SET decided_at = NULL WHERE id = ?")
        .bind(undecided)
        .execute(&pool)
        .await
        .unwrap();

    let (pruned, _) = drain(&pool, Step::Alerts, &cut(), 2).await;
    assert_eq!((pruned.alerts, pruned.decisions), (2, 2));
    assert!(!alert_exists(&pool, old).await && !alert_exists(&pool, with_finished_run).await);
    for (name, id) in [("firing", firing), ("recent", recent), ("undecided", undecided)] {
        assert!(alert_exists(&pool, id).await, "the {name} alert was pruned");
    }
    for id in active {
        assert!(alert_exists(&pool, id).await, "an alert with an active run was pruned");
    }
    let detached: Option<i64> = sqlx::query_scalar("SELECT alert_id FROM heal_runs WHERE id = ?")
        .bind(finished)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(detached, None, "the run stays, without its alert");
}

#[tokio::test]
async fn the_count_cap_removes_the_oldest_resolved_alerts_beyond_it() {
    let pool = test_pool().await;
    let mut resolved = Vec::new();
    for day in 10..20 {
        resolved.push(alert(&pool, "resolved", &format!("2026-05-{day}T00:00:00.000Z"), None).await);
    }
    let firing = [alert(&pool, "firing", OLD, None).await, alert(&pool, "firing", OLD, None).await];
    let capped = Cutoffs { alerts_max: 5, ..cut() };

    assert_eq!(drain(&pool, Step::Alerts, &capped, 100).await.0.alerts, 0, "all recent");
    let (pruned, batches) = drain(&pool, Step::AlertsOverCap, &capped, 3).await;
    assert_eq!((pruned.alerts, batches), (7, 3));
    let left: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM alerts ORDER BY id").fetch_all(&pool).await.unwrap();
    let mut expected = resolved[7..].to_vec();
    expected.extend(firing);
    assert_eq!(left, expected, "the newest resolved and every firing alert stay");

    // A cap below the firing alerts: every resolved one goes, the firing ones stay, the step ends.
    let tight = Cutoffs { alerts_max: 1, ..cut() };
    drain(&pool, Step::AlertsOverCap, &tight, 100).await;
    assert_eq!(count(&pool, "SELECT count(*) FROM alerts WHERE status = 'firing'").await, 2);
}

#[tokio::test]
async fn run_output_goes_in_batches_while_the_runs_stay() {
    let pool = test_pool().await;
    let old = run(&pool, None, "failed", OLD, "a").await;
    output(&pool, old, 7).await;
    let silent = run(&pool, None, "cancelled", OLD, "b").await;
    let recent = run(&pool, None, "succeeded", RECENT, "c").await;
    output(&pool, recent, 3).await;
    let running = run(&pool, None, "running", OLD, "d").await;
    output(&pool, running, 2).await;

    let (pruned, batches) = drain(&pool, Step::RunOutput, &cut(), 5).await;
    assert_eq!((pruned.run_output, pruned.heal_runs, batches), (7, 0, 2));
    let lines = |id: i64| format!("SELECT count(*) FROM run_output WHERE run_id = {id}");
    assert_eq!(count(&pool, &lines(old)).await, 0);
    assert_eq!(count(&pool, &lines(recent)).await, 3);
    assert_eq!(count(&pool, &lines(running)).await, 2, "a running run keeps its output");
    assert_eq!(count(&pool, "SELECT count(*) FROM heal_runs").await, 4);
    let marked: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM heal_runs WHERE output_pruned_at = ? ORDER BY id")
            .bind(NOW)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(marked, [old, silent]);
}

#[tokio::test]
async fn old_runs_go_once_their_alert_and_decisions_are_gone() {
    let pool = test_pool().await;
    let gone = run(&pool, None, "succeeded", OLD, "a").await;
    output(&pool, gone, 2).await;
    sqlx::query(
        "INSERT INTO outbound_notifications (at, event, url, run_id, status, attempts) \
         VALUES (?, 'run_finished', 'u', ?, 'delivered', 1)",
    )
    .bind(RECENT)
    .bind(gone)
    .execute(&pool)
    .await
    .unwrap();
    let kept_alert = alert(&pool, "firing", OLD, None).await;
    let with_alert = run(&pool, Some(kept_alert), "failed", OLD, "b").await;
    let other_alert = alert(&pool, "firing", OLD, None).await;
    let decided = run(&pool, None, "failed", OLD, "c").await;
    decision(&pool, other_alert, Some(decided)).await;
    let unfinished = run(&pool, None, "running", OLD, "d").await;
    let recent = run(&pool, None, "succeeded", RECENT, "e").await;

    let (pruned, _) = drain(&pool, Step::Runs, &cut(), 2).await;
    assert_eq!((pruned.heal_runs, pruned.outbound_notifications, pruned.run_output), (1, 1, 2));
    let left: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM heal_runs ORDER BY id").fetch_all(&pool).await.unwrap();
    assert_eq!(left, [with_alert, decided, unfinished, recent]);
}

#[tokio::test]
async fn outbound_and_breaker_resets_go_by_age() {
    let pool = test_pool().await;
    for at in [OLD, OLD, RECENT] {
        sqlx::query(
            "INSERT INTO outbound_notifications (at, event, url, status, attempts) \
             VALUES (?, 'breaker_open', 'u', 'failed', 3)",
        )
        .bind(at)
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO breaker_resets (rule, target, reset_at, reset_by) VALUES ('r', 't', ?, 'ann')",
        )
        .bind(at)
        .execute(&pool)
        .await
        .unwrap();
    }
    assert_eq!(
        drain(&pool, Step::Outbound, &cut(), 1).await,
        (Pruned { outbound_notifications: 2, ..Default::default() }, 3)
    );
    assert_eq!(drain(&pool, Step::BreakerResets, &cut(), 5).await.0.breaker_resets, 2);
    assert_eq!(count(&pool, "SELECT count(*) FROM outbound_notifications").await, 1);
    assert_eq!(count(&pool, "SELECT count(*) FROM breaker_resets").await, 1);
}

#[tokio::test]
async fn notifications_go_once_old_and_no_longer_referenced() {
    let pool = test_pool().await;
    let mut unreferenced = Vec::new();
    for _ in 0..5 {
        unreferenced.push(notification(&pool, OLD, OLD).await);
    }
    let referenced = notification(&pool, OLD, OLD).await;
    let holder = alert(&pool, "resolved", OLD, Some(referenced)).await;
    alert(&pool, "firing", RECENT, None).await;
    let redelivered = notification(&pool, OLD, RECENT).await;
    let recent = notification(&pool, RECENT, RECENT).await;
    let after_recent = notification(&pool, OLD, OLD).await; // ids follow time: not reached

    let (pruned, batches) = drain(&pool, Step::Notifications, &cut(), 2).await;
    assert_eq!((pruned.notifications, batches), (5, 4), "walked two rows per batch up to a recent one");
    let left: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM notifications ORDER BY id").fetch_all(&pool).await.unwrap();
    assert_eq!(left, [referenced, redelivered, recent, after_recent]);

    // Once its alert is pruned, the notification goes too.
    drain(&pool, Step::Alerts, &cut(), 10).await;
    assert!(!alert_exists(&pool, holder).await);
    assert_eq!(drain(&pool, Step::Notifications, &cut(), 10).await.0.notifications, 1);
}

#[tokio::test]
async fn the_newest_row_stays_so_its_id_is_never_handed_out_again() {
    let pool = test_pool().await;
    let first = alert(&pool, "resolved", OLD, None).await;
    let newest = alert(&pool, "resolved", OLD, None).await;
    assert_eq!(drain(&pool, Step::Alerts, &cut(), 10).await.0.alerts, 1);
    assert!(!alert_exists(&pool, first).await && alert_exists(&pool, newest).await);
    assert_eq!(alert(&pool, "firing", RECENT, None).await, newest + 1);

    let first = notification(&pool, OLD, OLD).await;
    let newest = notification(&pool, OLD, OLD).await;
    assert_eq!(drain(&pool, Step::Notifications, &cut(), 10).await.0.notifications, 1);
    assert_eq!(notification(&pool, RECENT, RECENT).await, newest + 1, "{first} went, {newest} stayed");

    let first = run(&pool, None, "failed", OLD, "a").await;
    let newest = run(&pool, None, "failed", OLD, "b").await;
    assert_eq!(drain(&pool, Step::Runs, &cut(), 10).await.0.heal_runs, 1);
    assert_eq!(run(&pool, None, "failed", RECENT, "c").await, newest + 1, "{first} went, {newest} stayed");
}

#[test]
fn a_walk_stops_at_the_first_new_row_and_resumes_after_a_full_page() {
    type Rows = &'static [(i64, bool, bool)];
    type Walked = (&'static [i64], Option<i64>);
    let cases: &[(&str, Rows, i64, Walked)] = &[
        ("empty", &[], 2, (&[], None)),
        ("full page of old rows", &[(1, true, true), (2, true, false)], 2, (&[1], Some(2))),
        ("short page: end of table", &[(1, true, true)], 2, (&[1], None)),
        ("new row ends the step", &[(1, true, true), (2, false, true), (3, true, true)], 3, (&[1], None)),
    ];
    for (name, rows, limit, (ids, next)) in cases {
        assert_eq!(walk(rows, *limit), (ids.to_vec(), *next), "{name}");
    }
}
