//! The alert list in the alerts' own time order: newest start first, walking the episode key
//! `(starts_at, fingerprint)` downwards, so an alert Alertmanager delivered late sits among its
//! contemporaries instead of above everything received before it. The cursor is still an
//! alert id (the last row of the previous page); its key is where the next page begins.
//!
//! Unindexed filters are checked within a scan window of [`SCAN_WINDOW`] keys below the
//! cursor, as in id order. A free-text search first asks the full-text index how many alerts
//! match: up to [`SEARCH_SORTED_AT_MOST`], they are read through the index and sorted, over
//! the whole history; more than that, the window scans. (On PostgreSQL the text is a filter
//! like the others, its candidates found through the trigram index, within the window.)
use sqlx::{QueryBuilder, Sqlite, SqlitePool};

use super::backend::{on_pool, PoolRef};
use super::lists::ListDb;

use crate::model::{AlertSummary, Page};
use crate::ssr::db::alert_search;
use crate::ssr::db::alerts::ALERT_SUMMARY_FROM;
use crate::ssr::db::lists::{self, push_alert_filters, push_text_like, Walk, SCAN_WINDOW};
use crate::ssr::filter::AlertQuery;

/// Full-text matches sorted by start time at most; a search matching more scans the window.
pub const SEARCH_SORTED_AT_MOST: i64 = 10_000;

/// An episode key: the order of this list.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, sqlx::FromRow)]
pub struct Key {
    pub starts_at: String,
    pub fingerprint: String,
}

/// Keys strictly below `before`, down to `floor` (inclusive), at most `limit` rows.
#[derive(Clone, Debug, Default)]
pub struct KeyWindow {
    pub before: Option<Key>,
    pub floor: Option<Key>,
    pub limit: i64,
}

/// One page of alerts matching `q` in start order, after the alert `before` (an id). `None`
/// when that alert is gone (pruned since the previous page was shown).
pub async fn page<'p>(
    pool: impl Into<PoolRef<'p>>,
    q: &AlertQuery,
    before: Option<i64>,
    limit: i64,
) -> Result<Option<Page<AlertSummary>>, sqlx::Error> {
    page_within(pool.into(), q, before, limit, SCAN_WINDOW).await
}

/// [`page`] with a scan window of `window` keys.
async fn page_within(
    pool: PoolRef<'_>,
    q: &AlertQuery,
    before: Option<i64>,
    limit: i64,
    window: i64,
) -> Result<Option<Page<AlertSummary>>, sqlx::Error> {
    let cursor = match before {
        None => None,
        Some(id) => match key_of(pool, id).await? {
            Some(key) => Some(key),
            None => return Ok(None),
        },
    };
    if let (PoolRef::Sqlite(pool), Some(phrase)) = (pool, q.text.as_deref().and_then(alert_search::phrase)) {
        let matches: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM (SELECT 1 FROM alerts_search WHERE alerts_search MATCH ? LIMIT ?)",
        )
        .bind(&phrase)
        .bind(SEARCH_SORTED_AT_MOST + 1)
        .fetch_one(pool)
        .await?;
        if matches <= SEARCH_SORTED_AT_MOST {
            let w = KeyWindow { before: cursor, floor: None, limit };
            let rows = searched(pool, q, &phrase, &w).await?;
            let next_before = (rows.len() as i64 >= limit).then(|| rows.last().map(|r| r.id)).flatten();
            return Ok(Some(Page { rows, next_before, scan_limited: false }));
        }
    }
    let filtered = *q != AlertQuery { range: q.range.clone(), sort: q.sort, ..AlertQuery::default() };
    let floor = match filtered {
        true => nth_key_below(pool, q, cursor.as_ref(), window - 1).await?,
        false => None,
    };
    let w = KeyWindow { before: cursor, floor: floor.as_ref().map(|(_, k)| k.clone()), limit };
    let rows: Vec<AlertSummary> =
        on_pool!(pool, |p| by_start_sql("", q, &w).build_query_as().fetch_all(p).await)?;
    if rows.len() as i64 >= limit {
        let next_before = rows.last().map(|r| r.id);
        return Ok(Some(Page { rows, next_before, scan_limited: false }));
    }
    // The window ended before the page filled: the next page searches on below its floor.
    let next_before = floor.map(|(id, _)| id);
    Ok(Some(Page { rows, scan_limited: next_before.is_some(), next_before }))
}

/// The episode key of alert `id`.
pub async fn key_of<'p>(pool: impl Into<PoolRef<'p>>, id: i64) -> Result<Option<Key>, sqlx::Error> {
    on_pool!(pool.into(), |p| sqlx::query_as("SELECT starts_at, fingerprint FROM alerts WHERE id = $1")
        .bind(id)
        .fetch_optional(p)
        .await)
}

/// The alert `n` keys below `before` (within the time range of `q`): the floor of a scan
/// window. `None` when no alert is left below it (the window reaches the oldest).
async fn nth_key_below(
    pool: PoolRef<'_>,
    q: &AlertQuery,
    before: Option<&Key>,
    n: i64,
) -> Result<Option<(i64, Key)>, sqlx::Error> {
    let range_only = AlertQuery { range: q.range.clone(), ..AlertQuery::default() };
    let rows: Vec<(i64, String, String)> = on_pool!(pool, |p| {
        let mut b = QueryBuilder::new("SELECT a.id, a.starts_at, a.fingerprint FROM alerts a WHERE 1 = 1");
        push_key_bounds(&mut b, before, None);
        push_alert_filters(&mut b, &range_only, Walk::ByStart);
        b.push(" ORDER BY a.starts_at DESC, a.fingerprint DESC LIMIT 2 OFFSET ");
        ListDb::bind_int(&mut b, n);
        b.build_query_as().fetch_all(p).await
    })?;
    Ok(match <[_; 2]>::try_from(rows) {
        Ok([(id, starts_at, fingerprint), _below]) => Some((id, Key { starts_at, fingerprint })),
        Err(_) => None,
    })
}

/// The page query of the window walk after `prefix` (`EXPLAIN QUERY PLAN ` in the plan tests).
pub fn by_start_sql<'a, DB: ListDb>(
    prefix: &str,
    q: &'a AlertQuery,
    w: &'a KeyWindow,
) -> QueryBuilder<'a, DB> {
    let mut b = QueryBuilder::new(format!("{prefix}{ALERT_SUMMARY_FROM} WHERE 1 = 1"));
    push_key_bounds(&mut b, w.before.as_ref(), w.floor.as_ref());
    push_alert_filters(&mut b, q, Walk::ByStart);
    if let Some(text) = &q.text {
        push_text_like(&mut b, text);
    }
    b.push(" ORDER BY a.starts_at DESC, a.fingerprint DESC LIMIT ");
    DB::bind_int(&mut b, w.limit);
    b
}

/// The alerts the full-text index finds for `phrase`, every other filter of `q` applied, sorted
/// by key (after `prefix`, for the plan tests).
pub fn searched_sql<'a>(
    prefix: &str,
    q: &'a AlertQuery,
    phrase: &'a str,
    w: &'a KeyWindow,
) -> QueryBuilder<'a, Sqlite> {
    let from = lists::alert_summary_searched();
    let mut b = QueryBuilder::new(format!("{prefix}{from} WHERE alerts_search MATCH "));
    b.push_bind(phrase);
    push_key_bounds(&mut b, w.before.as_ref(), None);
    push_alert_filters(&mut b, q, Walk::ByStart);
    b.push(" ORDER BY a.starts_at DESC, a.fingerprint DESC LIMIT ").push_bind(w.limit);
    b
}

/// A page of a search through the full-text index, with the alerts stored since the indexer's
/// last step (not in the index yet) scanned and merged in.
async fn searched(
    pool: &SqlitePool,
    q: &AlertQuery,
    phrase: &str,
    w: &KeyWindow,
) -> Result<Vec<AlertSummary>, sqlx::Error> {
    let mut rows: Vec<AlertSummary> = searched_sql("", q, phrase, w).build_query_as().fetch_all(pool).await?;
    let indexed = alert_search::indexed_up_to(pool).await?;
    let (_, max) = lists::id_bounds(pool, lists::Listed::Alerts).await?;
    if max > indexed {
        let tail = lists::Window { before: max + 1, floor: Some(indexed + 1), limit: SCAN_WINDOW };
        let key =
            |a: &AlertSummary| Key { starts_at: a.starts_at.clone(), fingerprint: a.fingerprint.clone() };
        let fresh = lists::alerts_sql("", q, tail).build_query_as::<AlertSummary>().fetch_all(pool).await?;
        rows.extend(fresh.into_iter().filter(|a| w.before.as_ref().is_none_or(|b| key(a) < *b)));
        rows.sort_by_key(|a| std::cmp::Reverse(key(a)));
        rows.dedup_by_key(|a| a.id);
        rows.truncate(w.limit as usize);
    }
    Ok(rows)
}

fn push_key_bounds<DB: ListDb>(b: &mut QueryBuilder<'_, DB>, before: Option<&Key>, floor: Option<&Key>) {
    for (k, op) in [(before, "<"), (floor, ">=")] {
        if let Some(k) = k {
            b.push(format!(" AND (a.starts_at, a.fingerprint) {op} ("));
            DB::bind_owned(b, k.starts_at.clone());
            b.push(", ");
            DB::bind_owned(b, k.fingerprint.clone());
            b.push(")");
        }
    }
}

#[cfg(test)]
#[path = "alerts_by_start_tests.rs"]
mod tests;
