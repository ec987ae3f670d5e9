//! Verification: after a run, ask Prometheus (HTTP API, instant queries) until the heal's
//! condition holds or the time is up. A heal is `verified` only then.
use crate::outgoing::Outgoing;
use app::model::Verification;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Deserialize;

/// Time between two queries while waiting for the condition.
const POLL_EVERY: Duration = Duration::from_millis(500);

/// Longest one query may take.
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);

/// What verification concluded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The condition held within the window.
    Verified,
    /// Prometheus answered, and the condition never held within the window.
    NotFixed,
    /// Prometheus could not tell (unreachable, bad query, not configured).
    Inconclusive(String),
}

impl Verdict {
    /// The verification stored for this verdict.
    pub fn verification(&self) -> Verification {
        match self {
            Verdict::Verified => Verification::Verified,
            Verdict::NotFixed => Verification::NotFixed,
            Verdict::Inconclusive(_) => Verification::Inconclusive,
        }
    }

    pub fn as_str(&self) -> &'static str {
        self.verification().as_str()
    }
}

#[derive(Deserialize)]
struct QueryResponse {
    status: String,
    #[serde(default)]
    data: Option<QueryData>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryData {
    result_type: String,
    result: serde_json::Value,
}

/// `GET /api/v1/rules?type=alert`: the groups, their evaluation interval and alerting rules.
#[derive(Debug, Default, Deserialize)]
pub struct RulesResponse {
    #[serde(default)]
    data: RulesData,
}

#[derive(Debug, Default, Deserialize)]
struct RulesData {
    #[serde(default)]
    groups: Vec<RuleGroup>,
}

#[derive(Debug, Deserialize)]
struct RuleGroup {
    /// Evaluation interval, seconds.
    #[serde(default)]
    interval: f64,
    #[serde(default)]
    rules: Vec<AlertingRule>,
}

#[derive(Debug, Deserialize)]
struct AlertingRule {
    name: String,
    /// The rule's `for`, seconds.
    #[serde(default)]
    duration: f64,
    #[serde(rename = "type", default)]
    kind: String,
}

impl RulesResponse {
    /// Per alert name, how long after its condition returns the alert fires again: its `for`
    /// plus one evaluation interval (the longest, when several rules share the name).
    pub fn refire_after(&self) -> std::collections::HashMap<String, Duration> {
        let mut after = std::collections::HashMap::new();
        for group in &self.data.groups {
            for rule in group.rules.iter().filter(|r| r.kind == "alerting") {
                let secs = (rule.duration + group.interval).max(0.0);
                let d = Duration::try_from_secs_f64(secs).unwrap_or(Duration::ZERO);
                let entry = after.entry(rule.name.clone()).or_insert(d);
                *entry = (*entry).max(d);
            }
        }
        after
    }
}

/// Asks one Prometheus.
#[derive(Clone, Debug)]
pub struct Prometheus {
    client: reqwest::Client,
    base_url: String,
}

impl Prometheus {
    /// Asks the Prometheus at `base_url` (http or https, with `outgoing`'s TLS).
    pub fn new(base_url: &str, outgoing: &Outgoing) -> Prometheus {
        Prometheus::with_timeout(base_url, outgoing, QUERY_TIMEOUT)
    }

    /// As [`Prometheus::new`], each request given up after `timeout`.
    pub fn with_timeout(base_url: &str, outgoing: &Outgoing, timeout: Duration) -> Prometheus {
        let client = outgoing.client(timeout);
        Prometheus { client, base_url: base_url.trim_end_matches('/').to_owned() }
    }

    /// Whether `expr` holds now: a non-empty vector, or a non-zero scalar.
    pub async fn holds(&self, expr: &str) -> Result<bool, String> {
        let data = self.query(expr).await?;
        Ok(match data.result_type.as_str() {
            "vector" | "matrix" => data.result.as_array().is_some_and(|a| !a.is_empty()),
            "scalar" => data
                .result
                .get(1)
                .and_then(|v| v.as_str())
                .is_some_and(|v| v.parse::<f64>().is_ok_and(|n| n != 0.0)),
            _ => false,
        })
    }

    /// `expr`'s samples now: each series' labels and value (a scalar: one sample, no labels).
    pub async fn samples(&self, expr: &str) -> Result<Vec<(BTreeMap<String, String>, f64)>, String> {
        let data = self.query(expr).await?;
        let value =
            |v: &serde_json::Value| v.get(1).and_then(|v| v.as_str()).and_then(|v| v.parse::<f64>().ok());
        Ok(match data.result_type.as_str() {
            "vector" => data
                .result
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| {
                    let labels = serde_json::from_value(s.get("metric")?.clone()).ok()?;
                    Some((labels, value(s.get("value")?)?))
                })
                .collect(),
            "scalar" => value(&data.result).map(|v| (BTreeMap::new(), v)).into_iter().collect(),
            other => return Err(format!("a {other} answer, not an instant vector")),
        })
    }

    /// `GET /api/v1/query` of `expr`: its data, or why there is none.
    async fn query(&self, expr: &str) -> Result<QueryData, String> {
        let res = self
            .client
            .get(format!("{}/api/v1/query", self.base_url))
            .query(&[("query", expr)])
            .send()
            .await
            .map_err(|e| format!("cannot reach Prometheus: {e}"))?;
        let body: QueryResponse =
            res.json().await.map_err(|e| format!("unreadable Prometheus answer: {e}"))?;
        if body.status != "success" {
            return Err(format!("Prometheus refused the query: {}", body.error.unwrap_or_default()));
        }
        Ok(body.data.ok_or("Prometheus answered without data")?)
    }

    /// Its alerting rules (`/api/v1/rules?type=alert`).
    pub async fn alerting_rules(&self) -> Result<RulesResponse, String> {
        let res = self
            .client
            .get(format!("{}/api/v1/rules", self.base_url))
            .query(&[("type", "alert")])
            .send()
            .await
            .map_err(|e| format!("cannot reach Prometheus: {e}"))?;
        let res = res.error_for_status().map_err(|e| format!("Prometheus refused: {e}"))?;
        res.json().await.map_err(|e| format!("unreadable Prometheus answer: {e}"))
    }

    /// Polls `expr` until it has held on every poll for `hold` (`Verified`). It must start
    /// holding within `within`; a poll where it does not hold starts the count again, and after
    /// `within` that is `NotFixed`. Errors only make the verdict `Inconclusive` if no query
    /// succeeded at all (an error while holding does not count as holding).
    pub async fn verify(&self, expr: &str, within: Duration, hold: Duration) -> Verdict {
        let deadline = Instant::now() + within;
        let mut last_error = None;
        let mut answered = false;
        let mut holding_since: Option<Instant> = None;
        loop {
            match self.holds(expr).await {
                Ok(true) => {
                    answered = true;
                    let since = *holding_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= hold {
                        return Verdict::Verified;
                    }
                }
                Ok(false) => {
                    answered = true;
                    holding_since = None;
                }
                Err(e) => {
                    holding_since = None;
                    last_error = Some(e);
                }
            }
            if holding_since.is_none() && Instant::now() >= deadline {
                return if answered {
                    Verdict::NotFixed
                } else {
                    Verdict::Inconclusive(last_error.unwrap_or_else(|| "no answer".to_owned()))
                };
            }
            let wait = match holding_since {
                Some(since) => POLL_EVERY.min(hold.saturating_sub(since.elapsed())),
                None => POLL_EVERY.min(deadline.saturating_duration_since(Instant::now())),
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// The default condition: the alert is no longer firing for this target
/// (`absent(ALERTS{alertname="..", alertstate="firing", <label>=".."})`). Values are escaped:
/// they come from alert labels.
pub fn alert_cleared_expr(alertname: &str, target_label: &str, target: &str) -> String {
    format!(
        "absent(ALERTS{{alertname=\"{}\",alertstate=\"firing\",{}=\"{}\"}})",
        escape(alertname),
        target_label,
        escape(target)
    )
}

/// Escapes a PromQL double-quoted string.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_expression_escapes_label_values() {
        assert_eq!(
            alert_cleared_expr("NginxDown", "instance", "web1:9113"),
            r#"absent(ALERTS{alertname="NginxDown",alertstate="firing",instance="web1:9113"})"#
        );
        assert_eq!(
            alert_cleared_expr("X", "instance", "a\"}) or vector(1) #\\"),
            r#"absent(ALERTS{alertname="X",alertstate="firing",instance="a\"}) or vector(1) #\\"})"#
        );
    }

    #[tokio::test]
    async fn an_unreachable_prometheus_is_inconclusive_not_verified() {
        let p = Prometheus::new("http://127.0.0.1:9", &Outgoing::default());
        let v = p.verify("up", Duration::from_millis(200), Duration::ZERO).await;
        assert!(matches!(v, Verdict::Inconclusive(_)), "{v:?}");
    }

    /// A fake Prometheus whose answer alternates held / not held on every query.
    async fn flapping_prometheus(always: bool) -> String {
        use std::sync::atomic::{AtomicU64, Ordering};
        use std::sync::Arc;
        let calls = Arc::new(AtomicU64::new(0));
        let app = axum::Router::new().route(
            "/api/v1/query",
            axum::routing::get(move || {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    let result = if always || n.is_multiple_of(2) {
                        r#"[{"metric":{},"value":[0,"1"]}]"#
                    } else {
                        "[]"
                    };
                    format!(r#"{{"status":"success","data":{{"resultType":"vector","result":{result}}}}}"#)
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}")
    }

    /// Regression: one momentary "cleared" answer (a gap in the data) counted as a fix.
    #[tokio::test]
    async fn a_condition_that_flaps_is_not_verified() {
        let p = Prometheus::new(&flapping_prometheus(false).await, &Outgoing::default());
        let v = p.verify("up", Duration::from_secs(2), Duration::from_millis(800)).await;
        assert_eq!(v, Verdict::NotFixed);
    }

    #[tokio::test]
    async fn a_condition_that_keeps_holding_is_verified_after_the_hold() {
        let p = Prometheus::new(&flapping_prometheus(true).await, &Outgoing::default());
        let started = Instant::now();
        let v = p.verify("up", Duration::from_secs(2), Duration::from_millis(800)).await;
        assert_eq!(v, Verdict::Verified);
        assert!(started.elapsed() >= Duration::from_millis(800));
    }
}
