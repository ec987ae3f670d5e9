//! The writer decides every new episode in the commit that stores it: the run it queues, what
//! history settles, shadow skips, refused labels, and episodes an earlier version left
//! undecided.
use std::sync::Arc;

use super::*;
use crate::ssr::heal::guard::NO_ANSWERS;
use crate::ssr::heal::{Decision, KnownHosts, Rule, RuleSet};

/// The FIRING fixture's rule for the writer's decisions, in `mode` (a JSON rule mode).
fn nginx_rule(mode: &str) -> Rule {
    let config: crate::ssr::heal::RuleConfig = serde_json::from_value(serde_json::json!({
        "name": "nginx-down",
        "match": { "alertname": "NginxDown" },
        "playbook": "heal-nginx.yml",
        "cooldown": "10m",
        "max_attempts": 3,
        "window": "30m",
        "mode": mode,
    }))
    .unwrap();
    Rule::from_config(config, |_| true).unwrap()
}

/// The rules under test use no --limit: the inventory's hosts do not matter here.
fn no_hosts() -> InventoryHosts {
    InventoryHosts::fixed(KnownHosts::default())
}

/// Writes one notification of `alerts` (each firing, under `rules`) as the inbox writer does,
/// with the verdicts the webhook handler works out.
fn write_one(db: &mut TestDb, rules: &[Rule], sha: &str, alerts: &[NewAlert]) -> Written {
    let hosts = KnownHosts::default();
    let verdicts: Vec<_> = alerts.iter().map(|a| verdict_of(rules, &hosts, a.status, &a.labels)).collect();
    let n = NewNotification { verdicts: &verdicts, ..notification(sha, "2026-01-01T00:00:00.000Z", alerts) };
    write_batch(&mut db.conn, &RuleSet::new(rules.to_vec()), &no_hosts(), &[n], &Arc::default()).unwrap()
}

fn fixture_alerts() -> Vec<NewAlert> {
    let p: WebhookPayload = serde_json::from_str(FIRING).unwrap();
    normalise_payload(&p).unwrap()
}

fn reasons(written: &[Decided]) -> Vec<&'static str> {
    written.iter().map(Decided::reason).collect()
}

#[tokio::test]
async fn the_writer_queues_the_run_in_the_same_commit_and_decides_a_repeat_never() {
    let mut db = test_db().await;
    let rules = [nginx_rule("auto")];
    let alerts = fixture_alerts();
    let first = write_one(&mut db, &rules, "aa", &alerts);
    assert_eq!(reasons(&first.decided), ["enqueued"]);
    let run_id = first.decided[0].run_id.expect("a run");
    let (status, requested_by, alert_id, decision_run): (String, String, i64, i64) = sqlx::query_as(
        "SELECT r.status, r.requested_by, r.alert_id, d.run_id FROM heal_runs r JOIN decisions d ON d.alert_id = r.alert_id",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!((status.as_str(), requested_by.as_str()), ("queued", RULES_REQUESTER));
    assert_eq!((alert_id, decision_run), (first.decided[0].alert_id, run_id));
    let hash: Option<String> =
        sqlx::query_scalar("SELECT rules_hash FROM decisions").fetch_one(&db.pool).await.unwrap();
    assert_eq!(hash.as_deref(), Some(RuleSet::new(rules.to_vec()).hash()), "the rule set it was made under");
    // The same episode again (a retry): not new, so not decided again.
    let again = write_one(&mut db, &rules, "bb", &alerts);
    assert!(again.decided.is_empty());
    let decisions: i64 =
        sqlx::query_scalar("SELECT count(*) FROM decisions").fetch_one(&db.pool).await.unwrap();
    assert_eq!(decisions, 1);
}

#[tokio::test]
async fn the_writer_decides_what_the_history_settles() {
    let mut db = test_db().await;
    let rules = [nginx_rule("auto")];
    let alerts = fixture_alerts();
    let first = write_one(&mut db, &rules, "aa", &alerts);
    assert_eq!(reasons(&first.decided), ["enqueued"]);
    let run = first.decided[0].run_id.expect("a run");

    // Two new episodes on the same target while its run is queued: covered by it, by name.
    let mut second = alerts[0].clone();
    second.fingerprint = "00000000000000aa".into();
    let mut third = alerts[0].clone();
    third.fingerprint = "00000000000000bb".into();
    let written = write_one(&mut db, &rules, "cc", &[second, third]);
    assert_eq!(reasons(&written.decided), ["run_in_progress", "run_in_progress"]);
    assert!(written.decided.iter().all(|d| d.rule == Some(0)), "the first rule");
    assert!(written.decided.iter().all(|d| d.covered_by == Some(run) && d.run_id.is_none()));
    let stored: Vec<(String, String, String, bool)> = sqlx::query_as(
        "SELECT d.outcome, d.reason, d.detail, a.decided_at = d.at FROM decisions d JOIN alerts a ON a.id = d.alert_id \
         WHERE d.run_id = ? AND d.outcome = 'skipped' ORDER BY d.id",
    )
    .bind(run)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(stored.len(), 2, "each skip names the run that covers it");
    assert!(stored.iter().all(|(o, r, d, marked)| o == "skipped"
        && r == "run_in_progress"
        && d.ends_with(&format!("is already in flight: run #{run}"))
        && *marked));

    // Once the run finished, the cooldown (10 m) settles the next episode.
    sqlx::query("UPDATE heal_runs SET status = 'failed', finished_at = created_at")
        .execute(&db.pool)
        .await
        .unwrap();
    let mut fourth = alerts[0].clone();
    fourth.fingerprint = "00000000000000cc".into();
    let written = write_one(&mut db, &rules, "dd", &[fourth]);
    assert_eq!(reasons(&written.decided), ["cooldown"]);
}

#[tokio::test]
async fn two_new_episodes_on_one_target_in_one_batch_make_one_run() {
    let mut db = test_db().await;
    let rules = [nginx_rule("auto")];
    let mut alerts = fixture_alerts();
    let mut other = alerts[0].clone();
    other.fingerprint = "00000000000000aa".into();
    alerts.push(other);
    let written = write_one(&mut db, &rules, "aa", &alerts);
    assert_eq!(reasons(&written.decided), ["enqueued", "run_in_progress"]);
    let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM heal_runs").fetch_one(&db.pool).await.unwrap();
    assert_eq!(runs, 1);
    // The second is covered by the run the first queued in the same commit, and says which.
    let run = written.decided[0].run_id.expect("a run");
    let covered = &written.decided[1];
    assert_eq!((covered.covered_by, covered.run_id), (Some(run), None));
    assert!(
        matches!(&covered.decision, Decision::Skip(s) if s.detail.ends_with(&format!("in flight: run #{run}"))),
        "{:?}",
        covered.decision
    );
    // The alerts list shows the covering run beside the covered alert.
    let row = crate::ssr::db::alert_detail::alert_summary(&db.pool, covered.alert_id).await.unwrap().unwrap();
    assert_eq!(row.run_id, Some(run));
}

#[tokio::test]
async fn an_alert_without_a_verdict_is_prejudged_by_the_writer() {
    let mut db = test_db().await;
    let rules = RuleSet::new(vec![nginx_rule("approval")]);
    let alerts = fixture_alerts();
    let n = notification("aa", "2026-01-01T00:00:00.000Z", &alerts);
    assert!(n.verdicts.is_empty());
    let written = write_batch(&mut db.conn, &rules, &no_hosts(), &[n], &Arc::default()).unwrap();
    assert_eq!(reasons(&written.decided), ["enqueued"]);
    let status: String =
        sqlx::query_scalar("SELECT status FROM heal_runs").fetch_one(&db.pool).await.unwrap();
    assert_eq!(status, "awaiting_approval");
}

#[tokio::test]
async fn the_writer_records_shadow_skips_and_audits_refused_labels() {
    let mut db = test_db().await;
    let shadow = [nginx_rule("shadow")];
    let written = write_one(&mut db, &shadow, "aa", &fixture_alerts());
    assert_eq!(reasons(&written.decided), ["shadow"]);

    // A rule whose target label the alert lacks refuses it: a skip and an audit entry.
    let mut config: crate::ssr::heal::RuleConfig = serde_json::from_value(serde_json::json!({
        "name": "needs-host", "match": { "alertname": "NginxDown" }, "playbook": "heal-nginx.yml",
    }))
    .unwrap();
    config.target_label = "host".into();
    let refusing = [Rule::from_config(config, |_| true).unwrap()];
    let mut other = fixture_alerts();
    other[0].fingerprint = "00000000000000aa".into();
    let written = write_one(&mut db, &refusing, "bb", &other);
    assert_eq!(reasons(&written.decided), ["invalid_labels"]);
    let audit: (String, String, String, String) =
        sqlx::query_as("SELECT actor, action, target, source FROM audit_events")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    let target = format!("alert {}", written.decided[0].alert_id);
    assert_eq!(audit, ("system".into(), "engine.labels_rejected".into(), target, "intake".into()));
}

#[tokio::test]
async fn labels_that_cannot_be_read_are_refused_not_taken_for_none() {
    let rules = [nginx_rule("auto")];
    match verdict_of(&rules, &KnownHosts::default(), AlertStatus::Firing, "{not json") {
        crate::ssr::heal::Prejudged::Skip { rule: None, skip } => {
            assert_eq!(skip.reason, crate::ssr::heal::SkipReason::InvalidLabels);
            assert!(skip.detail.contains("cannot be read"), "{}", skip.detail);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn episodes_an_earlier_version_left_undecided_are_decided_in_chunks() {
    let mut db = test_db().await;
    sqlx::query(
        "WITH RECURSIVE n(id) AS (SELECT 1 UNION ALL SELECT id + 1 FROM n WHERE id < 600) \
         INSERT INTO alerts (id, fingerprint, starts_at, status, alertname, labels, annotations, source, \
           first_seen_at, last_seen_at) \
         SELECT id, printf('%016x', id), '2026-01-01T00:00:00.000Z', 'firing', 'X', '{}', '{}', 'webhook', 'n', 'n' FROM n",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let rules = RuleSet::new(vec![nginx_rule("auto")]);
    let decided = decide_leftovers(&mut db.conn, &rules, &KnownHosts::default(), &Arc::default()).unwrap();
    assert_eq!(decided.len(), 600);
    assert!(decided.iter().all(|d| d.reason() == "no_rule"));
    let (n, distinct, undecided): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT alert_id), \
                (SELECT count(*) FROM alerts WHERE decided_at IS NULL) FROM decisions",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!((n, distinct, undecided), (600, 600, 0));
    assert!(
        decide_leftovers(&mut db.conn, &rules, &KnownHosts::default(), &Arc::default()).unwrap().is_empty(),
        "once"
    );
}

#[tokio::test]
async fn reconciliation_adds_only_unknown_episodes_and_decides_them() {
    let mut db = test_db().await;
    let pool = db.pool.clone();
    let p: WebhookPayload = serde_json::from_str(FIRING).unwrap();
    let mut alert =
        ReconciledAlert { alert: normalise_payload(&p).unwrap().remove(0), receiver: Some("heal".into()) };
    let hosts = crate::ssr::heal::KnownHosts::default();
    let reconcile = |db: &mut TestDb, a: &ReconciledAlert| {
        write_reconciled(
            &mut db.conn,
            &RuleSet::new(Vec::new()),
            &hosts,
            std::slice::from_ref(a),
            &NO_ANSWERS,
            &Arc::default(),
        )
        .unwrap()
    };
    assert_eq!(reconcile(&mut db, &alert).len(), 1, "new: stored and decided");
    assert!(reconcile(&mut db, &alert).is_empty(), "known: nothing");
    let (source, deliveries, decided): (String, i64, Option<String>) =
        sqlx::query_as("SELECT source, deliveries, decided_at FROM alerts").fetch_one(&pool).await.unwrap();
    assert_eq!((source.as_str(), deliveries), ("reconcile", 1));
    assert!(decided.is_some(), "decided in the commit that stored it");
    let reasons: Vec<String> =
        sqlx::query_scalar("SELECT reason FROM decisions").fetch_all(&pool).await.unwrap();
    assert_eq!(reasons, ["no_rule"]);

    // The webhook then delivers it: same row, a delivery more, source kept.
    let stored = store_fixture(&mut db, FIRING, "2026-11-22T01:25:13.000Z");
    assert_eq!(stored.duplicate_alerts, 1);
    alert.alert.starts_at = "2026-11-22T02:00:00.000Z".into();
    alert.receiver = None;
    assert_eq!(reconcile(&mut db, &alert).len(), 1, "new episode");
}

/// An episode whose target is busy with a run the writer did not queue — a hand-started one,
/// or another rule's — is covered by it, and says which (issue 26, item 2: it used to say only
/// "a run is already in flight").
#[tokio::test]
async fn an_episode_covered_by_a_run_started_by_hand_names_it() {
    let mut db = test_db().await;
    let rules = [nginx_rule("auto")];
    let alerts = fixture_alerts();
    // Learn the target the rule heals, then free it and start a run on it by hand.
    let first = write_one(&mut db, &rules, "aa", &alerts);
    let target: String =
        sqlx::query_scalar("SELECT target FROM heal_runs").fetch_one(&db.pool).await.unwrap();
    sqlx::query("DELETE FROM decisions").execute(&db.pool).await.unwrap();
    sqlx::query("DELETE FROM heal_runs").execute(&db.pool).await.unwrap();
    let by_hand: i64 = sqlx::query_scalar(
        "INSERT INTO heal_runs (rule, playbook, target, mode, status, requested_by, extra_vars, timeout_ms, \
         verify_within_ms, created_at) \
         VALUES ('manual', 'heal-nginx.yml', ?, 'auto', 'running', 'olga', '{}', 60000, 1, '2026-01-01T00:00:00.000Z') RETURNING id",
    )
    .bind(&target)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let mut second = alerts[0].clone();
    second.fingerprint = "00000000000000aa".into();
    let written = write_one(&mut db, &rules, "bb", &[second]);
    assert_eq!(reasons(&written.decided), ["run_in_progress"], "{:?}", first.decided);
    assert_eq!(written.decided[0].covered_by, Some(by_hand));
    assert!(
        matches!(&written.decided[0].decision, Decision::Skip(s) if s.detail.ends_with(&format!("in flight: run #{by_hand}"))),
        "{:?}",
        written.decided[0].decision
    );
}
