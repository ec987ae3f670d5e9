//! Replicas and their heartbeats (issue 28, item 3): each selfheal process serving from the
//! database registers itself and beats every few seconds; the runs and verifications it holds
//! name it. When a replica's heartbeat is older than the cluster's `replica_timeout`, another
//! takes over: its running runs end `interrupted` with the reason, its claimed verifications
//! go back to the queue, and the engine says so in the audit log.
use super::backend::{on_backend, on_pool, Ex, PoolRef, WritePool};
use crate::model::{RunStatus, Verification};
use crate::ssr::db::audit::{record_audit, NewAuditEvent};

/// This process, as it registers.
#[derive(Clone, Debug)]
pub struct Replica<'a> {
    pub id: &'a str,
    pub host: &'a str,
    pub pid: i64,
    pub version: &'a str,
}

/// A replica as listed.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ReplicaRow {
    pub id: String,
    pub host: String,
    pub pid: i64,
    pub version: String,
    pub started_at: String,
    pub heartbeat_at: String,
}

/// Registers `replica` as alive at `now` (again, after it was taken for dead: it starts over).
pub async fn register<'c>(
    ex: impl Into<Ex<'c>>,
    replica: &Replica<'_>,
    now: &str,
) -> Result<(), sqlx::Error> {
    on_backend!(ex, |e| {
        sqlx::query(
        "INSERT INTO replicas (id, host, pid, version, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, $5, $5) \
         ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at"
    )
    .bind(replica.id)
    .bind(replica.host)
    .bind(replica.pid)
    .bind(replica.version)
    .bind(now)
    .execute(e)
    .await
    .map(|_| ())
    })
}

/// Records that `id` is alive at `now`; false when it is no longer registered (another replica
/// took it for dead and took over its work: it must register again).
pub async fn heartbeat<'c>(ex: impl Into<Ex<'c>>, id: &str, now: &str) -> Result<bool, sqlx::Error> {
    let changed = on_backend!(ex, |e| sqlx::query("UPDATE replicas SET heartbeat_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(e)
        .await
        .map(|d| d.rows_affected()))?;
    Ok(changed == 1)
}

/// A stopping replica leaves (its runs ended or were interrupted by its own stop).
pub async fn retire<'c>(ex: impl Into<Ex<'c>>, id: &str) -> Result<(), sqlx::Error> {
    on_backend!(ex, |e| sqlx::query("DELETE FROM replicas WHERE id = $1")
        .bind(id)
        .execute(e)
        .await
        .map(|_| ()))
}

/// The registered replicas, by id.
pub async fn list<'c>(ex: impl Into<Ex<'c>>) -> Result<Vec<ReplicaRow>, sqlx::Error> {
    on_backend!(ex, |e| sqlx::query_as(
        "SELECT id, host, pid, version, started_at, heartbeat_at FROM replicas ORDER BY id"
    )
    .fetch_all(e)
    .await)
}

/// What taking over one dead replica did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TakenOver {
    pub replica: String,
    pub last_heartbeat: String,
    /// Its running runs, now `interrupted`.
    pub interrupted: Vec<i64>,
    /// Its claimed verifications, back in the queue.
    pub released: Vec<i64>,
}

/// Takes over every replica whose last heartbeat is before `cutoff` (now minus the cluster's
/// `replica_timeout`), in one transaction: its running runs end `interrupted` (verification
/// skipped, the reason in `error`), its claimed verifications are released for any replica to
/// resume, it is unregistered, and the engine records `replica.taken_over` in the audit log.
/// Two replicas taking over at once do it once: the unregistering decides.
pub async fn take_over_dead<'p>(
    pool: impl Into<PoolRef<'p>>,
    cutoff: &str,
    now: &str,
) -> Result<Vec<TakenOver>, sqlx::Error> {
    on_pool!(pool, |p| {
        let mut tx = p.begin_write().await?;
        let dead: Vec<(String, String, String)> =
            sqlx::query_as("DELETE FROM replicas WHERE heartbeat_at < $1 RETURNING id, host, heartbeat_at")
                .bind(cutoff)
                .fetch_all(&mut *tx)
                .await?;
        let mut taken = Vec::with_capacity(dead.len());
        for (id, host, last_heartbeat) in dead {
            let reason = format!(
                "replica {id} on {host} stopped (no heartbeat since {last_heartbeat}) while this run was running"
            );
            let mut interrupted: Vec<i64> = sqlx::query_scalar(
                "UPDATE heal_runs SET status = $1, finished_at = $2, verification = $3, error = $4, pid = NULL \
                 WHERE status = $5 AND held_by = $6 RETURNING id",
            )
            .bind(RunStatus::moved(&[RunStatus::Running], RunStatus::Interrupted))
            .bind(now)
            .bind(Verification::Skipped)
            .bind(&reason)
            .bind(RunStatus::Running)
            .bind(&id)
            .fetch_all(&mut *tx)
            .await?;
            interrupted.sort_unstable();
            let mut released: Vec<i64> = sqlx::query_scalar(
                "UPDATE heal_runs SET verifying_since = NULL, verifying_by = NULL \
                 WHERE verification = $1 AND verifying_by = $2 RETURNING id",
            )
            .bind(Verification::Pending)
            .bind(&id)
            .fetch_all(&mut *tx)
            .await?;
            released.sort_unstable();
            let detail = format!(
                "no heartbeat since {last_heartbeat}: {} running run(s) interrupted, {} verification(s) resumed elsewhere",
                interrupted.len(),
                released.len()
            );
            let target = format!("replica {id}");
            let event = NewAuditEvent {
                actor: crate::ssr::db::inbox::ENGINE,
                action: "replica.taken_over",
                target: Some(&target),
                detail: Some(&detail),
                source: Some("engine"),
            };
            record_audit(&mut tx, &event).await?;
            taken.push(TakenOver { replica: id, last_heartbeat, interrupted, released });
        }
        tx.commit().await?;
        Ok(taken)
    })
}
