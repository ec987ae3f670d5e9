//! The shipped configs are real and valid: promtool (config + rule unit tests), amtool, the
//! exporters' own checks, selfheal's check-config, ansible-playbook (syntax, and --check runs
//! that change nothing, and a runaway search that stays inside its own nginx) and ansible-lint's
//! production profile.
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
    let Some(_turn) = crate::provisioned("prometheus_config_and_rules_are_valid_and_their_unit_tests_pass")
    else {
        return;
    };
    for file in ["prometheus/prometheus.yml", "prometheus/prometheus.compose.yml"] {
        let config = run("promtool", &["check", "config", file]);
        assert!(config.contains("8 rules found"), "{file}: {config}");
    }
    run("promtool", &["test", "rules", "prometheus/alert_rules_test.yml"]);
}

#[test]
fn alertmanager_config_is_valid_and_routes_to_the_webhook_with_basic_auth() {
    let Some(_turn) =
        crate::provisioned("alertmanager_config_is_valid_and_routes_to_the_webhook_with_basic_auth")
    else {
        return;
    };
    run("amtool", &["check-config", "alertmanager/alertmanager.yml"]);
    let text = std::fs::read_to_string(repo().join("alertmanager/alertmanager.yml")).unwrap();
    for needle in
        ["url: http://127.0.0.1:5000/webhook", "send_resolved: true", "basic_auth:", "password_file:"]
    {
        assert!(text.contains(needle), "{needle} missing");
    }
}

#[test]
fn the_exporter_configs_and_selfheal_toml_are_valid() {
    let Some(_turn) = crate::provisioned("the_exporter_configs_and_selfheal_toml_are_valid") else {
        return;
    };
    run("prometheus-blackbox-exporter", &["--config.check", "--config.file=prometheus/blackbox.yml"]);
    let checked = run(env!("CARGO_BIN_EXE_selfheal"), &["--config", "selfheal.toml", "check-config"]);
    assert!(checked.contains("rules = nginx-down, nginx-runaway-cpu, nginx-memory"), "{checked}");
    // process-exporter has no check flag: its config must at least name the nginx group the
    // alert rules select (groupname="nginx"); the native stack test runs it for real.
    let text = std::fs::read_to_string(repo().join("prometheus/process-exporter.yml")).unwrap();
    assert!(text.contains("- name: nginx"), "{text}");
}

#[test]
fn every_playbook_passes_syntax_check_and_ansible_lint() {
    let Some(_turn) = crate::provisioned("every_playbook_passes_syntax_check_and_ansible_lint") else {
        return;
    };
    for inventory in ["local.ini", "docker.ini", "ssh-systemd.ini.example"] {
        for playbook in ["heal-nginx.yml", "system-recovery.yml"] {
            let inventory = format!("ansible/inventory/{inventory}");
            run("ansible-playbook", &["--syntax-check", "-i", &inventory, &format!("ansible/{playbook}")]);
        }
    }
    let lint = run("ansible-lint", &["--offline", "--nocolor", "--profile", "production", "ansible/"]);
    assert!(lint.contains("Passed"), "{lint}");
}

#[test]
fn the_heal_playbook_changes_nothing_in_check_mode() {
    let Some(_turn) = crate::provisioned("the_heal_playbook_changes_nothing_in_check_mode") else {
        return;
    };
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

/// A process started by the test under `argv0`, killed when dropped.
struct Named(std::process::Child);

impl Named {
    fn start(argv0: &str) -> Named {
        use std::os::unix::process::CommandExt;
        let child = Command::new("/usr/bin/python3")
            .arg0(argv0)
            .args(["-c", "import time; time.sleep(120)"])
            .spawn()
            .expect("/usr/bin/python3 runs");
        Named(child)
    }
}

impl Drop for Named {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn system_recovery_in_check_mode_finds_only_its_own_nginx_and_signals_nothing() {
    let Some(_turn) =
        crate::provisioned("system_recovery_in_check_mode_finds_only_its_own_nginx_and_signals_nothing")
    else {
        return;
    };
    // Two processes named like nginx workers: one names this target's nginx prefix, the other
    // another nginx's (a second stack on the machine, a container seen from the host). With
    // every threshold at zero, only the first is in scope; the other is never a candidate.
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("nginx");
    let ours = Named::start(&format!("nginx: worker process (ours) -p {}/", prefix.display()));
    let theirs = Named::start("nginx: worker process (theirs) -p /srv/nginx/");
    // In scope but protected: the master is never a candidate, however much it uses.
    let master = Named::start(&format!("nginx: master process /usr/sbin/nginx -p {}/", prefix.display()));
    let out = run(
        "ansible-playbook",
        &[
            "--check",
            "-i",
            "ansible/inventory/local.ini",
            "ansible/system-recovery.yml",
            "-e",
            r#"{"recovery_cpu_percent": -1, "recovery_memory_mb": -1}"#,
            "-e",
            "nginx_health_url=http://127.0.0.1:9/health",
            "-e",
            &format!("nginx_prefix={}", prefix.display()),
        ],
    );
    assert!(out.contains("changed=0"), "--check must not change anything:\n{out}");
    assert!(out.contains(&format!("would stop 1 runaway process(es) [{}]", ours.0.id())), "{out}");
    assert!(!out.contains(&theirs.0.id().to_string()), "another nginx's process was in scope:\n{out}");
    assert!(!out.contains(&master.0.id().to_string()), "the protected master was a candidate:\n{out}");
    let mut ours = ours;
    assert!(ours.0.try_wait().unwrap().is_none(), "--check signalled the process it found");
}

#[test]
fn the_vscode_tasks_call_the_project_scripts() {
    let Some(_turn) = crate::provisioned("the_vscode_tasks_call_the_project_scripts") else {
        return;
    };
    // tasks.json is JSON with comments (VS Code's JSONC): drop the comment lines to parse it.
    let text = std::fs::read_to_string(repo().join(".vscode/tasks.json")).unwrap();
    let json: String =
        text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
    let tasks: serde_json::Value = serde_json::from_str(&json).expect("tasks.json parses");
    let tasks = tasks["tasks"].as_array().unwrap();
    let labels: Vec<&str> = tasks.iter().map(|t| t["label"].as_str().unwrap()).collect();
    for wanted in [
        "build (debug)",
        "build (release)",
        "test (everything",
        "test (fast",
        "stack: start",
        "stack: stop",
        "check-config",
    ] {
        assert!(labels.iter().any(|l| l.starts_with(wanted)), "no task {wanted}: {labels:?}");
    }
    for task in tasks {
        let command = task["command"].as_str().unwrap();
        let program = command.split_whitespace().next().unwrap();
        assert!(
            program == "cargo" || repo().join(program).is_file(),
            "{command}: {program} is not in the repository"
        );
    }
}
