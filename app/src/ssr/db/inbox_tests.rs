//! The inbox write path: idempotent upserts, status transitions, repeats within one batch.
use super::*;
use crate::ssr::alert::{normalise_payload, WebhookPayload};
use crate::ssr::db::alerts::Source;

#[path = "inbox_decide_tests.rs"]
mod decide;

const FIRING: &str =
    include_str!("../../../../server/tests/fixtures/alertmanager/alertmanager-webhook-firing.json");
/// FIRING as the webhook stores it (as text: it is small).
static FIRING_STORED: std::sync::LazyLock<crate::ssr::db::notifications::StoredBody> =
    std::sync::LazyLock::new(|| crate::ssr::db::notifications::pack(FIRING).unwrap());
const RESOLVED: &str =
    include_str!("../../../../server/tests/fixtures/alertmanager/alertmanager-webhook-resolved.json");

fn alert_row(db: &TestDb) -> (String, Option<String>, Option<String>, i64) {
    db.conn
        .query_row("SELECT status, ends_at, resolved_at, deliveries FROM alerts", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .unwrap()
}

/// A firing notification with the FIRING fixture's text and the given alerts.
fn notification<'a>(
    sha: &'a str,
    at: &'a str,
    alerts: &'a [crate::ssr::alert::NewAlert],
) -> NewNotification<'a> {
    NewNotification {
        payload_sha256: sha,
        received_at: at,
        source: Source::Webhook,
        receiver: "r",
        status: AlertStatus::Firing,
        group_key: "g",
        external_url: None,
        truncated_alerts: 0,
        payload: &FIRING_STORED,
        alerts,
        verdicts: &[],
        guard_answers: &crate::ssr::heal::guard::NO_ANSWERS,
    }
}

#[tokio::test]
async fn firing_then_duplicate_then_resolved_then_late_firing() {
    let mut db = test_db().await;
    let first = store_fixture(&mut db, FIRING, "2026-11-22T01:25:11.000Z");
    assert_eq!((first.new_alerts, first.duplicate_alerts, first.duplicate_notification), (1, 0, false));
    assert_eq!(alert_row(&db), ("firing".into(), None, None, 1));

    let again = store_fixture(&mut db, FIRING, "2026-11-22T01:25:12.000Z");
    assert_eq!((again.new_alerts, again.duplicate_alerts, again.duplicate_notification), (0, 1, true));
    assert_eq!(again.notification_id, first.notification_id, "same bytes, same notification row");
    // Read through the pool as the dashboard does: the writer's commits are visible there.
    let counts: (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM notifications), (SELECT deliveries FROM notifications), (SELECT count(*) FROM alerts)",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(counts, (1, 2, 1));

    let resolved = store_fixture(&mut db, RESOLVED, "2026-11-22T01:25:14.000Z");
    assert_eq!(resolved.resolved_now, 1);
    let ended = Some("2026-11-22T01:25:13.341Z".to_owned());
    let when = Some("2026-11-22T01:25:14.000Z".to_owned());
    assert_eq!(alert_row(&db), ("resolved".into(), ended.clone(), when.clone(), 3));

    // A retried "firing" arriving after the "resolved" must not reopen the episode.
    let late = store_fixture(&mut db, FIRING, "2026-11-22T01:25:15.000Z");
    assert_eq!(late.resolved_now, 0);
    assert_eq!(alert_row(&db), ("resolved".into(), ended, when, 4));
    assert_counts_exact(&db);
}

/// The summary the overview reads equals counting the alerts table.
fn assert_counts_exact(db: &TestDb) {
    let (kept, counted): (String, String) = db
        .conn
        .query_row(
            "SELECT (SELECT group_concat(status || '=' || n, ' ') FROM (SELECT * FROM alert_counts ORDER BY status)), \
                    (SELECT group_concat(status || '=' || n, ' ') FROM \
                      (SELECT s.status, (SELECT count(*) FROM alerts a WHERE a.status = s.status) AS n \
                       FROM (SELECT 'firing' AS status UNION ALL SELECT 'resolved') s ORDER BY s.status))",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(kept, counted);
}

#[tokio::test]
async fn alert_counts_follow_inserts_transitions_and_deletes() {
    let mut db = test_db().await;
    let unhealthy = include_str!(
        "../../../../server/tests/fixtures/alertmanager/alertmanager-webhook-firing-service-unhealthy.json"
    );
    store_fixture(&mut db, FIRING, "2026-11-22T01:25:11.000Z");
    store_fixture(&mut db, unhealthy, "2026-11-22T01:25:12.000Z");
    store_fixture(&mut db, FIRING, "2026-11-22T01:25:13.000Z");
    assert_counts_exact(&db);
    let firing: i64 =
        db.conn.query_row("SELECT n FROM alert_counts WHERE status = 'firing'", [], |r| r.get(0)).unwrap();
    assert_eq!(firing, 2, "a duplicate is not counted twice");
    store_fixture(&mut db, RESOLVED, "2026-11-22T01:25:14.000Z");
    assert_counts_exact(&db);
    // Retention deletes alerts (children first); the counts follow.
    db.conn.execute("DELETE FROM decisions", []).unwrap();
    db.conn.execute("DELETE FROM alerts WHERE status = 'resolved'", []).unwrap();
    assert_counts_exact(&db);
    db.conn.execute("UPDATE alerts SET status = 'resolved'", []).unwrap();
    assert_counts_exact(&db);
}

#[tokio::test]
async fn one_batch_with_repeats_counts_each_delivery_in_order() {
    let mut db = test_db().await;
    let p: WebhookPayload = serde_json::from_str(FIRING).unwrap();
    let alerts = normalise_payload(&p).unwrap();
    let n = |sha, at| notification(sha, at, &alerts);
    // The same bytes twice (a retry) and the same episode in a third notification (an HA peer).
    let batch = [
        n("aa", "2026-01-01T00:00:00.000Z"),
        n("aa", "2026-01-01T00:00:00.001Z"),
        n("bb", "2026-01-01T00:00:00.002Z"),
    ];
    let tx = db.conn.transaction().unwrap();
    let stored = record_notifications(&tx, &batch).unwrap();
    tx.commit().unwrap();
    let summary: Vec<_> =
        stored.iter().map(|s| (s.duplicate_notification, s.new_alerts, s.duplicate_alerts)).collect();
    assert_eq!(summary, [(false, 1, 0), (true, 0, 1), (false, 0, 1)]);
    assert_eq!(stored[0].notification_id, stored[1].notification_id);
    assert_ne!(stored[0].notification_id, stored[2].notification_id);
    let deliveries: i64 =
        sqlx::query_scalar("SELECT deliveries FROM alerts").fetch_one(&db.pool).await.unwrap();
    assert_eq!(deliveries, 3);
}

#[tokio::test]
async fn a_failed_batch_leaves_nothing_behind() {
    let mut db = test_db().await;
    let p: WebhookPayload = serde_json::from_str(FIRING).unwrap();
    let alerts = normalise_payload(&p).unwrap();
    let good = notification("aa", "2026-01-01T00:00:00.000Z", &alerts);
    // A negative truncated count breaks a CHECK constraint: the whole batch must roll back.
    let bad = NewNotification { payload_sha256: "bb", truncated_alerts: -1, ..good.clone() };
    let tx = db.conn.transaction().unwrap();
    assert!(record_notifications(&tx, &[good, bad]).is_err());
    drop(tx);
    let rows: (i64, i64) =
        sqlx::query_as("SELECT (SELECT count(*) FROM notifications), (SELECT count(*) FROM alerts)")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(rows, (0, 0));
}

/// [`read_returned`] over a query returning `(key, deliveries, id)` rows in the order given,
/// for inputs keyed `inputs`.
fn returned_for(rows: &str, inputs: &[&str]) -> rusqlite::Result<Vec<(i64, i64)>> {
    let conn = Connection::open_in_memory().unwrap();
    let mut stmt = conn.prepare(&format!("SELECT column1, column2, column3 FROM (VALUES {rows})")).unwrap();
    read_returned(
        stmt.raw_query(),
        inputs.len(),
        |i, row| Ok(row.get_ref(0)?.as_str()? == inputs[i]),
        |row| row.get::<_, String>(0),
        |i| inputs[i].to_owned(),
        |row| Ok((row.get(1)?, row.get(2)?)),
    )
}

#[test]
fn returned_rows_match_their_inputs_in_any_order() {
    let inputs = ["a", "b", "a"];
    let in_order = returned_for("('a',1,10),('b',1,20),('a',2,10)", &inputs).unwrap();
    assert_eq!(in_order, [(1, 10), (1, 20), (2, 10)]);
    // Out of order, the repeat of `a` first: matched by key, lowest delivery count first.
    let shuffled = returned_for("('b',1,20),('a',2,10),('a',1,10)", &inputs).unwrap();
    assert_eq!(shuffled, in_order);
    let late = returned_for("('a',1,10),('a',2,10),('b',1,20)", &inputs).unwrap();
    assert_eq!(late, in_order, "in order at first, then not");
    assert!(returned_for("('a',1,10),('b',1,20)", &inputs).is_err(), "a row missing");
    assert!(returned_for("('a',1,10),('b',1,20),('c',1,30)", &inputs).is_err(), "a row not asked for");
}

#[test]
fn chunk_sizes_cover_every_row_in_few_shapes() {
    for n in [0, 1, 2, 63, 64, 65, 100, 129, 1000] {
        let sizes: Vec<_> = chunk_sizes(n).collect();
        assert_eq!(sizes.iter().sum::<usize>(), n, "{n}: {sizes:?}");
        assert!(sizes.iter().all(|s| s.is_power_of_two() && *s <= ROWS_PER_STATEMENT), "{n}: {sizes:?}");
    }
    assert_eq!(chunk_sizes(100).collect::<Vec<_>>(), [64, 32, 4]);
}

#[test]
fn each_shape_binds_one_placeholder_per_value() {
    for shape in 0..SHAPES {
        let rows = 1 << shape;
        let sql = statement_sql(&ALERT_SQL, ALERT_COLUMNS, ALERT_ROW, ALERT_CONFLICT, rows);
        assert_eq!(sql.matches('?').count(), rows * 18, "{rows} rows");
        let sql = statement_sql(&DECISION_SQL, DECISION_COLUMNS, DECISION_ROW, "", rows);
        assert_eq!(sql.matches('?').count(), rows * 8, "{rows} rows");
        let sql = statement_sql(&AUDIT_SQL, AUDIT_COLUMNS, AUDIT_ROW, "", rows);
        assert_eq!(sql.matches('?').count(), rows * 5, "{rows} rows");
        let sql = statement_sql(
            &NOTIFICATION_SQL,
            NOTIFICATION_COLUMNS,
            NOTIFICATION_ROW,
            NOTIFICATION_CONFLICT,
            rows,
        );
        assert_eq!(sql.matches('?').count(), rows * 13, "{rows} rows");
    }
}

#[tokio::test]
async fn the_writer_leaves_checkpoints_to_the_checkpointer() {
    let mut db = test_db().await;
    store_fixture(&mut db, FIRING, "2026-11-22T01:25:11.000Z");
    let auto: i64 = db.conn.query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0)).unwrap();
    assert_eq!(auto, 0, "the writer must not checkpoint inside a group commit");
    let (log, copied) = crate::ssr::db::checkpoint(&db.pool, i64::MAX).await.unwrap();
    assert!(log > 0, "the commit is in the WAL");
    assert_eq!(copied, log, "a passive checkpoint with no reader copies every frame");
}

#[tokio::test]
async fn a_checkpoint_over_the_limit_restarts_the_wal() {
    let mut db = test_db().await;
    store_fixture(&mut db, FIRING, "2026-11-22T01:25:11.000Z");
    let (before, _) = crate::ssr::db::checkpoint(&db.pool, 0).await.unwrap();
    assert!(before > 0);
    store_fixture(&mut db, FIRING, "2026-11-22T01:25:12.000Z");
    let (after, _) = crate::ssr::db::checkpoint(&db.pool, i64::MAX).await.unwrap();
    // Without the restart the WAL would hold the earlier frames and these new ones.
    assert!(after < before, "the next commit started the WAL over: {after} frames, {before} before");
}

#[tokio::test]
async fn a_restart_blocked_by_a_reader_gives_up_and_leaves_the_pool_as_it_was() {
    let mut db = test_db().await;
    store_fixture(&mut db, FIRING, "2026-11-22T01:25:11.000Z");
    // A reader holding an old snapshot: the restart cannot finish while it lasts.
    let mut reader = db.pool.acquire().await.unwrap();
    sqlx::query("BEGIN").execute(&mut *reader).await.unwrap();
    let _: i64 = sqlx::query_scalar("SELECT count(*) FROM alerts").fetch_one(&mut *reader).await.unwrap();
    store_fixture(&mut db, FIRING, "2026-11-22T01:25:12.000Z");
    let blocked = crate::ssr::db::checkpoint(&db.pool, 0).await;
    assert!(blocked.is_ok(), "a busy restart is not an error: {blocked:?}");
    sqlx::query("COMMIT").execute(&mut *reader).await.unwrap();
    drop(reader);
    // Every pooled connection still waits the full busy timeout.
    for _ in 0..4 {
        let t: i64 = sqlx::query_scalar("PRAGMA busy_timeout").fetch_one(&db.pool).await.unwrap();
        assert_eq!(t, 5000);
    }
    let (before, _) = crate::ssr::db::checkpoint(&db.pool, 0).await.unwrap();
    store_fixture(&mut db, FIRING, "2026-11-22T01:25:13.000Z");
    let (after, _) = crate::ssr::db::checkpoint(&db.pool, i64::MAX).await.unwrap();
    assert!(after < before, "once the reader is gone the WAL starts over: {after} frames, {before} before");
}

#[tokio::test]
async fn a_checkpoint_between_commits_lets_the_next_commit_start_the_wal_over() {
    let mut db = test_db().await;
    for i in 0..20 {
        store_fixture(&mut db, FIRING, &format!("2026-11-22T01:25:{i:02}.000Z"));
    }
    let (before, copied) = super::checkpoint_between_commits(&db.conn).unwrap();
    assert!(before > 0, "the commits are in the WAL");
    assert_eq!(copied, before, "with no reader every frame is copied");
    store_fixture(&mut db, FIRING, "2026-11-22T01:26:00.000Z");
    let (after, _) = super::checkpoint_between_commits(&db.conn).unwrap();
    // Without the restart the WAL would hold all the earlier frames and the new ones.
    assert!(after < before, "the next commit started the WAL over: {after} frames, {before} before");
}
