//! Caching of the web assets. `scripts/build.sh` puts the bundle's parts, their scripts and the
//! stylesheet in a folder named by their content (`pkg/<16 hex>/`), so a browser may keep them
//! for good: a new build has a new folder. Anything else under the site (the favicon, an
//! unhashed dev build) is checked again on each use.
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
        let hashed =
            name.split_once('/').is_some_and(|(folder, file)| is_content_hash(folder) && !file.is_empty());
        return Some(if hashed { IMMUTABLE } else { REVALIDATE });
    }
    (path == "/favicon.svg").then_some(REVALIDATE)
}

/// 16 lowercase hex digits, as `scripts/build.sh` names the assets' folder.
pub fn is_content_hash(name: &str) -> bool {
    name.len() == 16 && name.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_content_hashed_assets_are_immutable() {
        let cases = [
            ("/pkg/0123456789abcdef/selfheal.wasm", Some(IMMUTABLE)),
            ("/pkg/0123456789abcdef/selfheal.js", Some(IMMUTABLE)),
            ("/pkg/0123456789abcdef/chunk_12.wasm", Some(IMMUTABLE)),
            ("/pkg/selfheal.wasm", Some(REVALIDATE)),
            ("/pkg/0123456789ABCDEF/selfheal.css", Some(REVALIDATE)),
            ("/pkg/0123456789abcde/selfheal.css", Some(REVALIDATE)),
            ("/pkg/0123456789abcdef/", Some(REVALIDATE)),
            ("/pkg/selfheal.0123456789abcdef.css", Some(REVALIDATE)),
            ("/favicon.svg", Some(REVALIDATE)),
            ("/alerts", None),
            ("/api/overview", None),
        ];
        for (path, want) in cases {
            assert_eq!(cache_policy(path), want, "{path}");
        }
    }
}
