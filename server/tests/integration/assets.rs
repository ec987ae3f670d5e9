//! The web assets as `scripts/build.sh` lays them out (a folder named by their content hash,
//! which `hash.txt` names, `.br` and `.gz` beside each file): pages name the files in it; the
//! files go out compressed as the browser accepts, cached for good; the favicon is asked again.
use axum::body::Body;
use axum::http::{header, Request, StatusCode};

use app::model::Role;

use crate::common::TestApp;

const PKG: &str = "/pkg/0123456789abcdef";

/// A site as the build script writes it, in `dir/site`.
fn site(dir: &std::path::Path) -> std::path::PathBuf {
    let site = dir.join("site");
    let pkg = site.join("pkg/0123456789abcdef");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(site.join("hash.txt"), "pkg: 0123456789abcdef\n").unwrap();
    std::fs::write(site.join("favicon.svg"), "<svg/>").unwrap();
    std::fs::write(pkg.join("selfheal.js"), "export default function(){}").unwrap();
    std::fs::write(pkg.join("selfheal.css"), "body{}").unwrap();
    std::fs::write(pkg.join("selfheal.wasm"), b"\0asm raw").unwrap();
    std::fs::write(pkg.join("selfheal.wasm.br"), b"brotli bytes").unwrap();
    std::fs::write(pkg.join("selfheal.wasm.gz"), b"gzip bytes").unwrap();
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
    for name in [format!("{PKG}/selfheal.js"), format!("{PKG}/selfheal.wasm"), format!("{PKG}/selfheal.css")]
    {
        assert!(
            page.body.contains(&name),
            "the page names {name}: {}",
            &page.body[..page.body.len().min(1500)]
        );
    }

    let path = format!("{PKG}/selfheal.wasm");
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
    let (status, headers, _) = fetch(&app, "/pkg/9999999999999999/selfheal.wasm", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        headers.get(header::CACHE_CONTROL).is_none_or(|v| v != "public, max-age=31536000, immutable"),
        "a miss is not cached for good"
    );
}
