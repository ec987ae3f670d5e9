//! Checks the list filters people type (pages, server functions and exports alike) and turns
//! them into the validated queries `db` runs: values from fixed sets, bounded text, time ranges.
use std::time::Duration;

use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::model::{AlertFilter, AuditFilter, DecisionReason, RunFilter, RunStatus, Trigger};
use crate::ssr::alert::{format_utc, normalise_time};
use crate::ssr::utc::Utc;

/// Longest value of an exact-match filter (names, instances, actors): longer than any real
/// label value we have seen, short enough that a hostile URL cannot make queries heavy.
pub const MAX_FILTER_LEN: usize = 200;

/// Longest free-text search: each alert the search visits is matched against it.
pub const MAX_TEXT_LEN: usize = 100;

/// The relative ranges of the `since` field.
pub const SINCE_CHOICES: [(&str, Duration); 4] = [
    ("1h", Duration::from_secs(3600)),
    ("24h", Duration::from_secs(24 * 3600)),
    ("7d", Duration::from_secs(7 * 24 * 3600)),
    ("30d", Duration::from_secs(30 * 24 * 3600)),
];

/// Alert statuses a filter may name.
pub const ALERT_STATUSES: [&str; 2] = ["firing", "resolved"];

/// A half-open range `[from, to)` of stored timestamps; either end may be open.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TimeRange {
    pub from: Option<String>,
    pub to: Option<String>,
}

/// A validated alert filter: exact matches, a free-text search, a range of `starts_at`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertQuery {
    pub status: Option<String>,
    /// An alert name, exactly (through its index) or, when no alert has that name, as any part
    /// of one in any case ([`AlertQuery::alertname_contains`], set by `list_alerts`).
    pub alertname: Option<String>,
    pub alertname_contains: bool,
    pub severity: Option<String>,
    pub instance: Option<String>,
    pub text: Option<String>,
    pub decision: Option<DecisionReason>,
    pub range: TimeRange,
    pub sort: AlertSort,
}

/// The order of the alert list, newest first either way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AlertSort {
    /// By the alert's own start time (the episode key `(starts_at, fingerprint)`).
    #[default]
    Started,
    /// By arrival (id).
    Received,
}

impl AlertSort {
    pub const ALL: [AlertSort; 2] = [AlertSort::Started, AlertSort::Received];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertSort::Started => "started",
            AlertSort::Received => "received",
        }
    }
}

impl AlertQuery {
    /// Whether the free text, searchable through the full-text index, is the only filter: then
    /// a page walks the whole history through the index, with no scan window (other filters
    /// are checked per match, which the window keeps bounded).
    pub fn searches_everything(&self) -> bool {
        let only_text =
            AlertQuery { text: None, sort: AlertSort::default(), ..self.clone() } == AlertQuery::default();
        only_text && self.text.as_deref().and_then(crate::ssr::db::alert_search::phrase).is_some()
    }
}

/// A validated run filter; `rule` matches the rule or the playbook, `range` the queue time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunQuery {
    pub status: Option<RunStatus>,
    pub rule: Option<String>,
    pub target: Option<String>,
    pub trigger: Option<Trigger>,
    pub outcome: Option<RunOutcome>,
    pub range: TimeRange,
}

/// How runs ended, as the run list's `outcome` filter names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunOutcome {
    /// Failed, timed out, or ran and did not fix it: what the overview asks a person to look at.
    Attention,
    Verified,
}

impl RunOutcome {
    pub const ALL: [RunOutcome; 2] = [RunOutcome::Attention, RunOutcome::Verified];

    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Attention => "attention",
            RunOutcome::Verified => "verified",
        }
    }
}

/// A validated audit filter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub range: TimeRange,
}

/// Checks an alert filter; the error names the field.
pub fn alert_query(f: &AlertFilter, now: OffsetDateTime) -> Result<AlertQuery, String> {
    Ok(AlertQuery {
        status: one_of("status", &f.status, &ALERT_STATUSES)?,
        alertname: exact("alertname", &f.alertname)?,
        alertname_contains: false,
        severity: exact("severity", &f.severity)?,
        instance: exact("instance", &f.instance)?,
        text: bounded("q", &f.q, MAX_TEXT_LEN)?,
        decision: one_word("decision", &f.decision, DecisionReason::ALL, |d| d.as_str())?,
        range: time_range(&f.since, &f.from, &f.to, now)?,
        sort: one_word("sort", &f.sort, &AlertSort::ALL, |s| s.as_str())?.unwrap_or_default(),
    })
}

/// Checks a run filter; the error names the field.
pub fn run_query(f: &RunFilter, now: OffsetDateTime) -> Result<RunQuery, String> {
    Ok(RunQuery {
        status: one_word("status", &f.status, RunStatus::ALL, |s| s.as_str())?,
        rule: exact("rule", &f.rule)?,
        target: exact("target", &f.target)?,
        trigger: one_word("trigger", &f.trigger, Trigger::ALL, |t| t.as_str())?,
        outcome: one_word("outcome", &f.outcome, &RunOutcome::ALL, RunOutcome::as_str)?,
        range: time_range(&f.since, &f.from, &f.to, now)?,
    })
}

/// Checks an audit filter; the error names the field.
pub fn audit_query(f: &AuditFilter, now: OffsetDateTime) -> Result<AuditQuery, String> {
    Ok(AuditQuery {
        actor: exact("actor", &f.actor)?,
        action: exact("action", &f.action)?,
        range: time_range(&f.since, &f.from, &f.to, now)?,
    })
}

/// A trimmed value, `None` when empty, refused when longer than `max` or holding a control
/// character.
fn bounded(field: &str, v: &Option<String>, max: usize) -> Result<Option<String>, String> {
    let Some(v) = v.as_deref().map(str::trim).filter(|v| !v.is_empty()) else { return Ok(None) };
    if v.chars().count() > max {
        return Err(format!("{field} is too long (at most {max} characters)"));
    }
    if v.chars().any(char::is_control) {
        return Err(format!("{field} may not contain control characters"));
    }
    Ok(Some(v.to_owned()))
}

fn exact(field: &str, v: &Option<String>) -> Result<Option<String>, String> {
    bounded(field, v, MAX_FILTER_LEN)
}

fn one_of(field: &str, v: &Option<String>, allowed: &[&str]) -> Result<Option<String>, String> {
    match exact(field, v)? {
        Some(v) if !allowed.contains(&v.as_str()) => {
            Err(format!("{field} must be one of {}, not `{v}`", allowed.join(", ")))
        }
        v => Ok(v),
    }
}

/// [`one_of`] for the words of a text enum: the value as `T`.
fn one_word<T: Copy>(
    field: &str,
    v: &Option<String>,
    all: &[T],
    word: fn(T) -> &'static str,
) -> Result<Option<T>, String> {
    let words: Vec<&str> = all.iter().map(|&t| word(t)).collect();
    Ok(one_of(field, v, &words)?.and_then(|v| all.iter().copied().find(|&t| word(t) == v)))
}

/// `since` (relative to `now`) or `from`/`to` (absolute, UTC), not both.
fn time_range(
    since: &Option<String>,
    from: &Option<String>,
    to: &Option<String>,
    now: OffsetDateTime,
) -> Result<TimeRange, String> {
    let from = exact("from", from)?.map(|v| parse_time("from", &v)).transpose()?;
    let to = exact("to", to)?.map(|v| parse_time("to", &v)).transpose()?;
    if let Some(since) = exact("since", since)? {
        if from.is_some() || to.is_some() {
            return Err("give either since or from/to, not both".to_owned());
        }
        let choices = SINCE_CHOICES.map(|c| c.0);
        let (_, span) = SINCE_CHOICES
            .iter()
            .find(|c| c.0 == since)
            .ok_or_else(|| format!("since must be one of {}, not `{since}`", choices.join(", ")))?;
        return Ok(TimeRange { from: Some(Utc::at(now).minus(*span).to_string()), to: None });
    }
    if let (Some(f), Some(t)) = (&from, &to) {
        if f >= t {
            return Err(format!("from ({f}) must be before to ({t})"));
        }
    }
    Ok(TimeRange { from, to })
}

/// An RFC 3339 time, or a browser's `datetime-local` value (`YYYY-MM-DDTHH:MM[:SS]`, taken
/// as UTC), or a date; in the stored form, so that ranges compare as text.
fn parse_time(field: &str, raw: &str) -> Result<String, String> {
    if let Ok(t) = normalise_time(raw) {
        return Ok(t);
    }
    let minutes = format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let seconds = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let date = format_description!("[year]-[month]-[day]");
    let local = PrimitiveDateTime::parse(raw, &minutes)
        .or_else(|_| PrimitiveDateTime::parse(raw, &seconds))
        .or_else(|_| time::Date::parse(raw, &date).map(|d| d.midnight()))
        .map_err(|_| format!("{field} must be a UTC time like 2026-11-22T10:00, not `{raw}`"))?;
    Ok(format_utc(local.assume_utc()))
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
