//! The web assets as `scripts/build.sh` lays them out (content-hashed names listed in
//! `hash.txt`, `.br` and `.gz` beside each): pages name the hashed files; the files go out
//! compressed as the browser accepts, cached for good; the favicon is asked again.
use axum::body::Body;
use axum::http::{header, Request, StatusCode};

use app::model::Role;

use crate::common::TestApp;

const WASM: &str = "selfheal.0123456789abcdef.wasm";

/// A site as the build script writes it, in `dir/site`.
fn site(dir: &std::path::Path) -> std::path::PathBuf {
    let site = dir.join("site");
    let pkg = site.join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(
        site.join("hash.txt"),
        "js: 1111111111111111\nwasm: 0123456789abcdef\ncss: 2222222222222222\n",
    )
    .unwrap();
    std::fs::write(site.join("favicon.svg"), "<svg/>").unwrap();
    std::fs::write(pkg.join("selfheal.1111111111111111.js"), "export default function(){}").unwrap();
    std::fs::write(pkg.join("selfheal.2222222222222222.css"), "body{}").unwrap();
    std::fs::write(pkg.join(WASM), b"\0asm raw").unwrap();
    std::fs::write(pkg.join(format!("{WASM}.br")), b"brotli bytes").unwrap();
    std::fs::write(pkg.join(format!("{WASM}.gz")), b"gzip bytes").unwrap();
    site
}

async fn fetch(
    app: &TestApp,
    path: &str,
    encodings: Option<&str>,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut req = Request::get(path);
    if let Some(e) = encodings {
        req = req.header(header::ACCEPT_ENCODING, e);
    }
    let res = app.send(req.body(Body::empty()).unwrap()).await;
    (res.status, res.headers, res.body)
}

#[tokio::test]
async fn pages_name_the_hashed_assets_which_go_out_compressed_and_cached_for_good() {
    let app = TestApp::with(|config, dir| config.site_root = site(dir)).await;
    app.add_user("vera", "viewer-password-1", Role::Viewer).await;
    let cookie = app.login("vera", "viewer-password-1").await;
    let page = app.get("/alerts", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    for name in [
        "/pkg/selfheal.1111111111111111.js",
        "/pkg/selfheal.0123456789abcdef.wasm",
        "/pkg/selfheal.2222222222222222.css",
    ] {
        assert!(
            page.body.contains(name),
            "the page names {name}: {}",
            &page.body[..page.body.len().min(1500)]
        );
    }

    let path = format!("/pkg/{WASM}");
    let (status, headers, body) = fetch(&app, &path, Some("gzip, deflate, br")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_ENCODING], "br");
    assert_eq!(body, "brotli bytes");
    assert_eq!(headers[header::CACHE_CONTROL], "public, max-age=31536000, immutable");
    assert_eq!(headers[header::VARY], "accept-encoding");

    let (_, headers, body) = fetch(&app, &path, Some("gzip")).await;
    assert_eq!((headers[header::CONTENT_ENCODING].to_str().unwrap(), body.as_str()), ("gzip", "gzip bytes"));
    let (_, headers, body) = fetch(&app, &path, None).await;
    assert!(headers.get(header::CONTENT_ENCODING).is_none());
    assert_eq!(body, "\0asm raw");

    let (status, headers, _) = fetch(&app, "/favicon.svg", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CACHE_CONTROL], "no-cache", "not hashed: asked again");
    let (status, headers, _) = fetch(&app, "/pkg/selfheal.9999999999999999.wasm", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        headers.get(header::CACHE_CONTROL).is_none_or(|v| v != "public, max-age=31536000, immutable"),
        "a miss is not cached for good"
    );
}
