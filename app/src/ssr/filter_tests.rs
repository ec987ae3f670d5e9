//! Filter validation: named cases for every refusal and every accepted form.
use super::*;

fn now() -> OffsetDateTime {
    OffsetDateTime::parse("2026-11-22T12:00:00Z", &time::format_description::well_known::Rfc3339).unwrap()
}

fn some(s: &str) -> Option<String> {
    Some(s.to_owned())
}

#[test]
fn alert_filters_are_checked_with_messages_naming_the_field() {
    let cases: Vec<(&str, AlertFilter, &str)> = vec![
        (
            "bad status",
            AlertFilter { status: some("burning"), ..Default::default() },
            "status must be one of",
        ),
        ("text too long", AlertFilter { q: Some("x".repeat(101)), ..Default::default() }, "q is too long"),
        (
            "name too long",
            AlertFilter { alertname: Some("x".repeat(201)), ..Default::default() },
            "alertname is too long",
        ),
        (
            "control char",
            AlertFilter { instance: some("a\u{7}b"), ..Default::default() },
            "control characters",
        ),
        (
            "bad since",
            AlertFilter { since: some("2w"), ..Default::default() },
            "since must be one of 1h, 24h, 7d, 30d",
        ),
        (
            "bad from",
            AlertFilter { from: some("yesterday"), ..Default::default() },
            "from must be a UTC time",
        ),
        (
            "inverted range",
            AlertFilter {
                from: some("2026-11-22T10:00"),
                to: some("2026-11-22T09:00"),
                ..Default::default()
            },
            "must be before to",
        ),
        (
            "since and from",
            AlertFilter { since: some("1h"), from: some("2026-11-22T10:00"), ..Default::default() },
            "either since or from/to",
        ),
    ];
    for (name, filter, want) in cases {
        let err = alert_query(&filter, now()).expect_err(name);
        assert!(err.contains(want), "{name}: {err}");
    }
}

#[test]
fn alert_filters_are_trimmed_and_times_normalised() {
    let f = AlertFilter {
        status: some("firing"),
        alertname: some("  NginxDown "),
        severity: some(""),
        q: some("web1"),
        from: some("2026-11-22T10:00"),
        to: some("2026-11-22T11:30:15Z"),
        ..Default::default()
    };
    let q = alert_query(&f, now()).unwrap();
    assert_eq!(q.alertname.as_deref(), Some("NginxDown"));
    assert_eq!(q.severity, None);
    assert_eq!(q.text.as_deref(), Some("web1"));
    assert_eq!(q.range.from.as_deref(), Some("2026-11-22T10:00:00.000Z"));
    assert_eq!(q.range.to.as_deref(), Some("2026-11-22T11:30:15.000Z"));
    let date = AlertFilter { from: some("2026-11-21"), ..Default::default() };
    assert_eq!(alert_query(&date, now()).unwrap().range.from.as_deref(), Some("2026-11-21T00:00:00.000Z"));
    for (since, from) in [
        ("1h", "2026-11-22T11:00:00.000Z"),
        ("24h", "2026-11-21T12:00:00.000Z"),
        ("7d", "2026-11-15T12:00:00.000Z"),
        ("30d", "2026-10-23T12:00:00.000Z"),
    ] {
        let q = alert_query(&AlertFilter { since: some(since), ..Default::default() }, now()).unwrap();
        assert_eq!(q.range, TimeRange { from: some(from), to: None }, "{since}");
    }
}

#[test]
fn run_and_audit_filters_are_checked() {
    let bad = [
        RunFilter { status: some("exploded"), ..Default::default() },
        RunFilter { trigger: some("cron"), ..Default::default() },
        RunFilter { to: some("soon"), ..Default::default() },
    ];
    for f in bad {
        assert!(run_query(&f, now()).is_err(), "{f:?}");
    }
    let ok = RunFilter { status: some("timed_out"), trigger: some("heal_now"), ..Default::default() };
    let q = run_query(&ok, now()).unwrap();
    assert_eq!((q.status, q.trigger), (Some(RunStatus::TimedOut), Some(Trigger::HealNow)));
    assert!(audit_query(&AuditFilter { actor: Some("x".repeat(201)), ..Default::default() }, now()).is_err());
    let a = audit_query(
        &AuditFilter { action: some("auth.login"), since: some("1h"), ..Default::default() },
        now(),
    );
    assert_eq!(a.unwrap().action.as_deref(), Some("auth.login"));
}
