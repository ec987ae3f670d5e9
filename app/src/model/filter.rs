//! The filters of the alert, run and audit lists and one keyset page of each. The same field
//! names are the pages' URL query, the server functions' form fields and the export's query.
use serde::{Deserialize, Serialize};

use super::{AlertSummary, AuditEvent, RunSummary};

/// Filters of the alert list; every field optional, an empty one means "any". `before` is the
/// keyset cursor (an alert id). `since` is `1h`, `24h`, `7d` or `30d`; `from` and `to` (UTC,
/// `YYYY-MM-DDTHH:MM[:SS]`) bound the alert's start instead.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AlertFilter {
    pub status: Option<String>,
    pub alertname: Option<String>,
    pub severity: Option<String>,
    pub instance: Option<String>,
    /// Free text: part of the alert name, the instance, or any label or annotation value.
    pub q: Option<String>,
    /// The latest decision's reason (`no_rule`, `breaker_open`, …).
    pub decision: Option<String>,
    pub since: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// `received` orders by arrival; otherwise (`started`, the default) by the alert's own
    /// start time, so an alert delivered late sits among its contemporaries.
    pub sort: Option<String>,
    /// The page continues after this alert (the last row of the previous page).
    pub before: Option<i64>,
}

impl AlertFilter {
    /// The filter as a URL query (without `before`), for links that keep it.
    pub fn to_query(&self) -> String {
        let fields = [
            ("status", &self.status),
            ("alertname", &self.alertname),
            ("severity", &self.severity),
            ("instance", &self.instance),
            ("q", &self.q),
            ("decision", &self.decision),
            ("since", &self.since),
            ("from", &self.from),
            ("to", &self.to),
            ("sort", &self.sort),
        ];
        encode_query(&fields)
    }
}

/// Filters of the run list. `trigger` is `engine`, `heal_now` or `replay`; `rule` matches the
/// rule or the playbook; times bound when the run was queued; `outcome` is `attention` (failed,
/// timed out, or ran and did not fix it) or `verified`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunFilter {
    pub status: Option<String>,
    pub rule: Option<String>,
    pub target: Option<String>,
    pub trigger: Option<String>,
    pub outcome: Option<String>,
    pub since: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub before: Option<i64>,
}

impl RunFilter {
    /// The filter as a URL query (without `before`).
    pub fn to_query(&self) -> String {
        let fields = [
            ("status", &self.status),
            ("rule", &self.rule),
            ("target", &self.target),
            ("trigger", &self.trigger),
            ("outcome", &self.outcome),
            ("since", &self.since),
            ("from", &self.from),
            ("to", &self.to),
        ];
        encode_query(&fields)
    }
}

/// Filters of the audit log: who, which action (exact), when.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub since: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub before: Option<i64>,
}

impl AuditFilter {
    /// The filter as a URL query (without `before`).
    pub fn to_query(&self) -> String {
        let fields = [
            ("actor", &self.actor),
            ("action", &self.action),
            ("since", &self.since),
            ("from", &self.from),
            ("to", &self.to),
        ];
        encode_query(&fields)
    }
}

/// One page of a list. `next_before` is the cursor of the next page, if older rows may match;
/// `scan_limited` says the page is short because a search stopped after a bounded number of
/// rows (the next page searches on from `next_before`), not because nothing older matched.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    pub rows: Vec<T>,
    pub next_before: Option<i64>,
    pub scan_limited: bool,
}

/// A page of alerts.
pub type AlertPage = Page<AlertSummary>;
/// A page of runs.
pub type RunPage = Page<RunSummary>;
/// A page of audit events.
pub type AuditPage = Page<AuditEvent>;

/// `k=v&...` of the non-empty fields, percent-encoded.
fn encode_query(fields: &[(&str, &Option<String>)]) -> String {
    fields
        .iter()
        .filter_map(|(k, v)| v.as_deref().filter(|v| !v.is_empty()).map(|v| format!("{k}={}", encode(v))))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes everything but unreserved characters.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_keep_set_fields_encoded_and_drop_empty_ones() {
        let f = AlertFilter {
            status: Some("firing".into()),
            alertname: Some(String::new()),
            q: Some("a&b =c".into()),
            before: Some(7),
            ..Default::default()
        };
        assert_eq!(f.to_query(), "status=firing&q=a%26b%20%3Dc");
        assert_eq!(RunFilter::default().to_query(), "");
        let a = AuditFilter { actor: Some("ada".into()), since: Some("24h".into()), ..Default::default() };
        assert_eq!(a.to_query(), "actor=ada&since=24h");
    }
}
