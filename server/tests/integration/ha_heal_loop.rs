//! The heal loop on the cluster with every part real (issue 28, item 7): Prometheus scrapes a
//! real nginx and sends to two clustered Alertmanagers, each sending to both `selfheal`
//! replicas on one PostgreSQL. One replica is killed; then nginx stops. The other replica
//! heals it with `ansible-playbook` once, Prometheus confirms it (verified), and the alert
//! resolves without a second run.
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use sqlx::PgPool;

use crate::common::alertmanager::{free_port, Alertmanager};
use crate::common::binary::Selfheal;
use crate::common::postgres::Postgres;
use crate::common::prometheus::Prometheus;
use crate::ha_storm::alertmanager_config;

/// The longest the loop may take end to end here (scrape and evaluation every second).
const HEAL_WITHIN: Duration = Duration::from_secs(90);

/// nginx on 127.0.0.1:`port` with everything under `lab`, answering `/metrics` itself (no file
/// to read, so no worker user needs the lab folder). `daemon on`: the playbook's command
/// returns once it serves.
fn nginx_config(lab: &Path, port: u16) -> String {
    let l = lab.display();
    format!(
        "daemon on;\npid {l}/nginx.pid;\nerror_log {l}/nginx-error.log;\nevents {{}}\nhttp {{\n  access_log off;\n  \
         client_body_temp_path {l}/tmp-body;\n  proxy_temp_path {l}/tmp-proxy;\n  fastcgi_temp_path {l}/tmp-fastcgi;\n  \
         uwsgi_temp_path {l}/tmp-uwsgi;\n  scgi_temp_path {l}/tmp-scgi;\n  server {{\n    listen 127.0.0.1:{port};\n    \
         location = /metrics {{ default_type text/plain; return 200 \"demo_nginx_serving 1\\n\"; }}\n  }}\n}}\n"
    )
}

fn nginx(lab: &Path, signal: Option<&str>) {
    let mut c = Command::new("/usr/sbin/nginx");
    c.arg("-c").arg(lab.join("nginx.conf")).arg("-p").arg(lab);
    if let Some(s) = signal {
        c.args(["-s", s]);
    }
    let out = c.output().expect("nginx is installed (scripts/setup.sh)");
    assert!(out.status.success(), "nginx {signal:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A replica's folder: the rule healing `NginxDown` by starting nginx, verified by Prometheus.
fn replica_folder(url: &str, lab: &Path, prometheus: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("ansible")).unwrap();
    std::fs::write(d.join("ansible/inventory.ini"), "localhost ansible_connection=local\n").unwrap();
    std::fs::write(
        d.join("ansible/start-nginx.yml"),
        format!(
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.command:\n        argv: \
             [/usr/sbin/nginx, -c, {conf}, -p, {lab}]\n",
            conf = lab.join("nginx.conf").display(),
            lab = lab.display()
        ),
    )
    .unwrap();
    std::fs::write(
        d.join("selfheal.toml"),
        format!(
            "database = \"{url}\"\n[ansible]\ndir = \"ansible\"\ninventory = \"ansible/inventory.ini\"\n\
             [prometheus]\nurl = \"{prometheus}\"\n[ha]\nreplica_timeout = \"3s\"\n\
             [[rules]]\nname = \"nginx-down\"\nmatch = {{ alertname = \"NginxDown\" }}\nplaybook = \"start-nginx.yml\"\n\
             target_label = \"host\"\ncooldown = \"0s\"\ntimeout = \"2m\"\nverify = 'up{{job=\"nginx\"}} == 1'\n\
             verify_within = \"30s\"\nverify_hold = \"2s\"\n"
        ),
    )
    .unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_one_replica_down_nginx_is_healed_once_and_verified() {
    let lab = tempfile::tempdir().unwrap();
    let nginx_port = free_port();
    std::fs::write(lab.path().join("nginx.conf"), nginx_config(lab.path(), nginx_port)).unwrap();
    nginx(lab.path(), None);

    let pg = Postgres::start();
    let url = pg.create_database("heal_loop").await;
    let ports = [free_port(), free_port()];
    let (gossip_a, gossip_b) = (free_port(), free_port());
    let (peers_a, peers_b) = ([gossip_b], [gossip_a]);
    let config = alertmanager_config(ports);
    let (am_a, am_b) = tokio::join!(
        Alertmanager::start_clustered(&config, gossip_a, &peers_a, "1s"),
        Alertmanager::start_clustered(&config, gossip_b, &peers_b, "1s"),
    );
    std::fs::write(
        lab.path().join("rules.yml"),
        "groups:\n  - name: nginx\n    rules:\n      - alert: NginxDown\n        expr: up{job=\"nginx\"} == 0\n        for: 0s\n",
    )
    .unwrap();
    let prometheus = Prometheus::start(
        lab.path(),
        &format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nalerting:\n  alertmanagers:\n    - static_configs:\n        \
             - targets: ['{}', '{}']\nrule_files: ['{}']\nscrape_configs:\n  - job_name: nginx\n    static_configs:\n      \
             - targets: ['127.0.0.1:{nginx_port}']\n        labels:\n          host: localhost\n",
            am_a.url.trim_start_matches("http://"),
            am_b.url.trim_start_matches("http://"),
            lab.path().join("rules.yml").display()
        ),
    )
    .await;
    let dirs = [(); 2].map(|()| replica_folder(&url, lab.path(), &prometheus.url));
    let (a, mut b) = tokio::join!(
        Selfheal::start(dirs[0].path(), ports[0], "warn"),
        Selfheal::start(dirs[1].path(), ports[1], "warn")
    );
    let pool = PgPool::connect(&url).await.unwrap();
    prometheus.first_series("up{job=\"nginx\"} == 1").await;

    // One replica is down; then nginx goes down.
    b.kill9();
    nginx(lab.path(), Some("stop"));
    let stopped = Instant::now();

    let (status, verification, ttl) = loop {
        let row: Option<(String, Option<String>, Option<i64>)> =
            sqlx::query_as("SELECT status, verification, time_to_heal_ms FROM heal_runs ORDER BY id LIMIT 1")
                .fetch_optional(&pool)
                .await
                .unwrap();
        if let Some((status, Some(v), ttl)) = row.filter(|(_, v, _)| v.as_deref() != Some("pending")) {
            break (status, v, ttl);
        }
        assert!(stopped.elapsed() < HEAL_WITHIN, "no verified run: {}", a.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!(
        "ha heal loop: nginx stopped → verified heal in {:?} (time to heal {ttl:?} ms)",
        stopped.elapsed()
    );
    assert_eq!((status.as_str(), verification.as_str()), ("succeeded", "verified"), "{}", a.log());
    let held_by: String = sqlx::query_scalar("SELECT held_by FROM heal_runs").fetch_one(&pool).await.unwrap();
    assert!(held_by.contains(&format!(":{}:", a.pid())), "healed by the living replica");

    // The alert resolves through the same path, and nothing runs a second time.
    let deadline = Instant::now() + HEAL_WITHIN;
    loop {
        let status: Option<String> = sqlx::query_scalar(
            "SELECT status FROM alerts WHERE alertname = 'NginxDown' ORDER BY id DESC LIMIT 1",
        )
        .fetch_optional(&pool)
        .await
        .unwrap();
        if status.as_deref() == Some("resolved") {
            break;
        }
        assert!(Instant::now() < deadline, "the alert never resolved");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM heal_runs").fetch_one(&pool).await.unwrap();
    assert_eq!(runs, 1, "one heal for one outage");
    nginx(lab.path(), Some("stop"));
    drop((a, b, am_a, am_b));
}
