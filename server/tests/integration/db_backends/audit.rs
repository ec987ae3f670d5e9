//! The audit chain on both backends: sealed in id order, verified, a tampered event found; and
//! on PostgreSQL, where ids commit out of order, the sealer never chains past an event whose
//! transaction is still open.
use std::time::Duration;

use app::ssr::db::audit::{record_audit, NewAuditEvent};
use app::ssr::db::audit_chain::{seal_audit, verify_audit, ChainReport};
use app::ssr::db::audit_export::{commit_audit_export, exportable_audit, list_audit_exports, NewAuditExport};

use super::{both, on_both};

fn event(action: &str) -> NewAuditEvent<'_> {
    NewAuditEvent { actor: "ann", action, target: Some("run #1"), detail: Some("why"), source: Some("ui") }
}

#[tokio::test]
async fn the_audit_chain_seals_and_verifies_alike_on_sqlite_and_postgres() {
    let (_dir, sqlite, _pg, pg) = both().await;

    macro_rules! chain {
        ($pool:expr, $name:expr) => {{
            let pool = $pool;
            for action in ["run.approve", "run.reject", "user.add"] {
                record_audit(pool, &event(action)).await.unwrap();
            }
            assert_eq!(seal_audit(pool).await.unwrap(), 3, "{}", $name);
            record_audit(pool, &event("user.remove")).await.unwrap();
            match verify_audit(pool).await.unwrap() {
                ChainReport::Intact { sealed: 3, unsealed: 1, .. } => {}
                other => panic!("{}: {other:?}", $name),
            }
            assert_eq!(seal_audit(pool).await.unwrap(), 1, "{}", $name);
            assert_eq!(seal_audit(pool).await.unwrap(), 0, "{}: nothing left", $name);
            // The two oldest exported (never the newest), and pruned with their seals; the chain
            // then verifies from the export's anchor.
            let events = exportable_audit(pool, "9999", 10).await.unwrap();
            assert_eq!(events.iter().map(|e| e.event.id).collect::<Vec<_>>(), [1, 2, 3], "{}", $name);
            let export = NewAuditExport {
                after_event_id: 0,
                from_event_id: 1,
                up_to_event_id: 2,
                events: 2,
                file: "audit-1-2.jsonl",
                sha256: "sha",
                last_hash: &events[1].hash,
            };
            assert_eq!(commit_audit_export(pool, &export).await.unwrap(), Some(2), "{}", $name);
            assert_eq!(commit_audit_export(pool, &export).await.unwrap(), None, "{}: the log moved", $name);
            assert_eq!(list_audit_exports(pool).await.unwrap().len(), 1, "{}", $name);
            match verify_audit(pool).await.unwrap() {
                ChainReport::Intact { sealed: 2, unsealed: 0, .. } => {}
                other => panic!("{}: {other:?}", $name),
            }
            // An edited event breaks the chain (the append-only trigger is bypassed the way an
            // attacker with the database would: by dropping it first).
            let (drop, edit, create) = if $name == "SQLite" {
                (
                    "DROP TRIGGER audit_events_no_update",
                    "UPDATE audit_events SET detail = 'nothing to see' WHERE id = 3",
                    None,
                )
            } else {
                (
                    "ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update",
                    "UPDATE audit_events SET detail = 'nothing to see' WHERE id = 3",
                    Some("ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update"),
                )
            };
            sqlx::query(drop).execute(pool).await.unwrap();
            sqlx::query(edit).execute(pool).await.unwrap();
            if let Some(create) = create {
                sqlx::query(create).execute(pool).await.unwrap();
            }
            match verify_audit(pool).await.unwrap() {
                ChainReport::Broken { event_id: 3, .. } => {}
                other => panic!("{}: {other:?}", $name),
            }
        }};
    }
    on_both!(&sqlite, &pg, chain);
}

/// Replicas insert audit events in transactions that commit in any order: an event with a
/// lower id may become visible after one with a higher id. The sealer waits for it instead of
/// chaining past it (which `verify` would then report as an event inserted later).
#[tokio::test]
async fn the_postgres_sealer_waits_for_an_event_still_being_committed() {
    let (_dir, _sqlite, _pg, pg) = both().await;
    record_audit(&pg, &event("first")).await.unwrap();
    // A replica's transaction takes the next id and stays open.
    let mut open = pg.begin().await.unwrap();
    record_audit(&mut open, &event("slow")).await.unwrap();
    // Another commits a higher id at once.
    record_audit(&pg, &event("fast")).await.unwrap();
    let sealer = tokio::spawn({
        let pg = pg.clone();
        async move { seal_audit(&pg).await.unwrap() }
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!sealer.is_finished(), "the sealer waits for the open transaction");
    open.commit().await.unwrap();
    assert_eq!(sealer.await.unwrap(), 3, "all three, in id order");
    match verify_audit(&pg).await.unwrap() {
        ChainReport::Intact { sealed: 3, unsealed: 0, .. } => {}
        other => panic!("{other:?}"),
    }

    // A transaction that rolls back leaves a gap in the ids, not a break.
    let mut open = pg.begin().await.unwrap();
    record_audit(&mut open, &event("abandoned")).await.unwrap();
    record_audit(&pg, &event("after")).await.unwrap();
    let sealer = tokio::spawn({
        let pg = pg.clone();
        async move { seal_audit(&pg).await.unwrap() }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    open.rollback().await.unwrap();
    assert_eq!(sealer.await.unwrap(), 1);
    match verify_audit(&pg).await.unwrap() {
        ChainReport::Intact { sealed: 4, unsealed: 0, .. } => {}
        other => panic!("{other:?}"),
    }
}
