//! The systemd healing method, run for real (issue 27, item 5): a container with systemd as pid
//! 1, nginx as its service and sshd (systemd_host/Dockerfile) stands in for a real host.
//! heal-nginx.yml reaches it over SSH with the `[web:vars]` of
//! ansible/inventory/ssh-systemd.ini.example as shipped (its key and known_hosts added), after
//! `systemctl stop nginx`: nginx is restarted through systemd and answers again; a second run
//! finds it healthy and changes nothing. The container needs no privileges: systemd gets a
//! read-only view of the cgroups and its own /run.
use crate::common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::process::{checked, repo};

/// The host container, removed on drop.
struct Host(String);

impl Host {
    fn exec(&self, args: &[&str]) -> String {
        let out = Command::new("docker").arg("exec").arg(&self.0).args(args).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", &self.0]).output();
    }
}

fn text(cmd: &mut Command) -> String {
    let out = checked(cmd);
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The shipped example's `[web:vars]`, verbatim.
fn example_vars() -> String {
    let example = std::fs::read_to_string(repo().join("ansible/inventory/ssh-systemd.ini.example")).unwrap();
    let vars = example.split("\n[web:vars]\n").nth(1).expect("the example has a [web:vars] section");
    vars.split("\n[").next().unwrap().trim().to_owned()
}

fn playbook(inventory: &Path) -> String {
    text(
        Command::new("ansible-playbook")
            .args(["-i", inventory.to_str().unwrap(), "--limit", "web1", "ansible/heal-nginx.yml"])
            .current_dir(repo()),
    )
}

#[test]
fn heal_nginx_restarts_a_systemd_nginx_over_ssh() {
    let Some(_turn) = crate::provisioned("heal_nginx_restarts_a_systemd_nginx_over_ssh") else {
        return;
    };
    checked(
        Command::new("bash")
            .arg(repo().join("scripts/compose-setup.sh"))
            .env("COMPOSE_SELFHEAL_PROFILE", "debug"),
    );
    let image = "selfheal-systemd-host:e2e";
    let context = repo().join("server/tests/e2e/systemd_host");
    checked(Command::new("docker").args(["build", "--quiet", "-t", image]).arg(&context));
    let host = Host(format!("selfheal-systemd-{}", std::process::id()));
    checked(Command::new("docker").args([
        "run",
        "--detach",
        "--name",
        &host.0,
        "--tmpfs",
        "/run",
        "--tmpfs",
        "/run/lock",
        "--volume",
        "/sys/fs/cgroup:/sys/fs/cgroup:ro",
        image,
    ]));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let state = host.exec(&["systemctl", "is-system-running"]);
        if state == "running" || state == "degraded" {
            break;
        }
        assert!(Instant::now() < deadline, "systemd did not come up: {state}");
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(host.exec(&["systemctl", "is-active", "nginx", "ssh"]), "active\nactive");

    // The key selfheal's user would have, accepted by the host; the host's key in known_hosts.
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("id_ed25519");
    checked(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&key));
    let authorized = format!("{}:/home/selfheal/.ssh/authorized_keys", host.0);
    checked(Command::new("docker").arg("cp").arg(key.with_extension("pub")).arg(&authorized));
    host.exec(&["chown", "selfheal:selfheal", "/home/selfheal/.ssh/authorized_keys"]);
    let ip = text(Command::new("docker").args([
        "inspect",
        "-f",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        &host.0,
    ]));
    let ip = ip.trim();
    let known_hosts = dir.path().join("known_hosts");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let scan = Command::new("ssh-keyscan").args(["-T", "3", "-t", "ed25519", ip]).output().unwrap();
        if !scan.stdout.is_empty() {
            std::fs::write(&known_hosts, &scan.stdout).unwrap();
            break;
        }
        assert!(Instant::now() < deadline, "sshd on {ip} does not answer");
        std::thread::sleep(Duration::from_millis(250));
    }
    let inventory = dir.path().join("hosts.ini");
    std::fs::write(
        &inventory,
        format!(
            "[web]\nweb1 ansible_host={ip}\n\n[web:vars]\n{}\nansible_ssh_private_key_file={}\n\
             ansible_ssh_common_args='-o UserKnownHostsFile={}'\n",
            example_vars(),
            key.display(),
            known_hosts.display()
        ),
    )
    .unwrap();

    host.exec(&["systemctl", "stop", "nginx"]);
    assert_eq!(host.exec(&["systemctl", "is-active", "nginx"]), "inactive");
    let healed = playbook(&inventory);
    assert!(healed.contains("was down and is serving again (method systemd)"), "{healed}");
    assert_eq!(host.exec(&["systemctl", "is-active", "nginx"]), "active", "{healed}");
    let again = playbook(&inventory);
    assert!(again.contains("healthy: nothing to do"), "{again}");
    assert!(again.contains("changed=0"), "a healthy nginx was touched:\n{again}");
}
