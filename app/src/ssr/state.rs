//! `AppState`: what the router and the server functions share.
use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::ssr::heal::LiveRules;

/// Shared, cheaply cloned state of the running server.
#[derive(Clone, Debug)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub pool: crate::ssr::db::backend::Db,
    /// The validated rules (heal now and replay use today's rules).
    pub rules: LiveRules,
    /// The inventory's hosts, which a `--limit` must name.
    pub inventory: crate::ssr::inventory::InventoryHosts,
    /// Told of every change the open pages may show (`/api/events`).
    pub changes: crate::ssr::changes::Changes,
    /// A login session ends this long after the login, however active it is.
    pub session_absolute: std::time::Duration,
    /// A run awaiting approval expires this long after it was parked.
    pub approval_ttl: std::time::Duration,
    /// Proxies whose `X-Forwarded-For`/`Forwarded` name the client (config `trusted_proxies`).
    pub trusted_proxies: Arc<[ipnet::IpNet]>,
    /// The Alertmanager to create silences in, when one is configured.
    pub silences: Option<Arc<dyn crate::ssr::silence::SilenceAlerts>>,
    /// The known targets per blast scope, as the server counts them (replay decides with them).
    pub known_targets: crate::ssr::heal::blast::LiveKnownTargets,
    /// Asks the rules' guards (replay decides as the webhook does).
    pub guards: Option<Arc<dyn crate::ssr::guards::AsksGuards>>,
    /// The LDAP directory users may sign in through (`[auth.ldap]`).
    pub ldap: Option<Arc<crate::ssr::directory::ldap::Ldap>>,
    /// The OpenID Provider users may sign in with (`[auth.oidc]`).
    pub oidc: Option<Arc<crate::ssr::directory::oidc::Oidc>>,
    /// Reads the config file's rules again (the rules page's Reload, for admins).
    pub reload_rules: Option<Arc<dyn crate::ssr::reload_rules::ReloadsRules>>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl FromRef<AppState> for crate::ssr::db::backend::Db {
    fn from_ref(state: &AppState) -> Self {
        state.pool.clone()
    }
}
