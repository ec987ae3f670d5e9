//! Maintenance windows opened, cancelled and listed by people and tokens (the config file's
//! are put in force by the server); each change audited.
use crate::ssr::db::backend::{on_pool, PoolRef, WritePool};
use time::OffsetDateTime;

use crate::error::AppError;
use crate::model::WindowView;
use crate::ssr::actions::{audit, db};
use crate::ssr::alert::format_utc;
use crate::ssr::db::windows;
use crate::ssr::heal::window::{Window, WindowAction, WindowConfig};
use crate::ssr::respond_with;

/// Most windows the page lists.
const LISTED: i64 = 200;

/// The fields of `POST /api/window_open`, as sent.
#[derive(Debug, Default)]
pub struct WindowForm {
    pub name: String,
    /// One matcher per line.
    pub matchers: String,
    pub reason: String,
    /// Open now for this long (`2h`).
    pub r#for: String,
    pub starts_at: String,
    pub ends_at: String,
    pub schedule: String,
    pub duration: String,
    pub timezone: String,
    pub action: String,
    /// `true`/`on`: also silence the covered alerts in Alertmanager while open.
    pub silence: String,
}

fn given(s: &str) -> Option<String> {
    Some(s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn invalid(message: impl Into<String>) -> AppError {
    respond_with(AppError::Invalid(message.into()))
}

impl WindowForm {
    /// The window the form describes at `now`, checked.
    pub fn window(&self, now: OffsetDateTime) -> Result<Window, AppError> {
        let duration = |field: &str, text: &str| {
            humantime_serde::re::humantime::parse_duration(text.trim())
                .map_err(|e| invalid(format!("{field}: `{text}` is not a duration like 2h ({e})")))
        };
        let (mut starts_at, mut ends_at) = (given(&self.starts_at), given(&self.ends_at));
        if let Some(length) = given(&self.r#for) {
            if starts_at.is_some() || ends_at.is_some() || given(&self.schedule).is_some() {
                return Err(invalid("give `for`, or starts_at and ends_at, or schedule: one of them"));
            }
            starts_at = Some(format_utc(now));
            ends_at = Some(format_utc(now + duration("for", &length)?));
        }
        let action = match self.action.trim() {
            "" | "hold" => WindowAction::Hold,
            "approval" => WindowAction::Approval,
            other => return Err(invalid(format!("action `{other}`: hold or approval"))),
        };
        let config = WindowConfig {
            name: self.name.trim().to_owned(),
            matchers: self.matchers.lines().filter_map(given).collect(),
            reason: self.reason.trim().to_owned(),
            starts_at,
            ends_at,
            schedule: given(&self.schedule),
            duration: given(&self.duration).map(|d| duration("duration", &d)).transpose()?,
            timezone: given(&self.timezone),
            action,
            silence: matches!(self.silence.trim(), "true" | "on"),
        };
        if config.reason.chars().count() > 500 {
            return Err(invalid("reason: at most 500 characters"));
        }
        Window::from_config(config).map_err(invalid)
    }
}

/// Opens the window `form` describes, by `actor`.
pub async fn open(
    pool: impl Into<PoolRef<'_>>,
    form: WindowForm,
    actor: &str,
    source: Option<&str>,
) -> Result<(), AppError> {
    let pool: PoolRef<'_> = pool.into();
    let now = OffsetDateTime::now_utc();
    let window = form.window(now)?;
    on_pool!(pool, |pool| {
        let mut tx = pool.begin_write().await.map_err(db)?;
        if !windows::open(&mut tx, &window, "api", actor, &format_utc(now)).await.map_err(db)? {
            return Err(respond_with(AppError::Conflict(format!(
                "a window named `{}` is in force",
                window.name()
            ))));
        }
        let detail = serde_json::to_string(&window.config).unwrap_or_default();
        audit(&mut tx, actor, "maintenance.open", window.name(), &detail, source).await?;
        tx.commit().await.map_err(db)
    })
}

/// Cancels the window `name` opened through the API, by `actor`.
pub async fn cancel(
    pool: impl Into<PoolRef<'_>>,
    name: &str,
    actor: &str,
    source: Option<&str>,
) -> Result<(), AppError> {
    let pool: PoolRef<'_> = pool.into();
    let now = format_utc(OffsetDateTime::now_utc());
    on_pool!(pool, |pool| {
        let mut tx = pool.begin_write().await.map_err(db)?;
        if !windows::cancel(&mut *tx, name, Some("api"), actor, &now).await.map_err(db)? {
            return Err(respond_with(AppError::Conflict(format!(
                "no window named `{name}` opened here is in force (a config file's window ends when it leaves the file)"
            ))));
        }
        audit(&mut tx, actor, "maintenance.cancel", name, "cancelled", source).await?;
        tx.commit().await.map_err(db)
    })
}

/// Every window (newest first), with its state now.
pub async fn list(pool: impl Into<PoolRef<'_>>) -> Result<Vec<WindowView>, sqlx::Error> {
    let pool: PoolRef<'_> = pool.into();
    let now = OffsetDateTime::now_utc();
    let rows = windows::history(pool, LISTED).await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let config: WindowConfig = serde_json::from_str(&row.spec).ok()?;
            let window = Window::from_config(config.clone()).ok()?;
            let when = match (&config.starts_at, &config.ends_at, &config.schedule) {
                (Some(start), Some(end), _) => format!("{start} → {end}"),
                (_, _, Some(schedule)) => format!(
                    "{schedule} for {} ({})",
                    config
                        .duration
                        .map(|d| humantime_serde::re::humantime::format_duration(d).to_string())
                        .unwrap_or_default(),
                    config.timezone.as_deref().unwrap_or("UTC")
                ),
                _ => String::new(),
            };
            let open = row.cancelled_at.is_none().then(|| window.open_until(now)).flatten();
            let state = match (&row.cancelled_at, open, window.next_start(now)) {
                (Some(at), _, _) => {
                    format!("cancelled by {} at {at}", row.cancelled_by.clone().unwrap_or_default())
                }
                (None, Some(until), _) => format!("open until {}", format_utc(until)),
                (None, None, Some(next)) => format!("opens {}", format_utc(next)),
                (None, None, None) => "ended".to_owned(),
            };
            let ended = state == "ended";
            Some(WindowView {
                name: config.name,
                matchers: config.matchers,
                reason: config.reason,
                action: config.action.as_str().to_owned(),
                when,
                state,
                open: open.is_some(),
                in_force: row.cancelled_at.is_none() && !ended,
                source: row.source,
                created_by: row.created_by,
                created_at: row.created_at,
            })
        })
        .collect())
}
