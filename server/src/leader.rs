//! One leader among the replicas sharing a PostgreSQL database (docs/ha.md): the replica holding
//! a session-level advisory lock on a connection of its own. The cluster-wide duties (the audit
//! sealer's one chain, reconciliation, retention, silence upkeep, approval expiry, breaker
//! notifications) run on it alone.
//!
//! When the leader dies, its connection closes and PostgreSQL releases the lock; the others try
//! for it every `retry`. A leader that cannot reach the database steps down when its check of
//! the connection fails or takes longer than `check_every`, and the lock's connection asks the
//! server to probe a silent client after a few seconds (TCP keepalives), so a leader whose
//! machine vanished loses the lock too. A duty's transaction confirms with [`holds`] that the
//! lock is still held by the leader's connection: a deposed leader cannot act.
use std::str::FromStr;
use std::time::Duration;

use sqlx::{Connection, PgConnection};
use tokio::sync::watch;

/// The leader's advisory lock: "selfheal" in ASCII, as a bigint.
pub const LEADER_KEY: i64 = 0x7365_6c66_6865_616c;

/// Leadership held: the server process (backend) of the lock's connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Leading {
    pub backend_pid: i32,
}

/// How a replica campaigns.
#[derive(Clone, Debug)]
pub struct Campaign {
    /// The database (`postgres://…`).
    pub url: String,
    /// The advisory lock ([`LEADER_KEY`]; tests use their own).
    pub key: i64,
    /// How often a follower tries for the lock, and waits after losing its connection.
    pub retry: Duration,
    /// How often the leader checks its connection, and how long the check may take.
    pub check_every: Duration,
}

/// Campaigns until `shutdown` turns true: publishes `Some` while this replica leads, `None`
/// otherwise. On shutdown a leader unlocks at once, so another takes over within its `retry`.
pub async fn campaign(
    c: Campaign,
    leading: watch::Sender<Option<Leading>>,
    mut shutdown: watch::Receiver<bool>,
) {
    while !*shutdown.borrow() {
        match connect(&c).await {
            Ok(conn) => {
                if let Err(e) = lead_or_follow(&c, conn, &leading, &mut shutdown).await {
                    tracing::warn!(error = %e, "leader election: the lock's connection failed");
                }
            }
            Err(e) => tracing::warn!(error = %e, "leader election: cannot reach the database"),
        }
        if leading.send_replace(None).is_some() {
            tracing::warn!("this replica is no longer the leader");
        }
        tokio::select! {
            _ = tokio::time::sleep(c.retry) => {}
            _ = shutdown.changed() => {}
        }
    }
}

async fn connect(c: &Campaign) -> Result<PgConnection, sqlx::Error> {
    let options = sqlx::postgres::PgConnectOptions::from_str(&c.url)?
        .application_name(&crate::replica::application_name());
    let connecting = PgConnection::connect_with(&options);
    let mut conn = tokio::time::timeout(c.check_every.max(Duration::from_secs(5)), connecting)
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)??;
    // The server probes this connection after 5 s of silence, every second, three times: a
    // leader whose machine vanished releases the lock about 8 s later, not after the kernel's
    // two hours.
    for setting in ["tcp_keepalives_idle = 5", "tcp_keepalives_interval = 1", "tcp_keepalives_count = 3"] {
        sqlx::query(&format!("SET {setting}")).execute(&mut conn).await?;
    }
    Ok(conn)
}

/// Tries for the lock every `retry` on `conn`; once held, checks `conn` every `check_every`
/// until it fails (an error) or `shutdown` (unlocked, `Ok`).
async fn lead_or_follow(
    c: &Campaign,
    mut conn: PgConnection,
    leading: &watch::Sender<Option<Leading>>,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<(), sqlx::Error> {
    loop {
        let (got, backend_pid): (bool, i32) =
            sqlx::query_as("SELECT pg_try_advisory_lock($1), pg_backend_pid()")
                .bind(c.key)
                .fetch_one(&mut conn)
                .await?;
        if got {
            tracing::info!(backend_pid, "this replica is the leader");
            leading.send_replace(Some(Leading { backend_pid }));
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(c.retry) => {}
            _ = shutdown.changed() => return Ok(()),
        }
    }
    loop {
        tokio::select! {
            _ = tokio::time::sleep(c.check_every) => {}
            _ = shutdown.changed() => {
                leading.send_replace(None);
                sqlx::query("SELECT pg_advisory_unlock($1)").bind(c.key).execute(&mut conn).await?;
                return conn.close().await;
            }
        }
        let check = sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&mut conn);
        match tokio::time::timeout(c.check_every, check).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(sqlx::Error::PoolTimedOut),
        }
    }
}

/// Whether the lock `key` is held by the connection of backend `backend_pid`: the fence a
/// leader's duty checks inside its own transaction before it writes.
pub async fn holds(ex: impl sqlx::PgExecutor<'_>, key: i64, leading: Leading) -> Result<bool, sqlx::Error> {
    // A bigint advisory key shows in pg_locks as its high and low 32 bits, objsubid 1.
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted \
         AND pid = $1 AND classid::bigint = ($2 >> 32) AND objid::bigint = ($2 & 4294967295) \
         AND objsubid = 1)",
    )
    .bind(leading.backend_pid)
    .bind(key)
    .fetch_one(ex)
    .await
}

/// Runs the cluster's duties on this replica while it leads, until `stop`: campaigns
/// ([`campaign`]); each time this replica becomes the leader, `duties` is started with a token
/// of its own, which is cancelled (and the duties awaited) as soon as leadership is lost or
/// `stop` comes. So at most one replica runs them at any moment, give or take the moment a
/// deposed leader takes to notice (its duties' own transactions check [`holds`] where that
/// matters).
pub async fn while_leading<F, Fut>(c: Campaign, stop: tokio_util::sync::CancellationToken, duties: F)
where
    F: Fn(tokio_util::sync::CancellationToken) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (leading_tx, mut leading) = watch::channel(None);
    let (shutdown_tx, shutdown) = watch::channel(false);
    let election = tokio::spawn(campaign(c, leading_tx, shutdown));
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            won = leading.wait_for(Option::is_some) => if won.is_err() { break },
        }
        tracing::info!("this replica leads: the cluster's duties run here");
        let token = stop.child_token();
        let running = tokio::spawn(duties(token.clone()));
        let stopping = tokio::select! {
            () = stop.cancelled() => true,
            lost = leading.wait_for(Option::is_none) => lost.is_err(),
        };
        token.cancel();
        if let Err(e) = running.await {
            tracing::error!(error = %e, "the leader's duties failed");
        }
        if stopping {
            break;
        }
        tracing::warn!("this replica no longer leads: its duties stopped");
    }
    let _ = shutdown_tx.send(true);
    let _ = election.await;
}
