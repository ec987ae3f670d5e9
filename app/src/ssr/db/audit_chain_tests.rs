//! The chain seals in order, verifies intact, and names the first edited, deleted or
//! back-dated event once an attacker has dropped the append-only triggers.
use super::*;
use crate::ssr::db::audit::{record_audit, record_audits, NewAuditEvent};
use crate::ssr::db::test_pool;
use sqlx::SqlitePool;

async fn pool_with_events(n: usize) -> SqlitePool {
    let pool = test_pool().await;
    for i in 0..n {
        let detail = format!("event {i}");
        let e = NewAuditEvent {
            actor: "alice",
            action: "run.heal_now",
            detail: Some(&detail),
            ..Default::default()
        };
        record_audit(&pool, &e).await.unwrap();
    }
    pool
}

/// Five sealed events in a database whose protections an attacker has dropped.
async fn sealed_then_unprotected() -> SqlitePool {
    let pool = pool_with_events(5).await;
    seal_audit(&pool).await.unwrap();
    drop_protections(&pool).await;
    pool
}

/// What an attacker with the database file does first.
async fn drop_protections(pool: &SqlitePool) {
    let mut conn = pool.acquire().await.unwrap();
    for sql in [
        "PRAGMA foreign_keys = OFF",
        "DROP TRIGGER audit_events_no_update",
        "DROP TRIGGER audit_events_no_delete",
        "DROP TRIGGER audit_chain_no_update",
        "DROP TRIGGER audit_chain_no_delete",
    ] {
        sqlx::query(sql).execute(&mut *conn).await.unwrap();
    }
}

#[tokio::test]
async fn sealed_events_verify_and_new_ones_are_reported_unsealed() {
    let pool = pool_with_events(3).await;
    assert_eq!(seal_audit(&pool).await.unwrap(), 3);
    assert_eq!(seal_audit(&pool).await.unwrap(), 0, "nothing left to seal");
    record_audit(&pool, &NewAuditEvent { actor: "bob", action: "auth.login", ..Default::default() })
        .await
        .unwrap();
    match verify_audit(&pool).await.unwrap() {
        ChainReport::Intact { sealed: 3, unsealed: 1, head } => assert_eq!(head.len(), 64),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn events_written_together_seal_over_several_batches_in_order() {
    let pool = test_pool().await;
    let n = 2 * SEAL_BATCH as usize + 7;
    let details: Vec<String> = (0..n).map(|i| format!("event {i}")).collect();
    let events: Vec<NewAuditEvent<'_>> = details
        .iter()
        .map(|d| NewAuditEvent {
            actor: "system",
            action: "engine.labels_rejected",
            detail: Some(d),
            ..Default::default()
        })
        .collect();
    let mut conn = pool.acquire().await.unwrap();
    record_audits(&mut conn, &events).await.unwrap();
    drop(conn);
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT detail FROM audit_events ORDER BY id").fetch_all(&pool).await.unwrap();
    assert_eq!(stored, details, "one row each, in the order given");
    assert_eq!(seal_audit(&pool).await.unwrap(), n);
    match verify_audit(&pool).await.unwrap() {
        ChainReport::Intact { sealed, unsealed: 0, .. } => assert_eq!(sealed, n as i64),
        other => panic!("{other:?}"),
    }
    // Each link follows from the one before, across batch boundaries too.
    let hashes: Vec<String> =
        sqlx::query_scalar("SELECT hash FROM audit_chain ORDER BY event_id").fetch_all(&pool).await.unwrap();
    let rows: Vec<AuditEvent> =
        sqlx::query_as("SELECT id, at, actor, action, target, detail, source FROM audit_events ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    let mut prev = GENESIS.to_owned();
    for (e, h) in rows.iter().zip(&hashes) {
        prev = chain_hash(&prev, e);
        assert_eq!(&prev, h, "event {}", e.id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sealers_at_once_both_succeed_and_seal_each_event_once() {
    let pool = pool_with_events(3 * SEAL_BATCH as usize).await;
    let (a, b) = tokio::join!(seal_audit(&pool), seal_audit(&pool));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a + b, 3 * SEAL_BATCH as usize, "every event sealed by exactly one of them");
    match verify_audit(&pool).await.unwrap() {
        ChainReport::Intact { sealed, unsealed: 0, .. } => assert_eq!(sealed, 3 * SEAL_BATCH),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn the_chain_and_the_events_refuse_changes() {
    let pool = pool_with_events(1).await;
    seal_audit(&pool).await.unwrap();
    for sql in [
        "UPDATE audit_chain SET hash = 'x'",
        "DELETE FROM audit_chain",
        "DELETE FROM audit_events",
        "UPDATE audit_events SET actor = 'mallory'",
    ] {
        assert!(sqlx::query(sql).execute(&pool).await.is_err(), "{sql} was allowed");
    }
}

#[tokio::test]
async fn an_edit_of_any_column_is_named() {
    for column in ["at", "actor", "action", "target", "detail", "source"] {
        let pool = sealed_then_unprotected().await;
        sqlx::query(&format!("UPDATE audit_events SET {column} = 'mallory' WHERE id = 3"))
            .execute(&pool)
            .await
            .unwrap();
        let report = verify_audit(&pool).await.unwrap();
        assert!(matches!(report, ChainReport::Broken { event_id: 3, .. }), "{column} edited: {report:?}");
    }
}

#[tokio::test]
async fn a_deleted_event_and_a_rewritten_hash_are_named() {
    let pool = sealed_then_unprotected().await;
    sqlx::query("DELETE FROM audit_events WHERE id = 2").execute(&pool).await.unwrap();
    assert!(matches!(verify_audit(&pool).await.unwrap(), ChainReport::Broken { event_id: 2, .. }));

    let pool = sealed_then_unprotected().await;
    // Delete event 4 and its seal: the next link no longer follows.
    sqlx::query("DELETE FROM audit_events WHERE id = 4").execute(&pool).await.unwrap();
    sqlx::query("DELETE FROM audit_chain WHERE event_id = 4").execute(&pool).await.unwrap();
    assert!(matches!(verify_audit(&pool).await.unwrap(), ChainReport::Broken { event_id: 5, .. }));
}

#[tokio::test]
async fn an_event_slipped_in_before_the_head_is_named() {
    let pool = pool_with_events(3).await;
    seal_audit(&pool).await.unwrap();
    // Below the sealed head, so the sealer would never cover it: it must not pass as unsealed.
    sqlx::query("INSERT INTO audit_events (id, actor, action) VALUES (0, 'mallory', 'user.add')")
        .execute(&pool)
        .await
        .unwrap();
    assert!(matches!(verify_audit(&pool).await.unwrap(), ChainReport::Broken { event_id: 0, .. }));
}

/// Chains sealed before the tuple serialisation must still verify: the same bytes as the
/// `serde_json::Value` array they were hashed from, for awkward text and missing fields alike.
#[test]
fn chain_hash_is_the_sha256_of_the_json_array_it_always_was() {
    let awkward = AuditEvent {
        id: 9_007_199_254_740_993,
        at: "2026-11-22T01:25:10.341Z".into(),
        actor: "ünïcødé \"quoted\" \\ back".into(),
        action: "engine.labels_rejected".into(),
        target: Some("alert 7\n\t\u{0}\u{1f}\u{7f}".into()),
        detail: None,
        source: Some("</script>😀".into()),
    };
    for e in [awkward, AuditEvent { target: None, source: None, ..event_for_hash() }] {
        let value = serde_json::json!([GENESIS, e.id, e.at, e.actor, e.action, e.target, e.detail, e.source]);
        let expected: String =
            Sha256::digest(value.to_string().as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(chain_hash(GENESIS, &e), expected, "{e:?}");
    }
}

fn event_for_hash() -> AuditEvent {
    AuditEvent {
        id: 1,
        at: "2026-11-22T01:25:10.341Z".into(),
        actor: "admin".into(),
        action: "auth.login".into(),
        target: Some("admin".into()),
        detail: Some("from 127.0.0.1".into()),
        source: Some("127.0.0.1".into()),
    }
}
