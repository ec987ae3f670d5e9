//! Replicas tell each other what they changed (issue 28, item 2), through a real PostgreSQL's
//! LISTEN/NOTIFY: news committed at one replica reaches the other's pages and worker, is not
//! told back, and survives the listener losing its connection; with two real processes, a page
//! open at one hears of a webhook stored at the other, and a run queued at a busy replica
//! starts at the idle one within a second.
use std::time::{Duration, Instant};

use app::model::Topic;
use app::ssr::changes::{Changes, Stamp};
use reqwest::header;
use sqlx::PgPool;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::common::alertmanager::free_port;
use crate::common::binary::Selfheal;
use crate::common::postgres::Postgres;
use crate::common::replicas;

/// Waits (up to 5 s) until `topic` moved past `seen`; how long it took.
async fn heard(news: &mut watch::Receiver<Stamp>, seen: &mut Stamp, topic: Topic) -> Option<Duration> {
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let now = *news.borrow_and_update();
        if now.changed_since(seen).contains(&topic) {
            *seen = now;
            return Some(started.elapsed());
        }
        tokio::time::timeout_at(deadline, news.changed()).await.ok()?.ok()?;
    }
}

#[tokio::test]
async fn news_crosses_between_replicas_once_and_survives_a_lost_connection() {
    let pg = Postgres::start();
    let url = pg.create_database("news").await;
    let (pool_a, pool_b) = (PgPool::connect(&url).await.unwrap(), PgPool::connect(&url).await.unwrap());
    let (a, b) = (Changes::default(), Changes::default());
    let stop = CancellationToken::new();
    let bridges = [
        tokio::spawn(server::cluster_news::run(pool_a.clone(), a.clone(), "a".into(), stop.clone())),
        tokio::spawn(server::cluster_news::run(pool_b.clone(), b.clone(), "b".into(), stop.clone())),
    ];
    let listening = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN%'")
            .fetch_one(&pool_a)
            .await
            .unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while listening().await < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(listening().await, 2, "both replicas listen");

    let (mut news_a, mut news_b) = (a.subscribe(), b.subscribe());
    let (mut seen_a, mut seen_b) = (*news_a.borrow_and_update(), *news_b.borrow_and_update());
    // A run queued at a: b's worker and pages hear of it.
    a.touch(&[Topic::Runs]);
    let took = heard(&mut news_b, &mut seen_b, Topic::Runs).await.expect("b hears a's run");
    eprintln!("a's change heard at b after {took:?}");
    assert!(took < Duration::from_secs(1), "{took:?}");
    // Not told back: a saw its own touch once, and b's hearing it is no news to a.
    assert!(heard(&mut news_a, &mut seen_a, Topic::Runs).await.is_some());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        news_a.borrow_and_update().changed_since(&seen_a).is_empty(),
        "b's hearing of a's change came back to a"
    );
    // A burst at b reaches a.
    for _ in 0..500 {
        b.touch(&[Topic::Alerts]);
    }
    b.touch(&[Topic::Output]);
    assert!(heard(&mut news_a, &mut seen_a, Topic::Output).await.is_some());

    // PostgreSQL ends b's listening session: b listens again and, having possibly missed news,
    // looks at everything once; later news is heard again.
    let ended: i64 = sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query LIKE 'LISTEN%'",
    )
    .fetch_one(&pool_a)
    .await
    .unwrap();
    assert_eq!(ended, 2, "both listeners' sessions ended");
    assert!(heard(&mut news_b, &mut seen_b, Topic::Approvals).await.is_some(), "b looks at everything again");
    let deadline = Instant::now() + Duration::from_secs(5);
    while listening().await < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut seen_b = *news_b.borrow_and_update();
    a.touch(&[Topic::Pauses]);
    assert!(heard(&mut news_b, &mut seen_b, Topic::Pauses).await.is_some(), "b hears a again");

    stop.cancel();
    for bridge in bridges {
        tokio::time::timeout(Duration::from_secs(5), bridge).await.expect("the bridge stops").unwrap();
    }
}

#[tokio::test]
async fn a_page_at_one_replica_hears_the_other_and_an_idle_replica_takes_a_busy_ones_run() {
    let pg = Postgres::start();
    let url = pg.create_database("news_serve").await;
    let dirs = [(); 2].map(|()| {
        let hosts = ["host-1", "host-2"].map(String::from);
        replicas::folder(&url, "Crash", hosts, "[engine]\nconcurrency = 1\nshutdown_grace = \"1s\"\n")
    });
    let (port_a, port_b) = (free_port(), free_port());
    let (a, b) = tokio::join!(
        Selfheal::start(dirs[0].path(), port_a, "warn"),
        Selfheal::start(dirs[1].path(), port_b, "warn")
    );
    let pool = PgPool::connect(&url).await.unwrap();

    // A page open at b.
    let cookie = crate::ha_serve::login(port_b).await;
    let res = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port_b}/api/events"))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut page = res;
    let mut text = String::new();
    let mut read_until = async |what: &str| {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !text.contains(what) {
            let chunk = tokio::time::timeout_at(deadline, page.chunk()).await;
            let Ok(Ok(Some(chunk))) = chunk else { return false };
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
        true
    };
    assert!(read_until("event: ready").await);

    // host-1's alert at a: b's page hears of it (the run goes to whichever worker is first).
    let sent = Instant::now();
    replicas::deliver(port_a, "Crash", "host-1").await;
    assert!(read_until("event: change").await, "b's page heard nothing of a's alert: {}", b.log());
    eprintln!("a page at b heard of a webhook at a after {:?}", sent.elapsed());
    let (busy, _) = replicas::running_at(&pool, "host-1").await;
    let (busy_port, idle) =
        if busy.contains(&format!(":{}:", a.pid())) { (port_a, b.pid()) } else { (port_b, a.pid()) };

    // host-2's alert at the busy replica (concurrency 1): the idle one starts it, woken by the
    // busy one's news rather than its own fallback poll (every 2 s).
    replicas::deliver(busy_port, "Crash", "host-2").await;
    let (holder, took) = replicas::running_at(&pool, "host-2").await;
    eprintln!("a run queued at the busy replica started at the idle one after {took:?}");
    assert!(holder.contains(&format!(":{idle}:")), "{holder} is not the idle replica");
    assert!(took < Duration::from_secs(1), "{took:?}: {}\n{}", a.log(), b.log());
    drop((a, b));
}
