//! Payload parsing and normalisation, on the real Alertmanager fixtures and on broken variants.
use super::*;

const FIRING: &str =
    include_str!("../../../server/tests/fixtures/alertmanager/alertmanager-webhook-firing.json");
const RESOLVED: &str =
    include_str!("../../../server/tests/fixtures/alertmanager/alertmanager-webhook-resolved.json");

fn parse(s: &str) -> WebhookPayload {
    serde_json::from_str(s).expect("fixture parses")
}

#[test]
fn real_fixtures_normalise() {
    let firing = normalise_payload(&parse(FIRING)).unwrap();
    assert_eq!(firing.len(), 1);
    let a = &firing[0];
    assert_eq!((a.fingerprint.as_str(), a.alertname.as_str()), ("afaf45122a3111c8", "NginxDown"));
    assert_eq!(a.starts_at, "2026-11-22T01:25:10.341Z");
    assert_eq!(a.status, AlertStatus::Firing);
    assert_eq!(a.ends_at, None, "0001-01-01 means no end");
    assert_eq!(a.severity.as_deref(), Some("critical"));
    assert!(a.labels.contains("\"service\":\"nginx\""), "{}", a.labels);

    let resolved = normalise_payload(&parse(RESOLVED)).unwrap();
    assert_eq!(resolved[0].status, AlertStatus::Resolved);
    assert!(resolved[0].ends_at.is_some());
    assert_eq!(resolved[0].starts_at, a.starts_at, "same episode key in both");
}

#[test]
fn times_normalise_to_utc_milliseconds() {
    let cases = [
        ("already canonical", "2026-11-22T01:25:10.341Z", "2026-11-22T01:25:10.341Z"),
        ("nanoseconds", "2026-11-22T01:25:10.341987654Z", "2026-11-22T01:25:10.341Z"),
        ("no fraction", "2026-11-22T01:25:10Z", "2026-11-22T01:25:10.000Z"),
        ("offset", "2026-11-22T02:25:10.341+01:00", "2026-11-22T01:25:10.341Z"),
    ];
    for (name, raw, want) in cases {
        assert_eq!(normalise_time(raw).as_deref(), Ok(want), "{name}");
    }
    assert!(normalise_time("yesterday").is_err());
}

#[test]
fn bad_alerts_are_refused_naming_the_field() {
    let base = || parse(FIRING);
    type Edit = fn(&mut WebhookPayload);
    let cases: [(&str, Edit, &str); 6] = [
        ("version", |p| p.version = "3".into(), "version"),
        ("empty fingerprint", |p| p.alerts[0].fingerprint.clear(), "alerts[0].fingerprint"),
        ("odd fingerprint", |p| p.alerts[0].fingerprint = "../etc".into(), "alerts[0].fingerprint"),
        ("no alertname", |p| drop(p.alerts[0].labels.remove("alertname")), "alerts[0].labels.alertname"),
        ("bad startsAt", |p| p.alerts[0].starts_at = "soon".into(), "alerts[0].startsAt"),
        ("bad endsAt", |p| p.alerts[0].ends_at = Some("later".into()), "alerts[0].endsAt"),
    ];
    for (name, edit, field) in cases {
        let mut p = base();
        edit(&mut p);
        let err = normalise_payload(&p).expect_err(name);
        assert!(err.starts_with(field), "{name}: {err}");
    }
}

#[test]
fn unknown_fields_are_ignored_and_optional_ones_default() {
    let json = r#"{"version":"4","groupKey":"g","receiver":"r","status":"firing","newField":1,
        "alerts":[{"status":"firing","labels":{"alertname":"X"},"startsAt":"2026-01-01T00:00:00Z",
        "fingerprint":"ab12","futureField":{"a":1}}]}"#;
    let p: WebhookPayload = serde_json::from_str(json).unwrap();
    assert_eq!(p.truncated_alerts, 0);
    let alerts = normalise_payload(&p).unwrap();
    assert_eq!(alerts[0].annotations, "{}");
    assert_eq!(alerts[0].generator_url, None);
}

#[test]
fn add_utc_moves_a_stored_time_on_and_refuses_garbage() {
    let hour = std::time::Duration::from_secs(3600);
    assert_eq!(add_utc("2026-11-22T23:30:00.250Z", hour).as_deref(), Some("2026-11-23T00:30:00.250Z"));
    assert_eq!(add_utc("yesterday", hour), None);
}
