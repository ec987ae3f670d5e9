//! Blast-radius limits, pure: the check's table, the config's refusals, scopes from labels,
//! and a 20-target storm decided in one batch and across batches.
use std::collections::BTreeMap;
use std::sync::Arc;

use super::*;
use crate::ssr::alert::AlertStatus;
use crate::ssr::heal::{
    decide_batch, prejudge, Decision, Gates, KnownHosts, Prejudged, Rule, RuleConfig, RuleMode, TargetHistory,
};

fn cfg(max_heals: u32, max_percent: Option<u32>) -> BlastConfig {
    BlastConfig {
        max_heals,
        max_percent,
        window: Duration::from_secs(600),
        scope: vec!["job".into()],
        known_targets: max_percent.map(|_| "count by (job) (up)".into()),
    }
}

#[test]
fn one_more_heal_is_checked_against_the_trip_the_cap_and_the_share() {
    let h = |heals, tripped| BlastHistory { heals, tripped };
    // (config, history, known targets, parked?)
    let cases = [
        (cfg(5, None), h(0, false), None, None),
        (cfg(5, None), h(4, false), None, None),
        (cfg(5, None), h(5, false), None, Some("would pass max_heals 5")),
        (cfg(5, None), h(0, true), None, Some("tripped for job=\"api\"")),
        (cfg(10, Some(25)), h(4, false), Some(20), None),
        (cfg(10, Some(25)), h(5, false), Some(20), Some("would pass max_percent 25 of its 20 known targets")),
        // Prometheus has not counted the scope: the cap alone.
        (cfg(10, Some(25)), h(5, false), None, None),
        (cfg(10, Some(25)), h(10, false), None, Some("would pass max_heals 10")),
        // A scope Prometheus says is empty, yet alerting: nothing runs unasked.
        (cfg(10, Some(25)), h(0, false), Some(0), Some("max_percent 25 of its 0 known targets")),
        (cfg(10, Some(100)), h(3, false), Some(4), None),
    ];
    for (config, history, known, want) in cases {
        let got = check("nginx", &config, "job=\"api\"", history, known);
        match (&got, want) {
            (None, None) => {}
            (Some(why), Some(part)) => assert!(why.contains(part), "{why} lacks {part}"),
            _ => panic!("{config:?} {history:?} {known:?}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn a_config_that_cannot_hold_is_refused() {
    let refused = [
        (BlastConfig { max_heals: 0, ..cfg(1, None) }, "max_heals must be at least 1"),
        (BlastConfig { max_percent: Some(0), ..cfg(1, Some(10)) }, "between 1 and 100"),
        (BlastConfig { max_percent: Some(101), ..cfg(1, Some(10)) }, "between 1 and 100"),
        (BlastConfig { known_targets: None, ..cfg(1, Some(10)) }, "go together"),
        (BlastConfig { known_targets: Some("up".into()), ..cfg(1, None) }, "go together"),
        (BlastConfig { window: Duration::ZERO, ..cfg(1, None) }, "window must be positive"),
        (BlastConfig { scope: vec!["da-ta".into()], ..cfg(1, None) }, "not a label name"),
    ];
    for (config, why) in refused {
        let err = config.validate().expect_err(why);
        assert!(err.contains(why), "{err}");
    }
    assert_eq!(cfg(5, Some(40)).validate(), Ok(()));
}

#[test]
fn the_scope_is_the_scope_labels_values_in_order() {
    let labels: BTreeMap<String, String> =
        [("job", "api"), ("dc", "eu\"1"), ("host", "web1")].map(|(k, v)| (k.into(), v.into())).into();
    let by =
        |scope: &[&str]| BlastConfig { scope: scope.iter().map(|s| s.to_string()).collect(), ..cfg(1, None) };
    assert_eq!(by(&["job"]).scope_of(&labels), "job=\"api\"");
    assert_eq!(by(&["dc", "job"]).scope_of(&labels), "dc=\"eu\\\"1\",job=\"api\"");
    assert_eq!(by(&["zone"]).scope_of(&labels), "zone=\"\"", "a missing label counts as empty");
    assert_eq!(by(&[]).scope_of(&labels), "", "the whole rule");
}

fn storm_rule() -> Rule {
    let config: RuleConfig = serde_json::from_value(serde_json::json!({
        "name": "nginx", "match": { "alertname": "NginxDown" }, "playbook": "heal.yml",
        "target_label": "host", "cooldown": "0s",
        "blast_radius": { "max_heals": 5, "scope": ["job"], "window": "10m" },
    }))
    .unwrap();
    Rule::from_config(config, |_| true).unwrap()
}

fn storm(rules: &[Rule], job: &str, hosts: std::ops::Range<usize>) -> Vec<Prejudged> {
    hosts
        .map(|i| {
            let labels: BTreeMap<String, String> =
                [("alertname", "NginxDown".to_owned()), ("host", format!("web{i}")), ("job", job.to_owned())]
                    .map(|(k, v)| (k.to_owned(), v))
                    .into();
            prejudge(rules, &KnownHosts::default(), AlertStatus::Firing, &labels)
        })
        .collect()
}

/// "run" or "parked" per decision.
fn outcomes(rules: &[Rule], verdicts: &[Prejudged], gates: &Gates) -> Vec<&'static str> {
    decide_batch(rules, verdicts, gates, |_, _| Ok::<_, ()>(TargetHistory::default()))
        .unwrap()
        .iter()
        .map(|j| match &j.decision {
            Decision::Run(p) if p.held.is_some() => {
                assert_eq!(p.mode, RuleMode::Approval, "parked for approval");
                "parked"
            }
            Decision::Run(_) => "run",
            Decision::Skip(_) => "skip",
        })
        .collect()
}

#[test]
fn a_twenty_target_storm_heals_five_and_parks_fifteen_per_scope() {
    let rules = [storm_rule()];
    let mut verdicts = storm(&rules, "api", 0..20);
    verdicts.extend(storm(&rules, "db", 20..22));
    let got = outcomes(&rules, &verdicts, &Gates::default());
    assert_eq!(got[..20].iter().filter(|o| **o == "run").count(), 5);
    assert_eq!(&got[..5], ["run"; 5], "the first five heal");
    assert_eq!(&got[5..20], ["parked"; 15], "the rest wait for approval");
    assert_eq!(&got[20..], ["run", "run"], "another scope has its own limit");

    // Across batches: the history says five healed; a trip in force parks whatever the count.
    let key = ("nginx".to_owned(), "job=\"api\"".to_owned());
    let mut gates = Gates::default();
    gates.blast.insert(key.clone(), BlastHistory { heals: 5, tripped: false });
    assert_eq!(outcomes(&rules, &storm(&rules, "api", 30..31), &gates), ["parked"]);
    gates.blast.insert(key.clone(), BlastHistory { heals: 0, tripped: true });
    assert_eq!(outcomes(&rules, &storm(&rules, "api", 30..31), &gates), ["parked"]);

    // With known targets: 25 % of 8 is 2.
    let config: RuleConfig = serde_json::from_value(serde_json::json!({
        "name": "nginx", "match": { "alertname": "NginxDown" }, "playbook": "heal.yml",
        "target_label": "host", "cooldown": "0s",
        "blast_radius": { "max_heals": 5, "max_percent": 25, "scope": ["job"], "known_targets": "count by (job) (up)" },
    }))
    .unwrap();
    let rules = [Rule::from_config(config, |_| true).unwrap()];
    let gates = Gates { known: Arc::new([(key, 8)].into()), ..Gates::default() };
    assert_eq!(outcomes(&rules, &storm(&rules, "api", 0..4), &gates), ["run", "run", "parked", "parked"]);
}
