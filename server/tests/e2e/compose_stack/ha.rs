//! docker-compose.yml's `ha` profile, as `STACK_PROFILE=ha ./start.sh` starts it (issue 28,
//! item 6): PostgreSQL from Debian's package, two selfheal replicas on it, two Alertmanagers
//! gossiping, Prometheus sending to both. With the second replica killed, `docker stop` of the
//! nginx container is healed by the first, once, and verified; the Alertmanagers are one
//! cluster. A project of the test's own on free ports, torn down with its volumes.
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::process::checked;

use super::{counter, free_port, get, project_env, Api, Project, HEALED_WITHIN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ha_profile_heals_with_a_replica_down() {
    let Some(_turn) = crate::provisioned("the_ha_profile_heals_with_a_replica_down") else {
        return;
    };
    checked(
        Command::new("bash")
            .arg(crate::common::process::repo().join("scripts/compose-setup.sh"))
            .env("COMPOSE_SELFHEAL_PROFILE", "debug"),
    );
    let name = format!("selfheal-e2e-ha-{}", std::process::id());
    let mut env = project_env(&name);
    // What start.sh sets for STACK_PROFILE=ha.
    env.extend([
        ("COMPOSE_PROFILES", "ha".to_owned()),
        ("SELFHEAL_DB_PASSWORD", "harbor-slate-91".to_owned()),
        ("SELFHEAL_DATABASE", "postgres://selfheal:harbor-slate-91@postgres:5432/selfheal".to_owned()),
        ("ALERTMANAGER_CONFIG", "alertmanager-ha.yml".to_owned()),
        ("ALERTMANAGER_PEER", "alertmanager-2".to_owned()),
        ("PROMETHEUS_VARIANT", "-ha".to_owned()),
        ("SELFHEAL_2_PORT", free_port().to_string()),
        ("ALERTMANAGER_2_PORT", free_port().to_string()),
    ]);
    let project = Project { env, name };
    checked(&mut project.compose(&["config", "--quiet"]));
    checked(&mut project.compose(&["up", "--detach", "--build", "--wait", "--wait-timeout", "240"]));

    let client = reqwest::Client::builder().timeout(Duration::from_secs(3)).build().unwrap();
    let url = |port: &str, path: &str| format!("http://127.0.0.1:{}{path}", project.port(port));
    // Both replicas serve; the Alertmanagers are one cluster of two.
    for port in ["SELFHEAL_PORT", "SELFHEAL_2_PORT"] {
        assert!(get(&client, &url(port, "/health")).await.is_some(), "{port} does not answer");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = get(&client, &url("ALERTMANAGER_PORT", "/api/v2/status")).await.unwrap_or_default();
        let peers = serde_json::from_str::<serde_json::Value>(&status)
            .ok()
            .and_then(|s| s["cluster"]["peers"].as_array().map(Vec::len))
            .unwrap_or(0);
        if peers == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "the Alertmanagers never formed a cluster of two: {status}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // One database: a session made at one replica is good at the other.
    let api = Api::login(&client, project.port("SELFHEAL_PORT")).await;
    let no_redirect = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let page = no_redirect
        .get(url("SELFHEAL_2_PORT", "/alerts"))
        .header("cookie", &api.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200, "the second replica does not know the first's session");
    let baseline = url("PROMETHEUS_PORT", "/api/v1/query?query=nginx_up%3D%3D1");
    while !get(&client, &baseline).await.is_some_and(|b| b.contains("\"value\"")) {
        assert!(Instant::now() < deadline, "Prometheus never saw nginx up");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // One replica down, then nginx.
    checked(Command::new("docker").args(["kill", &format!("{}-selfheal-2-1", project.name)]));
    let container = format!("{}-nginx-1", project.name);
    let stopped = Instant::now();
    checked(Command::new("docker").args(["stop", "--time", "2", &container]));
    let metrics = url("SELFHEAL_PORT", "/metrics");
    loop {
        let m = get(&client, &metrics).await.unwrap_or_default();
        let verified = counter(&m, r#"selfheal_verifications_total{result="verified"}"#);
        assert_eq!(counter(&m, r#"selfheal_verifications_total{result="not_fixed"}"#), 0.0, "{m}");
        if verified >= 1.0 && get(&client, &url("NGINX_PORT", "/health")).await.is_some() {
            assert_eq!(counter(&m, r#"selfheal_runs_total{result="succeeded"}"#), 1.0, "one heal: {m}");
            break;
        }
        assert!(stopped.elapsed() < HEALED_WITHIN, "not healed and verified in time:\n{m}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    eprintln!("compose ha: with a replica down, docker stop -> verified {:?}", stopped.elapsed());
}
