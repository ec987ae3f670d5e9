//! Property tests: hostile label values and label names (Jinja, shell metacharacters,
//! newlines, NUL, unicode, leading dashes, anything) reach a playbook only as literal data.
//! For every generated alert the plan is either refused as `invalid_labels` or gives:
//! - a `--limit` that is one plain host name in one argv element (never an option, a pattern
//!   or a list), and no other argv element taken from a label;
//! - extra vars only under the names the rule lists, each written to the vars file as an
//!   `__ansible_unsafe` string equal, byte for byte, to the label value.
//!
//! The real `ansible-playbook` side (values arrive untemplated, nothing executes) is
//! `ansible.rs::hostile_label_values_reach_the_playbook_as_literal_strings`.
use std::cell::Cell;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use app::ssr::heal::{plan, KnownHosts, Rule, RuleConfig, SkipReason};
use server::ansible::{arguments, write_extra_vars, PlaybookRun};

fn rule() -> Rule {
    let config: RuleConfig = serde_json::from_value(serde_json::json!({
        "name": "nginx-down", "match": { "alertname": "NginxDown" }, "playbook": "heal-nginx.yml",
        "target_label": "instance", "limit_from": "instance", "vars_from_labels": ["instance", "service", "summary"],
    }))
    .unwrap();
    Rule::from_config(config, |_| true).unwrap()
}

/// Strings an attacker would try, plus arbitrary unicode.
fn hostile() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just("{{ 7 * 7 }}"),
        Just("{% for x in range(3) %}x{% endfor %}"),
        Just("{{ lookup('pipe', 'id') }}"),
        Just("$(reboot)"),
        Just("`id`"),
        Just("; rm -rf / #"),
        Just("| nc evil 1"),
        Just("&& curl x"),
        Just("\n"),
        Just("\r\n"),
        Just("\0"),
        Just("--limit=all"),
        Just("-e@/etc/passwd"),
        Just("-"),
        Just("all"),
        Just("web*,!db"),
        Just("host:9113"),
        Just("\""),
        Just("'"),
        Just("\\"),
        Just(" "),
        Just("ünïcødé 🚑"),
        Just("web1"),
        Just("."),
    ];
    prop_oneof![
        prop::collection::vec(pieces, 1..6).prop_map(|p| p.concat()),
        any::<String>(),
        "[a-z0-9.-]{1,20}(:[0-9]{1,5})?",
        // Hosts of the inventory (and its group names), with or without a port.
        (prop::sample::select(vec!["web1", "db-2.example", "web", "all"]), "(:[0-9]{1,5})?")
            .prop_map(|(host, port)| format!("{host}{port}")),
    ]
}

fn alert_labels() -> impl Strategy<Value = BTreeMap<String, String>> {
    (hostile(), hostile(), hostile(), prop::collection::btree_map(hostile(), hostile(), 0..4)).prop_map(
        |(instance, service, summary, extra)| {
            let mut labels = extra;
            labels.insert("alertname".into(), "NginxDown".into());
            labels.insert("instance".into(), instance);
            labels.insert("service".into(), service);
            labels.insert("summary".into(), summary);
            labels
        },
    )
}

/// The inventory the fuzzed alerts are planned against: two hosts, and groups `web` and `all`.
fn known_hosts() -> KnownHosts {
    let list = r#"{"_meta": {"hostvars": {}}, "all": {"children": ["web"]}, "web": {"hosts": ["web1", "db-2.example"]}}"#;
    KnownHosts::from_inventory_list(list).unwrap()
}

fn plain_host(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(['-', '.'])
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

#[test]
fn hostile_labels_never_become_options_patterns_or_templates() {
    let rule = rule();
    let hosts = known_hosts();
    let dir = tempfile::tempdir().unwrap();
    let mut runner = TestRunner::new(Config { cases: 5_000, failure_persistence: None, ..Config::default() });
    let (planned, refused) = (Cell::new(0u32), Cell::new(0u32));
    runner
        .run(&alert_labels(), |labels| {
            let p = match plan(&rule, &labels, &hosts) {
                Ok(p) => p,
                Err(skip) => {
                    prop_assert_eq!(skip.reason, SkipReason::InvalidLabels, "{}", skip.detail);
                    refused.set(refused.get() + 1);
                    return Ok(());
                }
            };
            planned.set(planned.get() + 1);
            let limit = p.limit.clone().expect("limit_from is set");
            prop_assert!(plain_host(&limit), "limit {limit:?}");
            prop_assert!(
                ["web1", "db-2.example"].contains(&limit.as_str()),
                "only a host of the inventory: {limit:?}"
            );
            let run = PlaybookRun {
                command: "ansible-playbook".into(),
                playbook: PathBuf::from("heal-nginx.yml"),
                inventory: PathBuf::from("inventory.ini"),
                limit: Some(limit.clone()),
                extra_vars: p.extra_vars.clone(),
                check: false,
                timeout: Duration::from_secs(60),
                python_interpreter: "/usr/bin/python3".into(),
                work_dir: dir.path().to_owned(),
            };
            let file = write_extra_vars(dir.path(), &p.extra_vars).unwrap();
            let args: Vec<String> =
                arguments(&run, &file).into_iter().map(|a| a.into_string().unwrap()).collect();
            let fixed = ["heal-nginx.yml", "--inventory", "inventory.ini", "--extra-vars"];
            prop_assert_eq!(&args[..4], &fixed[..]);
            prop_assert_eq!(&args[4], &format!("@{}", file.display()));
            prop_assert_eq!(&args[5..], &[format!("--limit={limit}")][..]);

            // Only the listed names, each value unsafe-marked and unchanged.
            let written: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
            let written = written.as_object().unwrap();
            prop_assert!(written.keys().all(|k| ["instance", "service", "summary"].contains(&k.as_str())));
            for (name, value) in &p.extra_vars {
                prop_assert_eq!(&labels[name], value);
                let entry = written[name].as_object().unwrap();
                prop_assert_eq!(entry.len(), 1);
                prop_assert_eq!(entry["__ansible_unsafe"].as_str().unwrap(), value.as_str());
            }
            Ok(())
        })
        .unwrap();
    let (planned, refused) = (planned.get(), refused.get());
    eprintln!("labels fuzzed: 5000 alerts, {planned} planned with safe arguments, {refused} refused");
    assert!(planned > 100 && refused > 100, "planned {planned}, refused {refused}");
}
