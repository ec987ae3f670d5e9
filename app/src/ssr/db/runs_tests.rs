//! Queue SQL: one run per target, claiming, history and breaker resets.
use std::collections::BTreeMap;

use super::*;
use crate::ssr::db::decisions::*;
use crate::ssr::db::overview::overview_counts;
use crate::ssr::db::test_pool;

fn plan(target: &str) -> Plan {
    Plan {
        rule: "nginx-down".into(),
        playbook: "heal-nginx.yml".into(),
        target: target.into(),
        limit: Some("web1".into()),
        extra_vars: BTreeMap::from([("service".to_string(), "{{ not templated }}".to_string())]),
        mode: RuleMode::Auto,
        blast_scope: None,
        held: None,
    }
}

fn new_run<'a>(p: &'a Plan, now: &'a str) -> NewRun<'a> {
    NewRun {
        alert_id: None,
        plan: p,
        requested_by: "engine",
        timeout_ms: 60_000,
        verify_expr: None,
        verify_within_ms: 30_000,
        alert_starts_at: None,
        now,
    }
}

#[tokio::test]
async fn one_run_per_target_then_claim_in_order() {
    let pool = test_pool().await;
    let mut conn = pool.acquire().await.unwrap();
    let (a, b) = (plan("web1:9113"), plan("web2:9113"));
    let first = enqueue_run(&mut conn, &new_run(&a, "2026-01-01T00:00:00.000Z")).await.unwrap();
    assert!(first.is_some());
    assert_eq!(
        enqueue_run(&mut conn, &new_run(&a, "2026-01-01T00:00:01.000Z")).await.unwrap(),
        None,
        "same target"
    );
    let second = enqueue_run(&mut conn, &new_run(&b, "2026-01-01T00:00:02.000Z")).await.unwrap();
    assert_eq!(queue_depth(&mut *conn).await.unwrap(), 2);

    let claimed = claim_next_run(&mut *conn, "2026-01-01T00:00:03.000Z", "r1").await.unwrap().unwrap();
    assert_eq!(Some(claimed.id), first);
    assert_eq!(claimed.extra_vars, r#"{"service":"{{ not templated }}"}"#);
    assert_eq!(
        claim_next_run(&mut *conn, "2026-01-01T00:00:04.000Z", "r1").await.unwrap().map(|r| r.id),
        second
    );
    assert!(claim_next_run(&mut *conn, "2026-01-01T00:00:05.000Z", "r1").await.unwrap().is_none());
    // Still running: the target stays locked.
    assert_eq!(enqueue_run(&mut conn, &new_run(&a, "2026-01-01T00:00:06.000Z")).await.unwrap(), None);
}

/// Regression: a rule matching several alertnames by regex verified against `alertname=""`
/// (always absent, so every heal "verified" at once). The claim carries the alert's own name.
#[tokio::test]
async fn a_claimed_run_carries_its_alerts_name_for_verification() {
    let pool = test_pool().await;
    crate::ssr::db::insert_test_alert(&pool, 3, "NginxServiceUnhealthy").await;
    let mut conn = pool.acquire().await.unwrap();
    let (a, b) = (plan("web1"), plan("web2"));
    let for_alert = NewRun { alert_id: Some(3), ..new_run(&a, "2026-01-01T00:00:01.000Z") };
    enqueue_run(&mut conn, &for_alert).await.unwrap().unwrap();
    enqueue_run(&mut conn, &new_run(&b, "2026-01-01T00:00:02.000Z")).await.unwrap().unwrap();
    let claimed = claim_next_run(&mut *conn, "2026-01-01T00:00:03.000Z", "r1").await.unwrap().unwrap();
    assert_eq!(claimed.alertname.as_deref(), Some("NginxServiceUnhealthy"));
    let without_alert = claim_next_run(&mut *conn, "2026-01-01T00:00:04.000Z", "r1").await.unwrap().unwrap();
    assert_eq!(without_alert.alertname, None);
}

#[tokio::test]
async fn history_counts_engine_attempts_in_the_window_since_the_last_reset() {
    let pool = test_pool().await;
    let mut conn = pool.acquire().await.unwrap();
    let p = plan("web1:9113");
    for (i, at) in ["2026-01-01T00:00:00.000Z", "2026-01-01T00:10:00.000Z", "2026-01-01T00:20:00.000Z"]
        .iter()
        .enumerate()
    {
        let id = enqueue_run(&mut conn, &new_run(&p, at)).await.unwrap().expect("queued");
        sqlx::query("UPDATE heal_runs SET status = 'failed' WHERE id = ?")
            .bind(id)
            .execute(&mut *conn)
            .await
            .unwrap();
        let (active, last, attempts) =
            raw_history(&mut conn, "nginx-down", "web1:9113", "2025-12-31T23:50:00.000Z").await.unwrap();
        assert_eq!((active, last.as_deref(), attempts), (None, Some(*at), i as i64 + 1));
    }
    let (_, _, in_window) =
        raw_history(&mut conn, "nginx-down", "web1:9113", "2026-01-01T00:05:00.000Z").await.unwrap();
    assert_eq!(in_window, 2, "the first attempt fell out of the window");

    let row = |attempts, last_reset: Option<&str>| BreakerRow {
        target: "web1:9113".into(),
        attempts,
        last_attempt: "2026-01-01T00:20:00.000Z".into(),
        last_reset: last_reset.map(str::to_owned),
    };
    let states = breaker_states(&mut *conn, "nginx-down", "2026-01-01T00:05:00.000Z").await.unwrap();
    assert_eq!(states, [row(2, None)], "the breaker counts what target_history counts");
    sqlx::query("INSERT INTO breaker_resets (rule, target, reset_at, reset_by) VALUES ('nginx-down', 'web1:9113', '2026-01-01T00:15:00.000Z', 'ops')")
        .execute(&mut *conn)
        .await
        .unwrap();
    let (_, _, after_reset) =
        raw_history(&mut conn, "nginx-down", "web1:9113", "2026-01-01T00:05:00.000Z").await.unwrap();
    assert_eq!(after_reset, 1, "only attempts after the reset count");
    let states = breaker_states(&mut *conn, "nginx-down", "2026-01-01T00:05:00.000Z").await.unwrap();
    assert_eq!(states, [row(1, Some("2026-01-01T00:15:00.000Z"))]);
    assert!(breaker_states(&mut *conn, "other-rule", "2025-01-01T00:00:00.000Z").await.unwrap().is_empty());
    let (_, other_last, other) =
        raw_history(&mut conn, "other-rule", "web1:9113", "2025-01-01T00:00:00.000Z").await.unwrap();
    assert_eq!((other_last, other), (None, 0));
}

#[test]
fn history_from_measures_time_since_the_last_attempt() {
    let now =
        time::OffsetDateTime::parse("2026-01-01T00:02:00Z", &time::format_description::well_known::Rfc3339)
            .unwrap();
    let h = history_from(Some(7), Some("2026-01-01T00:00:30.000Z"), 2, now);
    assert_eq!(h.since_last_attempt, Some(std::time::Duration::from_secs(90)));
    assert!(h.active_run);
    assert_eq!(h.in_flight, Some(7), "the run in flight is named");
    let idle = history_from(None, None, 0, now);
    assert_eq!((idle.since_last_attempt, idle.active_run), (None, false));
}

/// The words of the model's enums are exactly those the schema's CHECK constraints allow.
#[tokio::test]
async fn the_state_enums_are_the_words_the_schema_allows() {
    use crate::model::{RunMode, RunStatus, Verification};
    let pool = test_pool().await;
    let sql: String =
        sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'heal_runs'")
            .fetch_one(&pool)
            .await
            .unwrap();
    let allowed = |column: &str| -> Vec<String> {
        let start = sql
            .find(&format!("CHECK ({column} IN ("))
            .unwrap_or_else(|| panic!("no CHECK on {column}: {sql}"));
        let list = &sql[start + "CHECK (".len() + column.len() + " IN (".len()..];
        let list = &list[..list.find(')').unwrap()];
        list.split(',').map(|w| w.trim().trim_matches('\'').to_owned()).collect()
    };
    let words = |all: &[&str]| all.iter().map(|w| w.to_string()).collect::<Vec<_>>();
    assert_eq!(allowed("status"), words(&RunStatus::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>()));
    assert_eq!(allowed("mode"), words(&RunMode::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>()));
    assert_eq!(
        allowed("verification"),
        words(&Verification::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>())
    );
}

/// Regression: the overview's "verified (24 h)" divided by every run of the day, in flight and
/// hand-started included (57 % during a normal heal). It is over rule-started heals that ended.
#[tokio::test]
async fn the_verified_rate_counts_rule_started_heals_that_ended() {
    let pool = test_pool().await;
    let at = "2026-01-01T00:00:00.000Z";
    for (target, by, mode, status, verification) in [
        ("web1", "engine", "auto", "succeeded", Some("verified")),
        ("web2", "engine", "auto", "succeeded", Some("not_fixed")),
        ("web3", "engine", "auto", "failed", Some("skipped")),
        ("web4", "engine", "auto", "succeeded", Some("pending")),
        ("web5", "engine", "auto", "running", None),
        ("web6", "engine", "dry-run", "succeeded", Some("skipped")),
        ("web7", "olga", "auto", "succeeded", Some("verified")),
        ("web8", "engine", "approval", "cancelled", Some("skipped")),
    ] {
        sqlx::query(
            "INSERT INTO heal_runs (rule, playbook, target, mode, status, verification, requested_by, extra_vars, \
             timeout_ms, verify_within_ms, created_at) VALUES ('r', 'p.yml', ?, ?, ?, ?, ?, '{}', 1000, 1000, ?)",
        )
        .bind(target)
        .bind(mode)
        .bind(status)
        .bind(verification)
        .bind(by)
        .bind(at)
        .execute(&pool)
        .await
        .unwrap();
    }
    let c = overview_counts(&pool, "2025-12-31T00:00:00.000Z").await.unwrap();
    assert_eq!(c.runs_24h, 8, "every run queued counts as a heal of the day");
    assert_eq!((c.verified_24h, c.concluded_24h), (1, 3), "verified, not fixed, failed: {c:?}");
    assert_eq!(c.failed_24h, 2);
    assert_eq!(c.runs_in_flight, 1);
}
