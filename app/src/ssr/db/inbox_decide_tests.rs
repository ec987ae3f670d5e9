//! The inbox writer's own decisions: what it leaves to the engine, what history already
//! settles, shadow skips and refused labels.
use super::*;
use crate::ssr::heal::SkipReason;

/// The FIRING fixture's rule for the writer's decisions, in `mode` (a JSON rule mode).
fn nginx_rule(mode: &str) -> crate::ssr::heal::Rule {
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
    crate::ssr::heal::Rule::from_config(config, |_| true).unwrap()
}

/// Writes one notification of `alerts` (each firing, under `rules`) as the inbox writer does.
fn write_one(db: &mut TestDb, rules: &[crate::ssr::heal::Rule], sha: &str, alerts: &[NewAlert]) -> Written {
    use crate::ssr::evaluate::prejudge;
    // The rules under test use no --limit: the inventory's hosts do not matter here.
    let hosts = crate::ssr::heal::KnownHosts::default();
    let verdicts: Vec<_> = alerts
        .iter()
        .map(|a| prejudge(rules, &hosts, a.status, &serde_json::from_str(&a.labels).unwrap()))
        .collect();
    let n = NewNotification { verdicts: &verdicts, ..notification(sha, "2026-01-01T00:00:00.000Z", alerts) };
    write_batch(&mut db.conn, rules, &[n]).unwrap()
}

fn fixture_alerts() -> Vec<NewAlert> {
    let p: WebhookPayload = serde_json::from_str(FIRING).unwrap();
    normalise_payload(&p).unwrap()
}

#[tokio::test]
async fn the_writer_leaves_a_run_to_the_engine_and_decides_a_repeat_never() {
    let mut db = test_db().await;
    let rules = [nginx_rule("auto")];
    let alerts = fixture_alerts();
    let first = write_one(&mut db, &rules, "aa", &alerts);
    assert_eq!((first.decided.len(), first.undecided), (0, 1), "no history: a run, the engine's job");
    // The same episode again (a retry): not new, so neither decided nor left again.
    let again = write_one(&mut db, &rules, "bb", &alerts);
    assert_eq!((again.decided.len(), again.undecided), (0, 0));
    let decisions: i64 =
        sqlx::query_scalar("SELECT count(*) FROM decisions").fetch_one(&db.pool).await.unwrap();
    assert_eq!(decisions, 0);
}

#[tokio::test]
async fn the_writer_decides_what_the_history_already_settles() {
    let mut db = test_db().await;
    let rules = [nginx_rule("auto")];
    let mut alerts = fixture_alerts();
    let first = write_one(&mut db, &rules, "aa", &alerts);
    assert_eq!(first.undecided, 1);
    // The engine queues a run for that episode's target (the fixture's instance label).
    let alert_id: i64 = sqlx::query_scalar("SELECT id FROM alerts").fetch_one(&db.pool).await.unwrap();
    sqlx::query(
        "INSERT INTO heal_runs (alert_id, rule, playbook, target, mode, status, requested_by, created_at, \
         extra_vars, timeout_ms, verify_within_ms) \
         VALUES (?, 'nginx-down', 'heal-nginx.yml', ?, 'auto', 'queued', 'engine', ?, '{}', 60000, 30000)",
    )
    .bind(alert_id)
    .bind(alerts[0].instance.clone().unwrap())
    .bind(crate::ssr::alert::now_utc())
    .execute(&db.pool)
    .await
    .unwrap();

    // Two new episodes on the same target: a run is in flight, so both are settled here.
    let mut second = alerts[0].clone();
    second.fingerprint = "00000000000000aa".into();
    let mut third = alerts[0].clone();
    third.fingerprint = "00000000000000bb".into();
    alerts = vec![second, third];
    let written = write_one(&mut db, &rules, "cc", &alerts);
    assert_eq!(written.undecided, 0);
    let reasons: Vec<SkipReason> = written.decided.iter().map(|d| d.reason).collect();
    assert_eq!(reasons, [SkipReason::RunInProgress, SkipReason::RunInProgress]);
    assert!(written.decided.iter().all(|d| d.rule == Some(0)), "the first rule");
    let stored: Vec<(String, String, String, bool)> = sqlx::query_as(
        "SELECT d.outcome, d.reason, d.detail, a.decided_at = d.at FROM decisions d JOIN alerts a ON a.id = d.alert_id \
         ORDER BY d.id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(stored.len(), 2);
    assert!(stored.iter().all(|(o, r, d, marked)| o == "skipped"
        && r == "run_in_progress"
        && d.contains("in flight")
        && *marked));

    // Once the run finished, the cooldown (10 m) settles the next episode.
    sqlx::query("UPDATE heal_runs SET status = 'failed', finished_at = created_at")
        .execute(&db.pool)
        .await
        .unwrap();
    let mut fourth = alerts[0].clone();
    fourth.fingerprint = "00000000000000cc".into();
    let written = write_one(&mut db, &rules, "dd", &[fourth]);
    assert_eq!(written.decided.iter().map(|d| d.reason).collect::<Vec<_>>(), [SkipReason::Cooldown]);
}

#[tokio::test]
async fn the_writer_records_shadow_skips_and_audits_refused_labels() {
    let mut db = test_db().await;
    let shadow = [nginx_rule("shadow")];
    let written = write_one(&mut db, &shadow, "aa", &fixture_alerts());
    assert_eq!(written.decided.iter().map(|d| d.reason).collect::<Vec<_>>(), [SkipReason::Shadow]);

    // A rule whose target label the alert lacks refuses it: a skip and an audit entry.
    let mut config: crate::ssr::heal::RuleConfig = serde_json::from_value(serde_json::json!({
        "name": "needs-host", "match": { "alertname": "NginxDown" }, "playbook": "heal-nginx.yml",
    }))
    .unwrap();
    config.target_label = "host".into();
    let refusing = [crate::ssr::heal::Rule::from_config(config, |_| true).unwrap()];
    let mut other = fixture_alerts();
    other[0].fingerprint = "00000000000000aa".into();
    let written = write_one(&mut db, &refusing, "bb", &other);
    assert_eq!(written.decided.iter().map(|d| d.reason).collect::<Vec<_>>(), [SkipReason::InvalidLabels]);
    let audit: (String, String, String, String) =
        sqlx::query_as("SELECT actor, action, target, source FROM audit_events")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    let target = format!("alert {}", written.decided[0].alert_id);
    assert_eq!(audit, ("system".into(), "engine.labels_rejected".into(), target, "intake".into()));
}
