//! `selfheal dev seed`: a database of realistic size for the dashboard benchmark and for trying
//! the UI — alerts over the last 30 days, finished runs with output. Pure SQL (recursive CTEs),
//! so millions of rows take seconds. Everything seeded is already decided and finished: the
//! engine and the worker leave it alone. SQLite and PostgreSQL each have their statements (the
//! same rows on both: ids, names, times, statuses; PostgreSQL's JSON text is spaced its way).
use sqlx::{PgPool, SqlitePool};

use super::backend::Db;

use crate::model::{RunMode, RunStatus, Verification};

/// The run statement's parameters 6 to 12: the mode, then the statuses and verdicts the runs
/// are spread over.
trait BindOutcomes: Sized {
    fn bind_outcomes(self) -> Self;
}

impl<'q, DB: sqlx::Database> BindOutcomes
    for sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>
where
    RunMode: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    RunStatus: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Verification: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    fn bind_outcomes(self) -> Self {
        self.bind(RunMode::Auto)
            .bind(RunStatus::Failed)
            .bind(RunStatus::TimedOut)
            .bind(RunStatus::Succeeded)
            .bind(Verification::Skipped)
            .bind(Verification::NotFixed)
            .bind(Verification::Verified)
    }
}

/// How much to seed.
#[derive(Clone, Copy, Debug)]
pub struct SeedSize {
    pub alerts: i64,
    pub runs: i64,
    pub lines_per_run: i64,
}

/// Rows inserted per statement: bounds one transaction's size. (Alerts are spread over 30 days:
/// 2,592,000 seconds, the literal in the alert statement.)
const BATCH: i64 = 100_000;

/// Appends `size` worth of alerts, runs and output; returns the ids of the first alert and run.
pub async fn seed(db: &Db, size: SeedSize) -> Result<(i64, i64), sqlx::Error> {
    match db {
        Db::Sqlite(pool) => seed_sqlite(pool, size).await,
        Db::Pg(pool) => seed_pg(pool, size).await,
    }
}

async fn seed_sqlite(pool: &SqlitePool, size: SeedSize) -> Result<(i64, i64), sqlx::Error> {
    let first_alert: i64 =
        sqlx::query_scalar("SELECT coalesce(max(id), 0) + 1 FROM alerts").fetch_one(pool).await?;
    let mut done = 0;
    while done < size.alerts {
        let n = BATCH.min(size.alerts - done);
        let start = first_alert + done;
        // Alert k: one of 8 names, 40 hosts, 80 % resolved, spread over the 30 days before now.
        sqlx::query(
            "WITH RECURSIVE k(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM k WHERE i < ?1 + ?2 - 1), \
             a AS (SELECT i, \
                     strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || ((?3 - i) * 2592000 / ?3) || ' seconds') AS at, \
                     CASE i % 8 WHEN 0 THEN 'NginxDown' WHEN 1 THEN 'NginxServiceUnhealthy' \
                       WHEN 2 THEN 'NginxHighCPU' WHEN 3 THEN 'NginxHighMemory' WHEN 4 THEN 'DiskFull' \
                       WHEN 5 THEN 'HostDown' WHEN 6 THEN 'CertExpiring' ELSE 'QueueBacklog' END AS name, \
                     'web' || (i % 40) || ':9113' AS inst, \
                     CASE WHEN i % 3 = 0 THEN 'critical' ELSE 'warning' END AS sev \
                   FROM k) \
             INSERT INTO alerts (fingerprint, starts_at, status, alertname, severity, instance, labels, \
                                 annotations, source, first_seen_at, last_seen_at, resolved_at, ends_at, \
                                 decided_at, receiver, group_key) \
             SELECT printf('seed%012x', i), at, CASE WHEN i % 5 = 0 THEN 'firing' ELSE 'resolved' END, \
                    name, sev, inst, \
                    json_object('alertname', name, 'instance', inst, 'severity', sev, 'job', 'nginx'), \
                    json_object('summary', name || ' on ' || inst), 'webhook', at, at, \
                    CASE WHEN i % 5 = 0 THEN NULL ELSE at END, CASE WHEN i % 5 = 0 THEN NULL ELSE at END, \
                    at, 'selfheal', '{}:{alertname=\"' || name || '\"}' FROM a",
        )
        .bind(start)
        .bind(n)
        .bind(first_alert + size.alerts)
        .execute(pool)
        .await?;
        done += n;
    }

    let first_run: i64 =
        sqlx::query_scalar("SELECT coalesce(max(id), 0) + 1 FROM heal_runs").fetch_one(pool).await?;
    let mut done = 0;
    while done < size.runs && size.alerts > 0 {
        let n = BATCH.min(size.runs - done);
        let start = first_run + done;
        // Run j heals alert (j * 7 mod alerts): finished, mostly succeeded and verified.
        sqlx::query(
            "WITH RECURSIVE k(j) AS (SELECT ?1 UNION ALL SELECT j + 1 FROM k WHERE j < ?1 + ?2 - 1) \
             INSERT INTO heal_runs (alert_id, rule, playbook, target, limit_host, mode, status, verification, \
                                    requested_by, extra_vars, timeout_ms, verify_within_ms, alert_starts_at, \
                                    created_at, started_at, finished_at, verified_at, exit_code, \
                                    output_lines, time_to_heal_ms) \
             SELECT a.id, 'nginx-down', 'heal-nginx.yml', a.instance, 'web' || (k.j % 40), ?6, \
                    CASE WHEN k.j % 20 = 0 THEN ?7 WHEN k.j % 20 = 1 THEN ?8 ELSE ?9 END, \
                    CASE WHEN k.j % 20 < 2 THEN ?10 WHEN k.j % 10 = 3 THEN ?11 ELSE ?12 END, \
                    CASE WHEN k.j % 50 = 0 THEN 'admin' ELSE 'engine' END, \
                    json_object('instance', a.instance), 300000, 60000, a.starts_at, \
                    a.starts_at, a.starts_at, a.starts_at, \
                    CASE WHEN k.j % 20 < 2 OR k.j % 10 = 3 THEN NULL ELSE a.starts_at END, \
                    CASE WHEN k.j % 20 = 0 THEN 2 WHEN k.j % 20 = 1 THEN NULL ELSE 0 END, ?4, \
                    CASE WHEN k.j % 20 < 2 OR k.j % 10 = 3 THEN NULL ELSE 1500 + (k.j % 9000) END \
             FROM k JOIN alerts a ON a.id = ?3 + ((k.j * 7) % ?5)",
        )
        .bind(start)
        .bind(n)
        .bind(first_alert)
        .bind(size.lines_per_run)
        .bind(size.alerts)
        .bind_outcomes()
        .execute(pool)
        .await?;
        done += n;
    }

    // Output: lines_per_run lines for every seeded run, a few thousand runs per statement.
    let runs_per_batch = (BATCH / size.lines_per_run.max(1)).max(1);
    let mut run = first_run;
    while run < first_run + size.runs && size.lines_per_run > 0 && size.alerts > 0 {
        let last = (run + runs_per_batch).min(first_run + size.runs);
        sqlx::query(
            "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ?3) \
             INSERT INTO run_output (run_id, seq, stream, at, line) \
             SELECT r.id, s.n, 'stdout', r.created_at, \
                    CASE WHEN s.n % 10 = 1 THEN 'TASK [nginx_health : Check nginx''s health URL] ' || printf('%.*c', 40, '*') \
                         ELSE 'ok: [' || r.limit_host || '] => line ' || s.n END \
             FROM heal_runs r, s WHERE r.id >= ?1 AND r.id < ?2",
        )
        .bind(run)
        .bind(last)
        .bind(size.lines_per_run)
        .execute(pool)
        .await?;
        run = last;
    }
    Ok((first_alert, first_run))
}

/// [`seed`] on PostgreSQL: the same rows as on SQLite, with their ids given (so runs find their
/// alerts by id), the id sequences set after them.
async fn seed_pg(pool: &PgPool, size: SeedSize) -> Result<(i64, i64), sqlx::Error> {
    let first_alert: i64 =
        sqlx::query_scalar("SELECT coalesce(max(id), 0) + 1 FROM alerts").fetch_one(pool).await?;
    let mut done = 0;
    while done < size.alerts {
        let n = BATCH.min(size.alerts - done);
        sqlx::query(
            "INSERT INTO alerts (id, fingerprint, starts_at, status, alertname, severity, instance, labels, \
                                 annotations, source, first_seen_at, last_seen_at, resolved_at, ends_at, \
                                 decided_at, receiver, group_key) \
             SELECT i, 'seed' || lpad(to_hex(i), 12, '0'), at, CASE WHEN i % 5 = 0 THEN 'firing' ELSE 'resolved' END, \
                    name, sev, inst, \
                    json_build_object('alertname', name, 'instance', inst, 'severity', sev, 'job', 'nginx')::text, \
                    json_build_object('summary', name || ' on ' || inst)::text, 'webhook', at, at, \
                    CASE WHEN i % 5 = 0 THEN NULL ELSE at END, CASE WHEN i % 5 = 0 THEN NULL ELSE at END, \
                    at, 'selfheal', '{}:{alertname=\"' || name || '\"}' \
             FROM (SELECT i, \
                     to_char((now() AT TIME ZONE 'UTC') - make_interval(secs => (($3 - i) * 2592000 / $3)::float8), \
                             'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS at, \
                     CASE i % 8 WHEN 0 THEN 'NginxDown' WHEN 1 THEN 'NginxServiceUnhealthy' \
                       WHEN 2 THEN 'NginxHighCPU' WHEN 3 THEN 'NginxHighMemory' WHEN 4 THEN 'DiskFull' \
                       WHEN 5 THEN 'HostDown' WHEN 6 THEN 'CertExpiring' ELSE 'QueueBacklog' END AS name, \
                     'web' || (i % 40) || ':9113' AS inst, \
                     CASE WHEN i % 3 = 0 THEN 'critical' ELSE 'warning' END AS sev \
                   FROM generate_series($1::bigint, $1 + $2 - 1) AS i) AS a",
        )
        .bind(first_alert + done)
        .bind(n)
        .bind(first_alert + size.alerts)
        .execute(pool)
        .await?;
        done += n;
    }

    let first_run: i64 =
        sqlx::query_scalar("SELECT coalesce(max(id), 0) + 1 FROM heal_runs").fetch_one(pool).await?;
    let mut done = 0;
    while done < size.runs && size.alerts > 0 {
        let n = BATCH.min(size.runs - done);
        sqlx::query(
            "INSERT INTO heal_runs (id, alert_id, rule, playbook, target, limit_host, mode, status, verification, \
                                    requested_by, extra_vars, timeout_ms, verify_within_ms, alert_starts_at, \
                                    created_at, started_at, finished_at, verified_at, exit_code, \
                                    output_lines, time_to_heal_ms) \
             SELECT k.j, a.id, 'nginx-down', 'heal-nginx.yml', a.instance, 'web' || (k.j % 40), $6, \
                    CASE WHEN k.j % 20 = 0 THEN $7 WHEN k.j % 20 = 1 THEN $8 ELSE $9 END, \
                    CASE WHEN k.j % 20 < 2 THEN $10 WHEN k.j % 10 = 3 THEN $11 ELSE $12 END, \
                    CASE WHEN k.j % 50 = 0 THEN 'admin' ELSE 'engine' END, \
                    json_build_object('instance', a.instance)::text, 300000, 60000, a.starts_at, \
                    a.starts_at, a.starts_at, a.starts_at, \
                    CASE WHEN k.j % 20 < 2 OR k.j % 10 = 3 THEN NULL ELSE a.starts_at END, \
                    CASE WHEN k.j % 20 = 0 THEN 2 WHEN k.j % 20 = 1 THEN NULL ELSE 0 END, $4, \
                    CASE WHEN k.j % 20 < 2 OR k.j % 10 = 3 THEN NULL ELSE 1500 + (k.j % 9000) END \
             FROM generate_series($1::bigint, $1 + $2 - 1) AS k(j) JOIN alerts a ON a.id = $3 + ((k.j * 7) % $5)",
        )
        .bind(first_run + done)
        .bind(n)
        .bind(first_alert)
        .bind(size.lines_per_run)
        .bind(size.alerts)
        .bind_outcomes()
        .execute(pool)
        .await?;
        done += n;
    }

    let runs_per_batch = (BATCH / size.lines_per_run.max(1)).max(1);
    let mut run = first_run;
    while run < first_run + size.runs && size.lines_per_run > 0 && size.alerts > 0 {
        let last = (run + runs_per_batch).min(first_run + size.runs);
        sqlx::query(
            "INSERT INTO run_output (run_id, seq, stream, at, line) \
             SELECT r.id, s.n, 'stdout', r.created_at, \
                    CASE WHEN s.n % 10 = 1 THEN 'TASK [nginx_health : Check nginx''s health URL] ' || repeat('*', 40) \
                         ELSE 'ok: [' || r.limit_host || '] => line ' || s.n END \
             FROM heal_runs r, generate_series(1, $3::bigint) AS s(n) WHERE r.id >= $1 AND r.id < $2",
        )
        .bind(run)
        .bind(last)
        .bind(size.lines_per_run)
        .execute(pool)
        .await?;
        run = last;
    }
    for table in ["alerts", "heal_runs"] {
        sqlx::query(&format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
        ))
        .execute(pool)
        .await?;
    }
    // The planner's statistics, as autovacuum would have them on a database that grew to this
    // size over time (not minutes after millions of rows arrived at once).
    sqlx::query("ANALYZE alerts, heal_runs, run_output, alert_counts").execute(pool).await?;
    Ok((first_alert, first_run))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssr::db::test_pool;

    #[tokio::test]
    async fn alerts_spread_over_thirty_days_and_runs_follow_them() {
        let pool = test_pool().await;
        seed(&Db::Sqlite(pool.clone()), SeedSize { alerts: 1000, runs: 10, lines_per_run: 2 }).await.unwrap();
        // Days between now and the oldest and newest alert.
        let (oldest, newest, runs_in_a_day): (f64, f64, i64) = sqlx::query_as(
            "SELECT julianday('now') - julianday(min(first_seen_at)), julianday('now') - julianday(max(first_seen_at)), \
                    (SELECT count(*) FROM heal_runs WHERE julianday('now') - julianday(created_at) < 1) FROM alerts",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert!((29.0..=30.0).contains(&oldest), "oldest alert {oldest} days ago");
        assert!(newest < 0.1, "newest alert {newest} days ago");
        assert!(runs_in_a_day < 10, "runs spread too: {runs_in_a_day} of 10 in the last day");
    }
}
