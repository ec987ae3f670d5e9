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
use app::ssr::heal::{LiveRules, RuleSet};
use sqlx::SqlitePool;

use crate::config::Config;

/// Reloads `live` from the config file `source` (none: the default one) on every SIGHUP
/// until `stop`.
pub async fn reload_on_sighup(
    source: Option<std::path::PathBuf>,
    live: LiveRules,
    pool: SqlitePool,
    changes: Changes,
    stop: CancellationToken,
) {
    crate::shutdown::on_each_sighup("the rules", stop, || {
        let (live, pool, changes, source) = (live.clone(), pool.clone(), changes.clone(), source.clone());
        async move {
            reload(source.as_deref(), &live, &pool, &changes).await;
        }
    })
    .await;
}

/// One reload: what it did, as audited.
pub async fn reload(
    path: Option<&std::path::Path>,
    live: &LiveRules,
    pool: &SqlitePool,
    changes: &Changes,
) -> String {
    let old = live.current();
    let (action, detail) = match Config::load(path).and_then(|c| c.build_rules()) {
        Ok(rules) => {
            let new = RuleSet::new(rules);
            if new.hash() == old.hash() {
                ("rules.reload", format!("rules {} unchanged ({} rules)", old.hash(), old.len()))
            } else {
                let detail = format!("rules {} -> {} ({} rules)", old.hash(), new.hash(), new.len());
                live.replace(new);
                changes.touch(&[Topic::Breakers]);
                ("rules.reload", detail)
            }
        }
        Err(e) => ("rules.reload_refused", format!("rules {} kept: {e}", old.hash())),
    };
    if action == "rules.reload" {
        tracing::info!(detail, "rules reloaded (other settings need a restart)");
    } else {
        tracing::error!(detail, "config reload refused");
    }
    let event = NewAuditEvent {
        actor: "system",
        action,
        detail: Some(&detail),
        source: Some("sighup"),
        ..Default::default()
    };
    if let Err(e) = record_audit(pool, &event).await {
        tracing::error!(error = %e, "cannot audit the reload");
    }
    detail
}
