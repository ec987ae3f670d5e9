//! Audit exports: only sealed, old enough events, never the newest; the triggers refuse to
//! delete what no export holds; verification and sealing resume from the latest export.
use super::*;
use crate::ssr::db::audit::{record_audit, NewAuditEvent};
use crate::ssr::db::audit_chain::{seal_audit, verify_audit, ChainReport};
use crate::ssr::db::test_pool;
use sqlx::SqlitePool;

async fn count(pool: &SqlitePool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

async fn sealed_events(n: usize) -> SqlitePool {
    let pool = test_pool().await;
    for i in 0..n {
        let detail = format!("event {i}");
        let e =
            NewAuditEvent { actor: "ann", action: "user.add", detail: Some(&detail), ..Default::default() };
        record_audit(&pool, &e).await.unwrap();
    }
    seal_audit(&pool).await.unwrap();
    pool
}

/// Records an export of `events` (as if written to a file) and prunes them.
async fn export(pool: &SqlitePool, after: i64, events: &[SealedEvent]) -> Option<u64> {
    let last = events.last().unwrap();
    let e = NewAuditExport {
        after_event_id: after,
        from_event_id: events[0].event.id,
        up_to_event_id: last.event.id,
        events: events.len() as i64,
        file: "audit-test.jsonl",
        sha256: "00",
        last_hash: &last.hash,
    };
    commit_audit_export(pool, &e).await.unwrap()
}

#[tokio::test]
async fn only_sealed_events_older_than_the_cutoff_are_exportable() {
    let pool = sealed_events(3).await;
    record_audit(&pool, &NewAuditEvent { actor: "bob", action: "auth.login", ..Default::default() })
        .await
        .unwrap();
    let all = exportable_audit(&pool, "9999", 100).await.unwrap();
    assert_eq!(all.iter().map(|e| e.event.id).collect::<Vec<_>>(), [1, 2, 3], "event 4 is not sealed");
    assert_eq!(exportable_audit(&pool, "9999", 2).await.unwrap().len(), 2);
    sqlx::query("DROP TRIGGER audit_events_no_update").execute(&pool).await.unwrap();
    sqlx::query("UPDATE audit_events SET at = '2030-01-01T00:00:00.000Z' WHERE id = 2")
        .execute(&pool)
        .await
        .unwrap();
    let before = exportable_audit(&pool, "2029-01-01", 100).await.unwrap();
    assert_eq!(before.len(), 1, "the export stops at the first event not old enough");
}

#[tokio::test]
async fn unexported_audit_events_cannot_be_deleted_and_none_can_be_edited() {
    let pool = sealed_events(4).await;
    let refused = ["DELETE FROM audit_events WHERE id = 1", "DELETE FROM audit_chain WHERE event_id = 1"];
    for sql in refused {
        assert!(sqlx::query(sql).execute(&pool).await.is_err(), "{sql} was allowed before any export");
    }
    let events = exportable_audit(&pool, "9999", 2).await.unwrap();
    assert_eq!(export(&pool, 0, &events).await, Some(2));
    for sql in [
        "DELETE FROM audit_chain WHERE event_id = 3",
        "DELETE FROM audit_events WHERE id = 3",
        "UPDATE audit_events SET actor = 'mallory' WHERE id = 3",
        "UPDATE audit_chain SET hash = 'x' WHERE event_id = 3",
        "UPDATE audit_exports SET last_hash = 'x'",
        "DELETE FROM audit_exports",
    ] {
        assert!(sqlx::query(sql).execute(&pool).await.is_err(), "{sql} was allowed");
    }
}

#[tokio::test]
async fn after_a_prune_verify_resumes_from_the_export_and_still_names_an_edit() {
    let pool = sealed_events(6).await;
    let events = exportable_audit(&pool, "9999", 4).await.unwrap();
    assert_eq!(export(&pool, 0, &events).await, Some(4));
    assert_eq!(count(&pool, "SELECT count(*) FROM audit_events").await, 2);
    assert_eq!(audit_anchor(&pool).await.unwrap(), (4, events[3].hash.clone()));
    let recorded = list_audit_exports(&pool).await.unwrap();
    assert_eq!(recorded.iter().map(|e| (e.from_event_id, e.up_to_event_id)).collect::<Vec<_>>(), [(1, 4)]);
    match verify_audit(&pool).await.unwrap() {
        ChainReport::Intact { sealed: 2, unsealed: 0, .. } => {}
        other => panic!("{other:?}"),
    }
    // Exports follow each other: the next starts after event 4.
    let next = exportable_audit(&pool, "9999", 100).await.unwrap();
    assert_eq!(next.iter().map(|e| e.event.id).collect::<Vec<_>>(), [5], "never the newest");

    sqlx::query("DROP TRIGGER audit_events_no_update").execute(&pool).await.unwrap();
    sqlx::query("UPDATE audit_events SET actor = 'mallory' WHERE id = 6").execute(&pool).await.unwrap();
    assert!(matches!(verify_audit(&pool).await.unwrap(), ChainReport::Broken { event_id: 6, .. }));
}

#[tokio::test]
async fn once_every_sealed_event_is_exported_sealing_goes_on_from_the_anchor() {
    let pool = sealed_events(3).await;
    let bob = NewAuditEvent { actor: "bob", action: "auth.login", ..Default::default() };
    record_audit(&pool, &bob).await.unwrap();
    let events = exportable_audit(&pool, "9999", 100).await.unwrap();
    assert_eq!(export(&pool, 0, &events).await, Some(3));
    assert_eq!(count(&pool, "SELECT count(*) FROM audit_chain").await, 0);
    assert_eq!(seal_audit(&pool).await.unwrap(), 1);
    match verify_audit(&pool).await.unwrap() {
        ChainReport::Intact { sealed: 1, unsealed: 0, .. } => {}
        other => panic!("the chain must go on from the export: {other:?}"),
    }
    record_audit(&pool, &bob).await.unwrap();
    assert_eq!(count(&pool, "SELECT max(id) FROM audit_events").await, 5, "ids never go back");
    // An event slipped in below the export, seal and all, would otherwise never be looked at.
    for sql in [
        "INSERT INTO audit_events (id, actor, action) VALUES (2, 'mallory', 'user.add')",
        "INSERT INTO audit_chain (event_id, hash) VALUES (2, 'forged')",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    assert!(matches!(verify_audit(&pool).await.unwrap(), ChainReport::Broken { event_id: 2, .. }));
}

#[tokio::test]
async fn an_export_that_no_longer_matches_the_log_changes_nothing() {
    let pool = sealed_events(2).await;
    for id in [5, 6] {
        sqlx::query("INSERT INTO audit_events (id, actor, action) VALUES (?, 'ann', 'user.add')")
            .bind(id)
            .execute(&pool)
            .await
            .unwrap();
    }
    seal_audit(&pool).await.unwrap();
    let events = exportable_audit(&pool, "9999", 100).await.unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(export(&pool, 2, &events).await, None, "another export was recorded meanwhile");
    // An event appears inside the exported range before the export commits: it was not exported.
    sqlx::query("INSERT INTO audit_events (id, actor, action) VALUES (4, 'ann', 'user.add')")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(export(&pool, 0, &events).await, None);
    assert_eq!(count(&pool, "SELECT count(*) FROM audit_events").await, 5, "nothing deleted");
    assert_eq!(count(&pool, "SELECT count(*) FROM audit_exports").await, 0, "nothing recorded");
}
