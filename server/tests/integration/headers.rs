//! Security headers on every response; pages carry a CSP whose nonce is the one on their own
//! hydration scripts (a script without it would not run), everything else a deny-all CSP.
use crate::common;

use axum::http::header;
use common::TestApp;

#[tokio::test]
async fn pages_allow_only_their_own_nonced_scripts_and_are_never_framed() {
    let app = TestApp::new().await;
    let page = app.get("/login", None).await;
    assert_eq!(page.status, 200);
    let csp = page.header(header::CONTENT_SECURITY_POLICY).expect("a CSP on the page").to_owned();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap_or_else(|| panic!("no nonce in {csp}"));
    assert!(nonce.len() >= 16, "{nonce}");
    assert!(page.body.contains(&format!("nonce=\"{nonce}\"")), "the hydration script carries the nonce");
    for directive in
        ["script-src 'nonce-", "'wasm-unsafe-eval'", "frame-ancestors 'none'", "object-src 'none'"]
    {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(page.header(header::X_FRAME_OPTIONS), Some("DENY"));
    assert_eq!(page.header(header::X_CONTENT_TYPE_OPTIONS), Some("nosniff"));
    assert_eq!(page.header(header::REFERRER_POLICY), Some("same-origin"));

    let again = app.get("/login", None).await;
    assert_ne!(again.header(header::CONTENT_SECURITY_POLICY), Some(csp.as_str()), "a new nonce per page");
}

#[tokio::test]
async fn other_responses_get_a_deny_all_policy() {
    let app = TestApp::new().await;
    for path in ["/health", "/metrics", "/no-such-page"] {
        let res = app.get(path, None).await;
        let csp = res.header(header::CONTENT_SECURITY_POLICY).unwrap_or_default();
        if path == "/no-such-page" {
            // Redirected to the login page: still covered by a policy.
            assert!(!csp.is_empty(), "{path}: no CSP");
            continue;
        }
        assert_eq!(csp, "default-src 'none'; frame-ancestors 'none'", "{path}");
        assert_eq!(res.header(header::X_CONTENT_TYPE_OPTIONS), Some("nosniff"), "{path}");
    }
}
