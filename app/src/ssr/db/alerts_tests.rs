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
