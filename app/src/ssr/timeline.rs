//! An alert's timeline from its stored rows: pure, so every step's wording is tested here.
use crate::model::{AlertSummary, RunMode, RunStatus, RunSummary, TimelineEntry, Verification};
use crate::ssr::db::alert_detail::DecisionRow;

fn entry(at: &str, kind: &str, text: String, run_id: Option<i64>) -> TimelineEntry {
    TimelineEntry { at: at.to_owned(), kind: kind.to_owned(), text, run_id }
}

/// Received (with its source) → deliveries → each decision and its reason → each run queued,
/// started, finished and verified → resolved; sorted by time (stable, so ties keep this order).
pub fn build_timeline(
    alert: &AlertSummary,
    first_seen_at: &str,
    decisions: &[DecisionRow],
    runs: &[RunSummary],
) -> Vec<TimelineEntry> {
    let mut out = vec![entry(first_seen_at, "received", format!("received from {}", alert.source), None)];
    if alert.deliveries > 1 {
        out.push(entry(
            &alert.last_seen_at,
            "delivered",
            format!(
                "delivered {} times in all (retries, HA peers, repeat_interval); last here",
                alert.deliveries
            ),
            None,
        ));
    }
    for d in decisions {
        let rule = d.rule.as_deref().map(|r| format!(" by rule {r}")).unwrap_or_default();
        let set = d.rules_hash.as_deref().map(|h| format!(" (rules {h})")).unwrap_or_default();
        let text =
            format!("decision{rule}{set}: {} ({}) — {}", d.outcome, d.reason.replace('_', " "), d.detail);
        out.push(entry(&d.at, "decision", text, d.run_id));
    }
    for r in runs.iter().rev() {
        let id = Some(r.id);
        let mode = if r.mode == RunMode::DryRun { " in --check mode" } else { "" };
        out.push(entry(
            &r.created_at,
            RunStatus::Queued.as_str(),
            format!("run #{} queued by {}: {} on {}{mode}", r.id, r.requested_by, r.playbook, r.target),
            id,
        ));
        if let Some(at) = &r.started_at {
            out.push(entry(at, "started", format!("run #{} started ansible-playbook", r.id), id));
        }
        if let Some(at) = &r.finished_at {
            let exit = r.exit_code.map(|c| format!(", exit {c}")).unwrap_or_default();
            let error = r.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default();
            out.push(entry(
                at,
                "finished",
                format!("run #{} {}{exit}{error}", r.id, r.status.as_str().replace('_', " ")),
                id,
            ));
            match r.verification {
                Some(v @ Verification::Verified) => {
                    let ttl = r
                        .time_to_heal_ms
                        .map(|ms| format!(" — healed in {}", crate::components::time::format_ms(ms)));
                    let text = format!(
                        "run #{} verified: Prometheus no longer sees the condition{}",
                        r.id,
                        ttl.unwrap_or_default()
                    );
                    out.push(entry(at, v.as_str(), text, id));
                }
                Some(v @ Verification::NotFixed) => {
                    out.push(entry(
                        at,
                        v.as_str(),
                        format!("run #{}: the condition is still there", r.id),
                        id,
                    ));
                }
                _ => {}
            }
        }
    }
    if let Some(at) = &alert.resolved_at {
        out.push(entry(at, "resolved", "resolved (Alertmanager sent resolved)".to_owned(), None));
    }
    out.sort_by(|a, b| a.at.cmp(&b.at));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert() -> AlertSummary {
        AlertSummary {
            id: 7,
            fingerprint: "f".into(),
            alertname: "NginxDown".into(),
            status: "resolved".into(),
            severity: None,
            instance: None,
            starts_at: "2026-11-22T01:00:00.000Z".into(),
            ends_at: None,
            resolved_at: Some("2026-11-22T01:00:09.000Z".into()),
            source: "webhook".into(),
            deliveries: 3,
            last_seen_at: "2026-11-22T01:00:05.000Z".into(),
            labels: "{}".into(),
            truncated_alerts: 0,
            decision: Some("enqueued".into()),
            run_id: Some(4),
            run_status: Some(RunStatus::Succeeded),
            run_verification: Some(Verification::Verified),
            run_time_to_heal_ms: Some(6200),
        }
    }

    fn run() -> RunSummary {
        RunSummary {
            id: 4,
            alert_id: Some(7),
            rule: "nginx-down".into(),
            playbook: "heal-nginx.yml".into(),
            target: "web1".into(),
            mode: RunMode::Auto,
            status: RunStatus::Succeeded,
            verification: Some(Verification::Verified),
            requested_by: "engine".into(),
            created_at: "2026-11-22T01:00:01.000Z".into(),
            started_at: Some("2026-11-22T01:00:02.000Z".into()),
            finished_at: Some("2026-11-22T01:00:04.000Z".into()),
            exit_code: Some(0),
            error: None,
            time_to_heal_ms: Some(6200),
            output_lines: 10,
            output_truncated: false,
            previous_run_id: None,
        }
    }

    #[test]
    fn a_healed_alert_reads_in_order() {
        let decision = DecisionRow {
            at: "2026-11-22T01:00:01.000Z".into(),
            rule: Some("nginx-down".into()),
            outcome: "enqueued".into(),
            reason: "enqueued".into(),
            detail: "run heal-nginx.yml on web1".into(),
            run_id: Some(4),
            rules_hash: Some("0123456789ab".into()),
        };
        let timeline = build_timeline(&alert(), "2026-11-22T01:00:00.500Z", &[decision], &[run()]);
        let decided = timeline.iter().find(|e| e.kind == "decision").unwrap();
        assert_eq!(
            decided.text,
            "decision by rule nginx-down (rules 0123456789ab): enqueued (enqueued) — run heal-nginx.yml on web1",
            "the rule set it was made under"
        );
        let kinds: Vec<_> = timeline.into_iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            ["received", "decision", "queued", "started", "finished", "verified", "delivered", "resolved"]
        );
    }

    #[test]
    fn a_skip_and_a_failed_run_say_why() {
        let mut a = alert();
        a.deliveries = 1;
        a.resolved_at = None;
        let skip = DecisionRow {
            at: "2026-11-22T01:00:01.000Z".into(),
            rule: None,
            outcome: "skipped".into(),
            reason: "breaker_open".into(),
            detail: "3 attempts in 1h".into(),
            run_id: None,
            rules_hash: None,
        };
        let mut r = run();
        r.status = RunStatus::Failed;
        r.verification = Some(Verification::NotFixed);
        r.exit_code = Some(2);
        r.error = Some("nginx did not start".into());
        let t = build_timeline(&a, "2026-11-22T01:00:00.500Z", &[skip], &[r]);
        let texts: Vec<_> = t.iter().map(|e| e.text.as_str()).collect();
        assert!(texts.contains(&"decision: skipped (breaker open) — 3 attempts in 1h"), "{texts:?}");
        assert!(texts.contains(&"run #4 failed, exit 2: nginx did not start"), "{texts:?}");
        assert_eq!(t.last().unwrap().kind, "not_fixed");
        assert!(!t.iter().any(|e| e.kind == "delivered" || e.kind == "resolved"));
    }

    /// Regression: the timeline compared the mode with "check", a word no run has, so a dry
    /// run never said so.
    #[test]
    fn a_dry_run_says_it_ran_in_check_mode() {
        let mut r = run();
        let queued = |r: &RunSummary| {
            let t = build_timeline(&alert(), "2026-11-22T01:00:00.500Z", &[], std::slice::from_ref(r));
            t.into_iter().find(|e| e.kind == "queued").map(|e| e.text).unwrap()
        };
        assert!(!queued(&r).contains("--check"), "{}", queued(&r));
        r.mode = RunMode::DryRun;
        assert!(queued(&r).ends_with("heal-nginx.yml on web1 in --check mode"), "{}", queued(&r));
    }
}
