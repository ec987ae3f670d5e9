//! Filtered keyset pages of alerts, runs and audit events, newest first: what the lists show
//! and what the exports stream. Each query carries only the predicates its filter sets, so
//! SQLite plans every combination for itself; every page walks ids downwards from a cursor.
use sqlx::{QueryBuilder, Sqlite};

use super::backend::{on_backend, on_pool, Ex, PoolRef};

use crate::model::Trigger;
use crate::model::{AlertSummary, AuditEvent, Page, RunSummary};
use crate::model::{RunStatus, Verification};
use crate::ssr::db::alert_search;
use crate::ssr::db::alerts::ALERT_SUMMARY_FROM;
use crate::ssr::db::runs::RUN_COLUMNS;
use crate::ssr::filter::{AlertQuery, AuditQuery, RunOutcome, RunQuery, TimeRange};

/// What the list queries need of a backend: its binds, and whether it speaks PostgreSQL's
/// dialect (no planner hints; `ILIKE` for SQLite's ASCII-folding `LIKE`; `json_each_text`).
/// The queries are built once, generic over it.
pub trait ListDb: sqlx::Database {
    const PG: bool;
    fn bind_int(b: &mut QueryBuilder<'_, Self>, v: i64);
    fn bind_text<'a>(b: &mut QueryBuilder<'a, Self>, v: &'a str);
    fn bind_owned(b: &mut QueryBuilder<'_, Self>, v: String);
}

macro_rules! list_db {
    ($db:ty, $pg:expr) => {
        impl ListDb for $db {
            const PG: bool = $pg;
            fn bind_int(b: &mut QueryBuilder<'_, Self>, v: i64) {
                b.push_bind(v);
            }
            fn bind_text<'a>(b: &mut QueryBuilder<'a, Self>, v: &'a str) {
                b.push_bind(v);
            }
            fn bind_owned(b: &mut QueryBuilder<'_, Self>, v: String) {
                b.push_bind(v);
            }
        }
    };
}
list_db!(sqlx::Sqlite, false);
list_db!(sqlx::Postgres, true);

/// `column` as this backend names it: SQLite's planner hint (`+column`, which keeps the
/// column's index out of a plan) dropped on PostgreSQL.
fn col<DB: ListDb>(column: &str) -> &str {
    if DB::PG {
        column.trim_start_matches('+')
    } else {
        column
    }
}

/// Case-insensitive `LIKE`: SQLite's folds ASCII, PostgreSQL's `ILIKE` any letter.
fn like<DB: ListDb>() -> &'static str {
    if DB::PG {
        "ILIKE"
    } else {
        "LIKE"
    }
}

/// An alert's latest decision's reason (the alerts list's `decision` filter, the overview's
/// firing alerts that no rule handles).
pub const LATEST_DECISION: &str =
    "(SELECT d.reason FROM decisions d WHERE d.alert_id = a.id ORDER BY d.id DESC LIMIT 1)";

/// Ids a page of a list examines at most below its cursor. Filters on columns without an
/// index (severity, instance, text, time) would otherwise scan the whole table when they match
/// little; past the window the page ends early and its `next_before` continues the search.
/// At a million alerts a window that matches nothing costs about 25 ms (bench/dashboard.sh;
/// 100,000 took 45 ms, p95 110 ms on the shared machine).
pub const SCAN_WINDOW: i64 = 50_000;

/// Which ids a query visits: below `before`, not below `floor` (when bounded), `limit` rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub before: i64,
    pub floor: Option<i64>,
    pub limit: i64,
}

impl Window {
    /// A page for the UI: below `before` (or from the newest row, `max_id`), at most
    /// [`SCAN_WINDOW`] ids down.
    pub fn page(before: Option<i64>, max_id: i64, limit: i64) -> Window {
        let before = before.unwrap_or(max_id.saturating_add(1));
        Window { before, floor: Some(before.saturating_sub(SCAN_WINDOW)), limit }
    }

    /// A chunk of an export: no floor, every matching row is wanted.
    pub fn chunk(before: i64, limit: i64) -> Window {
        Window { before, floor: None, limit }
    }
}

/// Makes a page of `rows` fetched with `w`: the next cursor is the last row when the page is
/// full, else the window's floor when rows older than it exist (`min_id` is the oldest).
pub fn into_page<T>(rows: Vec<T>, id: impl Fn(&T) -> i64, w: &Window, min_id: i64) -> Page<T> {
    if rows.len() as i64 >= w.limit {
        let next_before = rows.last().map(id);
        return Page { rows, next_before, scan_limited: false };
    }
    match w.floor.filter(|floor| *floor > min_id) {
        Some(floor) => Page { rows, next_before: Some(floor), scan_limited: true },
        None => Page { rows, next_before: None, scan_limited: false },
    }
}

/// A table the lists page through.
#[derive(Clone, Copy, Debug)]
pub enum Listed {
    Alerts,
    Runs,
    Audit,
}

/// The smallest and largest id of a table (0, 0 when empty): two index look-ups.
pub async fn id_bounds<'c>(ex: impl Into<Ex<'c>>, table: Listed) -> Result<(i64, i64), sqlx::Error> {
    let name = match table {
        Listed::Alerts => "alerts",
        Listed::Runs => "heal_runs",
        Listed::Audit => "audit_events",
    };
    // Two sub-queries: SQLite answers a lone min() or max() from the index, not both at once.
    let sql = format!(
        "SELECT coalesce((SELECT min(id) FROM {name}), 0), coalesce((SELECT max(id) FROM {name}), 0)"
    );
    on_backend!(ex, |e| sqlx::query_as(&sql).fetch_one(e).await)
}

/// One page of alerts matching `q`. A name that some alert has exactly is looked up through
/// its index; any other is matched as a part of names in any case, within the scan window like
/// the other unindexed filters (`nginx` finds NginxDown). A free-text search of three
/// characters or more goes through the full-text index (`alert_search`): the alerts it has
/// indexed newest first through it, the few above its mark by a scan bounded to them.
pub async fn list_alerts<'p>(
    pool: impl Into<PoolRef<'p>>,
    q: &AlertQuery,
    w: Window,
) -> Result<Vec<AlertSummary>, sqlx::Error> {
    let pool = pool.into();
    let mut q = std::borrow::Cow::Borrowed(q);
    if let Some(name) = &q.alertname {
        let exact: bool = on_pool!(pool, |p| sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM alerts WHERE alertname = $1)"
        )
        .bind(name)
        .fetch_one(p)
        .await)?;
        if !exact {
            q.to_mut().alertname_contains = true;
        }
    }
    let pool = match pool {
        // PostgreSQL's trigram index serves the text filter within the query itself.
        PoolRef::Pg(p) => return alerts_sql("", &q, w).build_query_as().fetch_all(p).await,
        PoolRef::Sqlite(p) => p,
    };
    let Some(phrase) = q.text.as_deref().and_then(alert_search::phrase) else {
        return alerts_sql("", &q, w).build_query_as().fetch_all(pool).await;
    };
    let indexed = alert_search::indexed_up_to(pool).await?;
    // Not indexed yet (stored within the last second or so): scanned, only them.
    let tail = Window { floor: Some(w.floor.map_or(indexed + 1, |f| f.max(indexed + 1))), ..w };
    let mut rows: Vec<AlertSummary> = if tail.before > indexed + 1 {
        alerts_sql("", &q, tail).build_query_as().fetch_all(pool).await?
    } else {
        Vec::new()
    };
    let left = w.limit - rows.len() as i64;
    if left > 0 {
        let older = Window { before: w.before.min(indexed + 1), floor: w.floor, limit: left };
        rows.extend(alerts_search_sql("", &q, &phrase, older).build_query_as().fetch_all(pool).await?);
    }
    Ok(rows)
}

/// The query of [`list_alerts`] after `prefix` (`EXPLAIN QUERY PLAN ` in the plan tests).
pub fn alerts_sql<'a, DB: ListDb>(prefix: &str, q: &'a AlertQuery, w: Window) -> QueryBuilder<'a, DB> {
    let mut b = QueryBuilder::new(format!("{prefix}{ALERT_SUMMARY_FROM} WHERE "));
    push_window(&mut b, "a.id", &w);
    push_alert_filters(&mut b, q, ById);
    if let Some(text) = &q.text {
        push_text_like(&mut b, text);
    }
    b.push(" ORDER BY a.id DESC LIMIT ");
    DB::bind_int(&mut b, w.limit);
    b
}

/// The alerts the full-text index finds for `phrase` (`alert_search::phrase`), walked through
/// the index newest first, every other filter of `q` applied to each.
pub fn alerts_search_sql<'a>(
    prefix: &str,
    q: &'a AlertQuery,
    phrase: &'a str,
    w: Window,
) -> QueryBuilder<'a, Sqlite> {
    let mut b = QueryBuilder::new(format!("{prefix}{} WHERE alerts_search MATCH ", alert_summary_searched()));
    b.push_bind(phrase).push(" AND ");
    push_window(&mut b, "alerts_search.rowid", &w);
    push_alert_filters(&mut b, q, ById);
    b.push(" ORDER BY alerts_search.rowid DESC LIMIT ").push_bind(w.limit);
    b
}

/// The free text `text` as a part, in any case, of the name, the instance, or a label or
/// annotation value (a scan; the full-text index is `alerts_search_sql`'s).
pub(crate) fn push_text_like<DB: ListDb>(b: &mut QueryBuilder<'_, DB>, text: &str) {
    let like_p = like_pattern(text);
    let like = like::<DB>();
    if DB::PG {
        // First the trigram index's expression (`alerts_search_trigrams`), which finds the
        // candidates; then what the text must match exactly as on SQLite.
        b.push(" AND (a.alertname || ' ' || coalesce(a.instance, '') || ' ' || a.labels || ' ' || a.annotations) ILIKE ");
        DB::bind_owned(b, like_p.clone());
    }
    b.push(format!(" AND (a.alertname {like} "));
    DB::bind_owned(b, like_p.clone());
    b.push(format!(" ESCAPE '\\' OR a.instance {like} "));
    DB::bind_owned(b, like_p.clone());
    b.push(" ESCAPE '\\' OR (");
    // A cheap look at the raw JSON first, then only label and annotation *values*. JSON
    // escapes quotes, backslashes and control characters, so the raw look is only valid
    // for text without them (control characters are refused by the filter).
    if !text.contains(['"', '\\']) {
        b.push(format!("(a.labels || a.annotations) {like} "));
        DB::bind_owned(b, like_p.clone());
        b.push(" ESCAPE '\\' AND ");
    }
    let each = |column: &str| {
        if DB::PG {
            format!("json_each_text(a.{column}::json)")
        } else {
            format!("json_each(a.{column})")
        }
    };
    b.push(format!("(EXISTS (SELECT 1 FROM {} j WHERE j.value {like} ", each("labels")));
    DB::bind_owned(b, like_p.clone());
    b.push(format!(" ESCAPE '\\') OR EXISTS (SELECT 1 FROM {} j WHERE j.value {like} ", each("annotations")));
    DB::bind_owned(b, like_p);
    b.push(" ESCAPE '\\'))))");
}

/// The order a query walks, which decides which filters may use an index of their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Walk {
    /// Ids downwards: an exact name through `(alertname, id)`; the start-time range not
    /// through the `(starts_at, fingerprint)` key, whose rows would be sorted by id in full
    /// for every page or export chunk.
    ById,
    /// The `(starts_at, fingerprint)` key downwards: the range bounds that walk; nothing else
    /// may lead the plan away from it (a name's index would sort all its alerts).
    ByStart,
}
use Walk::ById;

/// The alert summaries' query reading the full-text index's matches (`alerts_search MATCH`
/// follows), each alert looked up by id.
pub(crate) fn alert_summary_searched() -> String {
    ALERT_SUMMARY_FROM
        .replace("FROM alerts a ", "FROM alerts_search JOIN alerts a ON a.id = alerts_search.rowid ")
}

/// Every filter of `q` but the free text.
pub(crate) fn push_alert_filters<'a, DB: ListDb>(
    b: &mut QueryBuilder<'a, DB>,
    q: &'a AlertQuery,
    walk: Walk,
) {
    push_eq(b, col::<DB>(if walk == ById { "a.status" } else { "+a.status" }), &q.status);
    if q.alertname_contains {
        push_contains(b, "a.alertname", &q.alertname);
    } else {
        push_eq(b, col::<DB>(if walk == ById { "a.alertname" } else { "+a.alertname" }), &q.alertname);
    }
    // No index on these: a part, in any case, costs what an exact value does.
    push_contains(b, "a.severity", &q.severity);
    push_contains(b, "a.instance", &q.instance);
    push_range(b, col::<DB>(if walk == ById { "+a.starts_at" } else { "a.starts_at" }), &q.range);
    if let Some(decision) = q.decision {
        b.push(format!(" AND {LATEST_DECISION} = "));
        DB::bind_text(b, decision.as_str());
    }
}

/// One page of runs matching `q`.
pub async fn list_runs<'c>(
    ex: impl Into<Ex<'c>>,
    q: &RunQuery,
    w: Window,
) -> Result<Vec<RunSummary>, sqlx::Error> {
    on_backend!(ex, |e| runs_sql("", q, w).build_query_as().fetch_all(e).await)
}

/// The query of [`list_runs`] after `prefix`.
pub fn runs_sql<'a, DB: ListDb>(prefix: &str, q: &'a RunQuery, w: Window) -> QueryBuilder<'a, DB> {
    let mut b = QueryBuilder::new(format!("{prefix}SELECT {RUN_COLUMNS} FROM heal_runs r WHERE "));
    push_window(&mut b, "r.id", &w);
    if let Some(status) = q.status {
        b.push(" AND r.status = ");
        DB::bind_text(&mut b, status.as_str());
    }
    if let Some(rule) = &q.rule {
        b.push(" AND (r.rule = ");
        DB::bind_text(&mut b, rule);
        b.push(" OR r.playbook = ");
        DB::bind_text(&mut b, rule);
        b.push(")");
    }
    push_eq(&mut b, "r.target", &q.target);
    push_range(&mut b, "r.created_at", &q.range);
    match q.outcome {
        None => {}
        Some(RunOutcome::Attention) => {
            b.push(" AND (r.status IN (");
            DB::bind_text(&mut b, RunStatus::Failed.as_str());
            b.push(", ");
            DB::bind_text(&mut b, RunStatus::TimedOut.as_str());
            b.push(") OR r.verification = ");
            DB::bind_text(&mut b, Verification::NotFixed.as_str());
            b.push(")");
        }
        Some(RunOutcome::Verified) => {
            b.push(" AND r.verification = ");
            DB::bind_text(&mut b, Verification::Verified.as_str());
        }
    }
    // Replays are told apart by their audit entry, written in the run's own transaction
    // (target `run #<id>`); the sub-query is evaluated once per statement.
    let replays = "(SELECT CAST(substr(e.target, 6) AS BIGINT) FROM audit_events e \
                   WHERE e.action = 'run.replay' AND e.target LIKE 'run #%')";
    match q.trigger {
        None => {}
        Some(Trigger::Engine) => {
            b.push(" AND r.requested_by = 'engine'");
        }
        Some(Trigger::HealNow) => {
            b.push(format!(" AND r.requested_by <> 'engine' AND r.id NOT IN {replays}"));
        }
        Some(Trigger::Replay) => {
            b.push(format!(" AND r.id IN {replays}"));
        }
    }
    b.push(" ORDER BY r.id DESC LIMIT ");
    DB::bind_int(&mut b, w.limit);
    b
}

/// One page of audit events matching `q`.
pub async fn list_audit<'c>(
    ex: impl Into<Ex<'c>>,
    q: &AuditQuery,
    w: Window,
) -> Result<Vec<AuditEvent>, sqlx::Error> {
    on_backend!(ex, |e| audit_sql("", q, w).build_query_as().fetch_all(e).await)
}

/// The query of [`list_audit`] after `prefix`.
pub fn audit_sql<'a, DB: ListDb>(prefix: &str, q: &'a AuditQuery, w: Window) -> QueryBuilder<'a, DB> {
    let mut b = QueryBuilder::new(format!(
        "{prefix}SELECT e.id, e.at, e.actor, e.action, e.target, e.detail, e.source FROM audit_events e WHERE "
    ));
    push_window(&mut b, "e.id", &w);
    push_eq(&mut b, "e.actor", &q.actor);
    push_eq(&mut b, "e.action", &q.action);
    push_range(&mut b, "e.at", &q.range);
    b.push(" ORDER BY e.id DESC LIMIT ");
    DB::bind_int(&mut b, w.limit);
    b
}

fn push_window<DB: ListDb>(b: &mut QueryBuilder<'_, DB>, id: &str, w: &Window) {
    b.push(format!("{id} < "));
    DB::bind_int(b, w.before);
    if let Some(floor) = w.floor {
        b.push(format!(" AND {id} >= "));
        DB::bind_int(b, floor);
    }
}

fn push_eq<'a, DB: ListDb>(b: &mut QueryBuilder<'a, DB>, column: &str, value: &'a Option<String>) {
    if let Some(v) = value {
        b.push(format!(" AND {column} = "));
        DB::bind_text(b, v.as_str());
    }
}

/// `column` contains `value`, in any case (SQLite's LIKE folds ASCII, PostgreSQL's ILIKE any
/// letter), its `%`, `_` and `\` taken literally.
fn push_contains<DB: ListDb>(b: &mut QueryBuilder<'_, DB>, column: &str, value: &Option<String>) {
    if let Some(v) = value {
        b.push(format!(" AND {column} {} ", like::<DB>()));
        DB::bind_owned(b, like_pattern(v));
        b.push(" ESCAPE '\\'");
    }
}

fn push_range<'a, DB: ListDb>(b: &mut QueryBuilder<'a, DB>, column: &str, range: &'a TimeRange) {
    if let Some(from) = &range.from {
        b.push(format!(" AND {column} >= "));
        DB::bind_text(b, from.as_str());
    }
    if let Some(to) = &range.to {
        b.push(format!(" AND {column} < "));
        DB::bind_text(b, to.as_str());
    }
}

/// `%text%` for `LIKE … ESCAPE '\'`, with the text's own `%`, `_` and `\` taken literally.
pub fn like_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

#[cfg(test)]
#[path = "lists_tests.rs"]
mod tests;
