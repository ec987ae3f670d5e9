//! `STACK_PROFILE=ha scripts/stack.sh up` (issue 28, item 6), in a network namespace of its
//! own: PostgreSQL owned by the non-root `postgres` user under the state folder, two selfheal
//! replicas on it, two Alertmanagers gossiping. With the second replica killed, nginx stopped
//! is healed by the first, once, and verified; `down` stops everything, PostgreSQL included.
use std::time::{Duration, Instant};

use super::{read_pid, Stack, NGINX_HEALED_WITHIN};
use crate::common::process::checked;
use crate::compose_stack::counter;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_native_ha_profile_heals_with_a_replica_down() {
    let Some(_turn) = crate::provisioned("the_native_ha_profile_heals_with_a_replica_down") else {
        return;
    };
    let stack = Stack::up_ha();
    assert!(stack.get("http://127.0.0.1:5001/health").is_some(), "the second replica does not answer");
    let owner = std::fs::metadata(stack.path("postgres/data")).map(|m| {
        use std::os::unix::fs::MetadataExt;
        m.uid()
    });
    assert_ne!(owner.unwrap(), 0, "PostgreSQL's data belongs to a non-root user");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = stack.get("http://127.0.0.1:9093/api/v2/status").unwrap_or_default();
        let peers = serde_json::from_str::<serde_json::Value>(&status)
            .ok()
            .and_then(|s| s["cluster"]["peers"].as_array().map(Vec::len));
        if peers == Some(2) {
            break;
        }
        assert!(Instant::now() < deadline, "the Alertmanagers never formed a cluster of two: {status}");
        std::thread::sleep(Duration::from_millis(200));
    }
    stack.wait_for_sample("nginx_up == 1");

    // The second replica dies; then nginx stops.
    let replica_2 = read_pid(&stack.path("run/selfheal-2.pid"));
    // SAFETY: kill(2) on a pid the stack started.
    assert_eq!(unsafe { libc::kill(replica_2, libc::SIGKILL) }, 0);
    let master = read_pid(&stack.path("nginx/nginx.pid"));
    let stopped = Instant::now();
    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(master, libc::SIGTERM) }, 0);
    loop {
        let m = stack.get("http://127.0.0.1:5000/metrics").unwrap_or_default();
        let verified = counter(&m, r#"selfheal_verifications_total{result="verified"}"#);
        if verified >= 1.0 && stack.nginx_healthy() {
            assert_eq!(counter(&m, r#"selfheal_runs_total{result="succeeded"}"#), 1.0, "one heal: {m}");
            break;
        }
        assert!(stopped.elapsed() < NGINX_HEALED_WITHIN * 3, "not healed and verified in time:\n{m}");
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("native ha: with a replica down, nginx stopped -> verified {:?}", stopped.elapsed());

    checked(&mut stack.script("down"));
    let postmaster = stack.path("postgres/data/postmaster.pid");
    assert!(!postmaster.exists(), "PostgreSQL still runs after down");
}
