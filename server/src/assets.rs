//! Caching of the web assets. `scripts/build.sh` names the bundle, its script and the
//! stylesheet by their content (`selfheal.<16 hex>.wasm`), so a browser may keep them for good:
//! a new build has new names. Anything else under the site (the favicon, an unhashed dev
//! build) is checked again on each use.
use axum::extract::Request;
use axum::http::header::{self, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// For content-hashed assets: a year, never revalidated.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// For the other static files: cached, but asked again (a 304 when unchanged).
const REVALIDATE: &str = "no-cache";

/// Sets `Cache-Control` on successful static-asset responses.
pub async fn cache_static(req: Request, next: Next) -> Response {
    let policy = cache_policy(req.uri().path());
    let mut response = next.run(req).await;
    if let Some(policy) = policy {
        if response.status().is_success() || response.status() == axum::http::StatusCode::NOT_MODIFIED {
            let headers = response.headers_mut();
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
            // The same URL is sent as brotli, gzip or plain: a shared cache must tell them apart.
            headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        }
    }
    response
}

/// The policy for a path, if it is a static asset.
fn cache_policy(path: &str) -> Option<&'static str> {
    if let Some(name) = path.strip_prefix("/pkg/") {
        return Some(if is_hashed(name) { IMMUTABLE } else { REVALIDATE });
    }
    (path == "/favicon.svg").then_some(REVALIDATE)
}

/// `selfheal.<16 lowercase hex>.<ext>`, as `scripts/build.sh` names them.
fn is_hashed(name: &str) -> bool {
    let mut parts = name.split('.');
    let (Some(_stem), Some(hash), Some(_ext), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_content_hashed_assets_are_immutable() {
        let cases = [
            ("/pkg/selfheal.0123456789abcdef.wasm", Some(IMMUTABLE)),
            ("/pkg/selfheal.0123456789abcdef.js", Some(IMMUTABLE)),
            ("/pkg/selfheal.wasm", Some(REVALIDATE)),
            ("/pkg/selfheal.0123456789ABCDEF.css", Some(REVALIDATE)),
            ("/pkg/selfheal.0123456789abcde.css", Some(REVALIDATE)),
            ("/pkg/a.0123456789abcdef.css.map", Some(REVALIDATE)),
            ("/favicon.svg", Some(REVALIDATE)),
            ("/alerts", None),
            ("/api/overview", None),
        ];
        for (path, want) in cases {
            assert_eq!(cache_policy(path), want, "{path}");
        }
    }
}
