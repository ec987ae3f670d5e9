//! Maintenance windows and freezes, pure: label matchers and a time — one-off (start, end) or
//! recurring (a cron schedule of starts in a time zone, each lasting `duration`). While one
//! covers an alert, its episode is decided `in_maintenance`: held (decided again when no window
//! covers it any more, if still firing) or queued for approval — per window.
use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::matcher::Matcher;

/// What a window does with the heals it covers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowAction {
    /// Decide `in_maintenance`, run nothing; decide again once the window is over.
    #[default]
    Hold,
    /// Queue the run for an operator's approval.
    Approval,
}

impl WindowAction {
    pub fn as_str(self) -> &'static str {
        match self {
            WindowAction::Hold => "hold",
            WindowAction::Approval => "approval",
        }
    }
}

/// A window as written (`[[maintenance]]` in the config, or the API's fields).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct WindowConfig {
    pub name: String,
    /// Alertmanager matchers, all of which an alert's labels must satisfy (at least one).
    pub matchers: Vec<String>,
    /// Why, for people (the deploy, the ticket).
    #[serde(default)]
    pub reason: String,
    /// One-off: RFC 3339 times.
    #[serde(default)]
    pub starts_at: Option<String>,
    #[serde(default)]
    pub ends_at: Option<String>,
    /// Recurring: when each occurrence starts (cron, 5 fields, in `timezone`) and how long it lasts.
    #[serde(default)]
    pub schedule: Option<String>,
    #[serde(default, with = "humantime_serde::option")]
    pub duration: Option<Duration>,
    /// IANA name, e.g. `Europe/Berlin`; default UTC.
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub action: WindowAction,
    /// Also silence the covered alerts in Alertmanager while the window is open (needs
    /// `[alertmanager] url`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub silence: bool,
}

/// When a window holds.
#[derive(Clone, Debug)]
enum When {
    Once { start: OffsetDateTime, end: OffsetDateTime },
    Every { cron: Box<croner::Cron>, duration: Duration, tz: chrono_tz::Tz },
}

/// A window checked: its matchers parsed, its times read.
#[derive(Clone, Debug)]
pub struct Window {
    pub config: WindowConfig,
    matchers: Vec<Matcher>,
    when: When,
}

/// Longest recurring occurrence: a week (a longer freeze is a one-off window).
const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

impl Window {
    /// Checks a window: a name, matchers that parse, and either a start before an end or a
    /// schedule that parses with a duration and a known time zone.
    pub fn from_config(config: WindowConfig) -> Result<Window, String> {
        let name = config.name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err("a window needs a name (at most 100 characters)".to_owned());
        }
        let at = |what: &str| format!("window `{name}`: {what}");
        if config.matchers.is_empty() {
            return Err(at("needs matchers (a window over everything is a pause: use the kill switch)"));
        }
        let matchers = config
            .matchers
            .iter()
            .map(|m| Matcher::parse(m).map_err(|e| at(&format!("matchers: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let once = (config.starts_at.as_deref(), config.ends_at.as_deref());
        let every = (config.schedule.as_deref(), config.duration);
        let when =
            match (once, every) {
                ((Some(start), Some(end)), (None, None)) => {
                    let read = |t: &str| {
                        OffsetDateTime::parse(t.trim(), &time::format_description::well_known::Rfc3339)
                            .map_err(|e| at(&format!("`{t}` is not an RFC 3339 time: {e}")))
                    };
                    let (start, end) = (read(start)?, read(end)?);
                    if end <= start {
                        return Err(at("ends_at must be after starts_at"));
                    }
                    When::Once { start, end }
                }
                ((None, None), (Some(schedule), Some(duration))) => {
                    let cron = croner::Cron::from_str(schedule.trim())
                        .map_err(|e| at(&format!("schedule `{schedule}`: {e}")))?;
                    if duration.is_zero() || duration > MAX_DURATION {
                        return Err(at("duration must be between 1s and 7 days"));
                    }
                    let zone = config.timezone.as_deref().unwrap_or("UTC");
                    let tz = chrono_tz::Tz::from_str(zone.trim())
                        .map_err(|_| at(&format!("`{zone}` is not a time zone (e.g. Europe/Berlin)")))?;
                    When::Every { cron: Box::new(cron), duration, tz }
                }
                _ => return Err(at(
                    "give starts_at and ends_at (one-off), or schedule and duration (recurring), not both",
                )),
            };
        let config = WindowConfig { name: name.to_owned(), ..config };
        Ok(Window { config, matchers, when })
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Its matchers, as parsed.
    pub fn matchers(&self) -> &[Matcher] {
        &self.matchers
    }

    /// Whether every matcher holds for `labels`.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matchers.iter().all(|m| m.matches(labels))
    }

    /// The end of the occurrence holding at `now`, or `None` when the window is closed.
    pub fn open_until(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        match &self.when {
            When::Once { start, end } => (*start <= now && now < *end).then_some(*end),
            When::Every { cron, duration, tz } => {
                let local =
                    Utc.timestamp_opt(now.unix_timestamp(), now.nanosecond()).single()?.with_timezone(tz);
                let started = cron.find_previous_occurrence(&local, true).ok()?;
                let started = OffsetDateTime::from_unix_timestamp(started.timestamp()).ok()?;
                let end = started + *duration;
                (now < end).then_some(end)
            }
        }
    }

    /// When the window next opens after `now` (for the page), if it ever does.
    pub fn next_start(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        match &self.when {
            When::Once { start, .. } => (now < *start).then_some(*start),
            When::Every { cron, tz, .. } => {
                let local = Utc.timestamp_opt(now.unix_timestamp(), 0).single()?.with_timezone(tz);
                let next = cron.find_next_occurrence(&local, false).ok()?;
                OffsetDateTime::from_unix_timestamp(next.timestamp()).ok()
            }
        }
    }
}

/// A window covering an alert when it was decided: its name, what it does, until when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowHit {
    pub name: String,
    pub action: WindowAction,
    pub until: OffsetDateTime,
}

/// The first of `windows` open at `now` whose matchers `labels` satisfy.
pub fn covering(
    windows: &[Window],
    labels: &BTreeMap<String, String>,
    now: OffsetDateTime,
) -> Option<WindowHit> {
    windows.iter().find_map(|w| {
        let until = w.open_until(now).filter(|_| w.matches(labels))?;
        Some(WindowHit { name: w.name().to_owned(), action: w.config.action, until })
    })
}

#[cfg(test)]
#[path = "window_tests.rs"]
mod tests;
