//! Sign-in with the organisation's OpenID Provider (`[auth.oidc]`): the authorization code flow
//! with PKCE, the provider found by discovery from its issuer URL, and the ID token's signature,
//! issuer, audience, expiry and nonce checked by `openidconnect` (no JWT code of ours). The
//! role comes from a claim (`groups`) through `roles`, as for LDAP.
use std::sync::Arc;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClient, CoreClientAuthMethod, CoreGrantType,
    CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreResponseMode,
    CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::{
    AdditionalProviderMetadata, AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, ProviderMetadata, RedirectUrl, Scope,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::roles::RoleMap;

/// `[auth.oidc]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The provider's issuer URL; `/.well-known/openid-configuration` under it says the rest.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: SecretString,
    /// Where the provider sends the browser back: this server's external URL followed by
    /// `/auth/oidc/callback`, registered with the provider.
    pub redirect_url: String,
    /// The button's words: "Sign in with {name}".
    #[serde(default = "default_name")]
    pub name: String,
    /// Scopes asked for besides `openid`.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// The claim holding the user's groups (a list of strings).
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    /// The claim whose value becomes the selfheal user name.
    #[serde(default = "default_username_claim")]
    pub username_claim: String,
    /// The longest a call to the provider may take.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Groups per role.
    pub roles: RoleMap,
}

fn default_name() -> String {
    "single sign-on".into()
}
fn default_scopes() -> Vec<String> {
    vec!["profile".into(), "email".into()]
}
fn default_groups_claim() -> String {
    "groups".into()
}
fn default_username_claim() -> String {
    "preferred_username".into()
}
fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

impl OidcConfig {
    /// Checks the settings; the error names the key and what is wrong.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if IssuerUrl::new(self.issuer.clone()).is_err() || !is_web_url(&self.issuer) {
            return Err(("auth.oidc.issuer", "must be an https:// (or http://) URL".into()));
        }
        if RedirectUrl::new(self.redirect_url.clone()).is_err()
            || !is_web_url(&self.redirect_url)
            || !self.redirect_url.ends_with(CALLBACK_PATH)
        {
            return Err((
                "auth.oidc.redirect_url",
                format!("must be this server's external URL followed by {CALLBACK_PATH}"),
            ));
        }
        if self.client_id.trim().is_empty() {
            return Err(("auth.oidc.client_id", "must not be empty".into()));
        }
        if self.client_secret.expose_secret().is_empty() {
            return Err(("auth.oidc.client_secret", "must not be empty".into()));
        }
        if self.groups_claim.trim().is_empty() || self.username_claim.trim().is_empty() {
            return Err(("auth.oidc.groups_claim", "claim names must not be empty".into()));
        }
        if self.timeout.is_zero() {
            return Err(("auth.oidc.timeout", "must be more than 0s".into()));
        }
        if self.roles.is_empty() {
            return Err((
                "auth.oidc.roles",
                "must list at least one group (admin, operator or viewer)".into(),
            ));
        }
        Ok(())
    }
}

fn is_web_url(url: &str) -> bool {
    ["https://", "http://"].iter().any(|s| url.strip_prefix(s).is_some_and(|rest| !rest.is_empty()))
}

/// Where the provider sends the browser back.
pub const CALLBACK_PATH: &str = "/auth/oidc/callback";

/// How long a started sign-in may take at the provider before its callback is refused.
pub const FLOW_TTL: Duration = Duration::from_secs(600);

/// The discovery document is asked again after this long (keys rotate).
const METADATA_TTL: Duration = Duration::from_secs(600);

/// What the discovery document tells besides the core: where logging out at the provider is.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct EndSession {
    pub end_session_endpoint: Option<String>,
}
impl AdditionalProviderMetadata for EndSession {}

type Metadata = ProviderMetadata<
    EndSession,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// A sign-in on its way through the provider, kept in the browser's session until its callback.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Flow {
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
    /// The page to land on afterwards (a path of this site).
    pub next: Option<String>,
    /// Unix seconds when it started.
    pub started: i64,
}

/// Who the provider vouched for, from a verified ID token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidcUser {
    pub subject: String,
    pub username: String,
    pub groups: Vec<String>,
    /// The ID token itself, for the provider's logout (`id_token_hint`).
    pub id_token: String,
    /// What reads the role again without the user (`offline_access`), when the provider gave one.
    pub refresh_token: Option<String>,
}

/// Why a callback signed nobody in.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The provider could not be asked (discovery, keys, the token endpoint).
    #[error("the OpenID Provider did not answer: {0}")]
    Unavailable(String),
    /// Not a sign-in this browser started, too old, or refused at the provider.
    #[error("{0}")]
    Refused(String),
    /// The ID token did not verify (signature, issuer, audience, expiry or nonce).
    #[error("the ID token was refused: {0}")]
    BadToken(String),
}

/// Sign-ins one client address may start at once; then one more per [`STARTS_EVERY`]. Each
/// start keeps a session row (the flow's secrets) for [`FLOW_TTL`]: unthrottled, anyone could
/// fill the sessions table. Ten covers a person's retries; an office behind one address gets
/// one start every six seconds once its burst is spent.
const STARTS_AT_ONCE: u32 = 10;

/// How often an address regains one start (ten a minute).
const STARTS_EVERY: Duration = Duration::from_secs(6);

/// Addresses the throttle keeps before it forgets those back to a full burst.
const STARTS_REMEMBERED: usize = 10_000;

/// The configured provider, its discovery document cached.
#[derive(Debug)]
pub struct Oidc {
    config: OidcConfig,
    http: reqwest::Client,
    metadata: Mutex<Option<(Instant, Arc<Metadata>)>>,
    starts: governor::DefaultKeyedRateLimiter<String>,
}

impl Oidc {
    /// `http` must not follow redirects (a redirect is how a token request is sent elsewhere).
    pub fn new(config: OidcConfig, http: reqwest::Client) -> Oidc {
        let every = governor::Quota::with_period(STARTS_EVERY).expect("a period above zero");
        let quota = every.allow_burst(std::num::NonZeroU32::new(STARTS_AT_ONCE).expect("a burst above zero"));
        Oidc { config, http, metadata: Mutex::new(None), starts: governor::RateLimiter::keyed(quota) }
    }

    /// Whether a sign-in may start from `source` (the client's address; `""` when unknown), or
    /// that address has started too many of late ([`STARTS_AT_ONCE`], [`STARTS_EVERY`]).
    pub fn may_start(&self, source: &str) -> bool {
        if self.starts.len() > STARTS_REMEMBERED {
            self.starts.retain_recent();
        }
        self.starts.check_key(&source.to_owned()).is_ok()
    }

    /// How long a throttled address waits for its next start.
    pub fn start_every() -> Duration {
        STARTS_EVERY
    }

    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    async fn metadata(&self, fresh: bool) -> Result<Arc<Metadata>, OidcError> {
        let mut cached = self.metadata.lock().await;
        if let Some((_, m)) = cached.as_ref().filter(|(at, _)| !fresh && at.elapsed() < METADATA_TTL) {
            return Ok(m.clone());
        }
        let issuer =
            IssuerUrl::new(self.config.issuer.clone()).map_err(|e| OidcError::Unavailable(e.to_string()))?;
        let found = tokio::time::timeout(self.config.timeout, Metadata::discover_async(issuer, &self.http))
            .await
            .map_err(|_| OidcError::Unavailable("no answer to discovery in time".into()))?
            .map_err(|e| OidcError::Unavailable(chain(&e)))?;
        let found = Arc::new(found);
        *cached = Some((Instant::now(), found.clone()));
        Ok(found)
    }

    fn client(&self, metadata: &Metadata) -> Result<Client, OidcError> {
        let redirect = RedirectUrl::new(self.config.redirect_url.clone())
            .map_err(|e| OidcError::Refused(e.to_string()))?;
        Ok(CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(self.config.client_id.clone()),
            Some(ClientSecret::new(self.config.client_secret.expose_secret().to_owned())),
        )
        .set_redirect_uri(redirect))
    }

    /// Starts a sign-in: the provider's URL to send the browser to, and the flow to keep in its
    /// session.
    pub async fn begin(&self, next: Option<String>, now: i64) -> Result<(String, Flow), OidcError> {
        // Asked afresh at each start (sign-ins are rare): a provider that is down is said so on
        // our login page, rather than by the browser at the provider's door.
        let metadata = self.metadata(true).await?;
        let client = self.client(&metadata)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let scopes = self.config.scopes.iter().map(|s| Scope::new(s.clone())).collect::<Vec<_>>();
        let (url, state, nonce) = client.authorize(scopes, challenge);
        let flow = Flow {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            next,
            started: now,
        };
        Ok((url, flow))
    }

    /// Finishes a sign-in from the callback's `code` and `state`: the code exchanged (with the
    /// PKCE verifier), the ID token verified, its claims read.
    pub async fn finish(
        &self,
        flow: &Flow,
        code: &str,
        state: &str,
        now: i64,
    ) -> Result<OidcUser, OidcError> {
        if !bool::from(subtle::ConstantTimeEq::ct_eq(flow.state.as_bytes(), state.as_bytes())) {
            return Err(OidcError::Refused("the sign-in's state does not match this browser's".into()));
        }
        if now - flow.started > FLOW_TTL.as_secs() as i64 {
            return Err(OidcError::Refused("the sign-in took too long; start again".into()));
        }
        let metadata = self.metadata(false).await?;
        let client = self.client(&metadata)?;
        let tokens =
            tokio::time::timeout(self.config.timeout, client.exchange(&self.http, code, &flow.pkce_verifier))
                .await
                .map_err(|_| OidcError::Unavailable("no answer from the token endpoint in time".into()))??;
        self.read(tokens, Some(&Nonce::new(flow.nonce.clone()))).await
    }

    /// The user as the provider has them now, from a refresh token (no browser involved): their
    /// groups read again. `Refused` when the provider no longer honours it (signed out there,
    /// disabled, or the grant revoked).
    pub async fn refresh(&self, refresh_token: &str) -> Result<OidcUser, OidcError> {
        let metadata = self.metadata(false).await?;
        let client = self.client(&metadata)?;
        let tokens = tokio::time::timeout(self.config.timeout, client.refresh(&self.http, refresh_token))
            .await
            .map_err(|_| OidcError::Unavailable("no answer from the token endpoint in time".into()))??;
        self.read(tokens, None).await
    }

    /// Verifies the ID token (the cached keys first, then the provider's current ones) and
    /// reads the user from it.
    async fn read(&self, tokens: Tokens, nonce: Option<&Nonce>) -> Result<OidcUser, OidcError> {
        let Tokens { id_token, refresh_token } = tokens;
        let metadata = self.metadata(false).await?;
        let subject = match self.client(&metadata)?.verify(&id_token, nonce) {
            Ok(subject) => subject,
            // A key the cached document does not have: the provider may have rotated its keys.
            Err(first) => {
                let metadata = self.metadata(true).await?;
                self.client(&metadata)?.verify(&id_token, nonce).map_err(|_| first)?
            }
        };
        let claims = payload(&id_token)?;
        let username =
            claims.get(&self.config.username_claim).and_then(|v| v.as_str()).unwrap_or(&subject).to_owned();
        let groups = match claims.get(&self.config.groups_claim) {
            Some(serde_json::Value::Array(items)) => {
                items.iter().filter_map(|g| g.as_str().map(str::to_owned)).collect()
            }
            Some(serde_json::Value::String(one)) => vec![one.clone()],
            _ => Vec::new(),
        };
        Ok(OidcUser { subject, username, groups, id_token, refresh_token })
    }

    /// This server's login page, from the redirect URL (where the provider's logout returns).
    pub fn login_page_url(&self) -> String {
        let base = self.config.redirect_url.strip_suffix(CALLBACK_PATH).unwrap_or(&self.config.redirect_url);
        format!("{base}/login")
    }

    /// The origin (`scheme://host[:port]`) of the issuer: pages let forms lead there (logout).
    pub fn issuer_origin(&self) -> Option<String> {
        let url = reqwest::Url::parse(&self.config.issuer).ok()?;
        Some(url.origin().ascii_serialization())
    }

    /// Where to send the browser to log out at the provider too, if it says where.
    pub async fn end_session_url(&self, id_token: &str, after: &str) -> Option<String> {
        let metadata = self.metadata(false).await.ok()?;
        let endpoint = metadata.additional_metadata().end_session_endpoint.clone()?;
        let mut url = reqwest::Url::parse(&endpoint).ok()?;
        url.query_pairs_mut()
            .append_pair("id_token_hint", id_token)
            .append_pair("post_logout_redirect_uri", after)
            .append_pair("client_id", &self.config.client_id);
        Some(url.into())
    }
}

/// The three steps of the code flow on one configured client.
trait ClientOps {
    fn authorize(&self, scopes: Vec<Scope>, challenge: PkceCodeChallenge) -> (String, CsrfToken, Nonce);
    async fn exchange(&self, http: &reqwest::Client, code: &str, verifier: &str)
        -> Result<Tokens, OidcError>;
    async fn refresh(&self, http: &reqwest::Client, refresh_token: &str) -> Result<Tokens, OidcError>;
    /// The subject of a verified ID token; `nonce` is checked when given (a refreshed ID token
    /// carries none).
    fn verify(&self, id_token: &str, nonce: Option<&Nonce>) -> Result<String, OidcError>;
}

/// An ID token and, when the provider gave one, a refresh token.
struct Tokens {
    id_token: String,
    refresh_token: Option<String>,
}

fn tokens(response: &openidconnect::core::CoreTokenResponse) -> Result<Tokens, OidcError> {
    use openidconnect::{OAuth2TokenResponse, TokenResponse};
    let id_token =
        response.id_token().ok_or_else(|| OidcError::BadToken("the provider sent no ID token".into()))?;
    Ok(Tokens {
        id_token: id_token.to_string(),
        refresh_token: response.refresh_token().map(|r| r.secret().clone()),
    })
}

fn token_error<RE: std::error::Error + 'static>(
    e: openidconnect::RequestTokenError<
        RE,
        openidconnect::StandardErrorResponse<openidconnect::core::CoreErrorResponseType>,
    >,
) -> OidcError {
    match e {
        openidconnect::RequestTokenError::ServerResponse(r) => {
            OidcError::Refused(format!("the provider refused: {r}"))
        }
        other => OidcError::Unavailable(chain(&other)),
    }
}

type Client = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

impl ClientOps for Client {
    fn authorize(&self, scopes: Vec<Scope>, challenge: PkceCodeChallenge) -> (String, CsrfToken, Nonce) {
        let (url, state, nonce) = self
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scopes(scopes)
            .set_pkce_challenge(challenge)
            .url();
        (url.into(), state, nonce)
    }

    async fn exchange(
        &self,
        http: &reqwest::Client,
        code: &str,
        verifier: &str,
    ) -> Result<Tokens, OidcError> {
        let request = self
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| OidcError::Unavailable(format!("the provider has no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()));
        tokens(&request.request_async(http).await.map_err(token_error)?)
    }

    async fn refresh(&self, http: &reqwest::Client, refresh_token: &str) -> Result<Tokens, OidcError> {
        let token = openidconnect::RefreshToken::new(refresh_token.to_owned());
        let request = self
            .exchange_refresh_token(&token)
            .map_err(|e| OidcError::Unavailable(format!("the provider has no token endpoint: {e}")))?;
        tokens(&request.request_async(http).await.map_err(token_error)?)
    }

    fn verify(&self, id_token: &str, nonce: Option<&Nonce>) -> Result<String, OidcError> {
        let token: openidconnect::core::CoreIdToken =
            id_token.parse().map_err(|e| OidcError::BadToken(format!("not a JWT: {e}")))?;
        let verifier = self.id_token_verifier();
        let claims = match nonce {
            Some(nonce) => token.claims(&verifier, nonce),
            None => token.claims(&verifier, |_: Option<&Nonce>| Ok(())),
        }
        .map_err(|e| OidcError::BadToken(chain(&e)))?;
        Ok(claims.subject().as_str().to_owned())
    }
}

/// The claims of an ID token `verify` accepted (its middle part), to read the configured
/// username and groups claims, which the core claims type does not keep.
fn payload(id_token: &str) -> Result<serde_json::Map<String, serde_json::Value>, OidcError> {
    use base64::Engine;
    let middle = id_token.split('.').nth(1).ok_or_else(|| OidcError::BadToken("not a JWT".into()))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(middle)
        .map_err(|e| OidcError::BadToken(format!("claims not base64url: {e}")))?;
    serde_json::from_slice(&bytes).map_err(|e| OidcError::BadToken(format!("claims not JSON: {e}")))
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
