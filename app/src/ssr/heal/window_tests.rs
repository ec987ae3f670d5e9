//! Maintenance windows, pure: refusals, one-off and recurring times in a time zone, matching,
//! and the decision they make (held before history, or parked for approval).
use std::collections::BTreeMap;

use time::macros::datetime;

use super::*;
use crate::ssr::alert::AlertStatus;
use crate::ssr::heal::{
    decide_batch, prejudge, Decision, Gates, KnownHosts, Prejudged, Rule, RuleConfig, RuleMode, TargetHistory,
};

fn config(json: serde_json::Value) -> WindowConfig {
    let mut base = serde_json::json!({ "name": "deploy", "matchers": ["service=\"nginx\""] });
    base.as_object_mut().unwrap().extend(json.as_object().unwrap().clone());
    serde_json::from_value(base).unwrap()
}

#[test]
fn a_window_that_cannot_hold_is_refused() {
    let refused = [
        (serde_json::json!({ "name": " " }), "needs a name"),
        (
            serde_json::json!({ "matchers": [] , "starts_at": "2026-01-01T00:00:00Z", "ends_at": "2026-01-01T01:00:00Z" }),
            "needs matchers",
        ),
        (
            serde_json::json!({ "matchers": ["nope"], "starts_at": "2026-01-01T00:00:00Z", "ends_at": "2026-01-01T01:00:00Z" }),
            "matchers:",
        ),
        (
            serde_json::json!({ "starts_at": "2026-01-01T01:00:00Z", "ends_at": "2026-01-01T00:00:00Z" }),
            "after starts_at",
        ),
        (
            serde_json::json!({ "starts_at": "yesterday", "ends_at": "2026-01-01T00:00:00Z" }),
            "not an RFC 3339 time",
        ),
        (serde_json::json!({ "starts_at": "2026-01-01T00:00:00Z" }), "not both"),
        (serde_json::json!({ "schedule": "0 2 * * *" }), "not both"),
        (serde_json::json!({ "schedule": "every night", "duration": "2h" }), "schedule `every night`"),
        (serde_json::json!({ "schedule": "0 2 * * *", "duration": "8d" }), "between 1s and 7 days"),
        (
            serde_json::json!({ "schedule": "0 2 * * *", "duration": "2h", "timezone": "Mars/Olympus" }),
            "not a time zone",
        ),
        (
            serde_json::json!({ "schedule": "0 2 * * *", "duration": "2h", "starts_at": "2026-01-01T00:00:00Z", "ends_at": "2026-01-01T01:00:00Z" }),
            "not both",
        ),
    ];
    for (json, why) in refused {
        let err = Window::from_config(config(json.clone())).expect_err(why);
        assert!(err.contains(why), "{json}: {err}");
    }
}

#[test]
fn a_one_off_window_is_open_from_its_start_until_its_end() {
    let w = Window::from_config(config(serde_json::json!({
        "starts_at": "2026-12-06T10:00:00Z", "ends_at": "2026-12-06T12:00:00+00:00",
    })))
    .unwrap();
    let end = datetime!(2026-12-06 12:00 UTC);
    assert_eq!(w.open_until(datetime!(2026-12-06 09:59:59 UTC)), None);
    assert_eq!(w.open_until(datetime!(2026-12-06 10:00 UTC)), Some(end));
    assert_eq!(w.open_until(datetime!(2026-12-06 11:59:59 UTC)), Some(end));
    assert_eq!(w.open_until(end), None, "the end is not in it");
    assert_eq!(w.next_start(datetime!(2026-12-06 09:00 UTC)), Some(datetime!(2026-12-06 10:00 UTC)));
    assert_eq!(w.next_start(datetime!(2026-12-06 13:00 UTC)), None, "over for good");
}

#[test]
fn a_recurring_window_opens_on_its_schedule_in_its_time_zone() {
    // Sundays 02:00 Berlin time, for 2 hours: 01:00-03:00 UTC in winter, 00:00-02:00 in summer.
    let w = Window::from_config(config(serde_json::json!({
        "schedule": "0 2 * * SUN", "duration": "2h", "timezone": "Europe/Berlin",
    })))
    .unwrap();
    let cases = [
        (datetime!(2026-12-06 00:59 UTC), None),
        (datetime!(2026-12-06 01:00 UTC), Some(datetime!(2026-12-06 03:00 UTC))),
        (datetime!(2026-12-06 02:30 UTC), Some(datetime!(2026-12-06 03:00 UTC))),
        (datetime!(2026-12-06 03:00 UTC), None),
        (datetime!(2026-12-07 01:30 UTC), None),
        (datetime!(2026-07-05 00:30 UTC), Some(datetime!(2026-07-05 02:00 UTC))),
        (datetime!(2026-07-05 02:30 UTC), None),
    ];
    for (now, want) in cases {
        assert_eq!(w.open_until(now), want, "at {now}");
    }
    assert_eq!(w.next_start(datetime!(2026-12-06 04:00 UTC)), Some(datetime!(2026-12-13 01:00 UTC)));
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn the_first_open_window_whose_matchers_hold_covers_an_alert() {
    let now = datetime!(2026-12-06 10:30 UTC);
    let w = |name: &str, matchers: &[&str], start: &str, action: &str| {
        Window::from_config(config(serde_json::json!({
            "name": name, "matchers": matchers, "starts_at": start, "ends_at": "2026-12-06T11:00:00Z",
            "action": action,
        })))
        .unwrap()
    };
    let windows = [
        w("later", &["service=\"nginx\""], "2026-12-06T10:45:00Z", "hold"),
        w("db", &["service=\"db\""], "2026-12-06T10:00:00Z", "hold"),
        w("web", &["service=~\"ngi.*\"", "env!=\"dev\""], "2026-12-06T10:00:00Z", "approval"),
    ];
    let hit = covering(&windows, &labels(&[("service", "nginx"), ("env", "prod")]), now).unwrap();
    assert_eq!((hit.name.as_str(), hit.action), ("web", WindowAction::Approval));
    assert_eq!(hit.until, datetime!(2026-12-06 11:00 UTC));
    assert_eq!(covering(&windows, &labels(&[("service", "nginx"), ("env", "dev")]), now), None);
    assert_eq!(covering(&windows, &labels(&[("service", "api")]), now), None);
}

#[test]
fn a_window_holds_a_plan_before_history_or_parks_it_for_approval() {
    let config: RuleConfig = serde_json::from_value(serde_json::json!({
        "name": "nginx", "match": { "alertname": "NginxDown" }, "playbook": "heal.yml", "target_label": "host",
    }))
    .unwrap();
    let rules = [Rule::from_config(config, |_| true).unwrap()];
    let l = labels(&[("alertname", "NginxDown"), ("host", "web1")]);
    let with_window = |action| {
        let mut v = prejudge(&rules, &KnownHosts::default(), AlertStatus::Firing, &l);
        if let Prejudged::Check { window, .. } = &mut v {
            *window = Some(Box::new(WindowHit {
                name: "deploy".into(),
                action,
                until: datetime!(2026-12-06 11:00 UTC),
            }));
        }
        v
    };
    let mut reads = 0;
    let held = decide_batch(&rules, [&with_window(WindowAction::Hold)], &Gates::default(), |_, _| {
        reads += 1;
        Ok::<_, ()>(TargetHistory::default())
    })
    .unwrap();
    match &held[0].decision {
        Decision::Skip(s) => {
            assert_eq!(s.reason, super::super::SkipReason::InMaintenance);
            assert!(
                s.detail.starts_with("in maintenance window deploy until 2026-12-06T11:00:00.000Z: held"),
                "{}",
                s.detail
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(reads, 0, "held before any history is read");
    let parked = decide_batch(&rules, [&with_window(WindowAction::Approval)], &Gates::default(), |_, _| {
        Ok::<_, ()>(TargetHistory::default())
    })
    .unwrap();
    match &parked[0].decision {
        Decision::Run(p) => {
            assert_eq!(p.mode, RuleMode::Approval);
            assert_eq!(p.held.as_ref().map(|h| h.reason), Some(crate::model::DecisionReason::InMaintenance));
        }
        other => panic!("{other:?}"),
    }
}
