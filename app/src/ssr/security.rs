//! The Content-Security-Policy of rendered pages: scripts only with this response's nonce
//! (leptos_axum generates one per render and puts it on the hydration scripts), wasm allowed to
//! compile, everything else from our own origin, never framed.
use http::header::{HeaderValue, CONTENT_SECURITY_POLICY};
use leptos::prelude::use_context;

/// The policy for a page rendered with `nonce`; forms may lead to `form_origin` too (the
/// OpenID Provider, where logging out continues).
pub fn page_policy(nonce: &str, form_origin: Option<&str>) -> String {
    let form_origin = form_origin.map(|o| format!(" {o}")).unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'nonce-{nonce}' 'strict-dynamic' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'{form_origin}; frame-ancestors 'none'"
    )
}

/// The policy for everything else (JSON, metrics, static files): nothing may run or embed it.
pub const DEFAULT_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

/// Sets the page policy on the response being rendered (called from the HTML shell).
pub fn set_page_policy() {
    let nonce = leptos::nonce::use_nonce();
    let response = use_context::<leptos_axum::ResponseOptions>();
    if let (Some(nonce), Some(response)) = (nonce, response) {
        let form_origin = use_context::<crate::ssr::AppState>()
            .and_then(|s| s.oidc.as_ref().and_then(|o| o.issuer_origin()));
        if let Ok(value) = HeaderValue::from_str(&page_policy(&nonce, form_origin.as_deref())) {
            response.insert_header(CONTENT_SECURITY_POLICY, value);
        }
    }
}
