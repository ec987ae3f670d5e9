//! The loaded rules as the rules page shows them, with each target's breaker from the
//! database; and the open breakers of every rule (overview, metrics).
use crate::ssr::db::backend::PoolRef;

use crate::model::{BreakerState, RuleView};
use crate::ssr::db::decisions;
use crate::ssr::heal::{breaker, Rule};

/// Breaker state per target of `rule` at `now`.
pub async fn rule_breakers(
    pool: impl Into<PoolRef<'_>>,
    rule: &Rule,
    now: time::OffsetDateTime,
) -> Result<Vec<BreakerState>, sqlx::Error> {
    let window_start = breaker::window_start(rule, now);
    let max_attempts = i64::from(rule.config.max_attempts);
    let rows = decisions::breaker_states(pool.into(), rule.name(), &window_start).await?;
    Ok(rows
        .into_iter()
        .map(|b| BreakerState {
            target: b.target,
            open: breaker::is_open(rule, u32::try_from(b.attempts).unwrap_or(u32::MAX)),
            attempts: b.attempts,
            max_attempts,
            last_attempt: b.last_attempt,
            last_reset: b.last_reset,
        })
        .collect())
}

/// Every loaded rule in file order, with its breakers.
pub async fn rule_views(pool: impl Into<PoolRef<'_>>, rules: &[Rule]) -> Result<Vec<RuleView>, sqlx::Error> {
    let pool: PoolRef<'_> = pool.into();
    let now = time::OffsetDateTime::now_utc();
    let mut views = Vec::with_capacity(rules.len());
    for rule in rules {
        let mut view = describe(rule);
        view.breakers = rule_breakers(pool, rule, now).await?;
        views.push(view);
    }
    Ok(views)
}

/// A rule's configuration for people, without its breakers. Pure.
pub fn describe(rule: &Rule) -> RuleView {
    let cfg = &rule.config;
    let human = |d: std::time::Duration| humantime_serde::re::humantime::format_duration(d).to_string();
    let matchers = cfg
        .match_labels
        .iter()
        .map(|(name, value)| format!("{name}={value:?}"))
        .chain(cfg.matchers.iter().map(|m| m.trim().to_owned()))
        .collect();
    RuleView {
        name: cfg.name.clone(),
        matchers,
        playbook: cfg.playbook.clone(),
        mode: cfg.mode.as_str().to_owned(),
        target_label: cfg.target_label.clone(),
        limit_from: cfg.limit_from.clone(),
        vars_from_labels: cfg.vars_from_labels.clone(),
        cooldown: human(cfg.cooldown),
        max_attempts: i64::from(cfg.max_attempts),
        window: human(cfg.window),
        timeout: human(cfg.timeout),
        verify: cfg.verify.clone(),
        verify_within: human(cfg.verify_within),
        verify_hold: cfg.verify_hold.map_or_else(|| "as long as the alert's own `for`".to_owned(), human),
        silence: cfg.silence,
        notify_targets: cfg.notify.len(),
        guards: cfg.guard.iter().map(|g| (g.name.trim().to_owned(), g.expr.clone())).collect(),
        blast_radius: cfg.blast_radius.as_ref().map(|b| {
            let per = if b.scope.is_empty() { String::new() } else { format!(" per {}", b.scope.join(", ")) };
            let share = b.max_percent.map(|p| format!(" and {p} % of the known targets")).unwrap_or_default();
            format!("at most {} heals{share}{per} within {}", b.max_heals, human(b.window))
        }),
        breakers: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssr::heal::RuleConfig;

    #[test]
    fn a_rule_is_described_with_its_matchers_durations_and_no_urls() {
        let config: RuleConfig = serde_json::from_value(serde_json::json!({
            "name": "nginx-down", "match": { "alertname": "NginxDown" },
            "matchers": [" severity=~\"crit.*\" "], "playbook": "heal-nginx.yml", "mode": "approval",
            "cooldown": "2m", "window": "30m", "max_attempts": 3,
            "notify": ["https://user:secret@hooks.example/x"],
        }))
        .unwrap();
        let view = describe(&Rule::from_config(config, |_| true).unwrap());
        assert_eq!(view.matchers, [r#"alertname="NginxDown""#, r#"severity=~"crit.*""#]);
        assert_eq!(
            (view.mode.as_str(), view.cooldown.as_str(), view.window.as_str()),
            ("approval", "2m", "30m")
        );
        assert_eq!((view.max_attempts, view.notify_targets, view.target_label.as_str()), (3, 1, "instance"));
        assert!(!format!("{view:?}").contains("secret"), "notification URLs stay on the server");
    }
}
