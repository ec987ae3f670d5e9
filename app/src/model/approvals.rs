//! The approvals queue's type.
use serde::{Deserialize, Serialize};

/// A run parked until an operator approves or rejects it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct PendingApproval {
    pub run_id: i64,
    pub alert_id: Option<i64>,
    /// The alert's name; none once the alert has left the database.
    pub alertname: Option<String>,
    pub rule: String,
    pub target: String,
    pub playbook: String,
    pub requested_by: String,
    /// When the run was parked (UTC).
    pub requested_at: String,
    /// When it expires unanswered (UTC); filled in from the configured time to live.
    #[cfg_attr(feature = "ssr", sqlx(default))]
    pub expires_at: String,
}
