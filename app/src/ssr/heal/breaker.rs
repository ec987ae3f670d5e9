//! The circuit breaker, pure: a (rule, target) whose engine-started runs in the rule's window
//! (counted since its last reset, if later) reached `max_attempts` gets no more automatic runs
//! until the window moves on or an operator resets it. The decision, the rules page and the
//! breaker gauge all ask here; the attempts come from `app/src/ssr/db/decisions.rs`.
use time::OffsetDateTime;

use super::Rule;
use crate::ssr::utc::Utc;

/// Whether `attempts` in the window open `rule`'s breaker.
pub fn is_open(rule: &Rule, attempts: u32) -> bool {
    attempts >= rule.config.max_attempts
}

/// The start of `rule`'s window at `now`, as stored timestamps compare (a window reaching back
/// before year 0 covers all history).
pub fn window_start(rule: &Rule, now: OffsetDateTime) -> String {
    Utc::at(now).minus(rule.config.window).to_string()
}
