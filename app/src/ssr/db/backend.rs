//! Two backends under one `db` layer (issue 28, docs/ha.md): a query function takes
//! `impl Into<Ex>` — a SQLite pool or connection, as every caller passes today, or a
//! PostgreSQL pool or connection — and [`on_backend!`] compiles its body once per backend, so
//! the Rust around the SQL, and the SQL itself where it is portable (`$1` placeholders, which
//! SQLite reads too), exist once. Where the dialects differ the body asks `$pg`.
//!
//! Modules move here one at a time, each tested on both backends against a real PostgreSQL
//! (`server/tests/integration/db_backends/`); until all have, `database = "postgres://…"`
//! stays refused.
use sqlx::{PgConnection, PgPool, SqliteConnection, SqlitePool};

/// The server's database: an embedded SQLite file or a PostgreSQL cluster (`database`).
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Pg(PgPool),
}

impl<'a> From<&'a Db> for Ex<'a> {
    fn from(db: &'a Db) -> Self {
        match db {
            Db::Sqlite(p) => Ex::SqlitePool(p),
            Db::Pg(p) => Ex::PgPool(p),
        }
    }
}

impl<'a> From<&'a Db> for PoolRef<'a> {
    fn from(db: &'a Db) -> Self {
        match db {
            Db::Sqlite(p) => PoolRef::Sqlite(p),
            Db::Pg(p) => PoolRef::Pg(p),
        }
    }
}

impl From<SqlitePool> for Db {
    fn from(p: SqlitePool) -> Self {
        Db::Sqlite(p)
    }
}

impl From<PgPool> for Db {
    fn from(p: PgPool) -> Self {
        Db::Pg(p)
    }
}

/// Where a query runs.
pub enum Ex<'c> {
    SqlitePool(&'c SqlitePool),
    Sqlite(&'c mut SqliteConnection),
    PgPool(&'c PgPool),
    Pg(&'c mut PgConnection),
}

/// A pool of either backend, for a function that opens its own transaction
/// ([`WritePool::begin_write`]).
#[derive(Clone, Copy)]
pub enum PoolRef<'p> {
    Sqlite(&'p SqlitePool),
    Pg(&'p PgPool),
}

impl<'p> From<&'p SqlitePool> for PoolRef<'p> {
    fn from(p: &'p SqlitePool) -> Self {
        PoolRef::Sqlite(p)
    }
}

impl<'p> From<&'p PgPool> for PoolRef<'p> {
    fn from(p: &'p PgPool) -> Self {
        PoolRef::Pg(p)
    }
}

impl<'p> From<PoolRef<'p>> for Ex<'p> {
    fn from(p: PoolRef<'p>) -> Self {
        match p {
            PoolRef::Sqlite(p) => Ex::SqlitePool(p),
            PoolRef::Pg(p) => Ex::PgPool(p),
        }
    }
}

/// A transaction that will write. SQLite: `BEGIN IMMEDIATE`, its write lock taken up front
/// (`db::begin_write`). PostgreSQL: an ordinary transaction (READ COMMITTED); a writer that
/// must be alone for a key takes an advisory lock inside it.
pub trait WritePool {
    type Db: sqlx::Database;
    fn begin_write(
        &self,
    ) -> impl std::future::Future<Output = Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>> + Send;
}

impl WritePool for SqlitePool {
    type Db = sqlx::Sqlite;
    fn begin_write(
        &self,
    ) -> impl std::future::Future<Output = Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error>> + Send
    {
        super::begin_write(self)
    }
}

impl WritePool for PgPool {
    type Db = sqlx::Postgres;
    fn begin_write(
        &self,
    ) -> impl std::future::Future<Output = Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error>> + Send
    {
        self.begin()
    }
}

/// A connection of either backend, for a function that runs several statements on it (the
/// body reborrows it: `&mut *e`).
pub enum Conn<'c> {
    Sqlite(&'c mut SqliteConnection),
    Pg(&'c mut PgConnection),
}

impl Conn<'_> {
    /// Whether this is a PostgreSQL connection (for SQL that differs, through [`dialect`]).
    pub fn is_pg(&self) -> bool {
        matches!(self, Conn::Pg(_))
    }
}

impl<'c, 'r> From<&'r mut Conn<'c>> for Conn<'r> {
    fn from(c: &'r mut Conn<'c>) -> Self {
        match c {
            Conn::Sqlite(e) => Conn::Sqlite(e),
            Conn::Pg(e) => Conn::Pg(e),
        }
    }
}

/// `From` each way a connection is held (itself, in a transaction, from a pool).
macro_rules! connections {
    ($($variant:ident: $ty:ty),*) => {
        $(impl<'c, 't> From<&'c mut $ty> for Conn<'c> {
            fn from(c: &'c mut $ty) -> Self {
                Conn::$variant(c)
            }
        })*
    };
}
connections!(
    Sqlite: SqliteConnection,
    Sqlite: sqlx::Transaction<'t, sqlx::Sqlite>,
    Sqlite: sqlx::pool::PoolConnection<sqlx::Sqlite>,
    Pg: PgConnection,
    Pg: sqlx::Transaction<'t, sqlx::Postgres>,
    Pg: sqlx::pool::PoolConnection<sqlx::Postgres>
);

/// `From` each executor a query may be given (a transaction or a pooled connection is its
/// connection).
macro_rules! executors {
    ($($variant:ident: $ty:ty),*) => {
        $(impl<'c, 't> From<$ty> for Ex<'c> {
            fn from(e: $ty) -> Self {
                Ex::$variant(e)
            }
        })*
    };
}
executors!(
    SqlitePool: &'c SqlitePool,
    Sqlite: &'c mut SqliteConnection,
    Sqlite: &'c mut sqlx::Transaction<'t, sqlx::Sqlite>,
    Sqlite: &'c mut sqlx::pool::PoolConnection<sqlx::Sqlite>,
    PgPool: &'c PgPool,
    Pg: &'c mut PgConnection,
    Pg: &'c mut sqlx::Transaction<'t, sqlx::Postgres>,
    Pg: &'c mut sqlx::pool::PoolConnection<sqlx::Postgres>
);

/// `on_backend!(ex, |e| body)` or `on_backend!(ex, |e, pg| body)`: runs `body` with `e` the
/// backend's own executor and `pg` a `bool` saying whether it is PostgreSQL. Every arm must have one type: map a
/// backend's own result (`rows_affected()`, `()`) inside the body.
#[macro_export]
macro_rules! on_backend {
    ($ex:expr, |$e:ident| $body:expr) => {
        $crate::ssr::db::backend::on_backend!($ex, |$e, _pg| $body)
    };
    ($ex:expr, |$e:ident, $pg:ident| $body:expr) => {
        match Into::<$crate::ssr::db::backend::Ex<'_>>::into($ex) {
            $crate::ssr::db::backend::Ex::SqlitePool($e) => {
                let $pg = false;
                $body
            }
            $crate::ssr::db::backend::Ex::Sqlite($e) => {
                let $pg = false;
                $body
            }
            $crate::ssr::db::backend::Ex::PgPool($e) => {
                let $pg = true;
                $body
            }
            $crate::ssr::db::backend::Ex::Pg($e) => {
                let $pg = true;
                $body
            }
        }
    };
}
pub use on_backend;

/// `on_conn!(conn, |e| body)`: as [`on_backend!`] for a [`Conn`]; `e` is `&mut` the backend's
/// connection.
#[macro_export]
macro_rules! on_conn {
    ($conn:expr, |$e:ident| $body:expr) => {
        match Into::<$crate::ssr::db::backend::Conn<'_>>::into($conn) {
            $crate::ssr::db::backend::Conn::Sqlite($e) => $body,
            $crate::ssr::db::backend::Conn::Pg($e) => $body,
        }
    };
}
pub use on_conn;

/// `on_pool!(pool, |p| body)`: as [`on_backend!`] for a [`PoolRef`]; `p` is the backend's pool
/// (`WritePool::begin_write(p)` opens its write transaction).
#[macro_export]
macro_rules! on_pool {
    ($pool:expr, |$p:ident| $body:expr) => {
        match Into::<$crate::ssr::db::backend::PoolRef<'_>>::into($pool) {
            $crate::ssr::db::backend::PoolRef::Sqlite($p) => $body,
            $crate::ssr::db::backend::PoolRef::Pg($p) => $body,
        }
    };
}
pub use on_pool;

/// `pg_sql!(SQL)`: an SQL text written for SQLite, in PostgreSQL's dialect ([`dialect`]), built
/// once (a `&'static str`).
#[macro_export]
macro_rules! pg_sql {
    ($sql:expr) => {{
        static SQL: std::sync::LazyLock<String> =
            std::sync::LazyLock::new(|| $crate::ssr::db::backend::dialect(&$sql, true).into_owned());
        SQL.as_str()
    }};
}
pub use pg_sql;

/// `sql` for PostgreSQL when `pg`: SQLite's planner hints dropped (`+column`, which keeps a
/// column's index out of a plan, and `INDEXED BY index`); its null-safe comparisons with a
/// parameter spelled PostgreSQL's way (`IS NOT $n` is `IS DISTINCT FROM $n`, `IS $n` is
/// `IS NOT DISTINCT FROM $n`); `LIKE`, which ignores ASCII case on SQLite, as `ILIKE`; and
/// `instr(` as `strpos(`; SQLite's parameters (`?NNN`, and `?` numbered in order) as `$NNN`.
/// Unchanged for SQLite.
pub fn dialect(sql: &str, pg: bool) -> std::borrow::Cow<'_, str> {
    use std::sync::LazyLock;
    static HINTS: LazyLock<[(regex::Regex, &str); 6]> = LazyLock::new(|| {
        let re = |r: &str| regex::Regex::new(r).expect("a valid pattern");
        [
            (re(r"(^|[\s(,=<>])\+([A-Za-z_])"), "$1$2"),
            (re(r"\s+INDEXED BY \w+"), ""),
            (re(r"\bIS NOT (\$\d+)"), "IS DISTINCT FROM $1"),
            (re(r"\bIS (\$\d+)"), "IS NOT DISTINCT FROM $1"),
            (re(r"\bLIKE\b"), "ILIKE"),
            (re(r"\binstr\("), "strpos("),
        ]
    });
    if !pg {
        return std::borrow::Cow::Borrowed(sql);
    }
    let mut out = numbered_parameters(sql);
    for (pattern, with) in HINTS.iter() {
        out = pattern.replace_all(&out, *with).into_owned();
    }
    std::borrow::Cow::Owned(out)
}

/// `sql` with SQLite's parameters spelled PostgreSQL's way: `?NNN` as `$NNN`, and each bare
/// `?` as one more than the largest number so far (SQLite's rule). Quoted text is left alone.
fn numbered_parameters(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut largest = 0u32;
    let mut quoted = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => {
                let mut digits = String::new();
                while let Some(d) = chars.next_if(char::is_ascii_digit) {
                    digits.push(d);
                }
                let number =
                    if digits.is_empty() { largest + 1 } else { digits.parse().unwrap_or(largest + 1) };
                largest = largest.max(number);
                out.push('$');
                out.push_str(&number.to_string());
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::dialect;

    #[test]
    fn sqlite_parameters_become_numbered_outside_quotes() {
        assert_eq!(
            dialect("SELECT ?2, ?1, 'a?b', ? , ?, x FROM t WHERE y = ?10 AND z = ?", true),
            "SELECT $2, $1, 'a?b', $3 , $4, x FROM t WHERE y = $10 AND z = $11"
        );
        assert_eq!(dialect("SELECT $1, $2", true), "SELECT $1, $2");
    }

    #[test]
    fn sqlite_hints_and_null_safe_comparisons_become_postgresql() {
        let sql = "SELECT count(*) FROM alerts a INDEXED BY alerts_firing_no_rule WHERE +a.status = $1 \
                   AND (+requested_by = $2) AND attempts + 1 > 2 AND v IS NOT $3 AND w IS $4 AND x IS NULL \
                   AND line LIKE 'TASK [%' AND instr(lower(line), lower($5)) > 0";
        let want = "SELECT count(*) FROM alerts a WHERE a.status = $1 AND (requested_by = $2) \
                    AND attempts + 1 > 2 AND v IS DISTINCT FROM $3 AND w IS NOT DISTINCT FROM $4 AND x IS NULL \
                    AND line ILIKE 'TASK [%' AND strpos(lower(line), lower($5)) > 0";
        assert_eq!(dialect(sql, true), want);
        assert_eq!(dialect(sql, false), sql);
    }
}
