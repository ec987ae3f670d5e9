//! The chain seals in order, verifies intact, and names the first edited, deleted or
//! back-dated event once an attacker has dropped the append-only triggers.
use super::*;
use crate::ssr::db::audit::{record_audit, NewAuditEvent};
use crate::ssr::db::test_pool;

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
