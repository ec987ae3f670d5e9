//! Decision table: every skip reason, breaker and cooldown edges, plans and their validation.
use super::*;

/// The first rule of a `{"rules": [...]}` document (JSON has the same shape as the TOML).
fn cfg(json: &str) -> RuleConfig {
    #[derive(Deserialize)]
    struct Wrap {
        rules: Vec<RuleConfig>,
    }
    let w: Wrap = serde_json::from_str(json).expect("valid rule");
    w.rules.into_iter().next().expect("one rule")
}

fn rule(json: &str) -> Rule {
    Rule::from_config(cfg(json), |_| true).expect("valid rule")
}

const NGINX: &str = r#"{"rules":[{"name":"nginx-down","match":{"alertname":"NginxDown"},
    "matchers":["severity=~\"crit.*\""],"playbook":"heal-nginx.yml","limit_from":"instance",
    "vars_from_labels":["instance","service"],"cooldown":"2m","max_attempts":3,"window":"30m"}]}"#;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn nginx_labels() -> BTreeMap<String, String> {
    labels(&[
        ("alertname", "NginxDown"),
        ("severity", "critical"),
        ("instance", "web1:9113"),
        ("service", "nginx"),
    ])
}

fn reason(d: &Decision) -> &'static str {
    match d {
        Decision::Run(_) => "run",
        Decision::Skip(s) => s.reason.as_str(),
    }
}

#[test]
fn the_decision_table() {
    let r = rule(NGINX);
    let l = nginx_labels();
    let fresh = TargetHistory::default();
    let mins = |m: u64| Some(Duration::from_secs(m * 60));
    let cases: [(&str, AlertStatus, Option<&Rule>, TargetHistory, &str); 12] = [
        ("firing, fresh target", AlertStatus::Firing, Some(&r), fresh, "run"),
        ("resolved never heals", AlertStatus::Resolved, Some(&r), fresh, "resolved"),
        ("resolved wins over no rule", AlertStatus::Resolved, None, fresh, "resolved"),
        ("no rule", AlertStatus::Firing, None, fresh, "no_rule"),
        (
            "run in flight",
            AlertStatus::Firing,
            Some(&r),
            TargetHistory { active_run: true, ..fresh },
            "run_in_progress",
        ),
        (
            "cooldown, just inside",
            AlertStatus::Firing,
            Some(&r),
            TargetHistory {
                since_last_attempt: Some(Duration::from_secs(119)),
                attempts_in_window: 1,
                ..fresh
            },
            "cooldown",
        ),
        (
            "cooldown, exactly over",
            AlertStatus::Firing,
            Some(&r),
            TargetHistory { since_last_attempt: mins(2), attempts_in_window: 1, ..fresh },
            "run",
        ),
        (
            "below max attempts",
            AlertStatus::Firing,
            Some(&r),
            TargetHistory { since_last_attempt: mins(5), attempts_in_window: 2, ..fresh },
            "run",
        ),
        (
            "breaker opens at max",
            AlertStatus::Firing,
            Some(&r),
            TargetHistory { since_last_attempt: mins(5), attempts_in_window: 3, ..fresh },
            "breaker_open",
        ),
        (
            "breaker beats cooldown",
            AlertStatus::Firing,
            Some(&r),
            TargetHistory { since_last_attempt: mins(1), attempts_in_window: 9, ..fresh },
            "breaker_open",
        ),
        (
            "after a reset (0 in window)",
            AlertStatus::Firing,
            Some(&r),
            TargetHistory { since_last_attempt: mins(5), attempts_in_window: 0, ..fresh },
            "run",
        ),
        (
            "in flight beats breaker",
            AlertStatus::Firing,
            Some(&r),
            TargetHistory { active_run: true, attempts_in_window: 9, ..fresh },
            "run_in_progress",
        ),
    ];
    for (name, status, rule, history, want) in cases {
        let d = decide(status, rule, plan(&r, &l, &inventory()), history);
        assert_eq!(reason(&d), want, "{name}: {d:?}");
    }
    // The skip names the run in flight when it is known.
    let busy = TargetHistory { active_run: true, in_flight: Some(9), ..fresh };
    let d = decide(AlertStatus::Firing, Some(&r), plan(&r, &l, &inventory()), busy);
    assert!(matches!(&d, Decision::Skip(s) if s.detail.ends_with("is already in flight: run #9")), "{d:?}");
}

#[test]
fn shadow_records_what_would_have_run_after_every_other_check() {
    let json = NGINX.replace(r#""cooldown""#, r#""mode":"shadow","cooldown""#);
    let r = rule(&json);
    let d = decide(
        AlertStatus::Firing,
        Some(&r),
        plan(&r, &nginx_labels(), &inventory()),
        TargetHistory::default(),
    );
    let Decision::Skip(s) = d else { panic!("shadow must not run") };
    assert_eq!(s.reason, SkipReason::Shadow);
    assert!(s.detail.contains("would have run heal-nginx.yml on web1"), "{}", s.detail);
    let open = TargetHistory { attempts_in_window: 3, ..Default::default() };
    assert_eq!(
        reason(&decide(AlertStatus::Firing, Some(&r), plan(&r, &nginx_labels(), &inventory()), open)),
        "breaker_open"
    );
}

#[test]
fn a_plan_carries_target_limit_and_only_allowlisted_vars() {
    let r = rule(NGINX);
    let mut l = nginx_labels();
    l.insert("secret_token".into(), "x".into());
    let p = plan(&r, &l, &inventory()).unwrap();
    assert_eq!((p.target.as_str(), p.limit.as_deref()), ("web1:9113", Some("web1")));
    assert_eq!(p.extra_vars.keys().collect::<Vec<_>>(), ["instance", "service"]);
    assert_eq!(p.mode, RuleMode::Auto);
}

/// The inventory the plans are checked against: hosts web1 and web2 in group web.
fn inventory() -> KnownHosts {
    let list =
        r#"{"_meta": {"hostvars": {}}, "all": {"children": ["web"]}, "web": {"hosts": ["web1", "web2"]}}"#;
    KnownHosts::from_inventory_list(list).unwrap()
}

#[test]
fn a_limit_names_one_host_of_the_inventory_never_a_group_or_an_unknown_host() {
    let r = rule(NGINX);
    for (instance, ok) in
        [("web2:9113", true), ("web", false), ("all", false), ("db9", false), ("all:9100", false)]
    {
        let mut l = nginx_labels();
        l.insert("instance".into(), instance.into());
        match plan(&r, &l, &inventory()) {
            Ok(p) => assert!(ok, "{instance} planned with --limit {:?}", p.limit),
            Err(skip) => {
                assert!(!ok, "{instance}: {}", skip.detail);
                assert_eq!(skip.reason, SkipReason::InvalidLabels);
                assert!(skip.detail.contains("--limit"), "{}", skip.detail);
            }
        }
    }
    let unreadable = plan(&r, &nginx_labels(), &KnownHosts::unreadable("exit 1")).unwrap_err();
    assert!(unreadable.detail.contains("exit 1"), "{}", unreadable.detail);
}

#[test]
fn hostile_label_values_pass_as_data_but_never_as_a_limit() {
    let r = rule(NGINX);
    for value in
        ["{{ lookup('pipe','id') }}", "$(reboot)", "a\"b'c", "line1\nline2", "--extra-vars=x", "…ünïcödé"]
    {
        let mut l = nginx_labels();
        l.insert("service".into(), value.into());
        let p = plan(&r, &l, &inventory()).expect("any printable value may be passed as data");
        assert_eq!(p.extra_vars["service"], value);
    }
    for instance in
        ["-i evil", "all", "web1,web2", "web1:web2", "*", "!web1", "web[1:3]", "", "web1 web2", ".hidden"]
    {
        let mut l = nginx_labels();
        l.insert("instance".into(), instance.into());
        let limit_ok = limit_host(instance).is_some();
        let result = plan(&r, &l, &inventory());
        if instance == "all" {
            // A plain name, refused because the inventory has it as a group, not as a host.
            assert!(limit_ok);
        } else {
            assert!(!limit_ok, "{instance:?} must never become --limit");
        }
        assert!(
            matches!(result, Err(Skip { reason: SkipReason::InvalidLabels, .. })),
            "{instance:?}: {result:?}"
        );
    }
    let mut l = nginx_labels();
    l.insert("service".into(), "nul\0byte".into());
    assert!(plan(&r, &l, &inventory()).is_err());
}

#[test]
fn var_patterns_restrict_values() {
    let json = NGINX.replace(r#""cooldown""#, r#""var_patterns":{"service":"[a-z]+"},"cooldown""#);
    let r = rule(&json);
    assert!(plan(&r, &nginx_labels(), &inventory()).is_ok());
    let mut l = nginx_labels();
    l.insert("service".into(), "nginx; rm -rf /".into());
    assert_eq!(plan(&r, &l, &inventory()).unwrap_err().reason, SkipReason::InvalidLabels);
}

#[test]
fn rule_matching_uses_every_matcher_and_file_order() {
    let r = rule(NGINX);
    let other = rule(
        &NGINX.replace("nginx-down", "catch-all-crit").replace(r#""match":{"alertname":"NginxDown"},"#, ""),
    );
    let rules = [r, other];
    assert_eq!(select_rule(&rules, &nginx_labels()).map(Rule::name), Some("nginx-down"));
    let mut warning = nginx_labels();
    warning.insert("severity".into(), "warning".into());
    assert!(select_rule(&rules, &warning).is_none());
    let mut other_alert = nginx_labels();
    other_alert.insert("alertname".into(), "DiskFull".into());
    assert_eq!(select_rule(&rules, &other_alert).map(Rule::name), Some("catch-all-crit"));
}

#[test]
fn invalid_rules_are_refused_naming_the_field() {
    let cases = [
        (
            "no matchers",
            r#"{"rules":[{"name":"nginx-down","playbook":"heal-nginx.yml"}]}"#.to_owned(),
            "match",
        ),
        ("escaping playbook", NGINX.replace("heal-nginx.yml", "../../etc/passwd"), "playbook"),
        ("absolute playbook", NGINX.replace("heal-nginx.yml", "/bin/sh"), "playbook"),
        ("bad matcher", NGINX.replace(r#"severity=~\"crit.*\""#, "severity>1"), "matchers"),
        ("zero attempts", NGINX.replace(r#""max_attempts":3"#, r#""max_attempts":0"#), "max_attempts"),
        (
            "pattern for unlisted var",
            NGINX.replace(r#""cooldown""#, r#""var_patterns":{"x":"a"},"cooldown""#),
            "var_patterns",
        ),
        ("bad var name", NGINX.replace(r#""service"]"#, r#""bad-name"]"#), "vars_from_labels"),
        ("connection var", NGINX.replace(r#""service"]"#, r#""ansible_host"]"#), "vars_from_labels"),
        (
            "notify not a url",
            NGINX.replace(r#""cooldown""#, r#""notify":["hooks.example/x"],"cooldown""#),
            "notify",
        ),
        (
            "notify bare scheme",
            NGINX.replace(r#""cooldown""#, r#""notify":["https://"],"cooldown""#),
            "notify",
        ),
        ("notify empty file", NGINX.replace(r#""cooldown""#, r#""notify":["file:"],"cooldown""#), "notify"),
        (
            "notify other scheme",
            NGINX.replace(r#""cooldown""#, r#""notify":["ftp://x/y"],"cooldown""#),
            "notify",
        ),
    ];
    for (name, json, field) in cases {
        let err = Rule::from_config(cfg(&json), |_| true).expect_err(name);
        assert!(err.contains(field) && err.contains("nginx-down"), "{name}: {err}");
    }
    let notify = r#""notify":["https://hooks.example/T0/secret","HTTP://x","file:notifications.jsonl","file:///var/log/n"],"cooldown""#;
    assert!(Rule::from_config(cfg(&NGINX.replace(r#""cooldown""#, notify)), |_| true).is_ok());
    let secret = NGINX.replace(r#""cooldown""#, r#""notify":["hooks.example/T0/secret"],"cooldown""#);
    let err = Rule::from_config(cfg(&secret), |_| true).unwrap_err();
    assert!(!err.contains("secret") && err.contains("entry 1"), "the entry is not repeated: {err}");
    let err = Rule::from_config(cfg(NGINX), |_| false).unwrap_err();
    assert!(err.contains("not found"), "{err}");
}
