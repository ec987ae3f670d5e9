//! The simulation decides as the inbox does: repeats not decided again, cooldown, breaker and
//! its reset, a run in flight for the target, the pause, and the batch's own runs.
use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::ssr::heal::{RuleConfig, SkipReason};

fn rule(name: &str, alertname: &str, extra: &str) -> Rule {
    let json = format!(
        r#"{{"name":"{name}","match":{{"alertname":"{alertname}"}},"playbook":"heal.yml","target_label":"host",
        "cooldown":"1m","max_attempts":2,"window":"10m"{extra}}}"#
    );
    let cfg: RuleConfig = serde_json::from_str(&json).expect("valid rule");
    Rule::from_config(cfg, |_| true).expect("valid rule")
}

fn alert(alertname: &str, host: &str, starts: u64, status: AlertStatus) -> SimAlert {
    let labels: BTreeMap<String, String> =
        [("alertname", alertname), ("host", host)].into_iter().map(|(k, v)| (k.into(), v.into())).collect();
    SimAlert { status, fingerprint: format!("{alertname}{host}"), starts_at: format!("T+{starts}"), labels }
}

fn firing(alertname: &str, host: &str, starts: u64) -> SimAlert {
    alert(alertname, host, starts, AlertStatus::Firing)
}

/// Each outcome as (reason, target): `enqueued` or the skip's reason, `duplicate` for a repeat.
fn reasons(outcomes: &[Outcome]) -> Vec<(String, Option<String>)> {
    outcomes
        .iter()
        .map(|o| match o {
            Outcome::Duplicate => ("duplicate".to_owned(), None),
            Outcome::Decided { target, decision: Decision::Run(_), .. } => {
                ("enqueued".to_owned(), target.clone())
            }
            Outcome::Decided { target, decision: Decision::Skip(s), .. } => {
                (s.reason.as_str().to_owned(), target.clone())
            }
        })
        .collect()
}

/// A notification at a time (s), and the (reason, target) wanted for each of its alerts.
type Step = (u64, Vec<SimAlert>, Vec<(&'static str, Option<String>)>);

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn a_history_of_notifications_is_decided_as_the_inbox_decides_it() {
    let rules = [rule("down", "Down", ""), rule("slow", "Slow", "")];
    let mut sim = Simulation::new(&rules, KnownHosts::default(), secs(5));
    let none = Paused::default();
    let t = |s: &str| Some(s.to_owned());
    let cases: Vec<Step> = vec![
        // Two targets at once; the same episode twice in one notification is one episode.
        (
            0,
            vec![firing("Down", "a", 0), firing("Down", "b", 0), firing("Down", "a", 0)],
            vec![("enqueued", t("a")), ("enqueued", t("b")), ("duplicate", None)],
        ),
        // Alertmanager repeats the episode: not decided again. Another rule on target a while
        // its run is in flight (5 s): run_in_progress.
        (
            2,
            vec![firing("Down", "a", 0), firing("Slow", "a", 2)],
            vec![("duplicate", None), ("run_in_progress", t("a"))],
        ),
        // A new episode after the run ended, inside the 1 m cooldown.
        (30, vec![firing("Down", "a", 30)], vec![("cooldown", t("a"))]),
        // After the cooldown: the second attempt in the window.
        (61, vec![firing("Down", "a", 61)], vec![("enqueued", t("a"))]),
        // After the next cooldown: the breaker (2 attempts in 10 m) is open.
        (130, vec![firing("Down", "a", 130)], vec![("breaker_open", t("a"))]),
        // Resolved, and an alert no rule matches.
        (
            131,
            vec![alert("Down", "b", 131, AlertStatus::Resolved), firing("Disk", "a", 131)],
            vec![("resolved", None), ("no_rule", None)],
        ),
    ];
    for (now, alerts, wanted) in cases {
        let got = reasons(&sim.notify(secs(now), &alerts, &none));
        let wanted: Vec<(String, Option<String>)> =
            wanted.into_iter().map(|(r, t)| (r.to_owned(), t)).collect();
        assert_eq!(got, wanted, "at {now} s");
    }
    // Still open at 600 s (runs at 0 and 61 s in the 10 m window); the window slides past the
    // first at 601 s.
    assert_eq!(reasons(&sim.notify(secs(600), &[firing("Down", "a", 600)], &none))[0].0, "breaker_open");
    assert_eq!(reasons(&sim.notify(secs(601), &[firing("Down", "a", 601)], &none))[0].0, "enqueued");
}

#[test]
fn a_breaker_reset_forgets_the_attempts_before_it() {
    let rules = [rule("down", "Down", "")];
    let mut sim = Simulation::new(&rules, KnownHosts::default(), Duration::ZERO);
    let none = Paused::default();
    for (now, wanted) in [(0, "enqueued"), (61, "enqueued"), (122, "breaker_open")] {
        assert_eq!(
            reasons(&sim.notify(secs(now), &[firing("Down", "a", now)], &none))[0].0,
            wanted,
            "at {now}"
        );
    }
    sim.reset_breaker("down", "b", secs(130));
    assert_eq!(
        reasons(&sim.notify(secs(131), &[firing("Down", "a", 131)], &none))[0].0,
        "breaker_open",
        "b's reset"
    );
    sim.reset_breaker("down", "a", secs(140));
    assert_eq!(reasons(&sim.notify(secs(141), &[firing("Down", "a", 141)], &none))[0].0, "enqueued");
}

#[test]
fn a_pause_decides_paused_and_queues_nothing() {
    let rules = [rule("down", "Down", "")];
    let mut sim = Simulation::new(&rules, KnownHosts::default(), Duration::ZERO);
    let outcomes = sim.notify(secs(0), &[firing("Down", "a", 0)], &Paused::of(["down"]));
    assert!(matches!(&outcomes[0], Outcome::Decided { decision: Decision::Skip(s), rule: Some(r), .. }
        if s.reason == SkipReason::Paused && r == "down"));
    // Nothing ran: no cooldown afterwards.
    assert_eq!(reasons(&sim.notify(secs(1), &[firing("Down", "a", 1)], &Paused::default()))[0].0, "enqueued");
}

#[test]
fn a_limit_must_name_an_inventory_host() {
    let rules = [rule("down", "Down", r#","limit_from":"host""#)];
    let mut sim = Simulation::new(&rules, KnownHosts::of(["web1"]), Duration::ZERO);
    let got = reasons(&sim.notify(
        secs(0),
        &[firing("Down", "web1", 0), firing("Down", "web2", 0)],
        &Paused::default(),
    ));
    assert_eq!(got, [("enqueued".to_owned(), Some("web1".to_owned())), ("invalid_labels".to_owned(), None)]);
}
