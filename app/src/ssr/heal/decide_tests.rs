//! The batch decision: verdicts before history, history read once per (rule, target), and a
//! run decided early in a batch counting for the episodes after it.
use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::ssr::alert::AlertStatus;
use crate::ssr::heal::pause::Paused;
use crate::ssr::heal::{plan, prejudge, KnownHosts, RuleConfig};

fn rule(name: &str, alertname: &str, mode: &str) -> Rule {
    let config: RuleConfig = serde_json::from_value(serde_json::json!({
        "name": name,
        "match": { "alertname": alertname },
        "playbook": "heal.yml",
        "target_label": "host",
        "mode": mode,
        "cooldown": "10m",
        "max_attempts": 3,
        "window": "30m",
    }))
    .unwrap();
    Rule::from_config(config, |_| true).unwrap()
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// A firing alert `alertname` on `host`, prejudged under `rules`.
fn firing(rules: &[Rule], alertname: &str, host: &str) -> Prejudged {
    let l = labels(&[("alertname", alertname), ("host", host)]);
    prejudge(rules, &KnownHosts::default(), AlertStatus::Firing, &l)
}

fn reason(j: &Judged) -> &'static str {
    match &j.decision {
        Decision::Run(_) => "run",
        Decision::Skip(s) => s.reason.as_str(),
    }
}

#[test]
fn prejudge_settles_what_needs_no_history_and_names_the_rule() {
    let rules = [rule("disk", "DiskFull", "auto"), rule("nginx", "NginxDown", "shadow")];
    let nginx = labels(&[("alertname", "NginxDown"), ("host", "web1")]);
    match prejudge(&rules, &KnownHosts::of(["web1"]), AlertStatus::Firing, &nginx) {
        Prejudged::Check { rule: 1, plan, .. } => assert_eq!(plan.target, "web1"),
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
fn the_batch_table() {
    let rules = [
        rule("nginx", "NginxDown", "auto"),
        rule("disk", "DiskFull", "auto"),
        rule("quiet", "Quiet", "shadow"),
    ];
    let fresh = TargetHistory::default();
    let ago = |m: u64| TargetHistory { since_last_attempt: Some(Duration::from_secs(m * 60)), ..fresh };
    let tried = |n: u32| TargetHistory { attempts_in_window: n, ..fresh };
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, TargetHistory, Vec<&'a str>);
    let cases: Vec<Case<'_>> = vec![
        ("one episode, fresh target", vec![("NginxDown", "web1")], fresh, vec!["run"]),
        (
            "the second episode on a target meets the run the first queued",
            vec![("NginxDown", "web1"), ("NginxDown", "web1")],
            fresh,
            vec!["run", "run_in_progress"],
        ),
        (
            "another rule on that target meets it too (one run per target)",
            vec![("NginxDown", "web1"), ("DiskFull", "web1")],
            fresh,
            vec!["run", "run_in_progress"],
        ),
        (
            "targets are independent",
            vec![("NginxDown", "web1"), ("NginxDown", "web2"), ("DiskFull", "web3")],
            fresh,
            vec!["run", "run", "run"],
        ),
        ("the stored history's cooldown", vec![("NginxDown", "web1")], ago(3), vec!["cooldown"]),
        ("past the cooldown", vec![("NginxDown", "web1")], ago(11), vec!["run"]),
        ("two attempts of three: one more", vec![("NginxDown", "web1")], tried(2), vec!["run"]),
        (
            "the breaker",
            vec![("NginxDown", "web1"), ("NginxDown", "web1")],
            tried(3),
            vec!["breaker_open", "breaker_open"],
        ),
        (
            "a shadow rule queues nothing, so a real rule after it still runs",
            vec![("Quiet", "web1"), ("NginxDown", "web1")],
            fresh,
            vec!["shadow", "run"],
        ),
        (
            "no rule, then a run",
            vec![("CpuHigh", "web1"), ("NginxDown", "web1")],
            fresh,
            vec!["no_rule", "run"],
        ),
    ];
    for (name, episodes, history, want) in cases {
        let verdicts: Vec<Prejudged> = episodes.iter().map(|(a, h)| firing(&rules, a, h)).collect();
        let judged = decide_batch(&rules, &verdicts, &Gates::default(), |_, _| Ok::<_, ()>(history)).unwrap();
        let got: Vec<&str> = judged.iter().map(reason).collect();
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn history_is_read_once_per_rule_and_target() {
    let rules = [rule("nginx", "NginxDown", "auto"), rule("disk", "DiskFull", "auto")];
    let verdicts: Vec<Prejudged> =
        [("NginxDown", "web1"), ("NginxDown", "web1"), ("DiskFull", "web1"), ("NginxDown", "web2")]
            .iter()
            .map(|(a, h)| firing(&rules, a, h))
            .collect();
    let mut reads = Vec::new();
    decide_batch(&rules, &verdicts, &Gates::default(), |r, t| {
        reads.push(format!("{}/{t}", r.name()));
        Ok::<_, ()>(TargetHistory::default())
    })
    .unwrap();
    assert_eq!(reads, ["nginx/web1", "disk/web1", "nginx/web2"]);
}

#[test]
fn a_failed_history_read_fails_the_batch() {
    let rules = [rule("nginx", "NginxDown", "auto")];
    let verdicts = [firing(&rules, "NginxDown", "web1")];
    assert_eq!(decide_batch(&rules, &verdicts, &Gates::default(), |_, _| Err("locked")), Err("locked"));
}

#[test]
fn the_decision_that_finds_the_breaker_open_is_the_one_that_tells_people() {
    let rules = [rule("nginx", "NginxDown", "auto")];
    let verdicts = [firing(&rules, "NginxDown", "web1")];
    let at = |n: u32| {
        let history = TargetHistory { attempts_in_window: n, ..TargetHistory::default() };
        decide_batch(&rules, &verdicts, &Gates::default(), |_, _| Ok::<_, ()>(history)).unwrap().remove(0)
    };
    assert!(at(3).opens_breaker(&rules), "three attempts of three: it just opened");
    assert!(!at(4).opens_breaker(&rules), "a re-fire while open says nothing again");
    assert!(!at(2).opens_breaker(&rules), "a run");
    assert_eq!(at(3).attempts, 3);
}

#[test]
fn verdicts_pass_through_in_order_with_their_rule() {
    let rules = [rule("nginx", "NginxDown", "auto")];
    let l = labels(&[("alertname", "NginxDown"), ("host", "web1")]);
    let verdicts = [
        prejudge(&rules, &KnownHosts::default(), AlertStatus::Resolved, &l),
        firing(&rules, "NginxDown", "web1"),
    ];
    let judged =
        decide_batch(&rules, &verdicts, &Gates::default(), |_, _| Ok::<_, ()>(TargetHistory::default()))
            .unwrap();
    assert_eq!((judged[0].rule, reason(&judged[0])), (Some(0), "resolved"));
    assert_eq!((judged[1].rule, reason(&judged[1])), (Some(0), "run"));
}

#[test]
fn prejudge_then_weigh_is_decide() {
    let rules = [rule("nginx", "NginxDown", "auto")];
    let nginx = labels(&[("alertname", "NginxDown"), ("host", "web1")]);
    let busy = TargetHistory { active_run: true, ..Default::default() };
    for history in [TargetHistory::default(), busy] {
        let Prejudged::Check { rule, plan: p, .. } =
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

#[test]
fn a_pause_covers_its_rule_or_everything_and_reads_no_history() {
    let rules = [rule("nginx", "NginxDown", "auto"), rule("disk", "DiskFull", "auto")];
    let verdicts = [firing(&rules, "NginxDown", "web1"), firing(&rules, "DiskFull", "web2")];
    let decide = |paused: Paused| {
        let mut reads = 0;
        let judged = decide_batch(&rules, &verdicts, &Gates::paused(paused), |_, _| {
            reads += 1;
            Ok::<_, ()>(TargetHistory::default())
        })
        .unwrap();
        (judged.iter().map(reason).collect::<Vec<_>>(), reads)
    };
    assert_eq!(decide(Paused::default()), (vec!["run", "run"], 2));
    assert_eq!(decide(Paused::of(["nginx"])), (vec!["paused", "run"], 1), "one rule");
    assert_eq!(decide(Paused::of(["*"])), (vec!["paused", "paused"], 0), "everything");
    assert_eq!(decide(Paused::of(["no-such-rule"])), (vec!["run", "run"], 2));
    let everything = decide_batch(&rules, &verdicts[..1], &Gates::paused(Paused::of(["*"])), |_, _| {
        Ok::<_, ()>(TargetHistory::default())
    })
    .unwrap()
    .remove(0);
    match everything.decision {
        Decision::Skip(s) => assert!(s.detail.contains("paused everywhere"), "{}", s.detail),
        other => panic!("{other:?}"),
    }
    // Resolved alerts are decided before any pause: a pause changes what runs, not what is seen.
    let l = labels(&[("alertname", "NginxDown"), ("host", "web1")]);
    let resolved = [prejudge(&rules, &KnownHosts::default(), AlertStatus::Resolved, &l)];
    let judged = decide_batch(&rules, &resolved, &Gates::paused(Paused::of(["*"])), |_, _| {
        Ok::<_, ()>(TargetHistory::default())
    });
    assert_eq!(judged.unwrap().iter().map(reason).collect::<Vec<_>>(), ["resolved"]);
}
