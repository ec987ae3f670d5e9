//! Silencing an alert in Alertmanager by hand (the alert page's Silence button). The HTTP call
//! lives in the server crate; server functions see only this interface.
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// Shortest and longest silence a person may set from the dashboard.
pub const MIN_HOURS: u32 = 1;
pub const MAX_HOURS: u32 = 7 * 24;

/// A silence to create: exact matchers on every label of the alert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SilenceRequest {
    /// (label name, value), each matched for equality.
    pub matchers: Vec<(String, String)>,
    pub lasting: Duration,
    pub created_by: String,
    pub comment: String,
}

/// What creating a silence returns: its id, or why not (shown to the user).
pub type SilenceFuture<'a> = Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>>;

/// An Alertmanager that takes silences.
pub trait SilenceAlerts: Send + Sync + std::fmt::Debug {
    fn create_silence(&self, request: SilenceRequest) -> SilenceFuture<'_>;
}

/// Checks what a person typed: the duration within bounds, a comment (Alertmanager requires
/// one, and the audit log wants the reason).
pub fn validate(hours: u32, comment: &str) -> Result<(Duration, String), String> {
    if !(MIN_HOURS..=MAX_HOURS).contains(&hours) {
        return Err(format!("a silence lasts {MIN_HOURS} to {MAX_HOURS} hours, not {hours}"));
    }
    let comment = comment.trim();
    if comment.is_empty() {
        return Err("say why you silence it (the comment is required)".to_owned());
    }
    if comment.chars().count() > 500 {
        return Err("the comment is longer than 500 characters".to_owned());
    }
    Ok((Duration::from_secs(u64::from(hours) * 3600), comment.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_comments_are_checked() {
        assert_eq!(
            validate(4, "  maintenance window ").unwrap(),
            (Duration::from_secs(4 * 3600), "maintenance window".into())
        );
        assert!(validate(0, "x").unwrap_err().contains("1 to 168 hours"));
        assert!(validate(169, "x").is_err());
        assert!(validate(1, "   ").unwrap_err().contains("comment is required"));
        assert!(validate(1, &"x".repeat(501)).is_err());
        assert!(validate(168, "x").is_ok());
    }
}
