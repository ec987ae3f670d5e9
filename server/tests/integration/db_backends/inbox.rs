//! The inbox's group commit on both backends: the same deliveries store and decide alike on
//! SQLite (the writer's own connection) and on PostgreSQL; and on PostgreSQL, many writers at
//! once (replicas) store each episode once and queue one run per target.
use std::sync::Arc;

use app::ssr::alert::{normalise_payload, NewAlert, WebhookPayload};
use app::ssr::db::alerts::{NewNotification, Source};
use app::ssr::db::inbox::{open_writer, write_batch, write_batch_pg, Decided, Written};
use app::ssr::db::notifications::{pack, raw_notification, StoredBody};
use app::ssr::heal::guard::NO_ANSWERS;
use app::ssr::heal::{KnownHosts, Rule, RuleConfig, RuleSet};
use app::ssr::inventory::InventoryHosts;

use super::both;

/// `nginx-down` (auto, cooldown 10 m, breaker 3 in 30 m) for `NginxDown` on its instance.
fn rules() -> RuleSet {
    rules_with(serde_json::json!({}))
}

/// [`rules`] with `more` fields in the rule.
fn rules_with(more: serde_json::Value) -> RuleSet {
    let mut rule = serde_json::json!({
        "name": "nginx-down",
        "match": { "alertname": "NginxDown" },
        "playbook": "heal-nginx.yml",
        "cooldown": "10m",
        "max_attempts": 3,
        "window": "30m",
    });
    rule.as_object_mut().unwrap().extend(more.as_object().unwrap().clone());
    let config: RuleConfig = serde_json::from_value(rule).unwrap();
    RuleSet::new(vec![Rule::from_config(config, |_| true).unwrap()])
}

/// A delivery as the webhook handler hands it to the writer: its body, parsed alerts, packed
/// body and hash.
struct Delivery {
    raw: String,
    alerts: Vec<NewAlert>,
    payload: StoredBody,
    sha: String,
}

/// One notification of `alerts` (alertname, instance, fingerprint, status).
fn delivery(alerts: &[(&str, &str, &str, &str)]) -> Delivery {
    let list: Vec<_> = alerts
        .iter()
        .map(|(name, host, fingerprint, status)| {
            serde_json::json!({
                "status": status, "labels": { "alertname": name, "instance": host },
                "annotations": {}, "startsAt": "2026-12-06T09:00:00Z",
                "endsAt": if *status == "resolved" { "2026-12-06T09:05:00Z" } else { "0001-01-01T00:00:00Z" },
                "generatorURL": "", "fingerprint": fingerprint
            })
        })
        .collect();
    let raw = serde_json::json!({
        "version": "4", "groupKey": "{}:{alertname=\"NginxDown\"}", "status": alerts[0].3, "receiver": "selfheal",
        "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am",
        "alerts": list,
    })
    .to_string();
    let parsed: WebhookPayload = serde_json::from_str(&raw).unwrap();
    let alerts = normalise_payload(&parsed).unwrap();
    let sha = format!("{:x}", sha2_like(&raw));
    Delivery { payload: pack(&raw).unwrap(), raw, alerts, sha }
}

/// A stand-in for the body's SHA-256 (only equality matters here): FNV-1a.
fn sha2_like(raw: &str) -> u64 {
    raw.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

fn notification<'a>(d: &'a Delivery, at: &'a str) -> NewNotification<'a> {
    NewNotification {
        payload_sha256: &d.sha,
        received_at: at,
        source: Source::Webhook,
        receiver: "selfheal",
        status: d.alerts[0].status,
        group_key: "{}:{alertname=\"NginxDown\"}",
        external_url: Some("http://am"),
        truncated_alerts: 0,
        payload: &d.payload,
        alerts: &d.alerts,
        verdicts: &[],
        guard_answers: &NO_ANSWERS,
    }
}

fn hosts() -> InventoryHosts {
    InventoryHosts::fixed(KnownHosts::default())
}

type Summary = (Vec<(u32, u32, u32, bool)>, Vec<(&'static str, Option<i64>, Option<i64>)>);

/// What a commit did, comparable across backends: per notification (new, duplicate alerts,
/// resolved now, duplicate notification), and per decision (reason, run, covering run).
fn summary(w: &Written) -> Summary {
    let stored = w
        .stored
        .iter()
        .map(|s| {
            (s.new_alerts as u32, s.duplicate_alerts as u32, s.resolved_now as u32, s.duplicate_notification)
        })
        .collect();
    let decided = w.decided.iter().map(|d: &Decided| (d.reason(), d.run_id, d.covered_by)).collect();
    (stored, decided)
}

/// Every decision stored, in order: alert fingerprint, outcome, reason, detail, run.
const DECISIONS: &str = "SELECT a.fingerprint, d.outcome, d.reason, d.detail, d.run_id FROM decisions d \
     JOIN alerts a ON a.id = d.alert_id ORDER BY d.id";

/// Every alert: fingerprint, status, deliveries.
const ALERTS: &str = "SELECT fingerprint, status, deliveries FROM alerts ORDER BY id";

type DecisionRow = (String, String, String, String, Option<i64>);

#[tokio::test]
async fn group_commits_store_and_decide_alike_on_sqlite_and_postgres() {
    let (dir, sqlite, _pg, pg) = both().await;
    let mut writer = open_writer(&dir.path().join("selfheal.db")).unwrap();
    let rules = rules();
    let known = Arc::default();

    let web1 = delivery(&[("NginxDown", "web-1", "f1", "firing")]);
    let web1_again_and_web2 =
        delivery(&[("NginxDown", "web-1", "f1b", "firing"), ("NginxDown", "web-2", "f2", "firing")]);
    let no_rule = delivery(&[("DiskFull", "db-1", "f3", "firing")]);
    let web1_resolved = delivery(&[("NginxDown", "web-1", "f1", "resolved")]);
    // Each commit as a list of notifications: the second has one twice (both Alertmanagers
    // delivered it to this replica within one group commit).
    let commits: Vec<Vec<NewNotification<'_>>> = vec![
        vec![notification(&web1, "2026-12-06T09:00:01.000Z")],
        vec![
            notification(&web1, "2026-12-06T09:00:02.000Z"),
            notification(&web1_again_and_web2, "2026-12-06T09:00:02.000Z"),
            notification(&web1_again_and_web2, "2026-12-06T09:00:02.100Z"),
            notification(&no_rule, "2026-12-06T09:00:02.200Z"),
        ],
        vec![notification(&web1_resolved, "2026-12-06T09:05:01.000Z")],
    ];
    let mut summaries = Vec::new();
    for (i, batch) in commits.iter().enumerate() {
        let on_sqlite = write_batch(&mut writer, &rules, &hosts(), batch, &known).unwrap();
        let on_pg = write_batch_pg(&pg, &rules, &hosts(), batch, &known).await.unwrap();
        assert_eq!(summary(&on_pg), summary(&on_sqlite), "commit {i}");
        summaries.push(summary(&on_pg));
    }
    assert_eq!(
        summaries[1].0,
        [(0, 1, 0, true), (2, 0, 0, false), (0, 2, 0, true), (1, 0, 0, false)],
        "the first delivery again, a new one, the same again in the same commit, an alert no rule matches"
    );
    assert_eq!(summaries[2].0, [(0, 1, 1, false)], "resolved now");
    assert!(summaries[2].1.is_empty(), "nothing new to decide");

    let on_sqlite: Vec<DecisionRow> = sqlx::query_as(DECISIONS).fetch_all(&sqlite).await.unwrap();
    let on_pg: Vec<DecisionRow> = sqlx::query_as(DECISIONS).fetch_all(&pg).await.unwrap();
    assert_eq!(on_pg, on_sqlite);
    let reasons: Vec<(&str, &str, Option<i64>)> =
        on_pg.iter().map(|d| (d.0.as_str(), d.2.as_str(), d.4)).collect();
    assert_eq!(
        reasons,
        [
            ("f1", "enqueued", Some(1)),
            ("f1b", "run_in_progress", Some(1)),
            ("f2", "enqueued", Some(2)),
            ("f3", "no_rule", None)
        ],
        "one run per target, the second episode on web-1 covered by the first's run"
    );
    let alerts_sqlite: Vec<(String, String, i64)> = sqlx::query_as(ALERTS).fetch_all(&sqlite).await.unwrap();
    let alerts_pg: Vec<(String, String, i64)> = sqlx::query_as(ALERTS).fetch_all(&pg).await.unwrap();
    assert_eq!(alerts_pg, alerts_sqlite);
    assert_eq!(
        alerts_pg.iter().find(|a| a.0 == "f1b").map(|a| a.2),
        Some(2),
        "delivered twice in one commit: one row, two deliveries"
    );
    assert_eq!(alerts_pg[0], ("f1".to_owned(), "resolved".to_owned(), 3), "{alerts_pg:?}");
    // Each notification reads back exactly as received, whichever way it was stored.
    let big: Vec<(String, String, String)> =
        (0..40).map(|i| (format!("DiskFull{i}"), format!("db-{i}"), format!("big{i}"))).collect();
    let big: Vec<(&str, &str, &str, &str)> =
        big.iter().map(|(n, h, f)| (n.as_str(), h.as_str(), f.as_str(), "firing")).collect();
    let big = delivery(&big);
    assert!(matches!(big.payload, StoredBody::Packed(_)), "{} bytes: packed", big.raw.len());
    let batch = [notification(&big, "2026-12-06T09:06:00.000Z")];
    write_batch(&mut writer, &rules, &hosts(), &batch, &known).unwrap();
    write_batch_pg(&pg, &rules, &hosts(), &batch, &known).await.unwrap();
    // (Ids may differ: PostgreSQL spends one on every upsert that finds its row.)
    const ID_OF: &str = "SELECT id FROM notifications WHERE payload_sha256 = $1";
    for d in [&web1, &web1_again_and_web2, &no_rule, &web1_resolved, &big] {
        let lite_id: i64 = sqlx::query_scalar(ID_OF).bind(&d.sha).fetch_one(&sqlite).await.unwrap();
        let pg_id: i64 = sqlx::query_scalar(ID_OF).bind(&d.sha).fetch_one(&pg).await.unwrap();
        let lite = raw_notification(&sqlite, lite_id).await.unwrap();
        let post = raw_notification(&pg, pg_id).await.unwrap();
        assert_eq!(post.as_deref(), Some(d.raw.as_bytes()), "notification {}", d.sha);
        assert_eq!(post, lite, "notification {}", d.sha);
    }

    const RUNS: &str = "SELECT id, target, status FROM heal_runs ORDER BY id";
    let runs_sqlite: Vec<(i64, String, String)> = sqlx::query_as(RUNS).fetch_all(&sqlite).await.unwrap();
    let runs_pg: Vec<(i64, String, String)> = sqlx::query_as(RUNS).fetch_all(&pg).await.unwrap();
    assert_eq!(runs_pg, runs_sqlite);
    assert_eq!(runs_pg.len(), 2);
}

/// Many replicas' writers at once on one PostgreSQL: every episode stored once however many
/// deliver it, every decision stored, one run per target.
#[tokio::test]
async fn concurrent_writers_on_postgres_queue_one_run_per_target() {
    let (_dir, _sqlite, _pg, pg) = both().await;
    let rules = Arc::new(rules());
    // 40 episodes over 4 targets, each delivered by two writers (both Alertmanagers), 80
    // commits at once.
    let deliveries: Arc<Vec<Delivery>> = Arc::new(
        (0..40)
            .map(|i| {
                let host = format!("web-{}", i % 4);
                delivery(&[("NginxDown", host.as_str(), format!("fp{i}").as_str(), "firing")])
            })
            .collect(),
    );
    let writers = (0..80).map(|w| {
        let (pg, rules, deliveries) = (pg.clone(), rules.clone(), deliveries.clone());
        tokio::spawn(async move {
            let d = &deliveries[w / 2];
            let at = format!("2026-12-06T09:00:{:02}.{:03}Z", w % 60, w);
            let n = notification(d, &at);
            write_batch_pg(&pg, &rules, &hosts(), std::slice::from_ref(&n), &Arc::default()).await.unwrap()
        })
    });
    let written: Vec<Written> =
        futures_util::future::join_all(writers).await.into_iter().map(Result::unwrap).collect();
    let new: usize = written.iter().map(|w| w.stored[0].new_alerts as usize).sum();
    let duplicate: usize = written.iter().map(|w| w.stored[0].duplicate_alerts as usize).sum();
    assert_eq!((new, duplicate), (40, 40), "each episode new once, a duplicate once");
    let decided: usize = written.iter().map(|w| w.decided.len()).sum();
    assert_eq!(decided, 40, "each new episode decided in its commit");

    let (alerts, deliveries_sum): (i64, i64) =
        sqlx::query_as("SELECT count(*), sum(deliveries)::bigint FROM alerts").fetch_one(&pg).await.unwrap();
    assert_eq!((alerts, deliveries_sum), (40, 80));
    let per_target: Vec<(String, i64)> =
        sqlx::query_as("SELECT target, count(*) FROM heal_runs GROUP BY target ORDER BY target")
            .fetch_all(&pg)
            .await
            .unwrap();
    assert_eq!(
        per_target,
        (0..4).map(|i| (format!("web-{i}"), 1)).collect::<Vec<_>>(),
        "one run per target however the commits interleaved"
    );
    let reasons: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT reason, count(*), count(DISTINCT run_id) FROM decisions GROUP BY reason ORDER BY reason",
    )
    .fetch_all(&pg)
    .await
    .unwrap();
    assert_eq!(
        reasons,
        [("enqueued".to_owned(), 4, 4), ("run_in_progress".to_owned(), 36, 4)],
        "the others covered by their target's run, named"
    );
}

/// The blast radius is fleet-wide: replicas deciding episodes on different targets at once
/// count each other's heals, so no more than `max_heals` run and the scope trips once.
#[tokio::test]
async fn concurrent_writers_on_postgres_hold_the_blast_radius() {
    let (_dir, _sqlite, _pg, pg) = both().await;
    let rules =
        Arc::new(rules_with(serde_json::json!({ "blast_radius": { "max_heals": 2, "window": "10m" } })));
    let deliveries: Arc<Vec<Delivery>> = Arc::new(
        (0..24)
            .map(|i| {
                delivery(&[("NginxDown", format!("web-{i}").as_str(), format!("fp{i}").as_str(), "firing")])
            })
            .collect(),
    );
    let writers = (0..deliveries.len()).map(|w| {
        let (pg, rules, deliveries) = (pg.clone(), rules.clone(), deliveries.clone());
        tokio::spawn(async move {
            let n = notification(&deliveries[w], "2026-12-06T09:00:00.000Z");
            write_batch_pg(&pg, &rules, &hosts(), std::slice::from_ref(&n), &Arc::default()).await.unwrap()
        })
    });
    for w in futures_util::future::join_all(writers).await {
        assert_eq!(w.unwrap().decided.len(), 1);
    }
    let statuses: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, count(*) FROM heal_runs GROUP BY status ORDER BY status")
            .fetch_all(&pg)
            .await
            .unwrap();
    assert_eq!(
        statuses,
        [("awaiting_approval".to_owned(), 22), ("queued".to_owned(), 2)],
        "max_heals 2 across every writer; the rest parked for approval"
    );
    let trips: (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM blast_trips), \
                (SELECT count(*) FROM audit_events WHERE action = 'blast_radius.tripped')",
    )
    .fetch_one(&pg)
    .await
    .unwrap();
    assert_eq!(trips, (1, 1), "tripped once, told once");
}

/// A maintenance window open for the next hour over `NginxDown`.
fn nginx_window() -> app::ssr::heal::window::Window {
    let now = time::OffsetDateTime::now_utc();
    let config: app::ssr::heal::window::WindowConfig = serde_json::from_value(serde_json::json!({
        "name": "deploy", "matchers": ["alertname=\"NginxDown\""], "reason": "deploy",
        "starts_at": app::ssr::alert::format_utc(now - time::Duration::hours(1)),
        "ends_at": app::ssr::alert::format_utc(now + time::Duration::hours(1)),
    }))
    .unwrap();
    app::ssr::heal::window::Window::from_config(config).unwrap()
}

/// The reasons of every decision stored for the alert with `fingerprint`, in order.
const REASONS_OF: &str = "SELECT d.reason FROM decisions d JOIN alerts a ON a.id = d.alert_id \
     WHERE a.fingerprint = $1 ORDER BY d.id";

/// Reconciliation's alerts and the episodes a window held, decided again once it closes: alike
/// on both backends.
#[tokio::test]
async fn reconciled_and_held_episodes_are_decided_alike_on_sqlite_and_postgres() {
    use app::ssr::db::inbox::{
        redecide, redecide_pg, write_reconciled, write_reconciled_pg, ReconciledAlert,
    };
    use app::ssr::db::windows;
    let (dir, sqlite, _pg, pg) = both().await;
    let mut writer = open_writer(&dir.path().join("selfheal.db")).unwrap();
    let rules = rules();
    let known = Arc::default();
    let kh = KnownHosts::default();
    let now = "2026-12-06T09:00:00.000Z";
    assert!(windows::open(&sqlite, &nginx_window(), "api", "ann", now).await.unwrap());
    assert!(windows::open(&pg, &nginx_window(), "api", "ann", now).await.unwrap());

    let web5 = delivery(&[("NginxDown", "web-5", "f5", "firing")]);
    let batch = [notification(&web5, "2026-12-06T09:00:01.000Z")];
    let on_sqlite = write_batch(&mut writer, &rules, &hosts(), &batch, &known).unwrap();
    let on_pg = write_batch_pg(&pg, &rules, &hosts(), &batch, &known).await.unwrap();
    assert_eq!(summary(&on_pg), summary(&on_sqlite));
    assert_eq!(summary(&on_pg).1, [("in_maintenance", None, None)], "held by the window");

    // Reconciliation finds web-6 (never delivered) and web-5 (known: left alone).
    let found: Vec<ReconciledAlert> = [("web-6", "f6"), ("web-5", "f5")]
        .iter()
        .map(|(host, fp)| ReconciledAlert {
            alert: delivery(&[("NginxDown", host, fp, "firing")]).alerts.remove(0),
            receiver: Some("selfheal".to_owned()),
        })
        .collect();
    let on_sqlite = write_reconciled(&mut writer, &rules, &kh, &found, &NO_ANSWERS, &known).unwrap();
    let on_pg = write_reconciled_pg(&pg, &rules, &kh, &found, &NO_ANSWERS, &known).await.unwrap();
    let reasons = |d: &[Decided]| d.iter().map(Decided::reason).collect::<Vec<_>>();
    assert_eq!(reasons(&on_pg), reasons(&on_sqlite));
    assert_eq!(reasons(&on_pg), ["in_maintenance"], "only the new episode");

    // The window closes: both held episodes are decided again, once.
    assert!(windows::cancel(&sqlite, "deploy", None, "bob", now).await.unwrap());
    assert!(windows::cancel(&pg, "deploy", None, "bob", now).await.unwrap());
    let held: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM alerts ORDER BY id").fetch_all(&sqlite).await.unwrap();
    let held_pg: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM alerts ORDER BY id").fetch_all(&pg).await.unwrap();
    assert_eq!(held, held_pg);
    let on_sqlite = redecide(&mut writer, &rules, &kh, &held, &NO_ANSWERS, &known).unwrap();
    let on_pg = redecide_pg(&pg, &rules, &kh, &held, &NO_ANSWERS, &known).await.unwrap();
    assert_eq!(reasons(&on_pg), reasons(&on_sqlite));
    assert_eq!(reasons(&on_pg), ["enqueued", "enqueued"]);
    assert!(redecide(&mut writer, &rules, &kh, &held, &NO_ANSWERS, &known).unwrap().is_empty());
    assert!(redecide_pg(&pg, &rules, &kh, &held, &NO_ANSWERS, &known).await.unwrap().is_empty());
    for fp in ["f5", "f6"] {
        let lite: Vec<String> = sqlx::query_scalar(REASONS_OF).bind(fp).fetch_all(&sqlite).await.unwrap();
        let post: Vec<String> = sqlx::query_scalar(REASONS_OF).bind(fp).fetch_all(&pg).await.unwrap();
        assert_eq!(post, lite);
        assert_eq!(post, ["in_maintenance", "enqueued"], "{fp}: the hold, then the run");
    }
}

/// Every replica may decide the held episodes again when a window closes: each is decided
/// once however many do it at once.
#[tokio::test]
async fn concurrent_redecisions_on_postgres_decide_a_held_episode_once() {
    use app::ssr::db::inbox::redecide_pg;
    use app::ssr::db::windows;
    let (_dir, _sqlite, _pg, pg) = both().await;
    let rules = Arc::new(rules());
    let now = "2026-12-06T09:00:00.000Z";
    assert!(windows::open(&pg, &nginx_window(), "api", "ann", now).await.unwrap());
    let held: Vec<Delivery> = (0..6)
        .map(|i| delivery(&[("NginxDown", format!("web-{i}").as_str(), format!("h{i}").as_str(), "firing")]))
        .collect();
    let batch: Vec<NewNotification<'_>> = held.iter().map(|d| notification(d, now)).collect();
    write_batch_pg(&pg, &rules, &hosts(), &batch, &Arc::default()).await.unwrap();
    assert!(windows::cancel(&pg, "deploy", None, "bob", now).await.unwrap());
    let ids: Arc<Vec<i64>> =
        Arc::new(sqlx::query_scalar("SELECT id FROM alerts ORDER BY id").fetch_all(&pg).await.unwrap());
    let replicas = (0..4).map(|_| {
        let (pg, rules, ids) = (pg.clone(), rules.clone(), ids.clone());
        tokio::spawn(async move {
            redecide_pg(&pg, &rules, &KnownHosts::default(), &ids, &NO_ANSWERS, &Arc::default())
                .await
                .unwrap()
                .len()
        })
    });
    let decided: usize = futures_util::future::join_all(replicas).await.into_iter().map(Result::unwrap).sum();
    assert_eq!(decided, 6, "each held episode decided again once");
    let (decisions, runs): (i64, i64) =
        sqlx::query_as("SELECT (SELECT count(*) FROM decisions), (SELECT count(*) FROM heal_runs)")
            .fetch_one(&pg)
            .await
            .unwrap();
    assert_eq!((decisions, runs), (12, 6));
}
