//! Reconciliation inserts and listing (the webhook write path is tested in inbox_tests.rs).
use super::*;
use crate::ssr::alert::{normalise_payload, WebhookPayload};
use crate::ssr::db::inbox::{store_fixture, test_db};

const FIRING: &str =
    include_str!("../../../../server/tests/fixtures/alertmanager/alertmanager-webhook-firing.json");

#[tokio::test]
async fn reconciliation_adds_only_unknown_episodes() {
    let mut db = test_db().await;
    let pool = db.pool.clone();
    let p: WebhookPayload = serde_json::from_str(FIRING).unwrap();
    let mut alert = normalise_payload(&p).unwrap().remove(0);
    assert!(record_reconciled_alert(&pool, &alert, Some("heal"), "2026-11-22T01:25:11.000Z").await.unwrap());
    assert!(!record_reconciled_alert(&pool, &alert, Some("heal"), "2026-11-22T01:25:12.000Z").await.unwrap());
    let (source, deliveries): (String, i64) =
        sqlx::query_as("SELECT source, deliveries FROM alerts").fetch_one(&pool).await.unwrap();
    assert_eq!((source.as_str(), deliveries), ("reconcile", 1));

    // The webhook then delivers it: same row, a delivery more, source kept.
    let stored = store_fixture(&mut db, FIRING, "2026-11-22T01:25:13.000Z");
    assert_eq!(stored.duplicate_alerts, 1);
    alert.starts_at = "2026-11-22T02:00:00.000Z".into();
    assert!(
        record_reconciled_alert(&pool, &alert, None, "2026-11-22T02:00:01.000Z").await.unwrap(),
        "new episode"
    );
}

#[tokio::test]
async fn list_filters_and_pages_newest_first() {
    let mut db = test_db().await;
    let pool = db.pool.clone();
    store_fixture(&mut db, FIRING, "2026-11-22T01:25:11.000Z");
    let unhealthy = include_str!(
        "../../../../server/tests/fixtures/alertmanager/alertmanager-webhook-firing-service-unhealthy.json"
    );
    store_fixture(&mut db, unhealthy, "2026-11-22T01:25:12.000Z");

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
