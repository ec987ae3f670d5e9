//! `selfheal.toml` + `SELFHEAL_*` environment variables, read and validated once at start.
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use app::ssr::heal::window::{Window, WindowConfig};
use app::ssr::heal::{Rule, RuleConfig, RuleSet};

use crate::outgoing::{Outgoing, OutgoingTlsConfig};
use crate::tls::Tls;

mod http;
mod retention;
pub use http::HttpConfig;
pub use retention::RetentionConfig;

/// Shortest value `[ansible] redact` accepts: shorter ones would blank out ordinary output.
const MIN_REDACT_LEN: usize = 4;

/// The config file read when neither `--config` nor `SELFHEAL_CONFIG` names one.
pub const DEFAULT_CONFIG_FILE: &str = "selfheal.toml";

/// Prefix of every environment variable that overrides a config key.
pub const ENV_PREFIX: &str = "SELFHEAL_";

/// Environment names that are part of the public interface but do not follow the
/// `SECTION__KEY` pattern, and the config key each one sets.
const ENV_ALIASES: &[(&str, &str)] =
    &[("webhook_user", "webhook.user"), ("webhook_password", "webhook.password")];

/// Shortest idle session expiry we accept: anything shorter logs people out while they read.
const MIN_SESSION_IDLE: Duration = Duration::from_secs(60);

/// Shortest reconcile interval: polling faster only loads Alertmanager.
const MIN_RECONCILE_INTERVAL: Duration = Duration::from_secs(1);

/// The whole configuration. Every key has a default, so an empty or missing file is valid.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `host:port` the HTTP server listens on (dashboard, `/api`, `/webhook`, `/metrics`).
    pub listen: SocketAddr,
    /// The database: a SQLite file, created on first start (a path, or a `sqlite:` URL of one),
    /// or a `postgres://` URL (several replicas may share it: docs/ha.md).
    #[serde(deserialize_with = "database_setting")]
    pub database: Database,
    /// Folder holding the built web assets (`pkg/selfheal.{js,wasm,css}`).
    pub site_root: PathBuf,
    /// Password of the `admin` user created on first start; random (and printed) when unset.
    pub admin_password: Option<SecretString>,
    /// Mark session cookies `Secure` (set this when selfheal is served over HTTPS).
    pub secure_cookies: bool,
    /// A session ends after this long without a request.
    #[serde(with = "humantime_serde")]
    pub session_idle: Duration,
    /// A session ends this long after login, however active (humantime).
    #[serde(with = "humantime_serde")]
    pub session_absolute: Duration,
    /// Proxies (CIDRs) whose `X-Forwarded-For`/`Forwarded` headers name the client; from anyone
    /// else those headers are ignored. Empty: the TCP peer is the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Limits on slow and idle clients and on open connections.
    pub http: HttpConfig,
    /// Credentials Alertmanager must send to `/webhook`.
    pub webhook: WebhookConfig,
    /// Alertmanager's API, polled to catch alerts no webhook delivered.
    pub alertmanager: AlertmanagerConfig,
    /// Where playbooks live and how `ansible-playbook` is started.
    pub ansible: AnsibleConfig,
    /// Prometheus' HTTP API, asked whether a heal worked.
    pub prometheus: PrometheusConfig,
    /// TLS of every outgoing connection (Prometheus, Alertmanager, notifications).
    pub outgoing_tls: OutgoingTlsConfig,
    /// Serve HTTPS directly: the certificate (chain, PEM, leaf first) and its key (PEM), both or
    /// neither. Then cookies are `Secure` whatever `secure_cookies` says, and HSTS is sent.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// The healing engine's limits.
    pub engine: EngineConfig,
    /// Several replicas on one PostgreSQL database (`[ha]`; docs/ha.md).
    pub ha: HaConfig,
    /// How long history is kept.
    pub retention: RetentionConfig,
    /// Which alerts heal how (`[[rules]]`), first match wins.
    pub rules: Vec<RuleConfig>,
    /// Who may sign in besides local users (`[auth]`, `[auth.ldap]`).
    pub auth: app::ssr::directory::AuthConfig,
    /// Maintenance windows and freezes (`[[maintenance]]`), kept in step with the database at
    /// each start and reload.
    pub maintenance: Vec<WindowConfig>,
    /// The file this was read from (none: the default file, if any): read again on SIGHUP.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

/// `[ansible]`: the playbook allowlist and the runner.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnsibleConfig {
    /// Playbooks must be files under this folder (the allowlist).
    pub dir: PathBuf,
    /// Inventory passed with `-i`.
    pub inventory: PathBuf,
    /// The `ansible-playbook` executable.
    pub playbook_command: PathBuf,
    /// The `ansible-inventory` executable: lists the inventory's hosts, which a `--limit` must
    /// name (never a group or `all`).
    pub inventory_command: PathBuf,
    /// Python interpreter Ansible uses on the targets (`ANSIBLE_PYTHON_INTERPRETER`).
    pub python_interpreter: String,
    /// Output lines kept per run; beyond, output is dropped and the run marked truncated.
    pub max_output_lines: u32,
    /// More secret values (vault passwords, tokens the playbooks see) replaced by
    /// `[redacted]` in stored run output; the webhook and admin passwords always are.
    pub redact: Vec<SecretString>,
}

impl Default for AnsibleConfig {
    fn default() -> Self {
        AnsibleConfig {
            dir: PathBuf::from("ansible"),
            inventory: PathBuf::from("ansible/inventory/local.ini"),
            playbook_command: PathBuf::from("ansible-playbook"),
            inventory_command: PathBuf::from("ansible-inventory"),
            python_interpreter: "/usr/bin/python3".to_owned(),
            max_output_lines: 20_000,
            redact: Vec::new(),
        }
    }
}

/// `[prometheus]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrometheusConfig {
    /// Base URL, e.g. `http://127.0.0.1:9090`; empty: runs end `inconclusive`, never `verified`.
    pub url: String,
}

/// `[engine]`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// Playbooks running at once, all targets together.
    pub concurrency: u32,
    /// A run waiting for approval longer than this is cancelled (it also cancels itself as
    /// soon as its alert resolves).
    #[serde(with = "humantime_serde")]
    pub approval_ttl: Duration,
    /// On SIGTERM/SIGINT, running playbooks may finish for this long; then they are killed and
    /// marked interrupted (systemd's default stop timeout is 90 s: stay well inside it).
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            concurrency: 2,
            approval_ttl: Duration::from_secs(3600),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// `[ha]`: how replicas sharing a PostgreSQL database show they are alive (unused on SQLite).
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HaConfig {
    /// A replica whose heartbeat is older than this is taken for dead: its running runs end
    /// interrupted and its verifications resume elsewhere. Each replica beats every third of it.
    #[serde(with = "humantime_serde")]
    pub replica_timeout: Duration,
}

impl Default for HaConfig {
    fn default() -> Self {
        HaConfig { replica_timeout: Duration::from_secs(15) }
    }
}

/// Shortest `ha.replica_timeout`: a replica must get three beats in before it is taken for
/// dead, through a slow database moment.
const MIN_REPLICA_TIMEOUT: Duration = Duration::from_secs(3);

/// Where Alertmanager's API is and how often to reconcile with it.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertmanagerConfig {
    /// Base URL, e.g. `http://127.0.0.1:9093`; empty turns reconciliation off.
    pub url: String,
    /// Time between two polls of `GET /api/v2/alerts`.
    #[serde(with = "humantime_serde")]
    pub reconcile_interval: Duration,
    /// Only reconcile alerts routed to this receiver; empty means every active alert.
    pub receiver: String,
}

impl Default for AlertmanagerConfig {
    fn default() -> Self {
        AlertmanagerConfig {
            url: String::new(),
            reconcile_interval: Duration::from_secs(30),
            receiver: String::new(),
        }
    }
}

/// Basic-auth credentials for the Alertmanager webhook.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookConfig {
    /// User name Alertmanager sends.
    pub user: String,
    /// Password Alertmanager sends; the webhook refuses every request while neither this nor
    /// `password_sha256` is set.
    pub password: Option<SecretString>,
    /// Hex SHA-256 of the password, so the file need not hold the password itself.
    pub password_sha256: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 5000)),
            database: Database::Sqlite(PathBuf::from(".selfheal/selfheal.db")),
            site_root: PathBuf::from("target/site"),
            admin_password: None,
            secure_cookies: false,
            session_idle: Duration::from_secs(8 * 3600),
            session_absolute: Duration::from_secs(24 * 3600),
            trusted_proxies: Vec::new(),
            http: HttpConfig::default(),
            webhook: WebhookConfig::default(),
            alertmanager: AlertmanagerConfig::default(),
            ansible: AnsibleConfig::default(),
            prometheus: PrometheusConfig::default(),
            engine: EngineConfig::default(),
            ha: HaConfig::default(),
            retention: RetentionConfig::default(),
            outgoing_tls: OutgoingTlsConfig::default(),
            tls_cert: None,
            tls_key: None,
            rules: Vec::new(),
            auth: Default::default(),
            maintenance: Vec::new(),
            source: None,
        }
    }
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig { user: "alertmanager".to_owned(), password: None, password_sha256: None }
    }
}

/// Why the configuration could not be used; every message names the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Parse(Box<figment::Error>),
    #[error("config key `{key}`: {message}")]
    Invalid { key: &'static str, message: String },
}

/// An http or https URL with something after the scheme.
fn is_http_url(url: &str) -> bool {
    ["http://", "https://"].iter().any(|scheme| url.strip_prefix(scheme).is_some_and(|rest| !rest.is_empty()))
}

/// Where selfheal keeps its data (`database`).
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// An embedded SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL database, by URL (it may carry a password: never shown whole).
    Postgres(String),
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Database {
    /// The SQLite file, if that is the database.
    pub fn sqlite(&self) -> Option<&Path> {
        match self {
            Database::Sqlite(path) => Some(path),
            Database::Postgres(_) => None,
        }
    }

    /// The folder selfheal keeps its own files in (run folders, audit exports, relative
    /// `file:` notify targets): the SQLite file's; with PostgreSQL, `.selfheal`.
    pub fn data_dir(&self) -> PathBuf {
        match self {
            Database::Sqlite(path) => path.parent().map(Path::to_path_buf).unwrap_or_default(),
            Database::Postgres(_) => PathBuf::from(".selfheal"),
        }
    }

    /// For logs and `check-config`: the path, or the URL without its password.
    pub fn describe(&self) -> String {
        match self {
            Database::Sqlite(path) => path.display().to_string(),
            Database::Postgres(url) => match url::Url::parse(url) {
                Ok(mut u) => {
                    if u.password().is_some() {
                        let _ = u.set_password(Some("***"));
                    }
                    u.to_string()
                }
                Err(_) => "postgres://(unreadable URL)".to_owned(),
            },
        }
    }
}

/// `database` read: a file path, `sqlite:PATH` / `sqlite://PATH` (sqlx's spelling), or a
/// `postgres://` / `postgresql://` URL. Any other URL is refused: such a value used to become
/// a SQLite file in a folder named after its scheme, and the alerts went where nobody looked.
pub fn database_location(raw: &str) -> Result<Database, String> {
    if let Some(rest) = raw.strip_prefix("sqlite://").or_else(|| raw.strip_prefix("sqlite:")) {
        let path = rest.split('?').next().unwrap_or_default();
        if path.is_empty() || path == ":memory:" {
            return Err(
                "a sqlite: URL needs a file path (in memory, every alert would be lost at a restart)".into(),
            );
        }
        return Ok(Database::Sqlite(PathBuf::from(path)));
    }
    if let Some((scheme, _)) = raw.split_once("://") {
        let is_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if is_scheme {
            if matches!(scheme.to_ascii_lowercase().as_str(), "postgres" | "postgresql") {
                return url::Url::parse(raw)
                    .map(|_| Database::Postgres(raw.to_owned()))
                    .map_err(|e| format!("not a PostgreSQL URL: {e}"));
            }
            return Err(format!(
                "`{scheme}://` is not a supported database: give a SQLite file path, a sqlite: URL or a postgres:// URL"
            ));
        }
    }
    Ok(Database::Sqlite(PathBuf::from(raw)))
}

fn database_setting<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Database, D::Error> {
    database_location(&String::deserialize(d)?).map_err(serde::de::Error::custom)
}

impl Config {
    /// Reads `path` (or `selfheal.toml` if it exists when no path is given), then the
    /// environment, then validates. A path given explicitly must exist.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        Self::load_with_env(path, Env::prefixed(ENV_PREFIX))
    }

    fn load_with_env(path: Option<&Path>, env: Env) -> Result<Config, ConfigError> {
        let mut figment = Figment::new();
        match path {
            Some(p) => {
                // figment treats a missing file as empty; an explicit path must exist.
                std::fs::metadata(p).map_err(|source| ConfigError::Read { path: p.to_owned(), source })?;
                figment = figment.merge(Toml::file_exact(p));
            }
            None => figment = figment.merge(Toml::file(DEFAULT_CONFIG_FILE)),
        }
        let env = env.ignore(&["config"]).map(|key| {
            ENV_ALIASES
                .iter()
                .find(|(alias, _)| key == *alias)
                .map_or_else(|| key.as_str().replace("__", "."), |(_, to)| (*to).to_owned())
                .into()
        });
        let mut config: Config = figment.merge(env).extract().map_err(|e| ConfigError::Parse(Box::new(e)))?;
        config.validate()?;
        config.source = path.map(Path::to_path_buf);
        Ok(config)
    }

    /// Checks what serde cannot: ranges and relations between keys.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: &str| Err(ConfigError::Invalid { key, message: message.to_owned() });
        if let Some(path) = self.database.sqlite() {
            if path.as_os_str().is_empty() {
                return invalid("database", "must be a file path");
            }
            if path.is_dir() {
                return invalid("database", "is a directory; give a file path");
            }
        }
        if self.session_idle < MIN_SESSION_IDLE {
            return invalid("session_idle", "must be at least 1m");
        }
        if self.session_absolute < self.session_idle {
            return invalid("session_absolute", "must be at least session_idle");
        }
        self.http.validate()?;
        if self.webhook.user.trim().is_empty() {
            return invalid("webhook.user", "must not be empty");
        }
        if let Some(pw) = &self.webhook.password {
            if pw.expose_secret().is_empty() {
                return invalid("webhook.password", "must not be empty when set");
            }
        }
        if let Some(hex) = &self.webhook.password_sha256 {
            if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                return invalid(
                    "webhook.password_sha256",
                    "must be 64 hex digits (sha256sum of the password)",
                );
            }
            if self.webhook.password.is_some() {
                return invalid("webhook.password_sha256", "set either webhook.password or this, not both");
            }
        }
        let am = &self.alertmanager;
        if !(am.url.is_empty() || is_http_url(&am.url)) {
            return invalid("alertmanager.url", "must start with http:// or https://");
        }
        if am.reconcile_interval < MIN_RECONCILE_INTERVAL {
            return invalid("alertmanager.reconcile_interval", "must be at least 1s");
        }
        if !(self.prometheus.url.is_empty() || is_http_url(&self.prometheus.url)) {
            return invalid("prometheus.url", "must start with http:// or https://");
        }
        if let Err((key, message)) = Outgoing::load(&self.outgoing_tls) {
            return Err(ConfigError::Invalid { key, message });
        }
        if let Err((key, message)) = self.tls().transpose() {
            return Err(ConfigError::Invalid { key, message });
        }
        if let Err((key, message)) = self.auth.validate() {
            return Err(ConfigError::Invalid { key, message });
        }
        if self.engine.concurrency == 0 {
            return invalid("engine.concurrency", "must be at least 1");
        }
        if self.ha.replica_timeout < MIN_REPLICA_TIMEOUT {
            return invalid("ha.replica_timeout", "must be at least 3s");
        }
        if self.ansible.redact.iter().any(|v| v.expose_secret().chars().count() < MIN_REDACT_LEN) {
            return invalid(
                "ansible.redact",
                "each value must be at least 4 characters (shorter ones would blank out ordinary output)",
            );
        }
        if self.ansible.max_output_lines == 0 {
            return invalid("ansible.max_output_lines", "must be at least 1");
        }
        self.retention.validate()?;
        self.build_rules()?;
        self.windows()?;
        if let Some(pw) = &self.admin_password {
            if let Err(message) =
                app::ssr::auth::validate_password(pw.expose_secret(), crate::startup::BOOTSTRAP_ADMIN)
            {
                return invalid("admin_password", &message);
            }
        }
        Ok(())
    }

    /// Where audit exports go: `retention.export_dir`, or `audit-export` beside the database.
    pub fn audit_export_dir(&self) -> PathBuf {
        self.retention.export_dir.clone().unwrap_or_else(|| self.database.data_dir().join("audit-export"))
    }

    /// The validated rules: matchers parsed, playbooks present under `ansible.dir`, names unique.
    /// The `[[maintenance]]` windows, checked (names unique).
    pub fn windows(&self) -> Result<Vec<Window>, ConfigError> {
        let mut windows: Vec<Window> = Vec::with_capacity(self.maintenance.len());
        for (i, w) in self.maintenance.iter().enumerate() {
            let invalid = |message: String| ConfigError::Invalid {
                key: "maintenance",
                message: format!("[{i}] {message}"),
            };
            let window = Window::from_config(w.clone()).map_err(invalid)?;
            if windows.iter().any(|other| other.name() == window.name()) {
                return Err(invalid(format!("window name `{}` is used twice", window.name())));
            }
            if window.config.silence && self.alertmanager.url.is_empty() {
                return Err(invalid(format!(
                    "window `{}` silences in Alertmanager: set alertmanager.url",
                    window.name()
                )));
            }
            windows.push(window);
        }
        Ok(windows)
    }

    pub fn build_rules(&self) -> Result<Vec<Rule>, ConfigError> {
        let mut rules: Vec<Rule> = Vec::with_capacity(self.rules.len());
        for (i, cfg) in self.rules.iter().enumerate() {
            let dir = &self.ansible.dir;
            let mut rule = Rule::from_config(cfg.clone(), |p| dir.join(p).is_file()).map_err(|message| {
                ConfigError::Invalid { key: "rules", message: format!("[{i}] {message}") }
            })?;
            for target in &mut rule.config.notify {
                *target = self.notify_target(target);
            }
            if rules.iter().any(|r| r.name() == rule.name()) {
                return Err(ConfigError::Invalid {
                    key: "rules",
                    message: format!("[{i}] rule name `{}` is used twice", rule.name()),
                });
            }
            let counts_targets = rule.config.blast_radius.as_ref().is_some_and(|b| b.known_targets.is_some());
            if counts_targets && self.prometheus.url.is_empty() {
                return Err(ConfigError::Invalid {
                    key: "rules",
                    message: format!(
                        "[{i}] rule `{}` counts its blast radius's known targets in Prometheus: set prometheus.url",
                        rule.name()
                    ),
                });
            }
            if rule.has_guards() && self.prometheus.url.is_empty() {
                return Err(ConfigError::Invalid {
                    key: "rules",
                    message: format!(
                        "[{i}] rule `{}` has guards, which ask Prometheus: set prometheus.url",
                        rule.name()
                    ),
                });
            }
            rules.push(rule);
        }
        Ok(rules)
    }

    /// HTTPS for the listener, when `tls_cert` and `tls_key` are set: loaded (and checked).
    pub fn tls(&self) -> Option<Result<Tls, (&'static str, String)>> {
        match (&self.tls_cert, &self.tls_key) {
            (None, None) => None,
            (Some(cert), Some(key)) => Some(Tls::load(cert, key)),
            (Some(_), None) => Some(Err(("tls_key", "tls_cert needs tls_key".to_owned()))),
            (None, Some(_)) => Some(Err(("tls_cert", "tls_key needs tls_cert".to_owned()))),
        }
    }

    /// Whether session cookies carry `Secure`: asked for, or served over HTTPS directly.
    pub fn cookies_secure(&self) -> bool {
        self.secure_cookies || self.tls_cert.is_some()
    }

    /// The TLS material of every outgoing connection; [`Config::validate`] checked it loads.
    pub fn outgoing(&self) -> Outgoing {
        Outgoing::load(&self.outgoing_tls).unwrap_or_else(|(key, message)| {
            tracing::error!(
                key,
                message,
                "outgoing TLS changed since the config was checked; using the system's roots"
            );
            Outgoing::default()
        })
    }

    /// A notify target as sent to: `file:PATH` made absolute (a relative PATH is beside the
    /// database, so the native and the compose stack share one config); a URL unchanged.
    fn notify_target(&self, target: &str) -> String {
        let Some(path) = target.strip_prefix("file:") else { return target.to_owned() };
        // file:///abs and file:/abs are absolute; file:name is relative.
        let path = Path::new(path.strip_prefix("//").unwrap_or(path));
        let folder = self.database.data_dir();
        let folder = folder.as_path();
        let path = std::path::absolute(folder.join(path)).unwrap_or_else(|_| folder.join(path));
        format!("file:{}", path.display())
    }

    /// A warning when the config file at `path` (or the default one) holds a secret and other
    /// users on the machine may read it.
    pub fn exposed_secrets_warning(path: Option<&Path>) -> Option<String> {
        use std::os::unix::fs::PermissionsExt;
        let path = path.unwrap_or(Path::new(DEFAULT_CONFIG_FILE));
        let mode = std::fs::metadata(path).ok()?.permissions().mode();
        if mode & 0o004 == 0 {
            return None;
        }
        let text = std::fs::read_to_string(path).ok()?;
        let holds_secret = text.lines().map(str::trim).any(|l| {
            !l.starts_with('#')
                && ["password", "admin_password", "password_sha256", "redact"]
                    .iter()
                    .any(|k| l.strip_prefix(k).is_some_and(|rest| rest.trim_start().starts_with('=')))
        });
        holds_secret.then(|| {
            format!(
                "{} holds secrets and is readable by every user (mode {:o}): chmod 600 it, or move the \
                 secrets into SELFHEAL_* environment variables",
                path.display(),
                mode & 0o777
            )
        })
    }

    /// Every configured secret value: replaced by `[redacted]` in stored run output.
    pub fn secret_values(&self) -> Vec<String> {
        let mut values: Vec<String> = [&self.webhook.password, &self.admin_password]
            .into_iter()
            .flatten()
            .chain(&self.ansible.redact)
            .map(|s| s.expose_secret().to_owned())
            .filter(|v| v.chars().count() >= MIN_REDACT_LEN)
            .collect();
        // Longest first, so a secret containing another is replaced whole.
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
        values
    }

    /// A human summary for `check-config`, with every secret replaced by whether it is set.
    pub fn summary(&self) -> String {
        let set = |s: &Option<SecretString>| if s.is_some() { "<set>" } else { "<unset>" };
        format!(
            "listen = {}\ndatabase = {}\nsite_root = {}\nadmin_password = {}\nsecure_cookies = {}\n\
             session_idle = {}\nsession_absolute = {}\nwebhook.user = {}\nwebhook.password = {}\nwebhook.password_sha256 = {}\n\
             alertmanager.url = {}\nalertmanager.reconcile_interval = {}\nalertmanager.receiver = {}\n",
            self.listen,
            self.database.describe(),
            self.site_root.display(),
            set(&self.admin_password),
            self.secure_cookies,
            humantime_serde::re::humantime::format_duration(self.session_idle),
            humantime_serde::re::humantime::format_duration(self.session_absolute),
            self.webhook.user,
            set(&self.webhook.password),
            if self.webhook.password_sha256.is_some() { "<set>" } else { "<unset>" },
            if self.alertmanager.url.is_empty() { "(off)" } else { &self.alertmanager.url },
            humantime_serde::re::humantime::format_duration(self.alertmanager.reconcile_interval),
            self.alertmanager.receiver,
        ) + &format!(
            "ansible.dir = {}\nansible.inventory = {}\nansible.redact = {} value(s)\nprometheus.url = {}\nengine.concurrency = {}\nrules = {}\n",
            self.ansible.dir.display(),
            self.ansible.inventory.display(),
            self.ansible.redact.len(),
            if self.prometheus.url.is_empty() { "(off)" } else { &self.prometheus.url },
            self.engine.concurrency,
            self.rules.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(", "),
        ) + &self
            .build_rules()
            .map(|rules| format!("rules_hash = {}\n", RuleSet::new(rules).hash()))
            .unwrap_or_default()
            + &self.http.summary()
            + &self.retention.summary(&self.audit_export_dir())
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
