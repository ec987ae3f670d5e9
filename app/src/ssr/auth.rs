//! Passwords (argon2id), sessions and the role check every protected server function starts with.
use std::net::SocketAddr;
use std::sync::LazyLock;

use crate::ssr::db::backend::PoolRef;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::distributions::{Alphanumeric, DistString};
use tower_sessions::Session;

use crate::error::AppError;
use crate::model::{CurrentUser, Role};
use crate::ssr::db::login_attempts;
use crate::ssr::db::users::{self, UserRow};
use crate::ssr::{app_state, internal, respond_with};

/// Session key under which the logged-in user's id is stored.
pub const SESSION_USER_KEY: &str = "user_id";

/// Session key holding the login time (Unix seconds), for the absolute expiry.
pub const SESSION_LOGIN_AT_KEY: &str = "login_at";

/// Session key holding the user's `session_epoch` at login; a session whose value is older
/// than the user's (password reset, disabled) has ended. Sessions from before it read as 0.
pub const SESSION_EPOCH_KEY: &str = "session_epoch";

/// Session key holding the ID token of a sign-in with OpenID Connect (the provider's logout
/// takes it as `id_token_hint`).
pub const SESSION_ID_TOKEN_KEY: &str = "oidc_id_token";

/// Shortest new password: below this, argon2 cannot save a guessable secret (NIST 800-63B
/// asks for at least 8; 12 leaves room for passphrases to be the easy way to comply).
pub const MIN_PASSWORD_LEN: usize = 12;

/// Least zxcvbn score (0–4) of a new password: 3 is "safely unguessable" against an online
/// attack and a slowly hashed offline one; `password1234`, keyboard walks and a name with a
/// year score lower.
const MIN_PASSWORD_SCORE: u8 = 3;

/// Names the server itself writes into the audit log or a run's "requested by": a user by one
/// of these names would pass for the system (a heal now by `engine` counted as an engine run).
pub const RESERVED_USERNAMES: [&str; 5] = ["anonymous", "cli", "engine", "intake", "system"];

/// Longest password we hash: bounds the work an attacker can make one login cost.
pub const MAX_PASSWORD_LEN: usize = 1024;

/// Longest user name; names are shown in the UI and the audit log.
pub const MAX_USERNAME_LEN: usize = 64;

/// Failed logins for one user name within [`LOGIN_WINDOW`] after which that name is refused:
/// online guessing gets a handful of tries per window, whatever the attacker's address.
pub const MAX_FAILED_LOGINS_PER_USER: i64 = 5;

/// Failed logins from one address within [`LOGIN_WINDOW`] after which it is refused: one
/// address spraying many names is stopped too, while a shared office NAT still has room.
pub const MAX_FAILED_LOGINS_PER_ADDRESS: i64 = 20;

/// The window failed logins are counted in (and the longest a refused client waits).
pub const LOGIN_WINDOW: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Length of generated passwords (alphanumeric: about 119 bits at 20 characters).
const GENERATED_PASSWORD_LEN: usize = 20;

/// An argon2 PHC string. Deliberately not `Serialize`, and its `Debug` hides the value.
#[derive(Clone, PartialEq, Eq, sqlx::Type)]
#[sqlx(transparent)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a hash read from storage.
    pub fn from_stored(s: String) -> Self {
        PasswordHash(s)
    }

    /// The PHC string, for storage.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

/// Hashes a password with argon2id and a random salt (OWASP parameters: argon2's defaults).
pub fn hash_password(password: &str) -> Result<PasswordHash, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    let hash = Argon2::default().hash_password(password.as_bytes(), &salt)?;
    Ok(PasswordHash(hash.to_string()))
}

/// Whether `password` matches `hash`. A malformed hash never matches.
pub fn verify_password(password: &str, hash: &PasswordHash) -> bool {
    argon2::password_hash::PasswordHash::new(&hash.0)
        .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        .unwrap_or(false)
}

/// A hash checked when the user does not exist, so a bad name costs as long as a bad password.
static DUMMY_HASH: LazyLock<PasswordHash> =
    LazyLock::new(|| hash_password(&generate_password()).expect("argon2 hashes a generated password"));

/// A random alphanumeric password for the bootstrap admin and resets.
pub fn generate_password() -> String {
    Alphanumeric.sample_string(&mut OsRng, GENERATED_PASSWORD_LEN)
}

/// Checks a new user name: 1..=64 characters of letters, digits, `.`, `_`, `-`, `@`.
pub fn validate_username(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_USERNAME_LEN {
        return Err(format!("user name must be 1 to {MAX_USERNAME_LEN} characters"));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || "._-@".contains(*c))) {
        return Err(format!("user name may not contain {c:?} (allowed: letters, digits, . _ - @)"));
    }
    Ok(())
}

/// Checks the name of a user about to be created: a valid name that is not reserved.
pub fn validate_new_username(name: &str) -> Result<(), String> {
    validate_username(name)?;
    if RESERVED_USERNAMES.iter().any(|r| r.eq_ignore_ascii_case(name)) {
        return Err(format!(
            "user name `{name}` is reserved for selfheal itself (reserved: {})",
            RESERVED_USERNAMES.join(", ")
        ));
    }
    Ok(())
}

/// Whether `name` is one of [`RESERVED_USERNAMES`] (any case).
pub fn is_reserved_username(name: &str) -> bool {
    RESERVED_USERNAMES.iter().any(|r| r.eq_ignore_ascii_case(name))
}

/// Checks a new password for `username`: at least [`MIN_PASSWORD_LEN`] characters, not
/// containing the user name, and not guessable (zxcvbn's estimate, which knows the most
/// common passwords, words, keyboard walks and dates, and the user name).
pub fn validate_password(password: &str, username: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_LEN {
        return Err(format!("password must have at least {MIN_PASSWORD_LEN} characters"));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(format!("password must have at most {MAX_PASSWORD_LEN} bytes"));
    }
    if !username.is_empty() && password.to_lowercase().contains(&username.to_lowercase()) {
        return Err("password must not contain the user name".to_owned());
    }
    let estimate = zxcvbn::zxcvbn(password, &[username, "selfheal"]);
    if u8::from(estimate.score()) < MIN_PASSWORD_SCORE {
        let hint =
            estimate.feedback().and_then(|f| f.warning().map(|w| format!(": {w}"))).unwrap_or_default();
        return Err(format!("password is too easy to guess{hint}; a few unrelated words make a strong one"));
    }
    Ok(())
}

/// Checks a name and password against the database; `None` for an unknown or disabled user or
/// a wrong password, all of which take about the same time. Hashing runs off the async threads.
pub async fn authenticate(
    pool: impl Into<PoolRef<'_>>,
    username: &str,
    password: &str,
) -> Result<Option<UserRow>, sqlx::Error> {
    let pool: PoolRef<'_> = pool.into();
    let row = if validate_username(username).is_ok() && password.len() <= MAX_PASSWORD_LEN {
        users::find_user_by_name(pool, username).await?
    } else {
        None
    };
    let hash = row.as_ref().map_or_else(|| DUMMY_HASH.clone(), |r| r.password_hash.clone());
    let password = password.to_owned();
    let matches =
        tokio::task::spawn_blocking(move || verify_password(&password, &hash)).await.unwrap_or(false);
    Ok(row.filter(|r| matches && !r.disabled))
}

/// Opens a session for `user`, who just signed in `via` a password or a directory: a new
/// session id (one planted before the sign-in is worth nothing after it), the user, the time
/// and their session epoch; their last sign-in noted and the sign-in audited.
pub async fn open_session(
    pool: impl Into<PoolRef<'_>>,
    session: &Session,
    user: &UserRow,
    via: crate::model::UserSource,
    source: Option<&str>,
) -> Result<(), AppError> {
    let pool: PoolRef<'_> = pool.into();
    use crate::ssr::db::audit::{record_audit, NewAuditEvent};
    let write = |e: tower_sessions::session::Error| internal("session write failed", e);
    session.cycle_id().await.map_err(|e| internal("session cycle failed", e))?;
    session.insert(SESSION_USER_KEY, user.id).await.map_err(write)?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    session.insert(SESSION_LOGIN_AT_KEY, now).await.map_err(write)?;
    session.insert(SESSION_EPOCH_KEY, user.session_epoch).await.map_err(write)?;
    users::record_login(pool, user.id).await.map_err(|e| internal("login record failed", e))?;
    let detail = (via != crate::model::UserSource::Local).then(|| format!("via {}", via.label()));
    let event = NewAuditEvent {
        actor: &user.username,
        action: "auth.login",
        detail: detail.as_deref(),
        source,
        ..Default::default()
    };
    record_audit(pool, &event).await.map_err(|e| internal("audit write failed", e))?;
    tracing::info!(user = %user.username, via = via.label(), "login");
    Ok(())
}

/// The session of the current server-function request.
pub async fn session() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>().await.map_err(|e| internal("session layer missing", e))
}

/// The enabled user a session belongs to, if any.
pub async fn user_from_session(
    state: &crate::ssr::AppState,
    session: &Session,
) -> Result<Option<CurrentUser>, AppError> {
    let id: Option<i64> =
        session.get(SESSION_USER_KEY).await.map_err(|e| internal("session load failed", e))?;
    let Some(id) = id else { return Ok(None) };
    // Absolute expiry: activity keeps a session alive only until session_absolute after login.
    let login_at: Option<i64> =
        session.get(SESSION_LOGIN_AT_KEY).await.map_err(|e| internal("session load failed", e))?;
    let age = time::OffsetDateTime::now_utc().unix_timestamp() - login_at.unwrap_or(0);
    if u64::try_from(age).map_or(true, |age| age > state.session_absolute.as_secs()) {
        session.flush().await.map_err(|e| internal("session delete failed", e))?;
        return Ok(None);
    }
    let epoch: Option<i64> =
        session.get(SESSION_EPOCH_KEY).await.map_err(|e| internal("session load failed", e))?;
    let row = users::find_user_by_id(&state.pool, id).await.map_err(|e| internal("user lookup failed", e))?;
    match row {
        Some(r) if !r.disabled && r.session_epoch == epoch.unwrap_or(0) => {
            Ok(Some(CurrentUser { id: r.id, username: r.username, role: r.role }))
        }
        // Disabled, or its password was reset since this login: the session is over for good.
        _ => {
            session.flush().await.map_err(|e| internal("session delete failed", e))?;
            Ok(None)
        }
    }
}

/// The principal of the current request, if any: the API token it presents in
/// `Authorization` (then nothing else counts), else the logged-in user of its session.
pub async fn current_user() -> Result<Option<CurrentUser>, AppError> {
    let state = app_state()?;
    let authorization = leptos::prelude::use_context::<http::request::Parts>()
        .and_then(|parts| parts.headers.get(http::header::AUTHORIZATION).cloned());
    principal(&state, authorization.as_ref(), &session().await?).await
}

/// Who a request is, from its `Authorization` header and session, for plain axum handlers as
/// for server functions: a request that presents credentials is judged by them alone.
pub async fn principal(
    state: &crate::ssr::AppState,
    authorization: Option<&http::HeaderValue>,
    session: &Session,
) -> Result<Option<CurrentUser>, AppError> {
    match authorization {
        Some(header) => crate::ssr::api_token::user_from_authorization(&state.pool, header).await,
        None => user_from_session(state, session).await,
    }
}

/// `user` if their role allows `needed`, else `Unauthorized` (nobody) or `Forbidden`.
pub fn check_role(user: Option<CurrentUser>, needed: Role) -> Result<CurrentUser, AppError> {
    match user {
        None => Err(AppError::Unauthorized),
        Some(user) if user.role.allows(needed) => Ok(user),
        Some(user) => {
            tracing::warn!(user = %user.username, role = %user.role, needed = %needed, "forbidden");
            Err(AppError::Forbidden)
        }
    }
}

/// The first call of every protected server function: the logged-in user if their role allows
/// `needed`, else `Unauthorized` (401) or `Forbidden` (403).
pub async fn require_role(needed: Role) -> Result<CurrentUser, AppError> {
    check_role(current_user().await?, needed).map_err(respond_with)
}

/// The name a throttle counts attempts under: user names are unique whatever their case
/// (`COLLATE NOCASE`), so `DUMMY` and `dummy` share one count. A string that is not a valid user
/// name (a password typed into the name field, say) is counted under `""`, never stored.
pub fn canonical_username(name: &str) -> String {
    if validate_username(name).is_ok() {
        name.to_ascii_lowercase()
    } else {
        String::new()
    }
}

/// A login attempt reserved against the throttle before its password is checked.
#[derive(Debug)]
#[must_use = "settle the attempt once the password is checked"]
pub struct LoginAttempt(i64);

/// The throttle's limits.
const LOGIN_LIMITS: login_attempts::Limits = login_attempts::Limits {
    per_name: MAX_FAILED_LOGINS_PER_USER,
    per_source: MAX_FAILED_LOGINS_PER_ADDRESS,
    window: LOGIN_WINDOW,
};

/// Reserves a login attempt for `username` from `source`, or `None` when earlier failures (and
/// attempts still being checked) have reached a limit; a refused attempt is counted for the
/// audit log (one event per name, address and minute). Call before the password check, the
/// same way for names that exist and names that do not.
pub async fn begin_login_attempt(
    pool: impl Into<PoolRef<'_>>,
    username: &str,
    source: Option<&str>,
) -> Result<Option<LoginAttempt>, sqlx::Error> {
    let pool: PoolRef<'_> = pool.into();
    let name = canonical_username(username);
    let now = time::OffsetDateTime::now_utc();
    match login_attempts::reserve_login_attempt(pool, &name, source, LOGIN_LIMITS, now).await? {
        Some(id) => Ok(Some(LoginAttempt(id))),
        None => {
            login_attempts::count_login_throttle(pool, &name, source, now).await?;
            Ok(None)
        }
    }
}

/// Records whether a reserved attempt's password was right.
pub async fn settle_login_attempt(
    pool: impl Into<PoolRef<'_>>,
    attempt: LoginAttempt,
    ok: bool,
) -> Result<(), sqlx::Error> {
    let pool: PoolRef<'_> = pool.into();
    let outcome = if ok { login_attempts::Outcome::Succeeded } else { login_attempts::Outcome::Failed };
    login_attempts::settle_login_attempt(pool, attempt.0, outcome).await
}

/// Forgets a reserved attempt whose password could not be checked (the directory was down).
pub async fn forget_login_attempt(
    pool: impl Into<PoolRef<'_>>,
    attempt: LoginAttempt,
) -> Result<(), sqlx::Error> {
    let pool: PoolRef<'_> = pool.into();
    login_attempts::forget_login_attempt(pool, attempt.0).await
}

/// The client address of the current request, for the throttle and the audit log: the peer,
/// or behind a trusted proxy the client it names (`ssr::client_ip`). None without a peer
/// (in-process tests).
pub fn client_addr() -> Option<String> {
    let parts = leptos::prelude::use_context::<http::request::Parts>()?;
    let peer = parts.extensions.get::<axum::extract::ConnectInfo<SocketAddr>>()?.0.ip();
    let trusted = leptos::prelude::use_context::<crate::ssr::AppState>()
        .map(|s| s.trusted_proxies)
        .unwrap_or_else(|| std::sync::Arc::from([]));
    Some(crate::ssr::client_ip::client_ip(peer, &parts.headers, &trusted).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssr::db::test_pool;

    #[test]
    fn hashes_verify_and_are_salted_argon2id() {
        let a = hash_password("correct horse").unwrap();
        let b = hash_password("correct horse").unwrap();
        assert!(a.as_str().starts_with("$argon2id$"), "{}", a.as_str());
        assert_ne!(a, b, "each hash has its own salt");
        assert!(verify_password("correct horse", &a));
        assert!(!verify_password("correct horsE", &a));
        assert!(!verify_password("correct horse", &PasswordHash::from_stored("garbage".into())));
        assert_eq!(format!("{a:?}"), "PasswordHash(<redacted>)");
    }

    #[test]
    fn usernames_and_passwords_are_validated() {
        let names = [
            ("plain", "alice", true),
            ("with symbols", "a.b_c-d@e", true),
            ("empty", "", false),
            ("space", "al ice", false),
            ("quote", "al'ice", false),
            ("too long", &"x".repeat(65), false),
        ];
        for (case, name, ok) in names {
            assert_eq!(validate_username(name).is_ok(), ok, "{case}");
        }
        for reserved in RESERVED_USERNAMES.iter().copied().chain(["Engine", "SYSTEM"]) {
            assert!(validate_username(reserved).is_ok(), "a valid name to log in with: {reserved}");
            assert!(validate_new_username(reserved).unwrap_err().contains("reserved"), "{reserved}");
        }
        assert!(validate_new_username("engineer").is_ok());
        let passwords = [
            ("too short", "Tr0ub4dor&3", "ann", false),
            ("common", "password1234", "ann", false),
            ("digits", "123456789012", "ann", false),
            ("spaces", "            ", "ann", false),
            ("keyboard walk", "qwertyuiop[]", "ann", false),
            ("the name in it", "alexandra-harbor-42", "Alexandra", false),
            ("the name itself, longer", "mauricemaurice", "maurice", false),
            ("unrelated words", "tulip harbor anvil 42", "ann", true),
            ("generated", &generate_password(), "ann", true),
            ("too long", &"tulip harbor ".repeat(80), "ann", false),
        ];
        for (case, password, user, ok) in passwords {
            assert_eq!(
                validate_password(password, user).is_ok(),
                ok,
                "{case}: {:?}",
                validate_password(password, user)
            );
        }
        assert_eq!(generate_password().len(), GENERATED_PASSWORD_LEN);
        assert_ne!(generate_password(), generate_password());
    }

    #[tokio::test]
    async fn authenticate_refuses_unknown_wrong_and_disabled_alike() {
        let pool = test_pool().await;
        let hash = hash_password("s3cret-pass").unwrap();
        users::insert_user(&pool, "alice", &hash, Role::Viewer).await.unwrap();

        assert!(authenticate(&pool, "alice", "s3cret-pass").await.unwrap().is_some());
        assert!(authenticate(&pool, "alice", "wrong-pass").await.unwrap().is_none());
        assert!(authenticate(&pool, "nobody", "s3cret-pass").await.unwrap().is_none());
        assert!(authenticate(&pool, "bad name!", "s3cret-pass").await.unwrap().is_none());
        users::set_disabled(&pool, "alice", true).await.unwrap();
        assert!(authenticate(&pool, "alice", "s3cret-pass").await.unwrap().is_none());
    }
}
