//! Reloading the rules from the dashboard (admins), as SIGHUP does: the config file is read in
//! the server crate; server functions see only this interface.
use std::future::Future;
use std::pin::Pin;

/// What a reload says: `Ok` the rules were put in force (or were unchanged), `Err` the file
/// was refused and the rules in force stay; the text as audited.
pub type ReloadFuture<'a> = Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>>;

/// Puts the config file's rules in force, audited in the name of `actor` from `source`.
pub trait ReloadsRules: Send + Sync + std::fmt::Debug {
    fn reload<'a>(&'a self, actor: &'a str, source: Option<&'a str>) -> ReloadFuture<'a>;
}
