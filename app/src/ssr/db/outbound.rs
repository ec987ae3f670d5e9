//! `outbound_notifications`: what selfheal told the outside world, and whether it arrived.
use super::backend::{on_backend, Ex};

/// One delivery attempt series, as recorded.
#[derive(Clone, Debug)]
pub struct NewOutbound<'a> {
    pub at: &'a str,
    pub event: &'a str,
    pub url: &'a str,
    pub run_id: Option<i64>,
    pub rule: Option<&'a str>,
    pub target: Option<&'a str>,
    pub delivered: bool,
    pub attempts: u32,
    pub error: Option<&'a str>,
}

/// Records how a notification went.
pub async fn record_outbound<'c>(ex: impl Into<Ex<'c>>, n: &NewOutbound<'_>) -> Result<(), sqlx::Error> {
    on_backend!(ex, |e| sqlx::query(
        "INSERT INTO outbound_notifications (at, event, url, run_id, rule, target, status, attempts, error) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(n.at)
    .bind(n.event)
    .bind(n.url)
    .bind(n.run_id)
    .bind(n.rule)
    .bind(n.target)
    .bind(if n.delivered { "delivered" } else { "failed" })
    .bind(i64::from(n.attempts))
    .bind(n.error)
    .execute(e)
    .await
    .map(|_| ()))
}

/// Stores (or clears) the Alertmanager silence id covering a run.
pub async fn set_run_silence<'c>(
    ex: impl Into<Ex<'c>>,
    run_id: i64,
    silence_id: Option<&str>,
) -> Result<(), sqlx::Error> {
    on_backend!(ex, |e| sqlx::query("UPDATE heal_runs SET silence_id = $1 WHERE id = $2")
        .bind(silence_id)
        .bind(run_id)
        .execute(e)
        .await
        .map(|_| ()))
}

/// An alert's name (for silences and notifications).
pub async fn alert_name<'c>(ex: impl Into<Ex<'c>>, alert_id: i64) -> Result<Option<String>, sqlx::Error> {
    on_backend!(ex, |e| sqlx::query_scalar("SELECT alertname FROM alerts WHERE id = $1")
        .bind(alert_id)
        .fetch_optional(e)
        .await)
}
