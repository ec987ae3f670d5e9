//! Sign-in against the organisation's LDAP directory (`[auth.ldap]`): find the user by a filter
//! (as a service account, or anonymously), bind as them to check the password, read the groups
//! they are a member of, and map those to a role (`roles`). Over LDAPS or StartTLS; plain
//! `ldap://` only to a loopback address (a directory on the same machine, and the tests).
use std::time::Duration;

use ldap3::{ldap_escape, Ldap as Connection, LdapConnAsync, LdapConnSettings, Scope, SearchEntry};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::roles::RoleMap;

/// `[auth.ldap]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdapConfig {
    /// `ldaps://host:636`, or `ldap://host:389` with `starttls = true`; plain `ldap://` only to
    /// a loopback address.
    pub url: String,
    /// Upgrade an `ldap://` connection with StartTLS before anything is sent.
    #[serde(default)]
    pub starttls: bool,
    /// The service account users are searched as (and whose search keeps roles fresh); both or
    /// neither with `bind_password`. Unset: anonymous search.
    #[serde(default)]
    pub bind_dn: Option<String>,
    #[serde(default)]
    pub bind_password: Option<SecretString>,
    /// Where users are searched (subtree).
    pub user_base: String,
    /// Finds one user; `{username}` is replaced by the typed name, escaped (RFC 4515). A filter
    /// may also exclude disabled accounts (Active Directory:
    /// `(&(sAMAccountName={username})(!(userAccountControl:1.2.840.113556.1.4.803:=2)))`).
    #[serde(default = "default_user_filter")]
    pub user_filter: String,
    /// The attribute holding the name a user signs in with (`uid`; `sAMAccountName` in AD).
    #[serde(default = "default_username_attribute")]
    pub username_attribute: String,
    /// Where groups are searched (subtree).
    pub group_base: String,
    /// Finds the user's groups; `{dn}` is the user's DN and `{username}` their name, escaped.
    /// Nested groups in AD: `(member:1.2.840.113556.1.4.1941:={dn})`.
    #[serde(default = "default_group_filter")]
    pub group_filter: String,
    /// The attribute holding a group's name, as `roles` lists it.
    #[serde(default = "default_group_name_attribute")]
    pub group_name_attribute: String,
    /// The longest one sign-in's exchange with the directory may take.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Groups per role.
    pub roles: RoleMap,
}

fn default_user_filter() -> String {
    "(uid={username})".into()
}
fn default_username_attribute() -> String {
    "uid".into()
}
fn default_group_filter() -> String {
    "(member={dn})".into()
}
fn default_group_name_attribute() -> String {
    "cn".into()
}
fn default_timeout() -> Duration {
    Duration::from_secs(5)
}

/// The host of an `ldap://` or `ldaps://` URL, and whether it is `ldaps`.
fn host_of(url: &str) -> Option<(&str, bool)> {
    let (rest, tls) = match url.strip_prefix("ldaps://") {
        Some(rest) => (rest, true),
        None => (url.strip_prefix("ldap://")?, false),
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(host, _)| host),
    };
    (!host.is_empty()).then_some((host, tls))
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl LdapConfig {
    /// Checks the settings; the error names the key (under `auth.ldap.`) and what is wrong.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let Some((host, tls)) = host_of(&self.url) else {
            return Err(("auth.ldap.url", "must be ldaps://HOST[:PORT] or ldap://HOST[:PORT]".into()));
        };
        if tls && self.starttls {
            return Err(("auth.ldap.starttls", "is for ldap:// URLs; ldaps:// is TLS from the start".into()));
        }
        if !tls && !self.starttls && !is_loopback(host) {
            return Err((
                "auth.ldap.url",
                format!(
                    "ldap://{host} would send passwords in clear: use ldaps://, or starttls = true \
                     (plain ldap:// is accepted only to a loopback address)"
                ),
            ));
        }
        match (&self.bind_dn, &self.bind_password) {
            (Some(_), None) => return Err(("auth.ldap.bind_password", "bind_dn needs bind_password".into())),
            (None, Some(_)) => return Err(("auth.ldap.bind_dn", "bind_password needs bind_dn".into())),
            _ => {}
        }
        if !self.user_filter.contains("{username}") {
            return Err(("auth.ldap.user_filter", "must contain {username}".into()));
        }
        if !(self.group_filter.contains("{dn}") || self.group_filter.contains("{username}")) {
            return Err(("auth.ldap.group_filter", "must contain {dn} or {username}".into()));
        }
        for (key, value) in [
            ("auth.ldap.user_base", &self.user_base),
            ("auth.ldap.group_base", &self.group_base),
            ("auth.ldap.username_attribute", &self.username_attribute),
            ("auth.ldap.group_name_attribute", &self.group_name_attribute),
        ] {
            if value.trim().is_empty() {
                return Err((key, "must not be empty".into()));
            }
        }
        if self.timeout.is_zero() {
            return Err(("auth.ldap.timeout", "must be more than 0s".into()));
        }
        if self.roles.is_empty() {
            return Err((
                "auth.ldap.roles",
                "must list at least one group (admin, operator or viewer)".into(),
            ));
        }
        Ok(())
    }
}

/// A user as the directory has them: where, their name, and every group they are in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectoryUser {
    pub dn: String,
    pub username: String,
    pub groups: Vec<String>,
}

/// What the directory said of a name and password.
#[derive(Debug, PartialEq, Eq)]
pub enum LdapLogin {
    Authenticated(DirectoryUser),
    /// No such user (or more than one: an ambiguous filter signs nobody in).
    UnknownUser,
    WrongPassword,
}

/// The directory could not be asked: down, too slow, or refusing the service account.
#[derive(Debug, thiserror::Error)]
#[error("the LDAP directory did not answer: {0}")]
pub struct Unavailable(pub String);

impl From<ldap3::LdapError> for Unavailable {
    fn from(e: ldap3::LdapError) -> Self {
        Unavailable(e.to_string())
    }
}

/// The configured directory.
pub struct Ldap {
    config: LdapConfig,
    /// How connections are made (TLS trust: `[outgoing_tls]`); the timeout and StartTLS are
    /// set from `config`.
    settings: LdapConnSettings,
}

impl std::fmt::Debug for Ldap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ldap").field("config", &self.config).finish_non_exhaustive()
    }
}

/// `invalidCredentials` (RFC 4511): a wrong password, or a name the server does not know.
const INVALID_CREDENTIALS: u32 = 49;

impl Ldap {
    /// A directory whose TLS connections trust the system's roots.
    pub fn new(config: LdapConfig) -> Ldap {
        Ldap::with_settings(config, LdapConnSettings::new())
    }

    /// A directory whose connections start from `settings` (a TLS configuration trusting the
    /// organisation's CA, say).
    pub fn with_settings(config: LdapConfig, settings: LdapConnSettings) -> Ldap {
        Ldap { config, settings }
    }

    pub fn config(&self) -> &LdapConfig {
        &self.config
    }

    /// Checks `password` for `username`: whether they exist, whether it is theirs, and if so
    /// their groups. Everything within `timeout`.
    pub async fn authenticate(&self, username: &str, password: &str) -> Result<LdapLogin, Unavailable> {
        // An empty password makes a simple bind "unauthenticated", which servers accept: it must
        // never reach the directory as a password check.
        if password.is_empty() {
            return Ok(LdapLogin::WrongPassword);
        }
        self.within(async {
            let mut ldap = self.connect().await?;
            let Some((dn, name)) = self.find(&mut ldap, username).await? else {
                return Ok(LdapLogin::UnknownUser);
            };
            let bound = ldap.simple_bind(&dn, password).await?;
            if bound.rc != 0 {
                if bound.rc != INVALID_CREDENTIALS {
                    tracing::warn!(dn, rc = bound.rc, text = %bound.text, "LDAP refused a user's bind");
                }
                return Ok(LdapLogin::WrongPassword);
            }
            // Groups are read as the service account when there is one (users may not see them).
            self.bind_service(&mut ldap).await?;
            let groups = self.groups(&mut ldap, &dn, &name).await?;
            let _ = ldap.unbind().await;
            Ok(LdapLogin::Authenticated(DirectoryUser { dn, username: name, groups }))
        })
        .await
    }

    /// The user as the directory has them now (for refreshing a role without their password),
    /// or `None` when the filter no longer finds them (deleted, or disabled where the filter
    /// excludes disabled accounts).
    pub async fn lookup(&self, username: &str) -> Result<Option<DirectoryUser>, Unavailable> {
        self.within(async {
            let mut ldap = self.connect().await?;
            let Some((dn, name)) = self.find(&mut ldap, username).await? else { return Ok(None) };
            let groups = self.groups(&mut ldap, &dn, &name).await?;
            let _ = ldap.unbind().await;
            Ok(Some(DirectoryUser { dn, username: name, groups }))
        })
        .await
    }

    async fn within<T>(
        &self,
        exchange: impl std::future::Future<Output = Result<T, Unavailable>>,
    ) -> Result<T, Unavailable> {
        tokio::time::timeout(self.config.timeout, exchange).await.unwrap_or_else(|_| {
            Err(Unavailable(format!(
                "no answer within {}",
                humantime_serde::re::humantime::format_duration(self.config.timeout)
            )))
        })
    }

    /// A connection, bound as the service account when there is one.
    async fn connect(&self) -> Result<Connection, Unavailable> {
        let settings =
            self.settings.clone().set_conn_timeout(self.config.timeout).set_starttls(self.config.starttls);
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &self.config.url).await?;
        ldap3::drive!(conn);
        self.bind_service(&mut ldap).await?;
        Ok(ldap)
    }

    async fn bind_service(&self, ldap: &mut Connection) -> Result<(), Unavailable> {
        let (Some(dn), Some(password)) = (&self.config.bind_dn, &self.config.bind_password) else {
            return Ok(());
        };
        let bound = ldap.simple_bind(dn, password.expose_secret()).await?;
        if bound.rc != 0 {
            return Err(Unavailable(format!("the service account {dn} was refused: {}", bound.text)));
        }
        Ok(())
    }

    /// The DN and directory name of the one user `username` finds.
    async fn find(
        &self,
        ldap: &mut Connection,
        username: &str,
    ) -> Result<Option<(String, String)>, Unavailable> {
        let filter = self.config.user_filter.replace("{username}", &ldap_escape(username));
        let attr = self.config.username_attribute.as_str();
        let (entries, _) =
            ldap.search(&self.config.user_base, Scope::Subtree, &filter, vec![attr]).await?.success()?;
        if entries.len() > 1 {
            tracing::warn!(filter, found = entries.len(), "LDAP user filter is ambiguous: nobody signed in");
            return Ok(None);
        }
        Ok(entries.into_iter().next().map(|entry| {
            let entry = SearchEntry::construct(entry);
            let name = first_value(&entry, attr).unwrap_or_else(|| username.to_owned());
            (entry.dn, name)
        }))
    }

    /// The names of every group `group_filter` finds for the user, sorted.
    async fn groups(
        &self,
        ldap: &mut Connection,
        dn: &str,
        username: &str,
    ) -> Result<Vec<String>, Unavailable> {
        let filter = self
            .config
            .group_filter
            .replace("{dn}", &ldap_escape(dn))
            .replace("{username}", &ldap_escape(username));
        let attr = self.config.group_name_attribute.as_str();
        let (entries, _) =
            ldap.search(&self.config.group_base, Scope::Subtree, &filter, vec![attr]).await?.success()?;
        let mut groups: Vec<String> =
            entries.into_iter().filter_map(|e| first_value(&SearchEntry::construct(e), attr)).collect();
        groups.sort();
        groups.dedup();
        Ok(groups)
    }
}

/// The first value of `attr` (attribute names compare without case).
fn first_value(entry: &SearchEntry, attr: &str) -> Option<String> {
    entry.attrs.iter().find(|(k, _)| k.eq_ignore_ascii_case(attr)).and_then(|(_, v)| v.first().cloned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str, starttls: bool) -> LdapConfig {
        LdapConfig {
            url: url.into(),
            starttls,
            bind_dn: None,
            bind_password: None,
            user_base: "ou=people,dc=example,dc=org".into(),
            user_filter: default_user_filter(),
            username_attribute: default_username_attribute(),
            group_base: "ou=groups,dc=example,dc=org".into(),
            group_filter: default_group_filter(),
            group_name_attribute: default_group_name_attribute(),
            timeout: default_timeout(),
            roles: RoleMap { viewer: vec!["eng".into()], ..Default::default() },
        }
    }

    #[test]
    fn passwords_never_cross_a_network_in_clear() {
        let cases = [
            ("ldaps", "ldaps://ldap.example.org", false, Ok(())),
            ("ldaps with port", "ldaps://ldap.example.org:636", false, Ok(())),
            ("starttls", "ldap://ldap.example.org:389", true, Ok(())),
            ("plain, loopback v4", "ldap://127.0.0.1:3389", false, Ok(())),
            ("plain, loopback name", "ldap://localhost", false, Ok(())),
            ("plain, loopback v6", "ldap://[::1]:389", false, Ok(())),
            ("plain, remote", "ldap://ldap.example.org", false, Err("auth.ldap.url")),
            ("plain, remote v6", "ldap://[2001:db8::1]:389", false, Err("auth.ldap.url")),
            ("starttls on ldaps", "ldaps://ldap.example.org", true, Err("auth.ldap.starttls")),
            ("not ldap", "https://ldap.example.org", false, Err("auth.ldap.url")),
            ("no host", "ldaps://", false, Err("auth.ldap.url")),
        ];
        for (case, url, starttls, want) in cases {
            assert_eq!(config(url, starttls).validate().map_err(|(key, _)| key), want, "{case}");
        }
    }

    #[test]
    fn filters_bindings_and_roles_are_checked() {
        let base = || config("ldaps://ldap.example.org", false);
        let mut c = base();
        c.user_filter = "(uid=alice)".into();
        assert_eq!(c.validate().unwrap_err().0, "auth.ldap.user_filter");
        let mut c = base();
        c.group_filter = "(objectClass=groupOfNames)".into();
        assert_eq!(c.validate().unwrap_err().0, "auth.ldap.group_filter");
        let mut c = base();
        c.group_filter = "(memberUid={username})".into();
        assert!(c.validate().is_ok(), "posixGroup style");
        let mut c = base();
        c.bind_dn = Some("cn=selfheal,dc=example,dc=org".into());
        assert_eq!(c.validate().unwrap_err().0, "auth.ldap.bind_password");
        let mut c = base();
        c.bind_password = Some("x".into());
        assert_eq!(c.validate().unwrap_err().0, "auth.ldap.bind_dn");
        let mut c = base();
        c.roles = RoleMap::default();
        assert_eq!(c.validate().unwrap_err().0, "auth.ldap.roles");
        let mut c = base();
        c.timeout = Duration::ZERO;
        assert_eq!(c.validate().unwrap_err().0, "auth.ldap.timeout");
        let mut c = base();
        c.group_base = " ".into();
        assert_eq!(c.validate().unwrap_err().0, "auth.ldap.group_base");
    }

    #[tokio::test]
    async fn an_empty_password_is_wrong_without_asking_the_directory() {
        // Nothing listens on this port: asking would be Unavailable.
        let ldap = Ldap::new(config("ldap://127.0.0.1:1", false));
        assert_eq!(ldap.authenticate("alice", "").await.unwrap(), LdapLogin::WrongPassword);
        assert!(ldap.authenticate("alice", "x").await.is_err(), "asked, and nobody answered");
    }
}
