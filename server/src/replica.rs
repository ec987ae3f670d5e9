//! This process as a replica of the cluster (issue 28): one identity for its whole life, named
//! by the runs and verifications it holds (`app::ssr::db::replicas`).
use std::sync::OnceLock;

/// This process's replica id: the host name, the process id and when it started (a restarted
/// process with a reused pid is a new replica).
pub fn id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros())
            .unwrap_or_default();
        format!("{}:{}:{started:x}", host(), std::process::id())
    })
}

/// What this replica's PostgreSQL connections call themselves (`application_name`, which
/// PostgreSQL cuts at 63 bytes): `selfheal ` and the replica id.
pub fn application_name() -> String {
    format!("selfheal {}", id())
}

/// The host name, as the kernel has it ("unknown" when it cannot be read).
pub fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// How a replica shows it is alive and when it is taken for dead (`[ha]` in the config).
#[derive(Clone, Copy, Debug)]
pub struct Liveness {
    /// How often it beats.
    pub interval: std::time::Duration,
    /// A replica silent for this long is dead: its work is taken over.
    pub timeout: std::time::Duration,
}

/// The database's clock, as stored: every replica's heartbeat and every cutoff read one clock,
/// so replicas whose own clocks disagree do not take each other for dead. (SQLite serves one
/// process: its own clock.)
async fn database_now(db: &app::ssr::db::backend::Db) -> Result<String, sqlx::Error> {
    match db {
        app::ssr::db::backend::Db::Pg(pool) => {
            sqlx::query_scalar("SELECT selfheal_now()").fetch_one(pool).await
        }
        app::ssr::db::backend::Db::Sqlite(_) => Ok(app::ssr::alert::now_utc()),
    }
}

/// `now` (as stored) minus `by`.
fn before(now: &str, by: std::time::Duration) -> String {
    let parsed = time::OffsetDateTime::parse(now, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    app::ssr::alert::format_utc(parsed - by)
}

/// This replica's heartbeat until `stop`: registers as `id`, beats every interval (registering
/// again if another replica took it for dead meanwhile), and, once it has beaten for two
/// intervals in a row, takes over every replica silent for the timeout (any living replica
/// may: the database lets one do each). Leaves the
/// register when stopped. A failed beat is logged and tried at the next.
pub async fn run(
    db: app::ssr::db::backend::Db,
    id: String,
    liveness: Liveness,
    changes: app::ssr::changes::Changes,
    stop: tokio_util::sync::CancellationToken,
) {
    use app::ssr::db::replicas;
    let me = replicas::Replica {
        id: &id,
        host: &host(),
        pid: i64::from(std::process::id()),
        version: env!("CARGO_PKG_VERSION"),
    };
    let mut registered = false;
    // Beats in a row that reached the database. Only a replica that has been beating for two
    // intervals takes others over: when the database was away (a restart, a network cut) every
    // replica fell silent, and the first one back must give the others time to beat again
    // rather than take them for dead.
    let mut in_a_row = 0u32;
    loop {
        let steady = in_a_row >= 2;
        let beat = async {
            let now = database_now(&db).await?;
            if !registered || !replicas::heartbeat(&db, &id, &now).await? {
                if registered {
                    tracing::warn!(replica = %id, "another replica took this one for dead; registering again");
                }
                replicas::register(&db, &me, &now).await?;
                registered = true;
            }
            if !steady {
                return Ok::<_, sqlx::Error>(());
            }
            let taken = replicas::take_over_dead(&db, &before(&now, liveness.timeout), &now).await?;
            for t in &taken {
                tracing::warn!(
                    replica = %t.replica,
                    last_heartbeat = %t.last_heartbeat,
                    interrupted = ?t.interrupted,
                    resumed_verifications = ?t.released,
                    "took over a replica that stopped"
                );
            }
            if !taken.is_empty() {
                changes.touch(&[app::model::Topic::Runs]);
            }
            Ok::<_, sqlx::Error>(())
        };
        match beat.await {
            Ok(()) => in_a_row = in_a_row.saturating_add(1),
            Err(e) => {
                in_a_row = 0;
                tracing::warn!(replica = %id, error = %e, "heartbeat failed; trying again");
            }
        }
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(liveness.interval) => {}
        }
    }
    if let Err(e) = replicas::retire(&db, &id).await {
        tracing::warn!(replica = %id, error = %e, "cannot leave the replicas' register");
    }
}
