//! The Content-Security-Policy of rendered pages: scripts only with this response's nonce
//! (leptos_axum generates one per render and puts it on the hydration scripts), wasm allowed to
//! compile, everything else from our own origin, never framed.
use http::header::{HeaderValue, CONTENT_SECURITY_POLICY};
use leptos::prelude::use_context;

/// The policy for a page rendered with `nonce`.
pub fn page_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'nonce-{nonce}' 'strict-dynamic' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// The policy for everything else (JSON, metrics, static files): nothing may run or embed it.
pub const DEFAULT_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

/// Sets the page policy on the response being rendered (called from the HTML shell).
pub fn set_page_policy() {
    let nonce = leptos::nonce::use_nonce();
    let response = use_context::<leptos_axum::ResponseOptions>();
    if let (Some(nonce), Some(response)) = (nonce, response) {
        if let Ok(value) = HeaderValue::from_str(&page_policy(&nonce)) {
            response.insert_header(CONTENT_SECURITY_POLICY, value);
        }
    }
}
