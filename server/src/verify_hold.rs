//! `verify_hold` from the alert itself: when a rule leaves it unset, a heal must hold for as
//! long as Prometheus would take to fire the alert again — its alerting rule's `for` plus one
//! evaluation interval (`/api/v1/rules`, read at most once a minute) — and never less than
//! [`DEFAULT_VERIFY_HOLD`]. An alert Prometheus has no rule for, or a Prometheus that does not
//! answer, gets the default.
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use app::ssr::heal::DEFAULT_VERIFY_HOLD;

use crate::verify::Prometheus;

/// How long one reading of Prometheus' rules is used: rule files change rarely, and a
/// verification must not wait on a second request each time.
const RULES_FRESH_FOR: Duration = Duration::from_secs(60);

/// Each alert's re-fire delay, and when Prometheus was asked.
type Reading = (Instant, HashMap<String, Duration>);

/// The alerts' re-fire delays, as last read.
#[derive(Clone, Debug, Default)]
pub struct AlertHolds {
    read: Arc<Mutex<Option<Reading>>>,
}

impl AlertHolds {
    /// How long a heal of an `alertname` alert must hold, and why that long.
    pub async fn hold_for(&self, prometheus: &Prometheus, alertname: &str) -> (Duration, String) {
        let mut read = self.read.lock().await;
        let stale = read.as_ref().is_none_or(|(at, _)| at.elapsed() > RULES_FRESH_FOR);
        if stale {
            match prometheus.alerting_rules().await {
                Ok(rules) => *read = Some((Instant::now(), rules.refire_after())),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read Prometheus' alerting rules; default verify_hold")
                }
            }
        }
        let refire = read.as_ref().and_then(|(_, after)| after.get(alertname)).copied();
        match refire {
            Some(after) if after > DEFAULT_VERIFY_HOLD => {
                (after, format!("{alertname}'s `for` plus its evaluation interval"))
            }
            Some(_) => (DEFAULT_VERIFY_HOLD, format!("the default: {alertname} re-fires sooner")),
            None => {
                (DEFAULT_VERIFY_HOLD, format!("the default: Prometheus has no alerting rule {alertname}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::verify::RulesResponse;

    #[test]
    fn an_alert_refires_after_its_for_plus_its_groups_interval() {
        let body = r#"{"status":"success","data":{"groups":[
            {"name":"a","interval":15,"rules":[
                {"type":"alerting","name":"Slow","duration":300},
                {"type":"recording","name":"job:up:sum","duration":0},
                {"type":"alerting","name":"Twice","duration":60}]},
            {"name":"b","interval":1,"rules":[
                {"type":"alerting","name":"Twice","duration":600},
                {"type":"alerting","name":"Fast"}]}]}}"#;
        let rules: RulesResponse = serde_json::from_str(body).unwrap();
        let after = rules.refire_after();
        let secs = |name: &str| after.get(name).map(std::time::Duration::as_secs_f64);
        assert_eq!(secs("Slow"), Some(315.0));
        assert_eq!(secs("Twice"), Some(601.0), "the longest of the rules sharing the name");
        assert_eq!(secs("Fast"), Some(1.0), "no for: one evaluation");
        assert_eq!(secs("job:up:sum"), None, "recording rules are not alerts");
    }
}
