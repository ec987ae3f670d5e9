//! The alert list in start order: late deliveries among their contemporaries, the cursor, the
//! scan window, full-text search over the whole history, and plans that walk the key.
use super::*;
use crate::ssr::db::alert_search::index_all;
use crate::ssr::db::{query_plan, test_pool};
use crate::ssr::filter::AlertSort;

/// Inserts an alert episode received as `id`, started at minute `minute` of the day.
async fn alert(pool: &SqlitePool, id: i64, minute: u32, fingerprint: &str, status: &str, name: &str) {
    crate::ssr::db::insert_test_alert(pool, id, name).await;
    let at = format!("2026-11-20T{:02}:{:02}:00.000Z", minute / 60, minute % 60);
    sqlx::query(
        "UPDATE alerts SET fingerprint = ?, starts_at = ?, status = ?, instance = 'web1:9113' WHERE id = ?",
    )
    .bind(fingerprint)
    .bind(at)
    .bind(status)
    .bind(id)
    .execute(pool)
    .await
    .unwrap();
}

/// Received in id order 1..=6; started out of that order. Alert 4 arrived late (started first),
/// alerts 2 and 5 started in the same millisecond.
async fn fixture() -> SqlitePool {
    let pool = test_pool().await;
    alert(&pool, 1, 60, "f1", "resolved", "NginxDown").await;
    alert(&pool, 2, 120, "f2", "firing", "DiskFull").await;
    alert(&pool, 3, 90, "f3", "firing", "NginxDown").await;
    alert(&pool, 4, 10, "f4", "firing", "NginxDown").await;
    alert(&pool, 5, 120, "f5", "resolved", "DiskFull").await;
    alert(&pool, 6, 200, "f6", "firing", "HostDown").await;
    pool
}

async fn ids(
    pool: &SqlitePool,
    q: &AlertQuery,
    before: Option<i64>,
    limit: i64,
    window: i64,
) -> (Vec<i64>, Option<i64>, bool) {
    let page = page_within(pool.into(), q, before, limit, window).await.unwrap().expect("cursor stored");
    (page.rows.iter().map(|a| a.id).collect(), page.next_before, page.scan_limited)
}

#[tokio::test]
async fn newest_start_first_with_late_deliveries_among_their_contemporaries() {
    let pool = fixture().await;
    let all = AlertQuery::default();
    assert_eq!(all.sort, AlertSort::Started, "the default order");
    // Same start: the fingerprint decides, so the order is total and pages never skip a row.
    assert_eq!(ids(&pool, &all, None, 50, 50).await, (vec![6, 5, 2, 3, 1, 4], None, false));
    // Pages of two follow the cursor (an id), through the tie.
    assert_eq!(ids(&pool, &all, None, 2, 50).await, (vec![6, 5], Some(5), false));
    assert_eq!(ids(&pool, &all, Some(5), 2, 50).await, (vec![2, 3], Some(3), false));
    assert_eq!(ids(&pool, &all, Some(3), 2, 50).await, (vec![1, 4], Some(4), false));
    assert_eq!(ids(&pool, &all, Some(4), 2, 50).await, (vec![], None, false));
    // A time range bounds the key walk.
    let range = crate::ssr::filter::TimeRange {
        from: Some("2026-11-20T01:00:00.000Z".into()),
        to: Some("2026-11-20T02:00:00.000Z".into()),
    };
    let early = AlertQuery { range, ..AlertQuery::default() };
    assert_eq!(ids(&pool, &early, None, 50, 50).await, (vec![3, 1], None, false));
    // A pruned cursor is said, not silently restarted.
    assert!(page(&pool, &all, Some(99), 50).await.unwrap().is_none());
}

#[tokio::test]
async fn filters_search_a_window_of_keys_and_the_next_page_goes_on_below_it() {
    let pool = fixture().await;
    let nginx = AlertQuery { alertname: Some("NginxDown".into()), ..AlertQuery::default() };
    // A window of three keys (6, 5, 2) holds no NginxDown: the page says it searched a stretch.
    assert_eq!(ids(&pool, &nginx, None, 50, 3).await, (vec![], Some(2), true));
    assert_eq!(ids(&pool, &nginx, Some(2), 50, 3).await, (vec![3, 1, 4], None, false));
    let firing = AlertQuery { status: Some("firing".into()), ..AlertQuery::default() };
    assert_eq!(ids(&pool, &firing, None, 2, 3).await, (vec![6, 2], Some(2), false));
    assert_eq!(ids(&pool, &firing, Some(2), 2, 3).await, (vec![3, 4], Some(4), false));
    // Free text of two characters scans the window too.
    let text = AlertQuery { text: Some("sk".into()), ..AlertQuery::default() };
    assert_eq!(ids(&pool, &text, None, 50, 50).await, (vec![5, 2], None, false));
}

#[tokio::test]
async fn free_text_is_sorted_by_start_over_the_whole_history() {
    let pool = fixture().await;
    assert_eq!(index_all(&pool).await.unwrap(), 6);
    // Stored after the indexer's last step: found by a scan and merged in its place.
    alert(&pool, 7, 30, "f7", "firing", "NginxDown").await;
    let nginx = AlertQuery { text: Some("nginx".into()), ..AlertQuery::default() };
    // A window of one key would end the page at once: the index needs none.
    assert_eq!(ids(&pool, &nginx, None, 50, 1).await, (vec![3, 1, 7, 4], None, false));
    assert_eq!(ids(&pool, &nginx, None, 2, 1).await, (vec![3, 1], Some(1), false));
    assert_eq!(ids(&pool, &nginx, Some(1), 2, 1).await, (vec![7, 4], Some(4), false));
    let firing = AlertQuery { status: Some("firing".into()), ..nginx.clone() };
    assert_eq!(ids(&pool, &firing, None, 50, 1).await, (vec![3, 7, 4], None, false));
    assert_eq!(
        ids(&pool, &AlertQuery { text: Some("no such".into()), ..nginx }, None, 50, 1).await.0,
        Vec::<i64>::new()
    );
}

#[tokio::test]
async fn the_window_walks_the_episode_key_and_never_sorts() {
    let pool = fixture().await;
    // A million alerts' statistics (as in the id-order plan test): the status and name indexes
    // must not tempt the planner away from the key.
    crate::ssr::db::pretend_a_million_alerts(&pool).await;
    let key = |m: &str| Key { starts_at: format!("2026-11-20T{m}:00.000Z"), fingerprint: "f".into() };
    let range = crate::ssr::filter::TimeRange { from: Some("2026-11-01T00:00:00.000Z".into()), to: None };
    let queries = [
        AlertQuery::default(),
        AlertQuery { status: Some("firing".into()), ..Default::default() },
        AlertQuery { alertname: Some("x".into()), ..Default::default() },
        AlertQuery { severity: Some("x".into()), text: Some("x".into()), ..Default::default() },
        AlertQuery { range, status: Some("firing".into()), ..Default::default() },
    ];
    let windows = [
        KeyWindow { before: None, floor: None, limit: 50 },
        KeyWindow { before: Some(key("02:00")), floor: Some(key("01:00")), limit: 50 },
    ];
    for q in &queries {
        for w in &windows {
            let p = query_plan(&pool, by_start_sql("EXPLAIN QUERY PLAN ", q, w)).await;
            assert!(
                p.starts_with("SCAN a USING INDEX sqlite_autoindex_alerts_1")
                    || p.starts_with("SEARCH a USING INDEX sqlite_autoindex_alerts_1 ("),
                "{q:?}: {p}"
            );
            assert!(!p.contains("TEMP B-TREE"), "{q:?}: {p}");
        }
        // A search starts from the full-text index and sorts only its matches.
        let p = query_plan(&pool, searched_sql("EXPLAIN QUERY PLAN ", q, "\"nginx\"", &windows[1])).await;
        assert!(p.starts_with("SCAN alerts_search VIRTUAL TABLE INDEX"), "{q:?}: {p}");
        assert!(p.contains("SEARCH a USING INTEGER PRIMARY KEY (rowid=?)"), "{q:?}: {p}");
    }
}
