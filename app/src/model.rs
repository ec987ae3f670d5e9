//! Serde types shared by the UI and the server functions.
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

mod approvals;
mod rules;
pub use approvals::PendingApproval;
pub use rules::{BreakerState, RuleView};
mod filter;
mod next;
mod output;
mod overview;
mod run;
mod topic;
pub use filter::{AlertFilter, AlertPage, AuditFilter, AuditPage, Page, RunFilter, RunPage};
pub use next::{login_url, return_path};
pub use output::{line_kind, task_name, TaskView};
pub use overview::{HourStat, NavFigures, OpenBreaker, Overview};
pub use run::{DecisionReason, RunMode, RunStatus, Tone, Trigger, Verification};
pub use topic::Topic;

/// `url` when it may become a link: an `http` or `https` URL. Alert data (`generatorURL`,
/// `externalURL`) comes from Alertmanager, which often takes unauthenticated posts; a
/// `javascript:` or `data:` URL is shown as text, never put in an `href`.
pub fn http_link(url: &str) -> Option<&str> {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    (lower.starts_with("http://") || lower.starts_with("https://")).then_some(url)
}

/// What a user may do. Ordered: every role can do what the roles below it can.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(feature = "ssr", sqlx(type_name = "TEXT", rename_all = "lowercase"))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything except user administration.
    Viewer,
    /// A viewer who may also act: heal now, approve, cancel, reset breakers.
    Operator,
    /// An operator who may also manage users and tokens.
    Admin,
}

impl Role {
    /// Every role, lowest first.
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Operator, Role::Admin];

    /// The lower-case name used in the database, the CLI and the UI.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    /// Whether this role includes the rights of `needed`.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("unknown role `{s}` (expected viewer, operator or admin)"))
    }
}

/// The logged-in user as the UI sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub id: i64,
    pub username: String,
    pub role: Role,
}

/// One API token in the admin list (the token text is shown once, at creation, never again).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct ApiTokenSummary {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub created_by: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

/// A token just created: the only time its text leaves the server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewApiToken {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub token: String,
}

/// A user just added or whose password was just reset: a generated password is shown here
/// once and stored nowhere but as its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedPassword {
    pub username: String,
    pub role: Role,
    /// Set only when the server generated the password.
    pub password: Option<String>,
}

/// One user in the admin list (never carries the password hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct UserSummary {
    pub id: i64,
    pub username: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: String,
    /// Where they sign in.
    pub source: UserSource,
    /// Their last sign-in (UTC, RFC 3339), if any.
    pub last_login_at: Option<String>,
    /// For a directory user: the groups that gave the role, one per line.
    pub role_groups: Option<String>,
    /// Disabled because the directory no longer gives them a role (not by an admin).
    pub disabled_by_directory: bool,
}

/// Where a user signs in: a local password, or the organisation's directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(feature = "ssr", sqlx(type_name = "TEXT", rename_all = "lowercase"))]
#[serde(rename_all = "lowercase")]
pub enum UserSource {
    Local,
    Ldap,
    Oidc,
}

impl UserSource {
    /// How the users page names it.
    pub fn label(self) -> &'static str {
        match self {
            UserSource::Local => "local",
            UserSource::Ldap => "LDAP",
            UserSource::Oidc => "OpenID Connect",
        }
    }
}

/// One row of the audit log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct AuditEvent {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub detail: Option<String>,
    pub source: Option<String>,
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_http_and_https_urls_become_links() {
        for ok in ["http://prometheus:9090/graph?g0.expr=up", "https://am.example/#/alerts", "HTTPS://X"] {
            assert_eq!(super::http_link(ok), Some(ok), "{ok}");
        }
        for text in [
            "javascript:alert(1)",
            " javascript:alert(1)",
            "JaVaScRiPt:x",
            "data:text/html,<b>",
            "//evil",
            "httpx://a",
            "",
            "http:/x",
            "\u{1}http://x",
        ] {
            assert_eq!(super::http_link(text), None, "{text:?}");
        }
    }

    use super::*;

    #[test]
    fn roles_are_ordered_viewer_operator_admin() {
        let cases = [
            ("viewer needs viewer", Role::Viewer, Role::Viewer, true),
            ("viewer needs operator", Role::Viewer, Role::Operator, false),
            ("viewer needs admin", Role::Viewer, Role::Admin, false),
            ("operator needs viewer", Role::Operator, Role::Viewer, true),
            ("operator needs operator", Role::Operator, Role::Operator, true),
            ("operator needs admin", Role::Operator, Role::Admin, false),
            ("admin needs viewer", Role::Admin, Role::Viewer, true),
            ("admin needs admin", Role::Admin, Role::Admin, true),
        ];
        for (name, have, need, want) in cases {
            assert_eq!(have.allows(need), want, "{name}");
        }
    }

    #[test]
    fn roles_parse_from_their_names_only() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
            assert_eq!(role.as_str().to_uppercase().parse::<Role>(), Ok(role));
        }
        let err = "root".parse::<Role>().unwrap_err();
        assert!(err.contains("root"), "{err}");
    }
}

/// One alert episode in full, for its detail page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertDetail {
    pub alert: AlertSummary,
    /// Labels, by name.
    pub labels: Vec<(String, String)>,
    /// Annotations, by name.
    pub annotations: Vec<(String, String)>,
    pub generator_url: Option<String>,
    pub group_key: Option<String>,
    pub receiver: Option<String>,
    pub first_seen_at: String,
    /// Alertmanager's external URL from the last notification (for the Silence link).
    pub external_url: Option<String>,
    /// The notification that last carried it, while retention keeps it: its raw body is at
    /// `/api/notifications/{id}/raw`.
    pub last_notification_id: Option<i64>,
    /// What happened to the episode, oldest first.
    pub timeline: Vec<TimelineEntry>,
    /// Runs for this episode, newest first.
    pub runs: Vec<RunSummary>,
}

/// One step in an alert's life: received, decided, run queued/started/finished, verified,
/// resolved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub at: String,
    /// received | delivered | decision | queued | started | finished | verified | not_fixed | resolved
    pub kind: String,
    pub text: String,
    pub run_id: Option<i64>,
}

/// One alert episode in the list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct AlertSummary {
    pub id: i64,
    pub fingerprint: String,
    pub alertname: String,
    /// `firing` or `resolved`.
    pub status: String,
    pub severity: Option<String>,
    pub instance: Option<String>,
    pub starts_at: String,
    pub ends_at: Option<String>,
    pub resolved_at: Option<String>,
    /// `webhook` or `reconcile`.
    pub source: String,
    /// How many times Alertmanager delivered this episode.
    pub deliveries: i64,
    pub last_seen_at: String,
    /// Labels as a JSON object.
    pub labels: String,
    /// Alerts Alertmanager left out of the notification that last carried this one.
    pub truncated_alerts: i64,
    /// The latest decision on this episode (`enqueued`, `cooldown`, ...), if any yet.
    pub decision: Option<String>,
    /// The episode's latest run, if any: its id, status, verdict and time to heal.
    pub run_id: Option<i64>,
    pub run_status: Option<RunStatus>,
    pub run_verification: Option<Verification>,
    pub run_time_to_heal_ms: Option<i64>,
}

/// A pause of healing in force: everywhere (`scope` `*`) or for one rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct PauseView {
    pub scope: String,
    pub reason: String,
    pub paused_by: String,
    pub paused_at: String,
}

/// A blast-radius trip in force: the rule's heals in `scope` wait for approval until an
/// operator resets it. `scope` is `job="api"`-like, or empty for the whole rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct BlastTripView {
    pub rule: String,
    pub scope: String,
    pub tripped_at: String,
    pub detail: String,
}

/// A maintenance window as its page lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowView {
    pub name: String,
    pub matchers: Vec<String>,
    pub reason: String,
    /// `hold` or `approval`.
    pub action: String,
    /// When it holds, in words: "2026-12-06T10:00:00Z → 2026-12-06T12:00:00Z", or "0 2 * * SUN
    /// for 2h (Europe/Berlin)".
    pub when: String,
    /// Now: "open until …", "opens …", "ended", or "cancelled by … at …".
    pub state: String,
    pub open: bool,
    /// Not cancelled (a one-off that ended is not in force either).
    pub in_force: bool,
    /// `config` or `api`.
    pub source: String,
    pub created_by: String,
    pub created_at: String,
}

/// One heal run as the UI lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct RunSummary {
    pub id: i64,
    pub alert_id: Option<i64>,
    pub rule: String,
    pub playbook: String,
    pub target: String,
    pub mode: RunMode,
    pub status: RunStatus,
    /// None until the run finished (or was cancelled).
    pub verification: Option<Verification>,
    pub requested_by: String,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub exit_code: Option<i64>,
    pub error: Option<String>,
    pub time_to_heal_ms: Option<i64>,
    pub output_lines: i64,
    pub output_truncated: bool,
    /// The run before it of the same rule on the same target (the run page links it; lists
    /// leave it out).
    #[cfg_attr(feature = "ssr", sqlx(default))]
    #[serde(default)]
    pub previous_run_id: Option<i64>,
}

/// One playbook of the catalog: a rule's playbook, runnable by hand on a named target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogEntry {
    pub rule: String,
    pub playbook: String,
    /// The rule's mode when an alert triggers it (`auto`, `approval`, `dry-run`).
    pub mode: String,
    /// The label a target names (one run at a time per value).
    pub target_label: String,
    /// The label `--limit` comes from, when the rule limits its runs.
    pub limit_label: Option<String>,
    /// The targets an operator may pick: the values of the target label in recent alerts this
    /// rule matches, and the inventory's hosts. Only an admin may name another.
    pub targets: Vec<String>,
    /// Whether the asking user may name any target (an admin).
    pub any_target: bool,
}

/// One host's line of a run's PLAY RECAP.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostRecap {
    pub host: String,
    pub ok: u64,
    pub changed: u64,
    pub unreachable: u64,
    pub failed: u64,
    pub skipped: u64,
    pub rescued: u64,
    pub ignored: u64,
}

/// One line of a run's output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct OutputLineView {
    pub seq: i64,
    /// `stdout`, `stderr` or `system`.
    pub stream: String,
    pub line: String,
}

/// What replaying an alert through today's rules concluded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayOutcome {
    /// `enqueued`, or the skip reason (`resolved`, `cooldown`, `breaker_open`, ...).
    pub reason: String,
    pub detail: String,
    /// Set when the replay was asked to enqueue and did.
    pub run_id: Option<i64>,
}
