//! The compose stack's security claims, checked on the running containers (issue 27, item 6):
//! every process of every container runs as a non-root user; the networks keep nginx away from
//! selfheal and Alertmanager; only selfheal reaches docker-proxy, which passes on only the nginx
//! container's calls; no container but docker-proxy has the Docker socket; the logs are 0640 in
//! 0750 folders.
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

use crate::common::process::checked;

fn docker(args: &[&str]) -> Output {
    Command::new("docker").args(args).output().expect("docker runs")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// `docker inspect -f FORMAT container`.
fn inspect(container: &str, format: &str) -> String {
    text(&checked(Command::new("docker").args(["inspect", "-f", format, container]))).trim().to_owned()
}

/// `curl` inside `container`: the HTTP status, or None when nothing answered (no route, no
/// name, refused).
fn curl_from(container: &str, method: &str, url: &str) -> Option<u16> {
    let out = docker(&[
        "exec",
        container,
        "curl",
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--max-time",
        "3",
        "-X",
        method,
        url,
    ]);
    let code: u16 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0);
    (code != 0).then_some(code)
}

pub fn security_as_claimed(project: &str) {
    let container = |service: &str| format!("{project}-{service}-1");
    let services = [
        "selfheal",
        "docker-proxy",
        "nginx",
        "prometheus",
        "alertmanager",
        "nginx-exporter",
        "node-exporter",
        "blackbox-exporter",
    ];

    // Non-root: every process in every container, as the host sees it.
    for service in services {
        let out = checked(Command::new("docker").args(["top", &container(service), "-o", "pid,uid,comm"]));
        let listing = text(&out);
        for line in listing.lines().skip(1) {
            let uid = line.split_whitespace().nth(1).unwrap();
            assert_ne!(uid, "0", "{service} runs a process as root:\n{listing}");
        }
    }

    // The socket: in docker-proxy only.
    for service in services {
        let mounts = inspect(&container(service), "{{range .Mounts}}{{.Source}} {{end}}");
        assert_eq!(mounts.contains("docker.sock"), service == "docker-proxy", "{service} mounts: {mounts}");
    }

    // Networks: nginx reaches Prometheus (its demo page reads it) but not selfheal, Alertmanager
    // or docker-proxy; Prometheus does not reach docker-proxy either.
    let nginx = container("nginx");
    assert!(curl_from(&nginx, "GET", "http://prometheus:9090/-/ready").is_some(), "nginx lost Prometheus");
    for url in [
        "http://selfheal:5000/health",
        "http://alertmanager:9093/-/ready",
        "http://docker-proxy:2375/proxy-health",
    ] {
        assert_eq!(curl_from(&nginx, "GET", url), None, "nginx reaches {url}");
    }
    assert_eq!(curl_from(&container("prometheus"), "GET", "http://docker-proxy:2375/proxy-health"), None);

    // docker-proxy: selfheal gets the nginx container's calls, and nothing else.
    let selfheal = container("selfheal");
    let proxy = "http://docker-proxy:2375";
    assert_eq!(curl_from(&selfheal, "GET", &format!("{proxy}/containers/{nginx}/json")), Some(200));
    assert_eq!(curl_from(&selfheal, "GET", &format!("{proxy}/v1.41/containers/{nginx}/json")), Some(200));
    for (method, path) in [
        ("GET", "/containers/json".to_owned()),
        ("POST", "/containers/create".to_owned()),
        ("GET", format!("/containers/{}/json", container("selfheal"))),
        ("POST", format!("/containers/{}/exec", container("prometheus"))),
        ("POST", format!("/containers/{nginx}/stop")),
        ("DELETE", format!("/containers/{nginx}")),
        ("POST", format!("/containers/{nginx}/json")),
        ("GET", "/images/json".to_owned()),
        ("GET", "/info".to_owned()),
        ("GET", format!("/containers/{nginx}/json/../../json")),
    ] {
        let status = curl_from(&selfheal, method, &format!("{proxy}{path}"));
        assert!(
            matches!(status, Some(403) | Some(400) | Some(404)),
            "{method} {path} through the proxy: {status:?}"
        );
        assert_ne!(status, Some(200), "{method} {path} was passed on");
    }

    // Logs: nginx's in its container, and what Docker keeps of every container's output.
    let modes = text(&checked(Command::new("docker").args([
        "exec",
        &nginx,
        "stat",
        "-c",
        "%a %n",
        "/srv/nginx/logs",
        "/srv/nginx/logs/access.log",
        "/srv/nginx/logs/error.log",
    ])));
    for line in modes.lines() {
        let (mode, path) = line.split_once(' ').unwrap();
        let mode = u32::from_str_radix(mode, 8).unwrap();
        let allowed = if path.ends_with("logs") { 0o750 } else { 0o640 };
        assert_eq!(mode & !allowed, 0, "{path} is {mode:o}, more than {allowed:o}");
    }
    for service in services {
        let path = inspect(&container(service), "{{.LogPath}}");
        let path = std::path::Path::new(&path);
        let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & !0o640, 0, "{service}'s log {} is {mode:o}", path.display());
        let dir = std::fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o777;
        assert_eq!(dir & !0o750, 0, "{service}'s log folder is {dir:o}");
    }
}
