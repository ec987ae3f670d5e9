//! `outbound_notifications`: what selfheal told the outside world, and whether it arrived.
use sqlx::SqliteExecutor;

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
pub async fn record_outbound(ex: impl SqliteExecutor<'_>, n: &NewOutbound<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO outbound_notifications (at, event, url, run_id, rule, target, status, attempts, error) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(n.at)
    .bind(n.event)
    .bind(n.url)
    .bind(n.run_id)
    .bind(n.rule)
    .bind(n.target)
    .bind(if n.delivered { "delivered" } else { "failed" })
    .bind(n.attempts)
    .bind(n.error)
    .execute(ex)
    .await?;
    Ok(())
}

/// Stores (or clears) the Alertmanager silence id covering a run.
pub async fn set_run_silence(
    ex: impl SqliteExecutor<'_>,
    run_id: i64,
    silence_id: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE heal_runs SET silence_id = ? WHERE id = ?")
        .bind(silence_id)
        .bind(run_id)
        .execute(ex)
        .await?;
    Ok(())
}

/// An alert's name (for silences and notifications).
pub async fn alert_name(ex: impl SqliteExecutor<'_>, alert_id: i64) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT alertname FROM alerts WHERE id = ?").bind(alert_id).fetch_optional(ex).await
}
