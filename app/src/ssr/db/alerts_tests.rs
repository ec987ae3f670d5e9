//! Inbox SQL: idempotent upserts, transitions, reconciliation inserts, listing.
use super::*;
use crate::ssr::alert::{normalise_payload, WebhookPayload};
use crate::ssr::db::test_pool;

const FIRING: &str =
    include_str!("../../../../server/tests/fixtures/alertmanager/alertmanager-webhook-firing.json");
const RESOLVED: &str =
    include_str!("../../../../server/tests/fixtures/alertmanager/alertmanager-webhook-resolved.json");

async fn store(pool: &sqlx::SqlitePool, raw: &str, at: &str) -> StoredNotification {
    let p: WebhookPayload = serde_json::from_str(raw).unwrap();
    let alerts = normalise_payload(&p).unwrap();
    let hash = format!("{:x}", raw.len() as u64 * 31 + raw.bytes().map(u64::from).sum::<u64>());
    let n = NewNotification {
        payload_sha256: &hash,
        received_at: at,
        source: Source::Webhook,
        receiver: &p.receiver,
        status: p.status,
        group_key: &p.group_key,
        external_url: p.external_url.as_deref(),
        truncated_alerts: p.truncated_alerts as i64,
        payload: raw,
        alerts: &alerts,
    };
    let mut conn = pool.acquire().await.unwrap();
    record_notifications(&mut conn, std::slice::from_ref(&n)).await.unwrap().remove(0)
}

async fn alert_row(pool: &sqlx::SqlitePool) -> (String, Option<String>, Option<String>, i64) {
    sqlx::query_as("SELECT status, ends_at, resolved_at, deliveries FROM alerts")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn firing_then_duplicate_then_resolved_then_late_firing() {
    let pool = test_pool().await;
    let first = store(&pool, FIRING, "2026-11-22T01:25:11.000Z").await;
    assert_eq!((first.new_alerts, first.duplicate_alerts, first.duplicate_notification), (1, 0, false));
    assert_eq!(alert_row(&pool).await, ("firing".into(), None, None, 1));

    let again = store(&pool, FIRING, "2026-11-22T01:25:12.000Z").await;
    assert_eq!((again.new_alerts, again.duplicate_alerts, again.duplicate_notification), (0, 1, true));
    assert_eq!(again.notification_id, first.notification_id, "same bytes, same notification row");
    let counts: (i64, i64, i64) =
        sqlx::query_as("SELECT (SELECT count(*) FROM notifications), (SELECT deliveries FROM notifications), (SELECT count(*) FROM alerts)")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(counts, (1, 2, 1));

    let resolved = store(&pool, RESOLVED, "2026-11-22T01:25:14.000Z").await;
    assert_eq!(resolved.resolved_now, 1);
    let ended = Some("2026-11-22T01:25:13.341Z".to_owned());
    let when = Some("2026-11-22T01:25:14.000Z".to_owned());
    assert_eq!(alert_row(&pool).await, ("resolved".into(), ended.clone(), when.clone(), 3));

    // A retried "firing" arriving after the "resolved" must not reopen the episode.
    let late = store(&pool, FIRING, "2026-11-22T01:25:15.000Z").await;
    assert_eq!(late.resolved_now, 0);
    assert_eq!(alert_row(&pool).await, ("resolved".into(), ended, when, 4));
}

#[tokio::test]
async fn reconciliation_adds_only_unknown_episodes() {
    let pool = test_pool().await;
    let p: WebhookPayload = serde_json::from_str(FIRING).unwrap();
    let mut alert = normalise_payload(&p).unwrap().remove(0);
    assert!(record_reconciled_alert(&pool, &alert, Some("heal"), "2026-11-22T01:25:11.000Z").await.unwrap());
    assert!(!record_reconciled_alert(&pool, &alert, Some("heal"), "2026-11-22T01:25:12.000Z").await.unwrap());
    let (source, deliveries): (String, i64) =
        sqlx::query_as("SELECT source, deliveries FROM alerts").fetch_one(&pool).await.unwrap();
    assert_eq!((source.as_str(), deliveries), ("reconcile", 1));

    // The webhook then delivers it: same row, a delivery more, source kept.
    let stored = store(&pool, FIRING, "2026-11-22T01:25:13.000Z").await;
    assert_eq!(stored.duplicate_alerts, 1);
    alert.starts_at = "2026-11-22T02:00:00.000Z".into();
    assert!(
        record_reconciled_alert(&pool, &alert, None, "2026-11-22T02:00:01.000Z").await.unwrap(),
        "new episode"
    );
}

#[tokio::test]
async fn list_filters_and_pages_newest_first() {
    let pool = test_pool().await;
    store(&pool, FIRING, "2026-11-22T01:25:11.000Z").await;
    let unhealthy = include_str!(
        "../../../../server/tests/fixtures/alertmanager/alertmanager-webhook-firing-service-unhealthy.json"
    );
    store(&pool, unhealthy, "2026-11-22T01:25:12.000Z").await;

    let all = list_alerts(&pool, &AlertFilter::default(), 10).await.unwrap();
    assert_eq!(all.len(), 2);
    assert!(all[0].id > all[1].id);
    let page =
        list_alerts(&pool, &AlertFilter { before: Some(all[0].id), ..Default::default() }, 10).await.unwrap();
    assert_eq!(page, all[1..]);
    let by_name = AlertFilter { alertname: Some("NginxDown".into()), ..Default::default() };
    let named = list_alerts(&pool, &by_name, 10).await.unwrap();
    assert_eq!(named.len(), 1);
    assert_eq!(named[0].alertname, "NginxDown");
    let resolved = AlertFilter { status: Some("resolved".into()), ..Default::default() };
    assert!(list_alerts(&pool, &resolved, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn one_batch_with_repeats_counts_each_delivery_in_order() {
    let pool = test_pool().await;
    let p: WebhookPayload = serde_json::from_str(FIRING).unwrap();
    let alerts = normalise_payload(&p).unwrap();
    let n = |sha: &'static str, at: &'static str| NewNotification {
        payload_sha256: sha,
        received_at: at,
        source: Source::Webhook,
        receiver: "r",
        status: AlertStatus::Firing,
        group_key: "g",
        external_url: None,
        truncated_alerts: 0,
        payload: FIRING,
        alerts: &alerts,
    };
    // The same bytes twice (a retry) and the same episode in a third notification (an HA peer).
    let batch = [
        n("aa", "2026-01-01T00:00:00.000Z"),
        n("aa", "2026-01-01T00:00:00.001Z"),
        n("bb", "2026-01-01T00:00:00.002Z"),
    ];
    let mut conn = pool.acquire().await.unwrap();
    let stored = record_notifications(&mut conn, &batch).await.unwrap();
    let summary: Vec<_> =
        stored.iter().map(|s| (s.duplicate_notification, s.new_alerts, s.duplicate_alerts)).collect();
    assert_eq!(summary, [(false, 1, 0), (true, 0, 1), (false, 0, 1)]);
    assert_eq!(stored[0].notification_id, stored[1].notification_id);
    assert_ne!(stored[0].notification_id, stored[2].notification_id);
    drop(conn);
    let deliveries: i64 = sqlx::query_scalar("SELECT deliveries FROM alerts").fetch_one(&pool).await.unwrap();
    assert_eq!(deliveries, 3);
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
