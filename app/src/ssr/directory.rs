//! The organisation's identity: users who sign in through a directory (LDAP) rather than with a
//! local password, their groups mapped to a role (`roles`), and that role kept fresh.
pub mod ldap;
pub mod oidc;
pub mod roles;

use std::time::Duration;

use serde::Deserialize;

/// `[auth]`: where users besides the local ones come from.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// How often a directory user's role is read again while they may hold a session or API
    /// tokens: removed from a group, they lose its role within this long.
    #[serde(with = "humantime_serde")]
    pub role_refresh: Duration,
    /// Sign-in through LDAP.
    pub ldap: Option<ldap::LdapConfig>,
    /// Sign-in with an OpenID Provider.
    pub oidc: Option<oidc::OidcConfig>,
}

/// Shortest `role_refresh`: asking the directory more often only loads it.
pub const MIN_ROLE_REFRESH: Duration = Duration::from_secs(1);

impl AuthConfig {
    /// Checks the settings; the error names the key and what is wrong.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.role_refresh < MIN_ROLE_REFRESH {
            return Err(("auth.role_refresh", "must be at least 1s".into()));
        }
        self.ldap.as_ref().map_or(Ok(()), ldap::LdapConfig::validate)?;
        self.oidc.as_ref().map_or(Ok(()), oidc::OidcConfig::validate)
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig { role_refresh: Duration::from_secs(300), ldap: None, oidc: None }
    }
}
