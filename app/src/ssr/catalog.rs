//! The playbook catalog: every rule's playbook, runnable by hand on a target a person names,
//! with the same checks as a run from an alert (the target becomes the rule's target label, and
//! `--limit` only ever a plain host name).
use std::collections::BTreeMap;

use crate::ssr::db::backend::{on_pool, PoolRef, WritePool};

use crate::error::AppError;
use crate::model::{CatalogEntry, CurrentUser, Role};
use crate::ssr::actions::{audit, db};
use crate::ssr::alert::now_utc;
use crate::ssr::db::runs::{self, NewRun};
use crate::ssr::heal::{plan, KnownHosts, Rule, RuleMode};
use crate::ssr::respond_with;

/// The catalog: one entry per rule, in config order.
pub fn catalog(rules: &[Rule], recent: &[BTreeMap<String, String>], hosts: &KnownHosts) -> Vec<CatalogEntry> {
    rules
        .iter()
        .map(|r| CatalogEntry {
            targets: known_targets(r, recent, hosts),
            any_target: false,
            rule: r.config.name.clone(),
            playbook: r.config.playbook.clone(),
            mode: r.config.mode.as_str().to_owned(),
            target_label: r.config.target_label.clone(),
            // A rule that limits to its target's own host needs no second field.
            limit_label: r.config.limit_from.clone().filter(|l| *l != r.config.target_label),
        })
        .collect()
}

/// Most recent alerts whose labels offer targets to pick.
pub const RECENT_ALERTS: i64 = 2_000;

/// Most targets offered per rule.
const MAX_TARGETS: usize = 100;

/// The targets to pick for `rule`: the target label's values in `recent` alerts the rule
/// matches, then the inventory's hosts; sorted, each once, at most [`MAX_TARGETS`].
pub fn known_targets(rule: &Rule, recent: &[BTreeMap<String, String>], hosts: &KnownHosts) -> Vec<String> {
    let seen = recent.iter().filter(|l| rule.matches(l)).filter_map(|l| l.get(&rule.config.target_label));
    let all: std::collections::BTreeSet<String> =
        seen.cloned().chain(hosts.hosts().map(str::to_owned)).collect();
    all.into_iter().take(MAX_TARGETS).collect()
}

/// The labels a catalog run stands for: the target under the rule's target label, and the
/// `--limit` host (or, when none is given, the target) under its `limit_from` label. A limit
/// for a rule that takes it from the target itself is refused, not ignored.
pub fn labels_for(
    rule: &Rule,
    target: &str,
    limit: Option<&str>,
) -> Result<BTreeMap<String, String>, String> {
    let cfg = &rule.config;
    let limit = limit.map(str::trim).filter(|l| !l.is_empty());
    let mut labels = BTreeMap::from([(cfg.target_label.clone(), target.trim().to_owned())]);
    match &cfg.limit_from {
        Some(label) if *label == cfg.target_label && limit.is_some() => {
            return Err(format!(
                "rule `{}` limits to the target's own host: leave the limit empty",
                cfg.name
            ));
        }
        Some(label) if *label != cfg.target_label => {
            labels.insert(label.clone(), limit.unwrap_or(target.trim()).to_owned());
        }
        None if limit.is_some() => {
            return Err(format!("rule `{}` runs on its whole inventory: it takes no limit", cfg.name));
        }
        _ => {}
    }
    Ok(labels)
}

/// What a person asked the catalog to run.
#[derive(Clone, Copy, Debug)]
pub struct CatalogRun<'a> {
    pub rule: &'a str,
    pub target: &'a str,
    pub limit: Option<&'a str>,
    pub dry_run: bool,
}

/// Queues the asked rule's playbook on its target now for `user` (dry run or not), bypassing
/// cooldown and breaker but never the one-run-per-target lock; audited. Returns the run id.
pub async fn run_from_catalog(
    pool: impl Into<PoolRef<'_>>,
    rules: &[Rule],
    hosts: &KnownHosts,
    user: &CurrentUser,
    ask: CatalogRun<'_>,
    source: Option<&str>,
) -> Result<i64, AppError> {
    let pool: PoolRef<'_> = pool.into();
    let CatalogRun { rule: rule_name, target, limit, dry_run } = ask;
    let rule =
        rules.iter().find(|r| r.name() == rule_name).ok_or_else(|| respond_with(AppError::NotFound))?;
    // A mistyped target became a failed run counted as a failed heal: operators pick one
    // selfheal has seen; only an admin may name another (still validated as a label below).
    if !user.role.allows(Role::Admin) {
        let recent = crate::ssr::db::alerts::recent_labels(pool, RECENT_ALERTS).await.map_err(db)?;
        if !known_targets(rule, &recent, hosts).iter().any(|t| t == target) {
            return Err(respond_with(AppError::Invalid(format!(
                "pick a target from the list ({} values seen in recent alerts or the inventory); only an admin may name another",
                rule.config.target_label
            ))));
        }
    }
    let labels = labels_for(rule, target, limit).map_err(|e| respond_with(AppError::Invalid(e)))?;
    let mut p = plan(rule, &labels, hosts).map_err(|s| respond_with(AppError::Invalid(s.detail)))?;
    p.mode = if dry_run { RuleMode::DryRun } else { RuleMode::Auto };
    let now = now_utc();
    let millis = |d: std::time::Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    let new = NewRun {
        alert_id: None,
        plan: &p,
        requested_by: &user.username,
        timeout_ms: millis(rule.config.timeout),
        verify_expr: rule.config.verify.as_deref(),
        verify_within_ms: millis(rule.config.verify_within),
        alert_starts_at: None,
        now: &now,
    };
    on_pool!(pool, |pool| {
        let mut tx = pool.begin_write().await.map_err(db)?;
        let run_id = runs::enqueue_run(&mut tx, &new).await.map_err(db)?.ok_or_else(|| {
            respond_with(AppError::Conflict(format!("a run for {} is already in flight", p.target)))
        })?;
        let detail = format!(
            "{} on {}{} (from the playbook catalog)",
            p.playbook,
            p.target,
            if dry_run { ", dry run" } else { "" }
        );
        audit(&mut tx, &user.username, "run.heal_now", &format!("run #{run_id}"), &detail, source).await?;
        tx.commit().await.map_err(db)?;
        Ok(run_id)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(extra: serde_json::Value) -> Rule {
        let mut cfg = serde_json::json!({ "name": "r", "match": { "alertname": "A" }, "playbook": "p.yml", "target_label": "instance" });
        cfg.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        Rule::from_config(serde_json::from_value(cfg).unwrap(), |_| true).unwrap()
    }

    #[test]
    fn a_catalog_run_stands_for_the_labels_the_rule_reads() {
        let by_host = rule(serde_json::json!({ "limit_from": "host" }));
        let labels =
            |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert_eq!(
            labels_for(&by_host, " web1:9113 ", None),
            Ok(labels(&[("instance", "web1:9113"), ("host", "web1:9113")]))
        );
        assert_eq!(
            labels_for(&by_host, "web1:9113", Some("db2")),
            Ok(labels(&[("instance", "web1:9113"), ("host", "db2")]))
        );

        let own_host = rule(serde_json::json!({ "limit_from": "instance" }));
        assert_eq!(labels_for(&own_host, "web1:9113", Some(" ")), Ok(labels(&[("instance", "web1:9113")])));
        assert!(labels_for(&own_host, "web1:9113", Some("db2"))
            .unwrap_err()
            .contains("leave the limit empty"));

        let whole_inventory = rule(serde_json::json!({}));
        assert_eq!(labels_for(&whole_inventory, "web1", None), Ok(labels(&[("instance", "web1")])));
        assert!(labels_for(&whole_inventory, "web1", Some("db2")).unwrap_err().contains("takes no limit"));
    }

    #[test]
    fn the_catalog_offers_a_limit_field_only_when_it_means_something() {
        let rules = [
            rule(serde_json::json!({ "limit_from": "host" })),
            rule(serde_json::json!({ "name": "s", "limit_from": "instance" })),
        ];
        let entries = catalog(&rules, &[], &KnownHosts::default());
        assert_eq!(entries[0].limit_label.as_deref(), Some("host"));
        assert_eq!(entries[1].limit_label, None);
    }

    #[test]
    fn the_targets_to_pick_are_those_the_rule_saw_and_the_inventorys_hosts() {
        let r = rule(serde_json::json!({}));
        let labels = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        let seen = [
            labels(&[("alertname", "A"), ("instance", "web2:9113")]),
            labels(&[("alertname", "A"), ("instance", "web1:9113")]),
            labels(&[("alertname", "A"), ("instance", "web1:9113")]),
            labels(&[("alertname", "B"), ("instance", "db1:9100")]),
            labels(&[("alertname", "A")]),
        ];
        let hosts = KnownHosts::of(["web1", "db1"]);
        assert_eq!(known_targets(&r, &seen, &hosts), ["db1", "web1", "web1:9113", "web2:9113"]);
    }
}
