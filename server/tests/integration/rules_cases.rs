//! `selfheal rules test`: the shipped cases (ansible/rules-tests) pass against the shipped
//! selfheal.toml, and fail with a readable diff when a shipped rule's behaviour changes; a case
//! that is wrong says what is wrong.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_selfheal");

fn repo() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// `selfheal --config CONFIG rules test DIR`, run from the repository (the config's ansible dir).
fn rules_test(config: &Path, dir: &Path) -> (Output, String) {
    let out = Command::new(BIN)
        .arg("--config")
        .arg(config)
        .args(["rules", "test"])
        .arg(dir)
        .current_dir(repo())
        .env_remove("SELFHEAL_CONFIG")
        .output()
        .expect("selfheal runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out, text)
}

#[test]
fn the_shipped_rule_cases_pass_against_the_shipped_rules() {
    let (out, text) = rules_test(&repo().join("selfheal.toml"), &repo().join("ansible/rules-tests"));
    assert!(out.status.success(), "{text}");
    for case in [
        "blast-radius.toml",
        "guards.toml",
        "ha-pair.toml",
        "labels.toml",
        "nginx-down.toml",
        "pause.toml",
        "recovery.toml",
    ] {
        assert!(text.contains(&format!("ok    {case}")), "{case} did not pass:\n{text}");
    }
    assert!(text.contains("8 rule cases passed"), "{text}");
}

#[test]
fn a_rule_whose_guard_is_removed_fails_the_guard_case() {
    let shipped = std::fs::read_to_string(repo().join("selfheal.toml")).unwrap();
    let guard = "[[rules.guard]]\nname = \"not a fleet outage\"\nexpr = '(count(ALERTS{alertname=~\"Nginx.*\", alertstate=\"firing\"}) or vector(0)) < 5'\n";
    assert!(shipped.contains(guard), "the shipped nginx-down guard");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("selfheal.toml");
    std::fs::write(&config, shipped.replacen(guard, "", 1)).unwrap();
    let (out, text) = rules_test(&config, &repo().join("ansible/rules-tests"));
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("FAIL  guards.toml: step 1 (at 0s): no rule has a guard named `not a fleet outage`"),
        "{text}"
    );
    assert!(text.contains("1 of 8 rule cases failed"), "{text}");
}

#[test]
fn a_changed_rule_fails_its_cases_with_a_diff() {
    // nginx-down's cooldown from 5 s to 1 m: the re-fires the case expects to run now wait.
    let shipped = std::fs::read_to_string(repo().join("selfheal.toml")).unwrap();
    let changed = shipped.replacen("cooldown = \"5s\"", "cooldown = \"1m\"", 1);
    assert_ne!(changed, shipped);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("selfheal.toml");
    std::fs::write(&config, changed).unwrap();
    let (out, text) = rules_test(&config, &repo().join("ansible/rules-tests"));
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("FAIL  nginx-down.toml: 6 of 10 decisions differ"), "{text}");
    assert!(text.contains("  step 4 (at 10s), alert 1 (NginxDown):"), "{text}");
    assert!(text.contains("    expected  reason=enqueued rule=* target=* mode=*"), "{text}");
    assert!(text.contains("    got       reason=cooldown rule=nginx-down target=localhost mode=-"), "{text}");
    assert!(text.contains("ok    pause.toml"), "the other rules' cases still pass:\n{text}");
    assert!(text.contains("1 of 8 rule cases failed"), "{text}");
}

#[test]
fn a_wrong_case_says_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write(
        "a-typo.toml",
        "hosts = [\"localhost\"]\n[[step]]\nat = \"0s\"\nalerts = [{ labels = { alertname = \"NginxDown\", host = \"localhost\" } }]\n\
         expect = [{ reason = \"enqueued\", rulle = \"nginx-down\" }]\n",
    );
    write(
        "b-count.toml",
        "hosts = [\"localhost\"]\n[[step]]\nat = \"0s\"\nalerts = [{ labels = { alertname = \"NginxDown\", host = \"localhost\" } }]\n",
    );
    write("c-payload.toml", "[[step]]\nat = \"1s\"\npayload = \"missing.json\"\nexpect = []\n");
    write("d-reset.toml", "[[step]]\nat = \"1s\"\nreset = [\"nginx-down\"]\n");
    write("e-guard.toml", "[[step]]\nat = \"2s\"\nguards = { \"machine sen\" = \"fails\" }\n");
    let (out, text) = rules_test(&repo().join("selfheal.toml"), dir.path());
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("FAIL  a-typo.toml") && text.contains("unknown field") && text.contains("rulle"),
        "{text}"
    );
    assert!(text.contains("FAIL  b-count.toml: step 1 (at 0s): 1 alerts but 0 expectations"), "{text}");
    assert!(
        text.contains("FAIL  c-payload.toml: step 1 (at 1s): cannot read") && text.contains("missing.json"),
        "{text}"
    );
    assert!(
        text.contains("FAIL  d-reset.toml: step 1 (at 1s): reset `nginx-down` is not rule/target"),
        "{text}"
    );
    assert!(
        text.contains("FAIL  e-guard.toml: step 1 (at 2s): no rule has a guard named `machine sen`"),
        "{text}"
    );
    assert!(text.contains("5 of 5 rule cases failed"), "{text}");

    let empty = tempfile::tempdir().unwrap();
    let (out, text) = rules_test(&repo().join("selfheal.toml"), empty.path());
    assert!(!out.status.success() && text.contains("no case (*.toml) in"), "{text}");
}

#[test]
fn rules_diff_names_each_changed_key_against_the_rules_in_force() {
    let shipped = std::fs::read_to_string(repo().join("selfheal.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let changed = dir.path().join("new.toml");
    std::fs::write(&changed, shipped.replacen("cooldown = \"5s\"", "cooldown = \"1m\"", 1)).unwrap();
    let out = Command::new(BIN)
        .args(["--config", "selfheal.toml", "rules", "diff"])
        .arg(&changed)
        .current_dir(repo())
        .env_remove("SELFHEAL_CONFIG")
        .env("SELFHEAL_DATABASE", dir.path().join("db/selfheal.db"))
        .output()
        .expect("selfheal runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert!(text.contains("(in force) -> "), "{text}");
    assert!(text.contains("  ~ nginx-down: cooldown \"5s\" -> \"1m\"\n"), "{text}");
    assert_eq!(text.matches("  ~ ").count(), 1, "only that key changed: {text}");
    assert!(text.contains("of the last 0 alerts, 0 would be decided differently"), "{text}");
}
