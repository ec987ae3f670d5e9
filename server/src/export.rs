//! `GET /api/export/{alerts,runs,audit}.{csv,jsonl}`: every row of a list that matches the
//! page's filter (the same query names), streamed in keyset chunks so an export of millions
//! of rows holds one chunk in memory. Viewer or above, by session or API token; read-only.
use std::io;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::stream;
use serde_json::json;
use tower_sessions::Session;

use app::error::AppError;
use app::model::{AlertFilter, AlertSummary, AuditEvent, AuditFilter, Role, RunFilter, RunSummary};
use app::ssr::db::lists::{self, Window};
use app::ssr::{auth, filter, AppState};

/// Rows fetched per query while exporting: the most an export holds in memory at once.
const EXPORT_CHUNK: i64 = 1_000;

/// The two formats: CSV with a header line, or JSON Lines (one object per line).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Csv,
    Jsonl,
}

/// `GET /api/export/{file}` where file is `alerts|runs|audit` `.csv|.jsonl`.
#[tracing::instrument(skip_all, fields(export = %file))]
pub async fn export(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Path(file): Path<String>,
    uri: Uri,
) -> Response {
    let who = auth::principal(&state, headers.get(header::AUTHORIZATION), &session).await;
    if let Err(e) = who.and_then(|user| auth::check_role(user, Role::Viewer)) {
        return refuse(e);
    }
    let Some((kind, format)) = file.split_once('.').and_then(|(kind, ext)| match ext {
        "csv" => Some((kind.to_owned(), Format::Csv)),
        "jsonl" => Some((kind.to_owned(), Format::Jsonl)),
        _ => None,
    }) else {
        return refuse(AppError::NotFound);
    };
    let now = time::OffsetDateTime::now_utc();
    let pool = state.pool.clone();
    let body = match kind.as_str() {
        "alerts" => parse::<AlertFilter>(&uri).and_then(|f| filter::alert_query(&f, now)).map(|q| {
            rows(format, move |before| {
                let (pool, q) = (pool.clone(), q.clone());
                async move { lists::list_alerts(&pool, &q, Window::chunk(before, EXPORT_CHUNK)).await }
            })
        }),
        "runs" => parse::<RunFilter>(&uri).and_then(|f| filter::run_query(&f, now)).map(|q| {
            rows(format, move |before| {
                let (pool, q) = (pool.clone(), q.clone());
                async move { lists::list_runs(&pool, &q, Window::chunk(before, EXPORT_CHUNK)).await }
            })
        }),
        "audit" => parse::<AuditFilter>(&uri).and_then(|f| filter::audit_query(&f, now)).map(|q| {
            rows(format, move |before| {
                let (pool, q) = (pool.clone(), q.clone());
                async move { lists::list_audit(&pool, &q, Window::chunk(before, EXPORT_CHUNK)).await }
            })
        }),
        _ => return refuse(AppError::NotFound),
    };
    let body = match body {
        Ok(body) => body,
        Err(message) => return refuse(AppError::Invalid(message)),
    };
    let stamp = app::ssr::alert::now_utc().replace([':', '-'], "");
    let stamp = stamp.split('.').next().unwrap_or_default();
    let (content_type, ext) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
        Format::Jsonl => ("application/x-ndjson", "jsonl"),
    };
    let disposition = format!("attachment; filename=\"selfheal-{kind}-{stamp}Z.{ext}\"");
    let headers = [
        (header::CONTENT_TYPE, content_type.to_owned()),
        (header::CONTENT_DISPOSITION, disposition),
        (header::CACHE_CONTROL, "no-store".to_owned()),
    ];
    (headers, body).into_response()
}

/// The filter in the query string, with the page's names.
fn parse<F: serde::de::DeserializeOwned>(uri: &Uri) -> Result<F, String> {
    Query::<F>::try_from_uri(uri).map(|q| q.0).map_err(|e| format!("bad query: {}", e.body_text()))
}

/// The status and JSON body server functions answer the same error with.
pub(crate) fn refuse(e: AppError) -> Response {
    let status = StatusCode::from_u16(e.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(e)).into_response()
}

/// One exported row: its keyset id, CSV cells and JSON object.
trait Exported: Send + 'static {
    const HEADER: &'static [&'static str];
    fn id(&self) -> i64;
    fn cells(&self) -> Vec<String>;
    fn json(&self) -> serde_json::Value;
}

/// Where the next chunk starts and whether the last one came.
struct Cursor<F> {
    fetch: F,
    before: i64,
    first: bool,
    done: bool,
}

/// A body that fetches chunk after chunk (ids below the last one) and encodes each as it
/// comes; a database error ends the stream with an error, so the client sees a broken
/// transfer rather than a short file that looks complete.
fn rows<T, F, Fut>(format: Format, fetch: F) -> Body
where
    T: Exported,
    F: FnMut(i64) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<Vec<T>, sqlx::Error>> + Send,
{
    let start = Cursor { fetch, before: i64::MAX, first: true, done: false };
    Body::from_stream(stream::unfold(start, move |mut c| async move {
        if c.done {
            return None;
        }
        let chunk = match (c.fetch)(c.before).await {
            Ok(chunk) => chunk,
            Err(e) => {
                tracing::error!(error = %e, "export query failed");
                c.done = true;
                return Some((Err(io::Error::other("export failed")), c));
            }
        };
        c.done = (chunk.len() as i64) < EXPORT_CHUNK;
        c.before = chunk.last().map_or(c.before, Exported::id);
        let bytes = encode(format, &chunk, c.first);
        c.first = false;
        Some((bytes.map(Bytes::from), c))
    }))
}

fn encode<T: Exported>(format: Format, chunk: &[T], header: bool) -> io::Result<Vec<u8>> {
    match format {
        Format::Csv => {
            let mut w = csv::Writer::from_writer(Vec::new());
            if header {
                w.write_record(T::HEADER)?;
            }
            for row in chunk {
                w.write_record(row.cells().iter().map(|c| defuse(c).into_owned()))?;
            }
            w.into_inner().map_err(|e| io::Error::other(e.to_string()))
        }
        Format::Jsonl => {
            let mut out = Vec::new();
            for row in chunk {
                serde_json::to_writer(&mut out, &row.json())?;
                out.push(b'\n');
            }
            Ok(out)
        }
    }
}

/// A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first) gets a
/// leading `'`; whole integers stay as they are. Alert labels are attacker-controlled.
pub fn defuse(cell: &str) -> std::borrow::Cow<'_, str> {
    let risky = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky && cell.parse::<i64>().is_err() {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

fn text(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

fn number(v: Option<i64>) -> String {
    v.map(|n| n.to_string()).unwrap_or_default()
}

impl Exported for AlertSummary {
    const HEADER: &'static [&'static str] = &[
        "id",
        "status",
        "alertname",
        "severity",
        "instance",
        "starts_at",
        "ends_at",
        "resolved_at",
        "source",
        "deliveries",
        "last_seen_at",
        "decision",
        "fingerprint",
        "labels",
    ];
    fn id(&self) -> i64 {
        self.id
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.status.clone(),
            self.alertname.clone(),
            text(&self.severity),
            text(&self.instance),
            self.starts_at.clone(),
            text(&self.ends_at),
            text(&self.resolved_at),
            self.source.clone(),
            self.deliveries.to_string(),
            self.last_seen_at.clone(),
            text(&self.decision),
            self.fingerprint.clone(),
            self.labels.clone(),
        ]
    }
    fn json(&self) -> serde_json::Value {
        // Labels as an object (they are stored as one); anything else as the text it is.
        let labels = serde_json::from_str(&self.labels).unwrap_or_else(|_| json!(self.labels));
        let mut v = json!(self);
        v["labels"] = labels;
        v
    }
}

impl Exported for RunSummary {
    const HEADER: &'static [&'static str] = &[
        "id",
        "alert_id",
        "rule",
        "playbook",
        "target",
        "mode",
        "status",
        "verification",
        "requested_by",
        "created_at",
        "started_at",
        "finished_at",
        "exit_code",
        "error",
        "time_to_heal_ms",
    ];
    fn id(&self) -> i64 {
        self.id
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            number(self.alert_id),
            self.rule.clone(),
            self.playbook.clone(),
            self.target.clone(),
            self.mode.to_string(),
            self.status.to_string(),
            self.verification.map(|v| v.to_string()).unwrap_or_default(),
            self.requested_by.clone(),
            self.created_at.clone(),
            text(&self.started_at),
            text(&self.finished_at),
            number(self.exit_code),
            text(&self.error),
            number(self.time_to_heal_ms),
        ]
    }
    fn json(&self) -> serde_json::Value {
        json!(self)
    }
}

impl Exported for AuditEvent {
    const HEADER: &'static [&'static str] = &["id", "at", "actor", "action", "target", "detail", "source"];
    fn id(&self) -> i64 {
        self.id
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.at.clone(),
            self.actor.clone(),
            self.action.clone(),
            text(&self.target),
            text(&self.detail),
            text(&self.source),
        ]
    }
    fn json(&self) -> serde_json::Value {
        json!(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_defused_and_numbers_kept() {
        let cases = [
            ("=1+1", "'=1+1"),
            ("+cmd", "'+cmd"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("-1", "-1"),
            ("web1", "web1"),
            ("a=b", "a=b"),
            ("", ""),
        ];
        for (cell, want) in cases {
            assert_eq!(defuse(cell), want, "{cell:?}");
        }
    }
}
