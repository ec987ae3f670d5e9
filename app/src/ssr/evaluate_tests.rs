//! The history-free half of a decision, as the webhook handler works it out.
use std::collections::BTreeMap;

use super::*;
use crate::ssr::heal::RuleConfig;

fn rule(name: &str, alertname: &str, mode: &str) -> Rule {
    let config: RuleConfig = serde_json::from_value(serde_json::json!({
        "name": name,
        "match": { "alertname": alertname },
        "playbook": "heal.yml",
        "target_label": "host",
        "mode": mode,
    }))
    .unwrap();
    Rule::from_config(config, |_| true).unwrap()
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn prejudge_settles_what_needs_no_history_and_names_the_rule() {
    let rules = [rule("disk", "DiskFull", "auto"), rule("nginx", "NginxDown", "shadow")];
    let nginx = labels(&[("alertname", "NginxDown"), ("host", "web1")]);
    match prejudge(&rules, &KnownHosts::of(["web1"]), AlertStatus::Firing, &nginx) {
        Prejudged::Check { rule: 1, plan } => assert_eq!(plan.target, "web1"),
        other => panic!("{other:?}"),
    }
    let skip = |p: Prejudged| match p {
        Prejudged::Skip { rule, skip } => (rule, skip.reason),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        skip(prejudge(&rules, &KnownHosts::of(["web1"]), AlertStatus::Resolved, &nginx)),
        (Some(1), SkipReason::Resolved)
    );
    let unmatched = labels(&[("alertname", "CpuHigh"), ("host", "web1")]);
    assert_eq!(
        skip(prejudge(&rules, &KnownHosts::of(["web1"]), AlertStatus::Firing, &unmatched)),
        (None, SkipReason::NoRule)
    );
    let no_host = labels(&[("alertname", "DiskFull")]);
    assert_eq!(
        skip(prejudge(&rules, &KnownHosts::of(["web1"]), AlertStatus::Firing, &no_host)),
        (Some(0), SkipReason::InvalidLabels)
    );
}

#[test]
fn prejudge_then_weigh_is_decide() {
    let rules = [rule("nginx", "NginxDown", "auto")];
    let nginx = labels(&[("alertname", "NginxDown"), ("host", "web1")]);
    let busy = TargetHistory { active_run: true, ..Default::default() };
    for history in [TargetHistory::default(), busy] {
        let Prejudged::Check { rule, plan: p } =
            prejudge(&rules, &KnownHosts::of(["web1"]), AlertStatus::Firing, &nginx)
        else {
            panic!("a plan")
        };
        let whole = crate::ssr::heal::decide(
            AlertStatus::Firing,
            Some(&rules[0]),
            plan(&rules[0], &nginx, &KnownHosts::of(["web1"])),
            history,
        );
        assert_eq!(weigh(&rules[rule], &p, history), whole);
    }
}
