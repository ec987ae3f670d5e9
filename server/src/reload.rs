//! SIGHUP reloads the rules without a restart: the config file is read and validated again
//! (file and environment, as at start) and, when its rules load, their set replaces the one in
//! force; runs in flight, and batches already being decided, finish under the old set. An
//! invalid config is refused with its error and the rules in force stay. Either way it is
//! audited with both sets' hashes. Other keys need a restart (said in the log when the new
//! config is valid).
use tokio_util::sync::CancellationToken;

use app::model::Topic;
use app::ssr::changes::Changes;
use app::ssr::db::audit::{record_audit, NewAuditEvent};
use app::ssr::db::backend::Db;
use app::ssr::heal::{LiveRules, RuleSet};
use app::ssr::reload_rules::{ReloadFuture, ReloadsRules};

use crate::config::Config;

/// Reloads `live` from the config file `source` (none: the default one) on every SIGHUP
/// until `stop`.
pub async fn reload_on_sighup(
    source: Option<std::path::PathBuf>,
    live: LiveRules,
    pool: Db,
    changes: Changes,
    stop: CancellationToken,
) {
    crate::shutdown::on_each_sighup("the rules", stop, || {
        let (live, pool, changes, source) = (live.clone(), pool.clone(), changes.clone(), source.clone());
        async move {
            let _ = reload(source.as_deref(), &live, &pool, &changes, "system", Some("sighup")).await;
        }
    })
    .await;
}

/// One reload by `actor` (from `source`): `Ok` put in force or unchanged, `Err` refused; the
/// text as audited.
pub async fn reload(
    path: Option<&std::path::Path>,
    live: &LiveRules,
    pool: &Db,
    changes: &Changes,
    actor: &str,
    source: Option<&str>,
) -> Result<String, String> {
    let old = live.current();
    let loaded = Config::load(path).and_then(|c| Ok((c.build_rules()?, c.windows()?)));
    let outcome = match loaded {
        Ok((rules, windows)) => {
            match crate::windows::sync_config(pool, &windows).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(changed = n, "maintenance windows of the config file put in force"),
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "cannot put the config's maintenance windows in force")
                }
            }
            let new = RuleSet::new(rules);
            if new.hash() == old.hash() {
                Ok(format!("rules {} unchanged ({} rules)", old.hash(), old.len()))
            } else {
                let detail = format!("rules {} -> {} ({} rules)", old.hash(), new.hash(), new.len());
                live.replace(new);
                changes.touch(&[Topic::Breakers]);
                Ok(detail)
            }
        }
        Err(e) => Err(format!("rules {} kept: {e}", old.hash())),
    };
    let (action, detail) = match &outcome {
        Ok(detail) => {
            tracing::info!(detail, actor, "rules reloaded (other settings need a restart)");
            ("rules.reload", detail)
        }
        Err(detail) => {
            tracing::error!(detail, actor, "config reload refused");
            ("rules.reload_refused", detail)
        }
    };
    let event = NewAuditEvent { actor, action, detail: Some(detail), source, ..Default::default() };
    if let Err(e) = record_audit(pool, &event).await {
        tracing::error!(error = %e, "cannot audit the reload");
    }
    outcome
}

/// The dashboard's reload ([`ReloadsRules`]): the same as SIGHUP, in a person's name.
#[derive(Clone, Debug)]
pub struct RulesReloader {
    pub source: Option<std::path::PathBuf>,
    pub live: LiveRules,
    pub pool: Db,
    pub changes: Changes,
}

impl ReloadsRules for RulesReloader {
    fn reload<'a>(&'a self, actor: &'a str, source: Option<&'a str>) -> ReloadFuture<'a> {
        Box::pin(reload(self.source.as_deref(), &self.live, &self.pool, &self.changes, actor, source))
    }
}
