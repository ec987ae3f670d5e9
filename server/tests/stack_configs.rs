//! The shipped configs are real and valid: promtool (config + rule unit tests), amtool, and
//! ansible-playbook (syntax, and a --check run that changes nothing).
use std::path::PathBuf;
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(repo())
        .env("ANSIBLE_PYTHON_INTERPRETER", "/usr/bin/python3")
        .output()
        .unwrap_or_else(|e| panic!("{program} is installed (scripts/setup.sh test): {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{program} {args:?} failed:\n{text}");
    text
}

#[test]
fn prometheus_config_and_rules_are_valid_and_their_unit_tests_pass() {
    let config = run("promtool", &["check", "config", "prometheus/prometheus.yml"]);
    assert!(config.contains("8 rules found"), "{config}");
    run("promtool", &["test", "rules", "prometheus/alert_rules_test.yml"]);
}

#[test]
fn alertmanager_config_is_valid_and_routes_to_the_webhook_with_basic_auth() {
    run("amtool", &["check-config", "alertmanager/alertmanager.yml"]);
    let text = std::fs::read_to_string(repo().join("alertmanager/alertmanager.yml")).unwrap();
    for needle in
        ["url: http://127.0.0.1:5000/webhook", "send_resolved: true", "basic_auth:", "password_file:"]
    {
        assert!(text.contains(needle), "{needle} missing");
    }
}

#[test]
fn the_heal_playbook_passes_syntax_check_and_changes_nothing_in_check_mode() {
    run(
        "ansible-playbook",
        &["--syntax-check", "-i", "ansible/inventory/local.ini", "ansible/heal-nginx.yml"],
    );
    let out = run(
        "ansible-playbook",
        &[
            "--check",
            "-i",
            "ansible/inventory/local.ini",
            "ansible/heal-nginx.yml",
            "-e",
            "nginx_health_url=http://127.0.0.1:9/health",
        ],
    );
    assert!(out.contains("changed=0"), "--check must not change anything:\n{out}");
}
