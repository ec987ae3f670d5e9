//! `selfheal db copy --to postgres://…`: the way up from SQLite (docs/ha.md). Every table of
//! the SQLite database is copied, ids and all, into an empty PostgreSQL database with the same
//! schema (`migrations/postgres`), in one PostgreSQL transaction: a copy that fails leaves the
//! target as it was. The source is read in one snapshot. Afterwards every table is read back
//! from both sides and compared row by row (digests), the alert counts are compared, and the
//! audit chain is verified on the copy; only then is the transaction committed.
//!
//! Not copied: sessions (everyone signs in again), the full-text index (PostgreSQL searches
//! through its own), and `alert_counts`, which PostgreSQL's triggers count as alerts arrive.
use std::fmt::Write as _;
use std::time::Instant;

use anyhow::Context;
use sha2::{Digest, Sha256};
use sqlx::postgres::PgConnection;
use sqlx::{Connection, Row, SqlitePool};

/// The copied tables, each before the tables whose rows refer to it, with the columns that
/// order its rows.
pub const TABLES: [(&str, &str); 17] = [
    ("notifications", "id"),
    ("alerts", "id"),
    ("heal_runs", "id"),
    ("decisions", "id"),
    ("run_output", "run_id, seq"),
    ("outbound_notifications", "id"),
    ("users", "id"),
    ("api_tokens", "id"),
    ("audit_events", "id"),
    ("audit_exports", "id"),
    ("audit_chain", "event_id"),
    ("login_attempts", "id"),
    ("login_throttles", "username, source, minute"),
    ("breaker_resets", "id"),
    ("pauses", "scope"),
    ("blast_trips", "id"),
    ("maintenance_windows", "id"),
];

/// How a column is stored on PostgreSQL (`information_schema.columns.data_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Int,
    Text,
    Bytes,
}

/// What was copied: rows per table.
#[derive(Debug, Default)]
pub struct Copied {
    pub tables: Vec<(&'static str, u64)>,
}

/// Copies `source` into the empty PostgreSQL database at `url`.
pub async fn copy(source: &SqlitePool, url: &str) -> anyhow::Result<Copied> {
    anyhow::ensure!(
        url.starts_with("postgres://") || url.starts_with("postgresql://"),
        "--to must be a postgres:// URL (got {:?})",
        url.split('@').next_back().unwrap_or(url)
    );
    let mut pg = PgConnection::connect(url).await.context("cannot connect to the PostgreSQL database")?;
    refuse_unless_empty(&mut pg).await?;
    app::ssr::db::POSTGRES_MIGRATOR
        .run(&mut pg)
        .await
        .context("the PostgreSQL schema could not be applied")?;

    let mut read = source.begin().await?;
    let mut tx = pg.begin().await?;
    let mut copied = Copied::default();
    for (table, order) in TABLES {
        let columns = columns_of(&mut tx, table).await?;
        let started = Instant::now();
        let rows = copy_table(&mut read, &mut tx, table, order, &columns)
            .await
            .with_context(|| format!("copying {table}"))?;
        tracing::info!(table, rows, took = ?started.elapsed(), "copied");
        copied.tables.push((table, rows));
    }
    for (table, _) in TABLES {
        let has_id: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = 'public' \
             AND table_name = $1 AND column_name = 'id') AND pg_get_serial_sequence($1, 'id') IS NOT NULL",
        )
        .bind(table)
        .fetch_one(&mut *tx)
        .await?;
        if has_id {
            // The next id PostgreSQL hands out follows the copied ones.
            sqlx::query(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), coalesce(max(id), 0) + 1, false) FROM {table}"
            ))
            .execute(&mut *tx)
            .await?;
        }
    }
    verify(&mut read, &mut tx).await?;
    read.commit().await?;
    tx.commit().await?;
    pg.close().await?;
    Ok(copied)
}

/// Refuses a database that holds any selfheal row already (an empty one, or one with the schema
/// and nothing in it, is fine).
async fn refuse_unless_empty(pg: &mut PgConnection) -> anyhow::Result<()> {
    for (table, _) in TABLES {
        let exists: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = 'public' AND table_name = $1)",
        )
        .bind(table)
        .fetch_one(&mut *pg)
        .await?;
        if !exists {
            continue;
        }
        let any: bool =
            sqlx::query_scalar(&format!("SELECT EXISTS (SELECT 1 FROM {table})")).fetch_one(&mut *pg).await?;
        anyhow::ensure!(
            !any,
            "the PostgreSQL database is not empty ({table} has rows): copy into a new database"
        );
    }
    Ok(())
}

async fn columns_of(pg: &mut PgConnection, table: &str) -> anyhow::Result<Vec<(String, Kind)>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT column_name::text, data_type::text FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(&mut *pg)
    .await?;
    rows.into_iter()
        .map(|(name, ty)| {
            let kind = match ty.as_str() {
                "bigint" => Kind::Int,
                "text" => Kind::Text,
                "bytea" => Kind::Bytes,
                other => anyhow::bail!("{table}.{name}: a column type the copy does not know: {other}"),
            };
            Ok((name, kind))
        })
        .collect()
}

/// One value of a SQLite row as PostgreSQL's COPY text format writes it (`\N` for NULL).
fn copy_value(row: &sqlx::sqlite::SqliteRow, i: usize, kind: Kind, out: &mut String) -> anyhow::Result<()> {
    match kind {
        Kind::Int => match row.try_get::<Option<i64>, _>(i)? {
            Some(v) => write!(out, "{v}")?,
            None => out.push_str("\\N"),
        },
        Kind::Text => match row.try_get::<Option<String>, _>(i)? {
            Some(v) => {
                anyhow::ensure!(
                    !v.contains('\0'),
                    "a text value holds a NUL character, which PostgreSQL cannot store"
                );
                for c in v.chars() {
                    match c {
                        '\\' => out.push_str("\\\\"),
                        '\t' => out.push_str("\\t"),
                        '\n' => out.push_str("\\n"),
                        '\r' => out.push_str("\\r"),
                        c => out.push(c),
                    }
                }
            }
            None => out.push_str("\\N"),
        },
        // SQLite hands text or blob alike as bytes; bytea's hex form, its backslash escaped.
        Kind::Bytes => match row.try_get::<Option<Vec<u8>>, _>(i)? {
            Some(v) => {
                out.push_str("\\\\x");
                for b in v {
                    write!(out, "{b:02x}")?;
                }
            }
            None => out.push_str("\\N"),
        },
    }
    Ok(())
}

/// Copies one table with COPY … FROM STDIN, in chunks of about a megabyte.
async fn copy_table(
    read: &mut sqlx::SqliteConnection,
    pg: &mut PgConnection,
    table: &str,
    order: &str,
    columns: &[(String, Kind)],
) -> anyhow::Result<u64> {
    use futures_util::TryStreamExt;
    let names = columns.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ");
    let mut copy = pg.copy_in_raw(&format!("COPY {table} ({names}) FROM STDIN")).await?;
    let select = digest_select(table, order, columns, true);
    let mut rows = sqlx::query(&select).fetch(&mut *read);
    let mut buf = String::new();
    let mut n = 0u64;
    let failed: anyhow::Result<()> = async {
        while let Some(row) = rows.try_next().await? {
            for (i, (name, kind)) in columns.iter().enumerate() {
                if i > 0 {
                    buf.push('\t');
                }
                copy_value(&row, i, *kind, &mut buf)
                    .with_context(|| format!("row {} column {name}", n + 1))?;
            }
            buf.push('\n');
            n += 1;
            if buf.len() >= 1 << 20 {
                copy.send(std::mem::take(&mut buf).into_bytes()).await?;
            }
        }
        if !buf.is_empty() {
            copy.send(buf.into_bytes()).await?;
        }
        Ok(())
    }
    .await;
    if let Err(e) = failed {
        copy.abort("selfheal db copy failed").await.ok();
        return Err(e);
    }
    let stored = copy.finish().await?;
    anyhow::ensure!(stored == n, "{table}: {n} rows read, {stored} stored");
    Ok(n)
}

/// The SELECT of a copy or a digest: every column, bytes read as bytes (SQLite may hold them in a TEXT
/// column, as text or blob).
fn digest_select(table: &str, order: &str, columns: &[(String, Kind)], sqlite: bool) -> String {
    let read_as = |(n, k): &(String, Kind)| match (k, sqlite) {
        (Kind::Bytes, true) => format!("CAST({n} AS BLOB)"),
        _ => n.clone(),
    };
    let names: Vec<String> = columns.iter().map(read_as).collect();
    format!("SELECT {} FROM {table} ORDER BY {order}", names.join(", "))
}

/// Adds one row to a digest, each value rendered the same way on both backends (integers in
/// decimal, text as its bytes, bytes as they are, NULL apart from all of them).
fn hash_row<R>(row: &R, columns: &[(String, Kind)], hash: &mut Sha256) -> anyhow::Result<()>
where
    R: Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    for (i, (_, kind)) in columns.iter().enumerate() {
        let value: Option<Vec<u8>> = match kind {
            Kind::Int => row.try_get::<Option<i64>, _>(i)?.map(|v| v.to_string().into_bytes()),
            Kind::Text => row.try_get::<Option<String>, _>(i)?.map(String::into_bytes),
            Kind::Bytes => row.try_get::<Option<Vec<u8>>, _>(i)?,
        };
        match value {
            Some(v) => {
                hash.update([1]);
                hash.update((v.len() as u64).to_le_bytes());
                hash.update(&v);
            }
            None => hash.update([0]),
        }
    }
    Ok(())
}

/// The digest of every row of a table, in order, read through `ex` (either backend).
macro_rules! digest {
    ($ex:expr, $sql:expr, $columns:expr) => {{
        use futures_util::TryStreamExt;
        let sql: String = $sql;
        let mut rows = sqlx::query(&sql).fetch($ex);
        let mut hash = Sha256::new();
        while let Some(row) = rows.try_next().await? {
            hash_row(&row, $columns, &mut hash)?;
        }
        format!("{:x}", hash.finalize())
    }};
}

/// Every table read back from both sides and compared; the alert counts PostgreSQL's triggers
/// kept against SQLite's; the audit chain verified on the copy.
async fn verify(read: &mut sqlx::SqliteConnection, pg: &mut PgConnection) -> anyhow::Result<()> {
    for (table, order) in TABLES {
        let columns = columns_of(pg, table).await?;
        let from = digest!(&mut *read, digest_select(table, order, &columns, true), &columns);
        let to = digest!(&mut *pg, digest_select(table, order, &columns, false), &columns);
        anyhow::ensure!(from == to, "{table} differs after the copy");
    }
    let counts = "SELECT status, CAST(sum(n) AS BIGINT) FROM alert_counts GROUP BY status ORDER BY status";
    let from: Vec<(String, i64)> = sqlx::query_as(counts).fetch_all(&mut *read).await?;
    let to: Vec<(String, i64)> = sqlx::query_as(counts).fetch_all(&mut *pg).await?;
    anyhow::ensure!(from == to, "the alert counts differ after the copy: {from:?} and {to:?}");
    verify_chain(pg).await
}

/// Recomputes the audit chain on the copy from its anchor (the latest export), as
/// `selfheal audit verify` does on SQLite.
async fn verify_chain(pg: &mut PgConnection) -> anyhow::Result<()> {
    use app::ssr::db::audit_chain::{chain_hash, GENESIS};
    let anchor: Option<(i64, String)> = sqlx::query_as(
        "SELECT up_to_event_id, last_hash FROM audit_exports ORDER BY up_to_event_id DESC LIMIT 1",
    )
    .fetch_optional(&mut *pg)
    .await?;
    let (from, mut prev) = anchor.unwrap_or((0, GENESIS.to_owned()));
    let events: Vec<(app::model::AuditEvent, Option<String>)> = sqlx::query(
        "SELECT e.id, e.at, e.actor, e.action, e.target, e.detail, e.source, c.hash \
         FROM audit_events e LEFT JOIN audit_chain c ON c.event_id = e.id WHERE e.id > $1 ORDER BY e.id",
    )
    .bind(from)
    .try_map(|row: sqlx::postgres::PgRow| {
        use sqlx::FromRow;
        Ok((app::model::AuditEvent::from_row(&row)?, row.try_get("hash")?))
    })
    .fetch_all(&mut *pg)
    .await?;
    for (event, hash) in events {
        let Some(hash) = hash else { break };
        prev = chain_hash(&prev, &event);
        anyhow::ensure!(hash == prev, "the audit chain does not verify on the copy at event {}", event.id);
    }
    Ok(())
}
