//! Leader election on a real PostgreSQL (`server::leader`): of three campaigning replicas exactly
//! one leads and the fence says so; when the leader stops, dies without unlocking, or loses its
//! connection, another leads within the retry interval and the old leader's fence fails.
use std::time::{Duration, Instant};

use server::leader::{campaign, holds, Campaign, Leading};
use sqlx::PgPool;
use tokio::sync::watch;

use crate::common::postgres::Postgres;

const KEY: i64 = 42;
const RETRY: Duration = Duration::from_millis(200);

struct Replica {
    leading: watch::Receiver<Option<Leading>>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

fn replica(url: &str) -> Replica {
    let (tx, leading) = watch::channel(None);
    let (stop, shutdown) = watch::channel(false);
    let c = Campaign { url: url.to_owned(), key: KEY, retry: RETRY, check_every: Duration::from_millis(200) };
    let task = tokio::spawn(campaign(c, tx, shutdown));
    Replica { leading, stop, task }
}

/// The one leader among `replicas` once exactly one leads (within 10 s): its index and lock.
async fn one_leader(replicas: &[&Replica]) -> (usize, Leading) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let leaders: Vec<(usize, Leading)> =
            replicas.iter().enumerate().filter_map(|(i, r)| Some((i, (*r.leading.borrow())?))).collect();
        if let [one] = leaders[..] {
            return one;
        }
        assert!(leaders.len() <= 1, "two leaders at once: {leaders:?}");
        assert!(Instant::now() < deadline, "no leader after 10 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// How long from `since` until a leader other than `old` leads.
async fn takeover(replicas: &[&Replica], old: Leading, since: Instant) -> (Duration, usize, Leading) {
    loop {
        let (i, now) = one_leader(replicas).await;
        if now != old {
            return (since.elapsed(), i, now);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replica_leads_and_another_takes_over_whichever_way_the_leader_goes() {
    let pg = Postgres::start();
    let url = pg.create_database("leader").await;
    let pool = PgPool::connect(&url).await.unwrap();
    let mut replicas: Vec<Replica> = (0..3).map(|_| replica(&url)).collect();
    let fence = |l: Leading| {
        let pool = pool.clone();
        async move { holds(&pool, KEY, l).await.unwrap() }
    };

    // 1. Stopped: unlocks on the way out.
    let (first, leading) = one_leader(&replicas.iter().collect::<Vec<_>>()).await;
    assert!(fence(leading).await, "the leader's fence holds");
    let stopped = Instant::now();
    replicas[first].stop.send_replace(true);
    replicas.remove(first).task.await.unwrap();
    let (after_stop, second, leading2) =
        takeover(&replicas.iter().collect::<Vec<_>>(), leading, stopped).await;
    assert!(!fence(leading).await, "a stopped leader's fence fails");
    assert!(fence(leading2).await);

    // 2. Its connection cut (the server ends it, as a failover or an administrator would): the
    //    old leader steps down at its next check; another leads.
    let cut = Instant::now();
    let terminated: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(leading2.backend_pid)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(terminated);
    let (after_cut, _, leading3) = takeover(&replicas.iter().collect::<Vec<_>>(), leading2, cut).await;
    assert!(!fence(leading2).await, "a cut-off leader's fence fails");
    let stepped_down = Instant::now() + Duration::from_secs(5);
    while replicas[second].leading.borrow().is_some_and(|l| l == leading2) {
        assert!(Instant::now() < stepped_down, "the cut-off leader never stepped down");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // 3. Dead without unlocking (its task and connection dropped, as when a process is killed).
    let (third, _) = one_leader(&replicas.iter().collect::<Vec<_>>()).await;
    let died = Instant::now();
    replicas[third].task.abort();
    let dead = replicas.remove(third);
    let (after_death, _, leading4) = takeover(&replicas.iter().collect::<Vec<_>>(), leading3, died).await;
    assert!(fence(leading4).await && !fence(leading3).await);
    drop(dead);

    for (how, took) in [("stopped", after_stop), ("connection cut", after_cut), ("died", after_death)] {
        eprintln!("takeover after the leader {how}: {took:?}");
        assert!(took < RETRY * 5 + Duration::from_secs(1), "{how}: {took:?}");
    }
    for r in replicas {
        r.stop.send_replace(true);
        r.task.await.unwrap();
    }
}
