//! `selfheal rules diff NEW`: what a new config's rules would change against the ones in force
//! (the config selfheal runs with): rules added, removed, and each changed key with its old and
//! new value; then the most recent stored alerts decided again by both sets before history
//! (which rule, which playbook and target, or why none), listing those whose outcome differs.
use std::collections::BTreeMap;
use std::fmt::Write as _;

use app::ssr::alert::{AlertStatus, Labels};
use app::ssr::heal::{prejudge, KnownHosts, Prejudged, Rule, RuleSet};

/// One stored alert, as the replay needs it.
pub struct PastAlert {
    pub id: i64,
    pub status: AlertStatus,
    pub labels: BTreeMap<String, String>,
}

/// The rules' differences, key by key (values as JSON; secrets in notify URLs are not shown,
/// only that the list changed).
pub fn rule_changes(old: &RuleSet, new: &RuleSet) -> Vec<String> {
    let by_name = |set: &RuleSet| -> BTreeMap<String, serde_json::Value> {
        set.iter()
            .map(|r| (r.name().to_owned(), serde_json::to_value(&r.config).unwrap_or_default()))
            .collect()
    };
    let (before, after) = (by_name(old), by_name(new));
    let mut out = Vec::new();
    for (name, was) in &before {
        let Some(now) = after.get(name) else {
            out.push(format!("- {name}"));
            continue;
        };
        let (Some(was), Some(now)) = (was.as_object(), now.as_object()) else { continue };
        for (key, value) in now {
            let old_value = was.get(key).unwrap_or(&serde_json::Value::Null);
            if old_value != value {
                if key == "notify" {
                    out.push(format!(
                        "~ {name}: notify changed ({} -> {} targets)",
                        count(old_value),
                        count(value)
                    ));
                } else {
                    out.push(format!("~ {name}: {key} {old_value} -> {value}"));
                }
            }
        }
    }
    for name in after.keys().filter(|n| !before.contains_key(*n)) {
        out.push(format!("+ {name}"));
    }
    if kept_order(old, &before, &after) != kept_order(new, &before, &after) {
        out.push("~ order changed: the first matching rule wins".to_owned());
    }
    out
}

/// The names of the rules both sets have, in `set`'s order.
fn kept_order<'s>(
    set: &'s RuleSet,
    before: &BTreeMap<String, serde_json::Value>,
    after: &BTreeMap<String, serde_json::Value>,
) -> Vec<&'s str> {
    set.iter().map(Rule::name).filter(|n| before.contains_key(*n) && after.contains_key(*n)).collect()
}

fn count(v: &serde_json::Value) -> usize {
    v.as_array().map_or(0, Vec::len)
}

/// What a set makes of an alert before history, in words.
fn outcome(rules: &RuleSet, hosts: &KnownHosts, alert: &PastAlert) -> String {
    match prejudge(rules, hosts, alert.status, &alert.labels) {
        Prejudged::Check { rule, plan, guards, .. } => {
            let guarded = if guards.is_empty() {
                String::new()
            } else {
                let names: Vec<&str> = guards.iter().map(|g| g.name.as_str()).collect();
                format!(" if its guards hold ({})", names.join(", "))
            };
            format!(
                "rule {} runs {} on {}{guarded}",
                rules[rule].name(),
                plan.playbook,
                plan.limit.as_deref().unwrap_or(&plan.target)
            )
        }
        Prejudged::Skip { rule, skip } => match rule.and_then(|i| rules.get(i)) {
            Some(r) => format!("rule {}: {} ({})", r.name(), skip.reason.as_str(), skip.detail),
            None => skip.reason.as_str().to_owned(),
        },
    }
}

/// The report: the rule changes, then the alerts (of `past`) decided differently.
pub fn report(old: &RuleSet, new: &RuleSet, hosts: &KnownHosts, past: &[PastAlert]) -> String {
    let mut out = format!("rules {} (in force) -> {} (new)\n", old.hash(), new.hash());
    let changes = rule_changes(old, new);
    if changes.is_empty() {
        out.push_str("  no rule changed\n");
    }
    for c in &changes {
        let _ = writeln!(out, "  {c}");
    }
    let differ: Vec<String> = past
        .iter()
        .filter_map(|a| {
            let (was, now) = (outcome(old, hosts, a), outcome(new, hosts, a));
            let name = a.labels.get("alertname").map_or("?", String::as_str);
            (was != now).then(|| format!("  alert #{} {name}: {was}\n      -> {now}", a.id))
        })
        .collect();
    let _ = writeln!(out, "of the last {} alerts, {} would be decided differently", past.len(), differ.len());
    for d in differ {
        let _ = writeln!(out, "{d}");
    }
    out
}

/// The most recent `limit` stored alerts (unreadable labels skipped).
pub async fn recent_alerts(
    pool: &app::ssr::db::backend::Db,
    limit: i64,
) -> Result<Vec<PastAlert>, sqlx::Error> {
    use app::ssr::db::backend::on_backend;
    let rows: Vec<(i64, String, String)> = on_backend!(pool, |e| sqlx::query_as(
        "SELECT id, status, labels FROM alerts ORDER BY id DESC LIMIT $1"
    )
    .bind(limit)
    .fetch_all(e)
    .await)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, status, labels)| {
            let status = if status == AlertStatus::Resolved.as_str() {
                AlertStatus::Resolved
            } else {
                AlertStatus::Firing
            };
            Some(PastAlert { id, status, labels: Labels::parse(&labels).ok()?.into_map() })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::ssr::heal::RuleConfig;

    fn set(rules: &[&str]) -> RuleSet {
        RuleSet::new(
            rules
                .iter()
                .map(|json| {
                    Rule::from_config(serde_json::from_str::<RuleConfig>(json).unwrap(), |_| true).unwrap()
                })
                .collect(),
        )
    }

    #[test]
    fn changes_are_named_key_by_key_and_replayed_alerts_show_what_moves() {
        let down = r#"{"name":"down","match":{"alertname":"Down"},"playbook":"heal.yml","notify":["https://hooks/T/secret"]}"#;
        let down_slow = r#"{"name":"down","match":{"alertname":"Down"},"playbook":"heal.yml","cooldown":"1h","notify":[]}"#;
        let disk = r#"{"name":"disk","match":{"alertname":"Disk"},"playbook":"disk.yml"}"#;
        let mem = r#"{"name":"mem","match":{"alertname":"Mem"},"playbook":"mem.yml"}"#;
        let (old, new) = (set(&[down, mem]), set(&[down_slow, disk]));
        let changes = rule_changes(&old, &new);
        assert_eq!(
            changes,
            [
                "~ down: cooldown \"2m\" -> \"1h\"",
                "~ down: notify changed (1 -> 0 targets)",
                "- mem",
                "+ disk",
            ]
        );
        assert!(!changes.join("").contains("secret"), "notify URLs are secrets");

        let alert = |id, name: &str| PastAlert {
            id,
            status: AlertStatus::Firing,
            labels: [("alertname", name), ("instance", "web1")]
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        };
        let report = report(
            &old,
            &new,
            &KnownHosts::default(),
            &[alert(3, "Mem"), alert(2, "Down"), alert(1, "Disk")],
        );
        assert!(
            report.starts_with(&format!("rules {} (in force) -> {} (new)\n", old.hash(), new.hash())),
            "{report}"
        );
        assert!(report.contains("of the last 3 alerts, 2 would be decided differently"), "{report}");
        assert!(
            report.contains("  alert #3 Mem: rule mem runs mem.yml on web1\n      -> no_rule"),
            "{report}"
        );
        assert!(
            report.contains("  alert #1 Disk: no_rule\n      -> rule disk runs disk.yml on web1"),
            "{report}"
        );
        assert!(!report.contains("alert #2"), "Down is decided alike (history aside): {report}");
    }
}
