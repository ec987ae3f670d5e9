//! `AppError`: the one error type every server function returns.
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// What went wrong, as far as the browser may know. `Internal` carries no detail: the cause is
/// logged once on the server where it happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("please log in")]
    Unauthorized,
    /// The one answer to a failed login, whether the name or the password was wrong.
    #[error("invalid username or password")]
    BadCredentials,
    #[error("your role does not allow this")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    /// Too many failed logins for this name or from this address: wait, then try again.
    #[error("too many failed logins: try again in {0} minutes")]
    TooManyAttempts(u64),
    /// The directory vouched for the password, but none of the user's groups maps to a role.
    #[error("signed in as {0}, but none of your groups gives a role in selfheal: ask an admin to map one")]
    NoRole(String),
    /// The directory (named) could not be asked; local accounts still sign in.
    #[error("the {0} directory did not answer, so directory accounts cannot sign in right now; local accounts still work")]
    DirectoryUnavailable(String),
    #[error("internal error (details are in the server log)")]
    Internal,
    #[error("could not reach the server: {0}")]
    Transport(String),
}

impl AppError {
    /// The HTTP status this error is answered with.
    pub fn status_code(&self) -> u16 {
        match self {
            AppError::Unauthorized | AppError::BadCredentials => 401,
            AppError::Forbidden | AppError::NoRole(_) => 403,
            AppError::NotFound => 404,
            AppError::Invalid(_) => 400,
            AppError::Conflict(_) => 409,
            AppError::TooManyAttempts(_) => 429,
            AppError::Internal | AppError::Transport(_) => 500,
            AppError::DirectoryUnavailable(_) => 503,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        let err = match value {
            ServerFnErrorErr::Args(m) => AppError::Invalid(format!("bad arguments: {m}")),
            ServerFnErrorErr::MissingArg(m) => AppError::Invalid(format!("missing field `{m}`")),
            other => AppError::Transport(other.to_string()),
        };
        // On the server this runs inside the request (e.g. a form missing a field): answer
        // with the matching status, not a generic 500.
        #[cfg(feature = "ssr")]
        let err = crate::ssr::respond_with(err);
        err
    }
}
