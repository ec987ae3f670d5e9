//! The login throttle's SQL: attempts reserved before the password check (so parallel guesses
//! all count), settled after it, and refused attempts counted per name, address and minute
//! until the sealer turns each closed minute into one audit event. Both backends.
use super::backend::{on_backend, on_pool, Ex, PoolRef, WritePool};
use time::OffsetDateTime;

use crate::ssr::alert::format_utc;
use crate::ssr::db::audit::{record_audits, NewAuditEvent};
use crate::ssr::utc::Utc;

/// The limits an attempt is checked against, over `window` before now.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub per_name: i64,
    pub per_source: i64,
    pub window: std::time::Duration,
}

/// How a reserved attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Failed,
    Succeeded,
}

/// Forgets a reserved attempt whose password could not be checked (the directory was down):
/// it was no guess, so it counts against nobody.
pub async fn forget_login_attempt<'c>(ex: impl Into<Ex<'c>>, id: i64) -> Result<(), sqlx::Error> {
    on_backend!(ex, |e| sqlx::query("DELETE FROM login_attempts WHERE id = $1 AND outcome = 'pending'")
        .bind(id)
        .execute(e)
        .await
        .map(|_| ()))
}

/// The minute `t` falls in, as `YYYY-MM-DDTHH:MMZ`.
fn minute_of(t: OffsetDateTime) -> String {
    let mut minute = format_utc(t);
    minute.replace_range(16.., "Z");
    minute
}

/// Reserves an attempt for `username` (canonical) from `source` unless either has reached its
/// limit of unsuccessful attempts (failed, or still pending) in the window: the id to settle
/// it with, or `None` when throttled. N parallel attempts count N: on SQLite the statement's
/// count and insert happen under its write lock together; on PostgreSQL, where two statements
/// could both count before either inserts, the name's and then the address's advisory locks
/// are taken first, in a transaction with the statement.
pub async fn reserve_login_attempt<'c>(
    ex: impl Into<Ex<'c>>,
    username: &str,
    source: Option<&str>,
    limits: Limits,
    now: OffsetDateTime,
) -> Result<Option<i64>, sqlx::Error> {
    let (at, since) = (format_utc(now), Utc::at(now).minus(limits.window).to_string());
    let source = source.unwrap_or("");
    on_backend!(ex, |e, pg| {
        let reserve = sqlx::query_scalar(
            "INSERT INTO login_attempts (username, source, at, outcome) \
             SELECT $1, $2, $3, 'pending' \
             WHERE (SELECT count(*) FROM login_attempts \
                    WHERE username = $1 AND at >= $4 AND outcome <> 'succeeded') < $5 \
               AND ($2 = '' OR (SELECT count(*) FROM login_attempts \
                    WHERE source = $2 AND at >= $4 AND outcome <> 'succeeded') < $6) \
             RETURNING id",
        )
        .bind(username)
        .bind(source)
        .bind(&at)
        .bind(&since)
        .bind(limits.per_name)
        .bind(limits.per_source);
        if pg {
            let mut tx = sqlx::Acquire::begin(e).await?;
            for key in [format!("selfheal.login.name:{username}"), format!("selfheal.login.source:{source}")]
            {
                sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))").bind(key).execute(&mut *tx).await?;
            }
            let id = reserve.fetch_optional(&mut *tx).await?;
            tx.commit().await?;
            Ok(id)
        } else {
            reserve.fetch_optional(e).await
        }
    })
}

/// Records how a reserved attempt ended; a pending one (a crash in between) counts as failed.
pub async fn settle_login_attempt<'c>(
    ex: impl Into<Ex<'c>>,
    id: i64,
    outcome: Outcome,
) -> Result<(), sqlx::Error> {
    let outcome = match outcome {
        Outcome::Failed => "failed",
        Outcome::Succeeded => "succeeded",
    };
    on_backend!(ex, |e| sqlx::query("UPDATE login_attempts SET outcome = $1 WHERE id = $2")
        .bind(outcome)
        .bind(id)
        .execute(e)
        .await
        .map(|_| ()))
}

/// Counts one refused attempt in its (name, address, minute).
pub async fn count_login_throttle<'c>(
    ex: impl Into<Ex<'c>>,
    username: &str,
    source: Option<&str>,
    now: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    on_backend!(ex, |e| sqlx::query(
        "INSERT INTO login_throttles (username, source, minute, attempts) VALUES ($1, $2, $3, 1) \
         ON CONFLICT (username, source, minute) DO UPDATE SET attempts = login_throttles.attempts + 1",
    )
    .bind(username)
    .bind(source.unwrap_or(""))
    .bind(minute_of(now))
    .execute(e)
    .await
    .map(|_| ()))
}

/// Turns every minute of refused attempts that has ended by `now` into one
/// `auth.login_throttled` audit event with its count, and forgets attempts older than
/// `window`. Returns the audit events written.
pub async fn flush_login_throttles<'p>(
    pool: impl Into<PoolRef<'p>>,
    window: std::time::Duration,
    now: OffsetDateTime,
) -> Result<usize, sqlx::Error> {
    let current = minute_of(now);
    let forget_before = Utc::at(now).minus(window).to_string();
    on_pool!(pool, |p| {
        let mut tx = WritePool::begin_write(p).await?;
        let closed: Vec<(String, String, String, i64)> = sqlx::query_as(
            "SELECT username, source, minute, attempts FROM login_throttles WHERE minute < $1 \
             ORDER BY minute, username, source",
        )
        .bind(&current)
        .fetch_all(&mut *tx)
        .await?;
        let details: Vec<String> = closed
            .iter()
            .map(|(_, _, minute, attempts)| {
                serde_json::json!({ "attempts": attempts, "minute": minute, "refused": "too many failed logins" })
                    .to_string()
            })
            .collect();
        let events: Vec<NewAuditEvent> = closed
            .iter()
            .zip(&details)
            .map(|((name, source, _, _), detail)| NewAuditEvent {
                actor: "anonymous",
                action: "auth.login_throttled",
                target: Some(name.as_str()).filter(|n| !n.is_empty()),
                detail: Some(detail),
                source: Some(source.as_str()).filter(|s| !s.is_empty()),
            })
            .collect();
        record_audits(&mut tx, &events).await?;
        sqlx::query("DELETE FROM login_throttles WHERE minute < $1").bind(&current).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM login_attempts WHERE at < $1")
            .bind(&forget_before)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(events.len())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssr::db::test_pool;

    const LIMITS: Limits = Limits { per_name: 2, per_source: 3, window: std::time::Duration::from_secs(900) };

    #[tokio::test]
    async fn attempts_are_reserved_up_to_each_limit_and_successes_do_not_count() {
        let pool = test_pool().await;
        let now = OffsetDateTime::now_utc();
        let a = reserve_login_attempt(&pool, "ann", Some("192.0.2.1"), LIMITS, now).await.unwrap();
        let b = reserve_login_attempt(&pool, "ann", Some("192.0.2.2"), LIMITS, now).await.unwrap();
        assert!(a.is_some() && b.is_some());
        // Two pending attempts already count: the third for the name is refused before any check.
        assert_eq!(reserve_login_attempt(&pool, "ann", Some("192.0.2.3"), LIMITS, now).await.unwrap(), None);
        settle_login_attempt(&pool, a.unwrap(), Outcome::Succeeded).await.unwrap();
        assert!(reserve_login_attempt(&pool, "ann", Some("192.0.2.3"), LIMITS, now).await.unwrap().is_some());
        // The address: 192.0.2.3 has one; two more names, then it is full for everyone.
        for name in ["bob", "cy"] {
            assert!(reserve_login_attempt(&pool, name, Some("192.0.2.3"), LIMITS, now)
                .await
                .unwrap()
                .is_some());
        }
        assert_eq!(reserve_login_attempt(&pool, "dee", Some("192.0.2.3"), LIMITS, now).await.unwrap(), None);
        assert!(reserve_login_attempt(&pool, "dee", None, LIMITS, now).await.unwrap().is_some());
        // Outside the window nothing counts.
        let later = now + LIMITS.window + std::time::Duration::from_secs(1);
        assert!(reserve_login_attempt(&pool, "ann", Some("192.0.2.3"), LIMITS, later)
            .await
            .unwrap()
            .is_some());
    }

    #[tokio::test]
    async fn refused_attempts_become_one_audit_event_per_name_address_and_minute() {
        let pool = test_pool().await;
        let now = OffsetDateTime::now_utc().replace_second(10).unwrap();
        for _ in 0..3 {
            count_login_throttle(&pool, "ann", Some("192.0.2.1"), now).await.unwrap();
        }
        count_login_throttle(&pool, "", Some("192.0.2.1"), now).await.unwrap();
        assert_eq!(flush_login_throttles(&pool, LIMITS.window, now).await.unwrap(), 0, "the minute is open");
        let next = now + std::time::Duration::from_secs(60);
        assert_eq!(flush_login_throttles(&pool, LIMITS.window, next).await.unwrap(), 2);
        let rows: Vec<(String, Option<String>, Option<String>)> =
            sqlx::query_as("SELECT action, target, detail FROM audit_events ORDER BY id")
                .fetch_all(&pool)
                .await
                .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].0, "auth.login_throttled");
        assert_eq!(rows[0].1, None, "no name for an invalid one");
        assert_eq!(rows[1].1.as_deref(), Some("ann"));
        assert!(rows[1].2.as_deref().unwrap().contains("\"attempts\":3"), "{rows:?}");
        assert_eq!(flush_login_throttles(&pool, LIMITS.window, next).await.unwrap(), 0, "flushed once");
    }
}
