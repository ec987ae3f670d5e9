//! Start-up: open and migrate the database, create the first admin, build the state and the
//! session layer, serve until a signal arrives.
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use anyhow::Context;
use app::ssr::db::backend::{Db, PoolRef};
use leptos::config::LeptosOptions;
use secrecy::ExposeSecret;
use sqlx::SqlitePool;
use tokio_util::sync::CancellationToken;
use tower_sessions::cookie::time;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

use app::model::Role;
use app::ssr::changes::Changes;
use app::ssr::db::audit::{record_audit, NewAuditEvent};
use app::ssr::heal::blast::LiveKnownTargets;
use app::ssr::heal::{LiveRules, RuleSet};
use app::ssr::{auth, db, AppState};

use crate::config::{Config, Database};
use crate::engine::{Engine, Reactions};
use crate::intake::Inbox;
use crate::metrics::Metrics;
use crate::notify::Notifier;
use crate::reconcile::Reconciler;
use crate::silence::Silencer;
use crate::verifier::Verifier;
use crate::verify::Prometheus;
use crate::webhook::{Credentials, WebhookState};
use crate::worker::{Worker, WorkerSettings};
use app::ssr::inventory::InventoryHosts;

/// How often expired sessions are deleted from the database.
const SESSION_SWEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(300);

/// Name of the user created on a first start.
pub const BOOTSTRAP_ADMIN: &str = "admin";

/// Names the site's folder of content-hashed web assets (`pkg: <16 hex>`), written by
/// `scripts/build.sh`.
pub const SITE_HASH_FILE: &str = "hash.txt";

/// `Strict-Transport-Security` when serving HTTPS: a year, the value browsers' preload lists
/// ask for; without `includeSubDomains`, since selfheal does not own its domain's other hosts.
const HSTS: &str = "max-age=31536000";

/// How long a PostgreSQL replica waits for a connection before the request fails.
pub const DATABASE_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Opens the database `database` names and applies every pending migration: a SQLite file
/// (created on first start), or a PostgreSQL database (several replicas may share it).
pub async fn open(database: &Database) -> anyhow::Result<Db> {
    match database {
        Database::Sqlite(path) => Ok(Db::Sqlite(open_database(path).await?)),
        Database::Postgres(url) => {
            // Each connection names its replica: `pg_stat_activity` shows who is connected,
            // and which replica's connection holds the leader's lock.
            let options = sqlx::postgres::PgConnectOptions::from_str(url)
                .with_context(|| format!("not a PostgreSQL URL: {}", database.describe()))?
                .application_name(&crate::replica::application_name());
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(16)
                // While PostgreSQL is unreachable a webhook gets its 503 within this, and
                // Alertmanager retries it, instead of waiting sqlx's default 30 s.
                .acquire_timeout(DATABASE_WAIT)
                .connect_with(options)
                .await
                .with_context(|| format!("cannot connect to the database {}", database.describe()))?;
            app::ssr::db::POSTGRES_MIGRATOR.run(&pool).await.context("cannot apply database migrations")?;
            Ok(Db::Pg(pool))
        }
    }
}

/// Opens the SQLite database (creating it) and applies every pending migration.
pub async fn open_database(path: &Path) -> anyhow::Result<SqlitePool> {
    let pool = db::connect(path).await.with_context(|| format!("cannot open database {}", path.display()))?;
    db::migrate(&pool).await.context("cannot apply database migrations")?;
    Ok(pool)
}

/// Leptos options from our own config (not from cargo-leptos' environment). The assets are
/// under `pkg/<hash>/` when the site names that folder in its `hash.txt` (the server sends
/// them as immutable), under `pkg/` otherwise.
pub fn leptos_options(config: &Config) -> LeptosOptions {
    let hashed = std::fs::read_to_string(config.site_root.join(SITE_HASH_FILE))
        .ok()
        .and_then(|text| pkg_folder(&text));
    LeptosOptions::builder()
        .output_name("selfheal")
        .site_root(config.site_root.to_string_lossy().into_owned())
        .site_pkg_dir(hashed.map_or_else(|| "pkg".to_owned(), |hash| format!("pkg/{hash}")))
        .site_addr(config.listen)
        .build()
}

/// The folder `hash.txt` names: its `pkg:` line, when that is a content hash.
fn pkg_folder(text: &str) -> Option<String> {
    let hash = text.lines().find_map(|line| line.strip_prefix("pkg:"))?.trim();
    crate::assets::is_content_hash(hash).then(|| hash.to_owned())
}

/// The session layer: sessions in the database (SQLite, or PostgreSQL where every replica
/// sees every session), HttpOnly + SameSite=Lax cookies, Secure when the config says we are
/// behind TLS, expiry after `session_idle` without a request. Returned applied to `router`.
pub async fn with_sessions(router: axum::Router, db: &Db, config: &Config) -> anyhow::Result<axum::Router> {
    Ok(match db {
        Db::Sqlite(pool) => router.layer(session_layer(pool, config).await?),
        Db::Pg(pool) => {
            let store = PostgresStore::new(pool.clone());
            store.migrate().await.context("cannot create the session table")?;
            router.layer(session_settings(SessionManagerLayer::new(store), config)?)
        }
    })
}

/// The session layer over SQLite (the tests' routers use it directly).
pub async fn session_layer(
    pool: &SqlitePool,
    config: &Config,
) -> anyhow::Result<SessionManagerLayer<SqliteStore>> {
    let store = SqliteStore::new(pool.clone());
    store.migrate().await.context("cannot create the session table")?;
    session_settings(SessionManagerLayer::new(store), config)
}

/// The cookie and expiry settings of every session layer.
fn session_settings<S: tower_sessions::SessionStore>(
    layer: SessionManagerLayer<S>,
    config: &Config,
) -> anyhow::Result<SessionManagerLayer<S>> {
    let idle = time::Duration::try_from(config.session_idle).context("session_idle is too large")?;
    Ok(layer
        .with_name("selfheal_session")
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(config.cookies_secure())
        .with_expiry(Expiry::OnInactivity(idle)))
}

/// Deletes expired sessions every [`SESSION_SWEEP_INTERVAL`] until `stop`.
pub async fn sweep_sessions(db: Db, stop: CancellationToken) -> anyhow::Result<()> {
    use tower_sessions::ExpiredDeletion;
    let swept = async {
        match db {
            Db::Sqlite(pool) => {
                SqliteStore::new(pool).continuously_delete_expired(SESSION_SWEEP_INTERVAL).await
            }
            Db::Pg(pool) => {
                PostgresStore::new(pool).continuously_delete_expired(SESSION_SWEEP_INTERVAL).await
            }
        }
    };
    tokio::select! {
        () = stop.cancelled() => Ok(()),
        swept = swept => swept.context("cannot delete expired sessions"),
    }
}

/// What a first start did about the bootstrap admin.
#[derive(Debug, PartialEq, Eq)]
pub enum Bootstrap {
    /// Users exist already: nothing done.
    Existing,
    /// `admin` created with the configured password.
    FromConfig,
    /// `admin` created with this generated password, to be shown once.
    Generated(String),
}

/// Creates `admin` when the database has no user at all.
pub async fn bootstrap_admin(pool: impl Into<PoolRef<'_>>, config: &Config) -> anyhow::Result<Bootstrap> {
    let pool: PoolRef<'_> = pool.into();
    if db::users::count_users(pool).await? > 0 {
        return Ok(Bootstrap::Existing);
    }
    let (password, outcome) = match &config.admin_password {
        Some(pw) => (pw.expose_secret().to_owned(), Bootstrap::FromConfig),
        None => {
            let pw = auth::generate_password();
            (pw.clone(), Bootstrap::Generated(pw))
        }
    };
    let hash = tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await?
        .map_err(|e| anyhow::anyhow!("cannot hash the admin password: {e}"))?;
    match db::users::insert_user(pool, BOOTSTRAP_ADMIN, &hash, Role::Admin).await {
        // Another replica starting at the same moment created it first.
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => return Ok(Bootstrap::Existing),
        other => other?,
    };
    let event = NewAuditEvent {
        actor: "system",
        action: "user.bootstrap",
        target: Some(BOOTSTRAP_ADMIN),
        detail: Some("first start: created the admin user"),
        source: Some("system"),
    };
    record_audit(pool, &event).await?;
    Ok(outcome)
}

/// The webhook's credentials from config, if any are set.
pub fn webhook_credentials(config: &Config) -> Option<Credentials> {
    let user = &config.webhook.user;
    match (&config.webhook.password, &config.webhook.password_sha256) {
        (Some(pw), _) => Some(Credentials::new(user, pw.expose_secret())),
        (None, Some(hex)) => Credentials::from_password_sha256(user, hex),
        (None, None) => None,
    }
}

/// Everything behind the router: the webhook's state (with the inbox writer, which decides),
/// the engine's housekeeping and the worker. Background loops are not started here, so tests
/// can drive each step themselves.
pub struct Services {
    pub intake: WebhookState,
    pub engine: Engine,
    pub worker: Worker,
    pub rules: LiveRules,
    /// The inventory's hosts, which a `--limit` must name.
    pub inventory: InventoryHosts,
    /// The inbox writer; it ends once every handle to the inbox is dropped.
    pub writer: tokio::task::JoinHandle<()>,
    /// What the open pages (and the worker) are told about changes.
    pub changes: Changes,
    /// The known targets per blast scope, and what counts them (`run` it, or `recount`).
    pub known_targets: LiveKnownTargets,
    pub known_counter: Arc<crate::blast::KnownTargetCounter>,
}

/// Builds the services over an open database; `stop` (the root token) stops their loops.
pub fn services(db: &Db, config: &Config, stop: CancellationToken) -> anyhow::Result<Services> {
    let metrics = Metrics::new();
    let rules = LiveRules::new(RuleSet::new(config.build_rules()?));
    let inventory =
        InventoryHosts::new(config.ansible.inventory_command.clone(), config.ansible.inventory.clone());
    let changes = Changes::default();
    let housekeeping = Arc::new(tokio::sync::Notify::new());
    let outgoing = config.outgoing();
    let db = db.clone();
    let notifier = Notifier::new(db.clone(), &outgoing);
    let reactions = Reactions::new(metrics.clone(), notifier.clone(), housekeeping.clone(), changes.clone());
    let guards = guard_asker(config);
    let known_targets = LiveKnownTargets::default();
    let (inbox, writer) = match (&config.database, &db) {
        (Database::Sqlite(path), Db::Sqlite(_)) => Inbox::start(
            path,
            rules.clone(),
            inventory.clone(),
            known_targets.clone(),
            metrics.clone(),
            reactions,
        )?,
        (Database::Postgres(_), Db::Pg(pool)) => Inbox::start_pg(
            pool.clone(),
            rules.clone(),
            inventory.clone(),
            known_targets.clone(),
            metrics.clone(),
            reactions,
        ),
        _ => anyhow::bail!("the database given is not the one configured"),
    };
    let inbox = inbox.with_guards(guards);
    let engine = Engine::new(
        db.clone(),
        rules.clone(),
        metrics.clone(),
        housekeeping,
        inbox.resolutions(),
        config.engine.approval_ttl,
        changes.clone(),
    );
    let data_dir = config.database.data_dir();
    let silencer =
        (!config.alertmanager.url.is_empty()).then(|| Silencer::new(&config.alertmanager.url, &outgoing));
    let prometheus =
        (!config.prometheus.url.is_empty()).then(|| Prometheus::new(&config.prometheus.url, &outgoing));
    let verifier = Verifier::new(db.clone(), rules.clone(), metrics.clone(), changes.clone(), stop.clone())
        .with_prometheus(prometheus)
        .with_silencer(silencer)
        .with_notifier(notifier);
    let settings = WorkerSettings {
        ansible_dir: config.ansible.dir.clone(),
        inventory: config.ansible.inventory.clone(),
        command: config.ansible.playbook_command.clone(),
        python_interpreter: config.ansible.python_interpreter.clone(),
        max_output_lines: config.ansible.max_output_lines,
        work_root: data_dir.join("runs"),
        concurrency: usize::try_from(config.engine.concurrency).unwrap_or(1),
        shutdown_grace: config.engine.shutdown_grace,
        redactor: crate::worker::Redactor::new(config.secret_values()),
    };
    let worker = Worker::new(db, settings, rules.clone(), verifier, metrics.clone(), changes.clone(), stop);
    let intake = WebhookState { inbox, metrics, credentials: webhook_credentials(config) };
    let known_counter = Arc::new(crate::blast::KnownTargetCounter::new(
        (!config.prometheus.url.is_empty()).then(|| Prometheus::new(&config.prometheus.url, &outgoing)),
        rules.clone(),
        known_targets.clone(),
    ));
    Ok(Services { intake, engine, worker, rules, inventory, writer, changes, known_targets, known_counter })
}

/// What asks the rules' guards: the configured Prometheus (none: guards go unanswered, and
/// the config refuses guards without one).
pub fn guard_asker(config: &Config) -> Option<Arc<dyn app::ssr::guards::AsksGuards>> {
    (!config.prometheus.url.is_empty()).then(|| {
        Arc::new(crate::guards::PrometheusGuards::new(&config.prometheus.url, &config.outgoing()))
            as Arc<dyn app::ssr::guards::AsksGuards>
    })
}

/// The state server functions see.
pub fn app_state(config: &Config, db: &Db, services: &Services) -> AppState {
    AppState {
        leptos_options: leptos_options(config),
        pool: db.clone(),
        rules: services.rules.clone(),
        inventory: services.inventory.clone(),
        changes: services.changes.clone(),
        session_absolute: config.session_absolute,
        trusted_proxies: config.trusted_proxies.clone().into(),
        approval_ttl: config.engine.approval_ttl,
        silences: (!config.alertmanager.url.is_empty()).then(|| {
            std::sync::Arc::new(Silencer::new(&config.alertmanager.url, &config.outgoing()))
                as std::sync::Arc<dyn app::ssr::silence::SilenceAlerts>
        }),
        guards: guard_asker(config),
        known_targets: services.known_targets.clone(),
        ldap: config.auth.ldap.clone().map(|c| {
            // Checked when the config was loaded; a failure here leaves the system's roots.
            let settings = match config.outgoing().rustls_config() {
                Ok(tls) => ldap3::LdapConnSettings::new().set_config(tls),
                Err(_) => ldap3::LdapConnSettings::new(),
            };
            Arc::new(app::ssr::directory::ldap::Ldap::with_settings(c, settings))
        }),
        oidc: config.auth.oidc.clone().map(|c| {
            let http = config.outgoing().client_without_redirects(c.timeout);
            Arc::new(app::ssr::directory::oidc::Oidc::new(c, http))
        }),
        reload_rules: Some(std::sync::Arc::new(crate::reload::RulesReloader {
            source: config.source.clone(),
            live: services.rules.clone(),
            pool: db.clone(),
            changes: services.changes.clone(),
        })),
    }
}

/// Runs a crash left `running` become `interrupted`; a surviving `ansible-playbook` process
/// group of theirs is killed (checked by its command line, so a reused pid is left alone).
pub async fn recover_runs(pool: impl Into<PoolRef<'_>>, metrics: &Metrics) -> anyhow::Result<usize> {
    let pool: PoolRef<'_> = pool.into();
    let recovered = app::ssr::db::runs::recover_running_runs(pool, &app::ssr::alert::now_utc()).await?;
    for (id, pid) in &recovered {
        let alive_playbook = pid.and_then(|p| u32::try_from(p).ok()).filter(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains("ansible"))
        });
        if let Some(p) = alive_playbook {
            crate::ansible::signal_group(p, libc::SIGKILL);
        }
        tracing::warn!(
            run.id = id,
            killed = alive_playbook.is_some(),
            "run interrupted by a previous stop: marked interrupted"
        );
        metrics.runs_recovered.inc();
    }
    Ok(recovered.len())
}

/// The duties one process runs for the whole cluster, until `stop`: the audit sealer (one
/// chain), maintenance windows (silences, held episodes), retention, reconciliation.
async fn cluster_duties(
    db: Db,
    config: Arc<Config>,
    inbox: crate::intake::Inbox,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
) {
    let silencer = (!config.alertmanager.url.is_empty())
        .then(|| Silencer::new(&config.alertmanager.url, &config.outgoing()));
    let windows = crate::windows::run(db.clone(), inbox.clone(), silencer, stop.clone());
    let sealer = crate::audit::run_sealer(db.clone(), stop.clone());
    let retention = async {
        if config.retention.enabled {
            crate::retention::Pruner::new(db.clone(), &config, metrics.clone(), "system")
                .run(stop.clone())
                .await;
        }
    };
    let reconciliation = async {
        if !config.alertmanager.url.is_empty() {
            let receiver = Some(config.alertmanager.receiver.clone()).filter(|r| !r.is_empty());
            let r = Reconciler::new(
                &config.alertmanager.url,
                &config.outgoing(),
                receiver,
                inbox.clone(),
                metrics.clone(),
            );
            tracing::info!(url = %config.alertmanager.url, every = ?config.alertmanager.reconcile_interval, "reconciling with Alertmanager");
            r.run(config.alertmanager.reconcile_interval, stop.clone()).await;
        }
    };
    tokio::join!(windows, sealer, retention, reconciliation);
}

/// `selfheal serve`: everything up, then serve until SIGINT/SIGTERM.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let config = Arc::new(config);
    let db = open(&config.database).await?;
    match bootstrap_admin(&db, &config).await? {
        Bootstrap::Existing => {}
        Bootstrap::FromConfig => {
            tracing::info!(user = BOOTSTRAP_ADMIN, "created the admin user with the configured password")
        }
        Bootstrap::Generated(pw) => {
            // Printed to the terminal once, on purpose not through tracing (logs are kept).
            eprintln!(
                "\n  selfheal: first start — created user `{BOOTSTRAP_ADMIN}` with password: {pw}\n  \
                 (shown only this once; change it with `selfheal user passwd {BOOTSTRAP_ADMIN}`)\n"
            );
        }
    }
    crate::users::report_reserved_usernames(&db).await?;
    if webhook_credentials(&config).is_none() {
        tracing::warn!("webhook.password is not set: /webhook will refuse every request");
    }
    let site_hashes = config.site_root.join(SITE_HASH_FILE);
    if !site_hashes.exists() {
        tracing::warn!(path = %site_hashes.display(), "web assets not found: run scripts/build.sh (pages will not hydrate)");
    }
    // The root of shutdown: cancelled once requests have drained; every loop ends on it.
    let stop = CancellationToken::new();
    let services = services(&db, &config, stop.clone())?;
    let state = app_state(&config, &db, &services);
    let Services { intake, engine, worker, rules, inventory, writer, changes, known_counter, .. } = services;
    let tasks = crate::tasks::Tasks::default();
    match &db {
        // One process owns the file: what a crash left running is this process's to end.
        Db::Sqlite(_) => {
            recover_runs(&db, &intake.metrics).await?;
        }
        // Other replicas may be running theirs: a dead replica's runs (this process's previous
        // life included) are taken over once its heartbeat is older than the timeout.
        Db::Pg(_) => {
            let beat = crate::replica::run(
                db.clone(),
                crate::replica::id().to_owned(),
                crate::replica::Liveness {
                    interval: config.ha.replica_timeout / 3,
                    timeout: config.ha.replica_timeout,
                },
                changes.clone(),
                stop.clone(),
            );
            tasks.spawn("heartbeat", beat);
        }
    }
    if let Db::Pg(pool) = &db {
        // What this replica commits wakes the others' workers and pages, and theirs here.
        let news = crate::cluster_news::run(
            pool.clone(),
            changes.clone(),
            crate::replica::id().to_owned(),
            stop.clone(),
        );
        tasks.spawn("cluster news", news);
    }
    let set = rules.current();
    tracing::info!(rules = set.len(), rules_hash = set.hash(), "healing engine ready");
    // The inventory's hosts (what a --limit may name) listed before the first webhook and kept
    // fresh: an edit is listed again within a second, off the request path.
    inventory.current_async().await;
    tasks.spawn("inventory", crate::tasks::keep_inventory_fresh(inventory, stop.clone()));
    let source = config.source.clone();
    let reload = crate::reload::reload_on_sighup(source, rules, db.clone(), changes.clone(), stop.clone());
    tasks.spawn("rules reload", reload);
    tasks.spawn("engine", engine.run(stop.clone()));
    crate::windows::sync_config(&db, &config.windows()?).await?;
    tasks.spawn("known targets", known_counter.run(stop.clone()));
    let directories = crate::directory::Directories { ldap: state.ldap.clone(), oidc: state.oidc.clone() };
    if directories.ldap.is_some() || directories.oidc.is_some() {
        let refresh = crate::directory::keep_roles_fresh(
            db.clone(),
            directories,
            config.auth.role_refresh,
            stop.clone(),
        );
        tasks.spawn("directory roles", refresh);
    }
    if let Db::Sqlite(pool) = &db {
        // SQLite's own: its full-text index, and its write-ahead log copied into the file.
        tasks.spawn("search index", crate::search_index::run(pool.clone(), stop.clone()));
        tasks.spawn(
            "checkpointer",
            crate::intake::run_checkpointer(
                pool.clone(),
                intake.inbox.wal_tail(),
                intake.metrics.clone(),
                stop.clone(),
            ),
        );
    }
    tasks.spawn_fallible("session sweeper", sweep_sessions(db.clone(), stop.clone()));
    tasks.spawn("verifier", worker.verifier().clone().run());
    tasks.spawn("worker", worker.run());
    // The cluster's duties: the audit chain's sealer, maintenance windows (their silences, the
    // episodes they held), retention, reconciliation with Alertmanager. SQLite: here. PostgreSQL:
    // on the leader alone, moving to another replica when it dies.
    let duties = {
        let (db, config, inbox, metrics) =
            (db.clone(), config.clone(), intake.inbox.clone(), intake.metrics.clone());
        move |stop: CancellationToken| {
            cluster_duties(db.clone(), config.clone(), inbox.clone(), metrics.clone(), stop)
        }
    };
    match &config.database {
        Database::Postgres(url) => {
            let campaign = crate::leader::Campaign {
                url: url.clone(),
                key: crate::leader::LEADER_KEY,
                // A follower's try is one cheap statement: four a second per replica puts a
                // dead leader's duties on another replica within about a quarter second.
                retry: std::time::Duration::from_millis(250),
                check_every: std::time::Duration::from_secs(2),
            };
            tasks.spawn("leader", crate::leader::while_leading(campaign, stop.clone(), duties));
        }
        Database::Sqlite(_) => {
            // Taken by value: the closure holds an inbox handle, and the writer ends (and
            // serve returns) only once every handle is gone.
            let duties = duties;
            tasks.spawn("duties", duties(stop.clone()));
        }
    }
    let mut app = with_sessions(crate::router(state, intake), &db, &config).await?;
    let tls = config.tls().transpose().map_err(|(key, message)| anyhow::anyhow!("{key}: {message}"))?;
    if let Some(tls) = &tls {
        // Browsers that once reached selfheal over HTTPS never try plain http again (a year).
        app = app.layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
            axum::http::header::STRICT_TRANSPORT_SECURITY,
            axum::http::HeaderValue::from_static(HSTS),
        ));
        tasks.spawn("tls reload", tls.clone().reload_on_sighup(stop.clone()));
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(listen = %config.listen, scheme, database = %config.database.describe(), "selfheal listening");
    // On the signal, the event streams end first: the open pages would hold the drain forever.
    let shutdown = async move {
        crate::shutdown::signal().await;
        changes.close();
    };
    crate::listen::serve(listener, app, &config.http, tls, shutdown).await;
    // Requests have drained (and the router, with its inbox handles, is gone): stop every
    // background task and wait for each; the inbox writer then finishes its last commit.
    stop.cancel();
    tasks.wait().await;
    if let Err(e) = writer.await {
        tracing::error!(error = %e, "the inbox writer failed");
    }
    match db {
        Db::Sqlite(pool) => pool.close().await,
        Db::Pg(pool) => pool.close().await,
    }
    tracing::info!("stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_assets_folder_is_the_hash_files_pkg_line_when_it_is_a_content_hash() {
        assert_eq!(pkg_folder("pkg: 0123456789abcdef\n").as_deref(), Some("0123456789abcdef"));
        assert_eq!(pkg_folder("js: 1\npkg:0123456789abcdef").as_deref(), Some("0123456789abcdef"));
        assert_eq!(pkg_folder("pkg: ../../etc\n"), None);
        assert_eq!(pkg_folder("pkg: 0123456789ABCDEF\n"), None);
        assert_eq!(pkg_folder("js: 0123456789abcdef\n"), None);
    }
}
