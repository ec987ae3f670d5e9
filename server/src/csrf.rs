//! Cross-site request refusal for the server functions (`POST /api/...`): a browser on another
//! site must not be able to make a logged-in user's browser act. Session cookies are already
//! SameSite=Lax; this is the second lock, checked on the server for every state change.
use axum::extract::Request;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Refuses a POST to `/api/` that a browser marks as coming from another site
/// (`Sec-Fetch-Site: cross-site|same-site`) or whose `Origin` is not this host. Requests
/// without either header (curl, scripts) carry no ambient browser credentials and pass.
pub async fn refuse_cross_site(req: Request, next: Next) -> Response {
    if req.method() == Method::POST && req.uri().path().starts_with("/api/") && is_cross_site(req.headers()) {
        tracing::warn!(path = req.uri().path(), "cross-site request refused");
        return (StatusCode::FORBIDDEN, "cross-site request refused\n").into_response();
    }
    next.run(req).await
}

fn is_cross_site(headers: &HeaderMap) -> bool {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site") {
        if site != "same-origin" && site != "none" {
            return true;
        }
    }
    match (text(header::ORIGIN.as_str()), text(header::HOST.as_str())) {
        (None, _) => false,
        (Some(origin), Some(host)) => {
            // Origin is scheme://host[:port]; it must name the host the request was sent to.
            origin.split_once("://").map(|(_, rest)| rest) != Some(host)
        }
        (Some(_), None) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn same_origin_and_non_browser_requests_pass_others_do_not() {
        type Headers = &'static [(&'static str, &'static str)];
        let cases: &[(&str, Headers, bool)] = &[
            ("curl: no Origin, no Sec-Fetch-Site", &[("host", "127.0.0.1:5000")], false),
            ("same origin", &[("host", "127.0.0.1:5000"), ("origin", "http://127.0.0.1:5000")], false),
            ("fetch metadata same-origin", &[("host", "a"), ("sec-fetch-site", "same-origin")], false),
            ("another site's form", &[("host", "127.0.0.1:5000"), ("origin", "https://evil.example")], true),
            ("another port", &[("host", "127.0.0.1:5000"), ("origin", "http://127.0.0.1:8080")], true),
            ("opaque origin", &[("host", "127.0.0.1:5000"), ("origin", "null")], true),
            ("fetch metadata cross-site", &[("host", "a"), ("sec-fetch-site", "cross-site")], true),
            ("fetch metadata same-site", &[("host", "a"), ("sec-fetch-site", "same-site")], true),
        ];
        for (name, pairs, cross) in cases {
            assert_eq!(is_cross_site(&headers(pairs)), *cross, "{name}");
        }
    }
}
