//! `selfheal serve` on PostgreSQL (issue 28, item 1): the real binary, `database` a
//! `postgres://` URL of a real throwaway cluster, migrates it, creates the admin, answers
//! /health, stores a webhook's alert and decides it before the 2xx, keeps sessions in
//! PostgreSQL (a second process signs nobody out), registers itself as a replica, and leaves
//! the register when stopped; one of the processes leads and runs the cluster's duties, and
//! the other takes them over when it stops.
use std::time::Duration;

use reqwest::header;
use sqlx::PgPool;

use crate::common::alertmanager::free_port;
use crate::common::binary::Selfheal;
use crate::common::postgres::Postgres;
use crate::common::{WEBHOOK_PASSWORD, WEBHOOK_USER};

const ADMIN_PASSWORD: &str = "granite-meadow-lantern-74";

fn payload() -> String {
    serde_json::json!({
        "version": "4", "groupKey": "{}:{alertname=\"NginxDown\"}", "status": "firing", "receiver": "selfheal",
        "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am",
        "alerts": [{ "status": "firing", "labels": { "alertname": "NginxDown", "instance": "web-1" },
                     "annotations": {}, "startsAt": "2026-12-06T09:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                     "generatorURL": "", "fingerprint": "f1" }]
    })
    .to_string()
}

/// The notification, as Alertmanager posts it to the process on `port`.
async fn deliver(port: u16) -> reqwest::StatusCode {
    reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/webhook"))
        .basic_auth(WEBHOOK_USER, Some(WEBHOOK_PASSWORD))
        .header(header::CONTENT_TYPE, "application/json")
        .body(payload())
        .send()
        .await
        .unwrap()
        .status()
}

pub async fn login(port: u16) -> String {
    let res = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/api/login"))
        .header(header::ACCEPT, "application/json")
        .form(&[("username", "admin"), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.headers()[header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn selfheal_serves_from_postgres_and_two_processes_share_it() {
    let pg = Postgres::start();
    let url = pg.create_database("serve").await;
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    for dir in &dirs {
        std::fs::write(
            dir.path().join("selfheal.toml"),
            format!(
                "database = \"{url}\"\n[ansible]\ndir = \"ansible\"\n[[rules]]\nname = \"nginx-down\"\n\
                 match = {{ alertname = \"NginxDown\" }}\nplaybook = \"heal.yml\"\nmode = \"shadow\"\n"
            ),
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("ansible")).unwrap();
        std::fs::write(dir.path().join("ansible/heal.yml"), "- hosts: all\n  tasks: []\n").unwrap();
    }
    let (port_a, port_b) = (free_port(), free_port());
    // Both start at once on the empty database: migrations, the session table and the admin
    // are made once between them.
    let (a, b) = tokio::join!(
        Selfheal::start(dirs[0].path(), port_a, "warn"),
        Selfheal::start(dirs[1].path(), port_b, "warn")
    );

    // A webhook to a: stored and decided in PostgreSQL before the 2xx.
    let res = deliver(port_a).await;
    assert!(res.is_success(), "{res}: {}", a.log());
    let pool = PgPool::connect(&url).await.unwrap();
    let (alerts, decision): (i64, String) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM alerts), (SELECT reason FROM decisions ORDER BY id LIMIT 1)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((alerts, decision.as_str()), (1, "shadow"), "stored and decided before the answer");

    // The same notification to b (the other Alertmanager's delivery): one alert, delivered twice.
    let res = deliver(port_b).await;
    assert!(res.is_success(), "{res}: {}", b.log());
    let (alerts, deliveries): (i64, i64) =
        sqlx::query_as("SELECT count(*), sum(deliveries)::bigint FROM alerts")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((alerts, deliveries), (1, 2));

    // A session made through a is good at b: sessions live in PostgreSQL.
    let cookie = login(port_a).await;
    let page = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("http://127.0.0.1:{port_b}/alerts"))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200, "the session is known to the other process: {}", b.log());
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&pool).await.unwrap();
    assert_eq!(users, 1, "the admin created once");

    // One of the two leads (holds the leader's advisory lock), and the leader's duties run: the
    // sign-in's audit entry gets sealed into the chain.
    let leaders = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted \
             AND classid = 1936026726 AND objid = 1751474540 AND objsubid = 1",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    let sealed = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM audit_chain").fetch_one(&pool).await.unwrap()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while (leaders().await != 1 || sealed().await == 0) && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(leaders().await, 1, "exactly one leader");
    assert!(sealed().await > 0, "the leader's sealer chained the sign-in");

    // Both registered as replicas; a stopped one leaves.
    let registered = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM replicas").fetch_one(&pool).await.unwrap()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while registered().await < 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(registered().await, 2);
    b.sigterm();
    let mut b = b;
    assert!(b.wait().success(), "{}", b.log());
    assert_eq!(registered().await, 1, "b left the register");
    // Whichever led, a leads now (it did, or took over within the campaign's retry).
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while leaders().await != 1 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(leaders().await, 1, "a leads: {}", a.log());
    drop(a);
}
