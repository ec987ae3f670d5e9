//! Guards, pure: templates checked at load, labels escaped into their strings, answers weighed
//! in order, and a guarded plan decided before its history is read.
use std::collections::BTreeMap;

use super::*;
use crate::ssr::alert::AlertStatus;
use crate::ssr::heal::pause::Paused;
use crate::ssr::heal::Gates;
use crate::ssr::heal::{decide_batch, prejudge, Decision, KnownHosts, Rule, RuleConfig, TargetHistory};

fn template(expr: &str) -> Result<GuardTemplate, String> {
    GuardTemplate::parse(&GuardConfig { name: "g".into(), expr: expr.into() })
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn query(expr: &str, pairs: &[(&str, &str)]) -> Result<String, String> {
    template(expr).unwrap().render(&labels(pairs)).query
}

#[test]
fn a_template_is_refused_unless_its_placeholders_sit_in_a_quoted_string() {
    let refused = [
        ("", "expr must not be empty"),
        ("up == {{ $labels.x }}", "inside a \"…\" or '…' string"),
        ("up{job=`{{ $labels.job }}`}", "inside a \"…\" or '…' string"),
        ("up{job=\"{{ labels.job }}\"}", "is not `{{ $labels.NAME }}`"),
        ("up{job=\"{{ $labels.a-b }}\"}", "is not `{{ $labels.NAME }}`"),
        ("up{job=\"{{ $labels.job \"}", "without `}}`"),
        ("up{job=\"api}", "a string is not closed"),
    ];
    for (expr, why) in refused {
        let err = template(expr).expect_err(expr);
        assert!(err.contains(why), "{expr}: {err}");
    }
    let nameless = GuardTemplate::parse(&GuardConfig { name: " ".into(), expr: "up".into() });
    assert!(nameless.unwrap_err().contains("needs a name"));
    for fine in ["up == 1", r#"up{job="a\"b"} == 1"#, "sum(rate(x[5m])) < 2", r#"up{job='{{$labels.job}}'}"#]
    {
        assert!(template(fine).is_ok(), "{fine}");
    }
}

#[test]
fn label_values_are_escaped_for_their_string_and_never_change_the_query() {
    let expr = r#"up{job="{{ $labels.job }}", instance='{{ $labels.instance }}'} == 1"#;
    let cases = [
        (("api", "web1:80"), r#"up{job="api", instance='web1:80'} == 1"#),
        ((r#"a"} or vector(1) #"#, "x"), r#"up{job="a\"} or vector(1) #", instance='x'} == 1"#),
        ((r"back\slash", "it's"), r#"up{job="back\\slash", instance='it\'s'} == 1"#),
        (("line\nbreak", "tab\there"), r#"up{job="line\nbreak", instance='tab\there'} == 1"#),
        (("bell\u{7}", "é"), r#"up{job="bell\u0007", instance='é'} == 1"#),
    ];
    for ((job, instance), want) in cases {
        assert_eq!(query(expr, &[("job", job), ("instance", instance)]), Ok(want.to_owned()), "{job:?}");
    }
    assert_eq!(
        query(expr, &[("job", "api")]),
        Err("the alert has no label `instance` for its query".to_owned()),
        "a missing label leaves no query"
    );
    assert_eq!(query("up == 1", &[]), Ok("up == 1".to_owned()), "no placeholder, as written");
}

fn guard(name: &str, query: Result<&str, &str>, answer: Option<GuardAnswer>) -> Guard {
    Guard { name: name.into(), query: query.map(str::to_owned).map_err(str::to_owned), answer }
}

/// The skip expected: its reason and the start of its detail; `None`, the plan goes on.
type Expected = Option<(SkipReason, &'static str)>;

#[test]
fn the_first_guard_that_does_not_hold_decides_and_says_which() {
    use GuardAnswer::*;
    let unknown = || Some(Unknown("cannot reach Prometheus: refused".into()));
    let cases: Vec<(Vec<Guard>, Expected)> = vec![
        (vec![], None),
        (vec![guard("a", Ok("up"), Some(Holds)), guard("b", Ok("x"), Some(Holds))], None),
        (
            vec![guard("a", Ok("up"), Some(Holds)), guard("b", Ok("x > 1"), Some(Fails))],
            Some((SkipReason::GuardFailed, "guard_failed:b — `x > 1` returned no sample")),
        ),
        (
            vec![guard("a", Ok("up"), unknown()), guard("b", Ok("x"), Some(Fails))],
            Some((SkipReason::GuardUnknown, "guard_unknown:a — cannot reach Prometheus: refused")),
        ),
        (
            vec![guard("a", Ok("up"), None)],
            Some((SkipReason::GuardUnknown, "guard_unknown:a — Prometheus was not asked")),
        ),
        (
            vec![guard("a", Err("the alert has no label `job` for its query"), None)],
            Some((SkipReason::GuardUnknown, "guard_unknown:a — the alert has no label `job`")),
        ),
    ];
    for (guards, want) in cases {
        let got = verdict(&guards);
        match (got, want) {
            (None, None) => {}
            (Some(skip), Some((reason, detail))) => {
                assert_eq!(skip.reason, reason, "{guards:?}");
                assert!(skip.detail.starts_with(detail), "{}", skip.detail);
            }
            (got, want) => panic!("{guards:?}: got {got:?}, want {want:?}"),
        }
    }
}

fn guarded_rule() -> Rule {
    let config: RuleConfig = serde_json::from_value(serde_json::json!({
        "name": "nginx",
        "match": { "alertname": "NginxDown" },
        "playbook": "heal.yml",
        "target_label": "host",
        "guard": [
            { "name": "node up", "expr": "up{job=\"node\", host=\"{{ $labels.host }}\"} == 1" },
            { "name": "few down", "expr": "count(up == 0) < 3" },
        ],
    }))
    .unwrap();
    Rule::from_config(config, |_| true).unwrap()
}

#[test]
fn a_rule_refuses_two_guards_of_one_name_and_a_bad_template() {
    let with = |guards: serde_json::Value| {
        let config: RuleConfig = serde_json::from_value(serde_json::json!({
            "name": "r", "match": { "alertname": "A" }, "playbook": "p.yml", "guard": guards,
        }))
        .unwrap();
        Rule::from_config(config, |_| true).map(|_| ())
    };
    let twice = with(serde_json::json!([{ "name": "a", "expr": "up" }, { "name": "a", "expr": "up" }]));
    assert_eq!(twice, Err("rule `r`: guard: two guards are named `a`".to_owned()));
    let outside = with(serde_json::json!([{ "name": "a", "expr": "up == {{ $labels.x }}" }]));
    assert!(outside.unwrap_err().starts_with("rule `r`: guard: guard `a`: "));
}

#[test]
fn answers_fill_every_guard_asking_the_same_query_once() {
    let rules = [guarded_rule()];
    let alert = |host| labels(&[("alertname", "NginxDown"), ("host", host)]);
    let mut verdicts: Vec<Prejudged> = ["web1", "web2", "web1"]
        .into_iter()
        .map(|h| prejudge(&rules, &KnownHosts::default(), AlertStatus::Firing, &alert(h)))
        .collect();
    let asked = pending_queries(verdicts.iter());
    assert_eq!(
        asked.into_iter().collect::<Vec<_>>(),
        [
            "count(up == 0) < 3",
            "up{job=\"node\", host=\"web1\"} == 1",
            "up{job=\"node\", host=\"web2\"} == 1",
        ],
        "three queries for six guards"
    );
    let answers: GuardAnswers = [
        ("count(up == 0) < 3".to_owned(), GuardAnswer::Holds),
        ("up{job=\"node\", host=\"web1\"} == 1".to_owned(), GuardAnswer::Holds),
        ("up{job=\"node\", host=\"web2\"} == 1".to_owned(), GuardAnswer::Fails),
    ]
    .into();
    verdicts.iter_mut().for_each(|v| fill(v, &answers));
    assert!(pending_queries(verdicts.iter()).is_empty(), "all answered");

    // Decided: web2's node guard failed (before its history is read); web1 runs once.
    let mut reads = 0;
    let judged = decide_batch(&rules, &verdicts, &Gates::default(), |_, _| {
        reads += 1;
        Ok::<_, ()>(TargetHistory::default())
    })
    .unwrap();
    let reasons: Vec<String> = judged
        .iter()
        .map(|j| match &j.decision {
            Decision::Run(_) => "run".to_owned(),
            Decision::Skip(s) => format!("{} {}", s.reason.as_str(), s.detail),
        })
        .collect();
    assert_eq!(reasons[0], "run");
    assert!(reasons[1].starts_with("guard_failed guard_failed:node up — "), "{}", reasons[1]);
    assert!(reasons[2].starts_with("run_in_progress"), "{}", reasons[2]);
    assert_eq!(reads, 1, "a failed guard reads no history");

    // A pause comes first: nothing runs, whatever the guards say.
    let paused = decide_batch(&rules, &verdicts[1..2], &Gates::paused(Paused::of(["*"])), |_, _| {
        Ok::<_, ()>(TargetHistory::default())
    })
    .unwrap();
    assert!(matches!(&paused[0].decision, Decision::Skip(s) if s.reason == SkipReason::Paused));

    // Unasked (made again after a reload, or after a restart): never runs blind.
    let unasked = prejudge(&rules, &KnownHosts::default(), AlertStatus::Firing, &alert("web1"));
    let judged =
        decide_batch(&rules, [&unasked], &Gates::default(), |_, _| Ok::<_, ()>(TargetHistory::default()))
            .unwrap();
    assert!(matches!(&judged[0].decision, Decision::Skip(s) if s.reason == SkipReason::GuardUnknown));
}
