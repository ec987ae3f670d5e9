//! `POST /webhook`: Alertmanager's notifications in. Authenticate, validate, store durably
//! through the inbox, then answer. Status codes follow Alertmanager's retry rules: 4xx for a
//! request that will never succeed (not retried), 503 only when we could not store it (retried).
use std::sync::Arc;
use std::time::Instant;

use axum::body::{to_bytes, Body};
use axum::extract::State;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use app::ssr::alert::{normalise_payload, now_utc, AlertStatus, NewAlert, WebhookPayload};
use app::ssr::db::alerts::Source;
use app::ssr::db::notifications;

use crate::intake::{Delivery, Inbox};
use crate::metrics::{CodeLabel, Metrics, StatusLabel};

/// Largest notification accepted. Alertmanager's biggest groups stay far below; anything
/// larger is refused with 413 rather than buffered.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Basic-auth credentials, kept only as SHA-256 digests and compared in constant time.
#[derive(Clone)]
pub struct Credentials {
    user: [u8; 32],
    password: [u8; 32],
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials(<redacted>)")
    }
}

impl Credentials {
    /// From a user name and a clear-text password.
    pub fn new(user: &str, password: &str) -> Credentials {
        Credentials { user: sha256(user.as_bytes()), password: sha256(password.as_bytes()) }
    }

    /// From a user name and the hex SHA-256 of the password (so the config holds no password).
    pub fn from_password_sha256(user: &str, hex: &str) -> Option<Credentials> {
        let mut password = [0u8; 32];
        let hex = hex.trim();
        if hex.len() != 64 {
            return None;
        }
        for (i, byte) in password.iter_mut().enumerate() {
            *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Credentials { user: sha256(user.as_bytes()), password })
    }

    /// Whether an `Authorization` header carries these credentials.
    fn accepts(&self, headers: &HeaderMap) -> bool {
        let Some(encoded) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic ").or_else(|| v.strip_prefix("basic ")))
        else {
            return false;
        };
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
            return false;
        };
        let Some(colon) = decoded.iter().position(|&b| b == b':') else { return false };
        let (user, password) = (&decoded[..colon], &decoded[colon + 1..]);
        let user_ok = sha256(user).ct_eq(&self.user);
        let password_ok = sha256(password).ct_eq(&self.password);
        (user_ok & password_ok).into()
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// What the webhook handler needs.
#[derive(Clone, Debug)]
pub struct WebhookState {
    pub inbox: Inbox,
    pub metrics: Arc<Metrics>,
    /// `None` while no password is configured: every request is refused.
    pub credentials: Option<Credentials>,
}

/// Why a webhook request was refused.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("missing or wrong credentials")]
    Unauthorized,
    #[error("body larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    #[error("content type must be application/json, got {0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("could not store the notification; retry later")]
    Unavailable,
}

impl WebhookError {
    fn status(&self) -> StatusCode {
        match self {
            WebhookError::Unauthorized => StatusCode::UNAUTHORIZED,
            WebhookError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            WebhookError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            WebhookError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebhookError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

#[derive(Serialize)]
struct ErrorBody {
    error: String,
}

impl IntoResponse for WebhookError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut res = (status, Json(ErrorBody { error: self.to_string() })).into_response();
        match self {
            WebhookError::Unauthorized => {
                res.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Basic realm=\"selfheal\""),
                );
            }
            WebhookError::Unavailable => {
                res.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
            }
            _ => {}
        }
        res
    }
}

/// What a stored notification did, returned to the sender.
#[derive(Debug, Serialize)]
pub struct Receipt {
    pub notification_id: i64,
    pub alerts: usize,
    pub new_alerts: u64,
    pub duplicate_alerts: u64,
}

/// `POST /webhook`.
#[tracing::instrument(skip_all)]
pub async fn receive(State(state): State<WebhookState>, req: Request<Body>) -> Response {
    let started = Instant::now();
    let outcome = handle(&state, req).await;
    state.metrics.intake_seconds.observe(started.elapsed().as_secs_f64());
    let response = match outcome {
        Ok(receipt) => (StatusCode::OK, Json(receipt)).into_response(),
        Err(e) => {
            match &e {
                WebhookError::Unavailable => {}
                WebhookError::Unauthorized => tracing::warn!("webhook refused: bad credentials"),
                other => tracing::info!(error = %other, "webhook refused"),
            }
            e.into_response()
        }
    };
    state.metrics.webhook_requests.get_or_create(&CodeLabel { code: response.status().as_u16() }).inc();
    response
}

async fn handle(state: &WebhookState, req: Request<Body>) -> Result<Receipt, WebhookError> {
    let authorised = state.credentials.as_ref().is_some_and(|c| c.accepts(req.headers()));
    if !authorised {
        return Err(WebhookError::Unauthorized);
    }
    check_content_type(req.headers())?;
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(WebhookError::TooLarge);
    }
    let body = to_bytes(req.into_body(), MAX_BODY_BYTES).await.map_err(|e| {
        let too_large =
            std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
        if too_large {
            WebhookError::TooLarge
        } else {
            WebhookError::BadRequest(format!("cannot read the body: {e}"))
        }
    })?;
    let (payload, alerts, raw) = read_notification(&body)?;

    let firing = alerts.iter().filter(|a| a.status == AlertStatus::Firing).count() as u64;
    let resolved = alerts.len() as u64 - firing;
    let truncated = payload.truncated_alerts;
    let rules = state.inbox.rules();
    let (verdicts, guard_answers) = state.inbox.prejudge(&rules, &payload.alerts).await;
    let delivery = Delivery {
        payload_sha256: format!("{:x}", Sha256::digest(&body)),
        received_at: now_utc(),
        source: Source::Webhook,
        receiver: payload.receiver,
        status: payload.status,
        group_key: payload.group_key,
        external_url: payload.external_url,
        truncated_alerts: i64::try_from(truncated).unwrap_or(i64::MAX),
        raw,
        verdicts,
        verdicts_under: Some(rules),
        guard_answers,
        alerts,
    };
    let count = delivery.alerts.len();
    let stored = state.inbox.store(delivery).await.map_err(|e| {
        tracing::error!(error = %e, "cannot store webhook notification");
        WebhookError::Unavailable
    })?;

    let m = &state.metrics;
    m.alerts_received.get_or_create(&StatusLabel { status: "firing" }).inc_by(firing);
    m.alerts_received.get_or_create(&StatusLabel { status: "resolved" }).inc_by(resolved);
    m.alerts_duplicate.inc_by(stored.duplicate_alerts);
    if stored.duplicate_notification {
        m.notifications_duplicate.inc();
    } else {
        m.alerts_truncated.inc_by(truncated);
    }
    if truncated > 0 {
        tracing::warn!(truncated, "Alertmanager truncated this notification (max_alerts)");
    }
    tracing::debug!(
        notification.id = stored.notification_id,
        alerts = count,
        new = stored.new_alerts,
        "stored"
    );
    Ok(Receipt {
        notification_id: stored.notification_id,
        alerts: count,
        new_alerts: stored.new_alerts,
        duplicate_alerts: stored.duplicate_alerts,
    })
}

/// Everything the webhook checks in a body before it stores anything: the payload, its alerts
/// normalised, and the raw body kept for replay, as it is stored (large ones packed here on
/// the request's thread, [`notifications::pack`], not by the single writer). Pure, so it can
/// be fuzzed on its own.
pub fn read_notification(
    body: &[u8],
) -> Result<(WebhookPayload, Vec<NewAlert>, notifications::StoredBody), WebhookError> {
    let payload = parse_payload(body)?;
    let alerts =
        normalise_payload(&payload).map_err(|e| WebhookError::BadRequest(format!("invalid payload: {e}")))?;
    let text =
        std::str::from_utf8(body).map_err(|_| WebhookError::BadRequest("body is not UTF-8".to_owned()))?;
    let stored = notifications::pack(text).map_err(|e| {
        tracing::error!(error = %e, "cannot pack the raw notification");
        WebhookError::Unavailable
    })?;
    Ok((payload, alerts, stored))
}

/// Parses the body. The fast parser runs first; only a body it refuses is parsed again with
/// path tracking, so the 400 names the failing field without slowing down good requests.
fn parse_payload(body: &[u8]) -> Result<WebhookPayload, WebhookError> {
    if let Ok(payload) = serde_json::from_slice(body) {
        return Ok(payload);
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let err = match serde_path_to_error::deserialize::<_, WebhookPayload>(&mut de) {
        Ok(payload) => return Ok(payload),
        Err(e) => e,
    };
    let path = err.path().to_string();
    let inner = err.into_inner();
    Err(WebhookError::BadRequest(if path == "." {
        format!("invalid payload: {inner}")
    } else {
        format!("invalid payload at `{path}`: {inner}")
    }))
}

fn check_content_type(headers: &HeaderMap) -> Result<(), WebhookError> {
    let value = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = value.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(WebhookError::UnsupportedMediaType(if value.is_empty() {
            "none".to_owned()
        } else {
            value.to_owned()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user: &str, password: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        h.insert(header::AUTHORIZATION, format!("Basic {token}").parse().unwrap());
        h
    }

    #[test]
    fn credentials_accept_only_the_exact_pair() {
        let c = Credentials::new("alertmanager", "s3cret");
        let cases = [
            ("right", basic("alertmanager", "s3cret"), true),
            ("wrong password", basic("alertmanager", "s3cret!"), false),
            ("wrong user", basic("alertmanager2", "s3cret"), false),
            ("password differs by a colon", basic("alertmanager", "s3:cret"), false),
            ("empty", basic("", ""), false),
            ("no header", HeaderMap::new(), false),
        ];
        for (name, headers, want) in cases {
            assert_eq!(c.accepts(&headers), want, "{name}");
        }
        let mut bearer = HeaderMap::new();
        bearer.insert(header::AUTHORIZATION, "Bearer s3cret".parse().unwrap());
        assert!(!c.accepts(&bearer));
        let mut garbage = HeaderMap::new();
        garbage.insert(header::AUTHORIZATION, "Basic !!!".parse().unwrap());
        assert!(!c.accepts(&garbage));
    }

    #[test]
    fn a_stored_sha256_works_like_the_password() {
        let hex = format!("{:x}", Sha256::digest(b"s3cret"));
        let c = Credentials::from_password_sha256("alertmanager", &hex).expect("valid hex");
        assert!(c.accepts(&basic("alertmanager", "s3cret")));
        assert!(!c.accepts(&basic("alertmanager", "other")));
        assert!(Credentials::from_password_sha256("u", "xyz").is_none());
        assert!(Credentials::from_password_sha256("u", &"zz".repeat(32)).is_none());
        assert_eq!(format!("{c:?}"), "Credentials(<redacted>)");
    }

    #[test]
    fn content_types() {
        let ok = ["application/json", "application/json; charset=utf-8", "Application/JSON"];
        for v in ok {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, v.parse().unwrap());
            assert!(check_content_type(&h).is_ok(), "{v}");
        }
        let mut h = HeaderMap::new();
        assert!(check_content_type(&h).is_err(), "missing");
        h.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert!(check_content_type(&h).is_err());
    }
}
