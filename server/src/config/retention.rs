//! `[retention]`: how long each kind of history is kept, and what the pruner may never do.
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::ConfigError;

/// Shortest retention interval: a round every minute already keeps up with any intake rate.
const MIN_RETENTION_INTERVAL: Duration = Duration::from_secs(60);

/// Shortest time anything is kept: less would delete what operators are still looking at.
const MIN_RETENTION_AGE: Duration = Duration::from_secs(3600);

/// Smallest `retention.alerts_max`: a lower cap would empty the alert list of a busy day.
const MIN_ALERTS_MAX: u64 = 1_000;

/// A day, for the retention defaults.
const DAY: Duration = Duration::from_secs(24 * 3600);

/// Longest age accepted: beyond it, now minus the age no longer fits a date.
const MAX_RETENTION_AGE: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// `[retention]`: how long each kind of history is kept. A background task prunes what is
/// older, in short batches; audit events are exported to files before they leave.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// `false` keeps everything forever (and `selfheal retention run` refuses to prune).
    pub enabled: bool,
    /// Time between two pruning rounds (the first comes shortly after start).
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Resolved alerts (with their decisions) last seen longer ago than this go; firing ones
    /// and ones with a run still queued, running or awaiting approval never do.
    #[serde(with = "humantime_serde")]
    pub alerts: Duration,
    /// At most this many alerts: beyond it, the oldest resolved ones go, whatever their age.
    pub alerts_max: u64,
    /// Raw Alertmanager notifications older than this go, once no kept alert refers to them.
    #[serde(with = "humantime_serde")]
    pub notifications: Duration,
    /// Playbook output of runs that finished longer ago than this goes (the run stays).
    #[serde(with = "humantime_serde")]
    pub run_output: Duration,
    /// Runs that finished longer ago than this go (once their alert is gone), with their
    /// outgoing notifications; breaker resets go at the same age.
    #[serde(with = "humantime_serde")]
    pub runs: Duration,
    /// Audit events older than this are exported to `export_dir`, then removed. The longest.
    #[serde(with = "humantime_serde")]
    pub audit: Duration,
    /// Where audit exports are written (JSON Lines, mode 0600). Default: `audit-export` beside
    /// the database.
    pub export_dir: Option<PathBuf>,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            enabled: true,
            interval: Duration::from_secs(3600),
            alerts: 30 * DAY,
            alerts_max: 1_000_000,
            notifications: 14 * DAY,
            run_output: 30 * DAY,
            runs: 180 * DAY,
            audit: 400 * DAY,
            export_dir: None,
        }
    }
}

impl RetentionConfig {
    /// `[retention]`: sane ages, and the audit log kept longest.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: String| Err(ConfigError::Invalid { key, message });
        let r = self;
        if r.interval < MIN_RETENTION_INTERVAL {
            return invalid("retention.interval", "must be at least 1m".into());
        }
        let ages = [
            ("retention.alerts", r.alerts),
            ("retention.notifications", r.notifications),
            ("retention.run_output", r.run_output),
            ("retention.runs", r.runs),
            ("retention.audit", r.audit),
        ];
        for (key, age) in ages {
            if age < MIN_RETENTION_AGE {
                return invalid(key, "must be at least 1h".into());
            }
            if age > MAX_RETENTION_AGE {
                return invalid(key, "must be at most 100 years".into());
            }
        }
        if r.alerts_max < MIN_ALERTS_MAX {
            return invalid("retention.alerts_max", format!("must be at least {MIN_ALERTS_MAX}"));
        }
        if r.run_output > r.runs {
            return invalid("retention.run_output", "must not be longer than retention.runs".into());
        }
        if let Some((key, _)) = ages[..4].iter().find(|(_, age)| *age > r.audit) {
            return invalid(
                "retention.audit",
                format!("must be at least as long as {key} (audit is kept longest)"),
            );
        }
        if let Some(dir) = &r.export_dir {
            if dir.as_os_str().is_empty() {
                return invalid("retention.export_dir", "must be a directory path when set".into());
            }
            if dir.is_file() {
                return invalid("retention.export_dir", "is a file; give a directory".into());
            }
        }
        Ok(())
    }

    /// One line for `check-config`.
    pub(super) fn summary(&self, export_dir: &std::path::Path) -> String {
        if !self.enabled {
            return "retention = off (everything is kept)\n".to_owned();
        }
        let d = humantime_serde::re::humantime::format_duration;
        format!(
            "retention = every {}: alerts {} (at most {}), notifications {}, run_output {}, runs {}, \
             audit {} (exported to {})\n",
            d(self.interval),
            d(self.alerts),
            self.alerts_max,
            d(self.notifications),
            d(self.run_output),
            d(self.runs),
            d(self.audit),
            export_dir.display(),
        )
    }
}
