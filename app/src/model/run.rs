//! A run's states, as types: status, mode, verification, trigger, and the reason a decision
//! gives. Each is stored and sent as the text its variant names (serde, both database drivers),
//! and parsed back with an error, never a default. The CHECK constraints in `migrations/` hold
//! the same words; `text_enums_match_the_check_constraints` keeps the two in step.
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An enum stored as text: `ALL`, `as_str`, `Display`, `FromStr` (with an error naming what
/// was expected), serde and both database drivers' encodings, all from one list of words.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "ssr", derive(sqlx::Type))]
        #[cfg_attr(feature = "ssr", sqlx(type_name = "TEXT"))]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] #[cfg_attr(feature = "ssr", sqlx(rename = $text))] $variant,)+
        }

        impl $name {
            /// Every value, in the order declared.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The word stored, sent and shown.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// `('a', 'b')`: these values' words as an SQL list, for a statement built once from
            /// the model's words (bind single values instead).
            pub fn sql_list(values: &[$name]) -> String {
                let words: Vec<String> = values.iter().map(|v| format!("'{}'", v.as_str())).collect();
                format!("({})", words.join(", "))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| {
                    let words: Vec<&str> = $name::ALL.iter().map(|v| v.as_str()).collect();
                    format!("unknown {} `{s}` (expected one of: {})", $what, words.join(", "))
                })
            }
        }

        #[cfg(feature = "ssr")]
        impl rusqlite::ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                Ok(self.as_str().into())
            }
        }

        #[cfg(feature = "ssr")]
        impl rusqlite::types::FromSql for $name {
            fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
                value.as_str()?.parse().map_err(|e: String| rusqlite::types::FromSqlError::Other(e.into()))
            }
        }
    };
}

text_enum! {
    /// Where a run is in its life: waiting (queued, awaiting approval), running, or finished.
    RunStatus, "run status" {
        Queued = "queued",
        AwaitingApproval = "awaiting_approval",
        Running = "running",
        Succeeded = "succeeded",
        Failed = "failed",
        TimedOut = "timed_out",
        Cancelled = "cancelled",
        Interrupted = "interrupted",
    }
}

impl RunStatus {
    /// The statuses that hold the target's one run in flight (waiting or running).
    pub const ACTIVE: [RunStatus; 3] = [RunStatus::Queued, RunStatus::AwaitingApproval, RunStatus::Running];

    /// Waiting or running: the target's one run in flight.
    pub fn is_active(self) -> bool {
        RunStatus::ACTIVE.contains(&self)
    }

    /// Not started yet: an operator may still cancel it.
    pub fn is_waiting(self) -> bool {
        matches!(self, RunStatus::Queued | RunStatus::AwaitingApproval)
    }

    /// `next`, for a statement that moves runs from each of `from` to it (its SQL guard names
    /// `from`); a move the lifecycle does not allow is a bug, caught by the tests.
    pub fn moved(from: &[RunStatus], next: RunStatus) -> RunStatus {
        debug_assert!(
            from.iter().all(|f| f.can_move_to(next)),
            "{from:?} -> {next} is not a move a run makes"
        );
        next
    }

    /// Whether a run may move from this status to `next`. Finished is final; only a waiting
    /// run is cancelled; a run is interrupted only while it runs (a stop, a crash).
    pub fn can_move_to(self, next: RunStatus) -> bool {
        use RunStatus::*;
        matches!(
            (self, next),
            (AwaitingApproval, Queued | Cancelled)
                | (Queued, Running | Cancelled)
                | (Running, Succeeded | Failed | TimedOut | Interrupted)
        )
    }
}

/// How a state reads at a glance (a badge's colour and symbol).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    /// Done and good.
    Ok,
    /// Failed, or not fixed.
    Bad,
    /// Waiting or under way.
    Busy,
    /// Neither (cancelled, interrupted, skipped, inconclusive).
    Neutral,
}

impl RunStatus {
    /// How the status reads at a glance.
    pub fn tone(self) -> Tone {
        match self {
            RunStatus::Succeeded => Tone::Ok,
            RunStatus::Failed | RunStatus::TimedOut => Tone::Bad,
            RunStatus::Queued | RunStatus::AwaitingApproval | RunStatus::Running => Tone::Busy,
            RunStatus::Cancelled | RunStatus::Interrupted => Tone::Neutral,
        }
    }
}

text_enum! {
    /// How a run runs.
    RunMode, "run mode" {
        /// Runs the playbook.
        Auto = "auto",
        /// Waits for an operator, then runs.
        Approval = "approval",
        /// Runs with `--check --diff`; never verified.
        DryRun = "dry-run",
    }
}

text_enum! {
    /// What Prometheus said after a successful run.
    Verification, "verification" {
        /// The verifier has yet to say.
        Pending = "pending",
        /// The condition cleared and held.
        Verified = "verified",
        /// It did not clear within `verify_within`.
        NotFixed = "not_fixed",
        /// Prometheus could not tell (down, an error, or the window closed while selfheal was).
        Inconclusive = "inconclusive",
        /// Nothing to verify (the run failed, was cancelled, or was a dry run).
        Skipped = "skipped",
    }
}

impl Verification {
    /// How the verdict reads at a glance.
    pub fn tone(self) -> Tone {
        match self {
            Verification::Verified => Tone::Ok,
            Verification::NotFixed => Tone::Bad,
            Verification::Pending => Tone::Busy,
            Verification::Inconclusive | Verification::Skipped => Tone::Neutral,
        }
    }
}

text_enum! {
    /// How a run came to be.
    Trigger, "trigger" {
        /// Queued by the rules for a new alert episode.
        Engine = "engine",
        /// Queued by a person with "heal now" or the catalog.
        HealNow = "heal_now",
        /// Queued by a person replaying an alert through today's rules.
        Replay = "replay",
    }
}

text_enum! {
    /// Why an alert episode was decided as it was: a run queued, or why not.
    DecisionReason, "decision reason" {
        Enqueued = "enqueued",
        Resolved = "resolved",
        NoRule = "no_rule",
        InvalidLabels = "invalid_labels",
        RunInProgress = "run_in_progress",
        Cooldown = "cooldown",
        BreakerOpen = "breaker_open",
        Shadow = "shadow",
        Paused = "paused",
        /// A guard of the rule returned no sample (the detail names it: `guard_failed:NAME`).
        GuardFailed = "guard_failed",
        /// A guard of the rule could not be answered: nothing runs blind.
        GuardUnknown = "guard_unknown",
        /// The rule's blast radius tripped for the alert's scope: the run waits for approval.
        BlastRadius = "blast_radius",
        /// A maintenance window covers the alert: held (decided again when it ends), or the
        /// run waits for approval, as the window says.
        InMaintenance = "in_maintenance",
    }
}

#[cfg(test)]
#[path = "run_tests.rs"]
mod tests;
