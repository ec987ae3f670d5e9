//! The overview's figures, what needs a person, and the navigation's counts.
use serde::{Deserialize, Serialize};

/// A (rule, target) whose circuit breaker is open.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenBreaker {
    pub rule: String,
    pub target: String,
    pub attempts: i64,
    pub max_attempts: i64,
}

/// The navigation's counts: firing alerts and runs awaiting approval.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NavFigures {
    pub firing: i64,
    pub approvals: i64,
}

/// The overview's figures.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overview {
    pub firing_alerts: i64,
    pub runs_in_flight: i64,
    pub awaiting_approval: i64,
    pub runs_24h: i64,
    /// Rule-started heals of the last 24 h that ended with a known outcome, and of those the
    /// verified ones: the verified rate.
    pub concluded_24h: i64,
    pub verified_24h: i64,
    pub failed_24h: i64,
    /// Median and 95th percentile time to heal (alert start to verified) over the charts' hours.
    pub tth_p50_ms: Option<i64>,
    pub tth_p95_ms: Option<i64>,
    /// The last 24 hours, oldest first.
    pub hours: Vec<HourStat>,
    /// The charts of those hours, as HTML rendered by the server (SVG inside a figure).
    pub heals_chart: String,
    pub time_to_heal_chart: String,
    pub open_breakers: Vec<OpenBreaker>,
    /// Breakers one engine attempt from opening: the next failure stops healing there.
    pub nearly_open_breakers: Vec<OpenBreaker>,
    /// Firing alerts no rule matches (nothing will heal them).
    pub firing_no_rule: i64,
}

impl Overview {
    /// How many things wait for a person: approvals, failed or unfixed heals (24 h), open
    /// breakers, and firing alerts no rule handles (the tab title's count).
    pub fn needs_you(&self) -> i64 {
        self.awaiting_approval + self.failed_24h + self.open_breakers.len() as i64 + self.firing_no_rule
    }

    /// Something is firing or being healed right now.
    pub fn incident(&self) -> bool {
        self.firing_alerts > 0 || self.runs_in_flight > 0
    }
}

/// Runs created in one hour of the overview's charts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HourStat {
    /// `YYYY-MM-DDTHH`, UTC.
    pub hour: String,
    pub runs: i64,
    pub verified: i64,
    /// Failed, timed out, or not fixed.
    pub failed: i64,
    pub tth_p50_ms: Option<i64>,
    pub tth_p95_ms: Option<i64>,
}
