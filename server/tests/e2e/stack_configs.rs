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
        // alert_rules.yml: 8 alerts and 4 recording rules; thresholds.yml: 2 recording rules.
        assert!(config.contains("SUCCESS: 12 rules found"), "{file}: {config}");
        assert!(config.contains("SUCCESS: 2 rules found"), "{file}: {config}");
    }
    let tested = run("promtool", &["test", "rules", "prometheus/alert_rules_test.yml"]);
    assert!(tested.contains("SUCCESS"), "{tested}");
}

#[test]
fn every_shipped_alert_has_promtool_tests_and_the_table_in_the_docs() {
    let Some(_turn) = crate::provisioned("every_shipped_alert_has_promtool_tests_and_the_table_in_the_docs")
    else {
        return;
    };
    let rules = std::fs::read_to_string(repo().join("prometheus/alert_rules.yml")).unwrap();
    let tests = std::fs::read_to_string(repo().join("prometheus/alert_rules_test.yml")).unwrap();
    let docs = std::fs::read_to_string(repo().join("docs/stack.md")).unwrap();
    let alerts: Vec<&str> = rules.lines().filter_map(|l| l.trim().strip_prefix("- alert: ")).collect();
    assert_eq!(alerts.len(), 8, "{alerts:?}");
    for alert in alerts {
        assert!(tests.contains(&format!("alertname: {alert}")), "no promtool test for {alert}");
        assert!(docs.contains(&format!("| {alert} |")), "{alert} is not in docs/stack.md's alert table");
    }
    // The design's table: NginxDown and NginxServiceUnhealthy critical.
    for alert in ["NginxDown", "NginxServiceUnhealthy"] {
        let at = rules.find(&format!("- alert: {alert}")).unwrap();
        let next = rules[at + 1..].find("- alert:").map_or(rules.len(), |n| at + 1 + n);
        assert!(rules[at..next].contains("severity: critical"), "{alert} is not critical");
    }
}

#[test]
fn nginx_budget_in_the_rules_is_the_compose_containers_limit() {
    let Some(_turn) = crate::provisioned("nginx_budget_in_the_rules_is_the_compose_containers_limit") else {
        return;
    };
    // NginxHighCPU and NginxHighMemory measure against what the nginx container may use: the
    // recording rules must state the same CPU quota and memory limit as docker-compose.yml.
    let rules = std::fs::read_to_string(repo().join("prometheus/alert_rules.yml")).unwrap();
    let compose = std::fs::read_to_string(repo().join("docker-compose.yml")).unwrap();
    // The nginx service's block: from `  nginx:` to the next line indented by two spaces only.
    let nginx = &compose[compose.find("\n  nginx:").expect("an nginx service") + 1..];
    let end = nginx.match_indices("\n  ").find(|(at, _)| !nginx[at + 3..].starts_with(' ')).map(|(at, _)| at);
    let nginx = &nginx[..end.unwrap_or(nginx.len())];
    let value = |text: &str, key: &str| -> String {
        let at = text.find(key).unwrap_or_else(|| panic!("no {key}"));
        let line = text[at + key.len()..].lines().find(|l| !l.trim().is_empty()).unwrap();
        line.trim().trim_start_matches("expr:").trim().to_owned()
    };
    assert_eq!(value(nginx, "cpus:"), "1.0");
    assert_eq!(value(&rules, "record: nginx:cpu_budget:cores"), "vector(1)");
    assert_eq!(value(nginx, "mem_limit:"), "512m");
    assert_eq!(value(&rules, "record: nginx:memory_limit:bytes"), "vector(512 * 1024 * 1024)");
}

#[test]
fn the_mtail_program_compiles() {
    let Some(_turn) = crate::provisioned("the_mtail_program_compiles") else {
        return;
    };
    // mtail exits 0 even when a program fails to compile: its log says so. It binds its port
    // even with --compile_only: a free one on loopback, never a running stack's 3903.
    // As when a demo stack runs beside the tests (CI's order: ./start.sh, then the tests).
    let _stack_mtail = std::net::TcpListener::bind("0.0.0.0:3903").ok();
    let args = [
        "--compile_only",
        "--logtostderr",
        "--progs",
        "prometheus/mtail",
        "--address",
        "127.0.0.1",
        "--port",
        "0",
    ];
    let out = run("mtail", &args);
    assert!(!out.contains("compile failed"), "{out}");
    assert!(!out.to_lowercase().contains("error"), "{out}");
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
    // The cluster's file (docs/ha.md): every replica a webhook of its own, each authenticated.
    run("amtool", &["check-config", "alertmanager/alertmanager-ha.yml"]);
    let text = std::fs::read_to_string(repo().join("alertmanager/alertmanager-ha.yml")).unwrap();
    for needle in ["url: http://127.0.0.1:5000/webhook", "url: http://127.0.0.1:5001/webhook"] {
        assert!(text.contains(needle), "{needle} missing");
    }
    assert_eq!(text.matches("password_file:").count(), 2, "each replica's webhook authenticates");
    assert_eq!(text.matches("send_resolved: true").count(), 2);
}

#[test]
fn the_exporter_configs_and_selfheal_toml_are_valid() {
    let Some(_turn) = crate::provisioned("the_exporter_configs_and_selfheal_toml_are_valid") else {
        return;
    };
    run("prometheus-blackbox-exporter", &["--config.check", "--config.file=prometheus/blackbox.yml"]);
    let checked = run(env!("CARGO_BIN_EXE_selfheal"), &["--config", "selfheal.toml", "check-config"]);
    assert!(checked.contains("rules = nginx-down, nginx-runaway-cpu, nginx-memory"), "{checked}");
    assert!(
        checked.lines().any(|l| l.strip_prefix("rules_hash = ").is_some_and(|h| h.len() == 12)),
        "{checked}"
    );
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
    // In scope but protected: nginx's master, stack.sh exec's supervisor and the exporters that
    // run beside nginx are never candidates, however much they use.
    let protected: Vec<Named> = [
        format!("nginx: master process /usr/sbin/nginx -p {}/", prefix.display()),
        format!("nginx: exec supervisor -p {}/", prefix.display()),
        format!("/usr/bin/prometheus-process-exporter -p {}/", prefix.display()),
        format!("mtail --progs /etc/mtail -p {}/", prefix.display()),
    ]
    .iter()
    .map(|name| Named::start(name))
    .collect();
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
    for process in &protected {
        assert!(
            !out.contains(&format!("\"{} ", process.0.id())),
            "a protected process was a candidate:\n{out}"
        );
    }
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

#[test]
fn the_docker_proxy_config_is_valid_nginx() {
    let Some(_turn) = crate::provisioned("the_docker_proxy_config_is_valid_nginx") else {
        return;
    };
    // As docker-compose.yml's docker-proxy renders it: NGINX is the nginx container's name.
    let template = std::fs::read_to_string(repo().join("services/docker-proxy.conf")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("docker-proxy.conf");
    std::fs::write(&conf, template.replace("NGINX", "selfheal-nginx-1")).unwrap();
    let out = run("nginx", &["-t", "-e", "stderr", "-c", conf.to_str().unwrap()]);
    assert!(out.contains("test is successful"), "{out}");
}
