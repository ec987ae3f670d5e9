//! The web assets' content-hashed names, as `scripts/build.sh` wrote them in the site's
//! `hash.txt` (`js: …`, `wasm: …`, `css: …`). Leptos reads the script and bundle names itself
//! (`hash_files`); the stylesheet's is read here.
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use leptos::config::LeptosOptions;

/// The stylesheet's URL: hashed when the site has a `hash.txt`, the plain name otherwise.
pub fn stylesheet_href(options: &LeptosOptions) -> String {
    let name = options.hash_files.then(|| css_hash(Path::new(options.hash_file.as_ref()))).flatten();
    match name {
        Some(hash) => format!("/{}/{}.{hash}.css", options.site_pkg_dir, options.output_name),
        None => format!("/{}/{}.css", options.site_pkg_dir, options.output_name),
    }
}

/// The `css:` line of `hash_file`, read once per path (a process serves one site; tests share one).
fn css_hash(hash_file: &Path) -> Option<String> {
    static READ: Mutex<Option<(PathBuf, Option<String>)>> = Mutex::new(None);
    let mut read = READ.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((path, hash)) = read.as_ref() {
        if path == hash_file {
            return hash.clone();
        }
    }
    let hash = std::fs::read_to_string(hash_file).ok().and_then(|text| parse_hash(&text, "css"));
    *read = Some((hash_file.to_path_buf(), hash.clone()));
    hash
}

/// The value of the `kind:` line of a `hash.txt`.
fn parse_hash(text: &str, kind: &str) -> Option<String> {
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim() == kind)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_its_line_and_a_missing_one_is_none() {
        let text = "js: 0123456789abcdef\nwasm: fedcba9876543210\ncss: 00112233aabbccdd\n";
        assert_eq!(parse_hash(text, "css").as_deref(), Some("00112233aabbccdd"));
        assert_eq!(parse_hash(text, "wasm").as_deref(), Some("fedcba9876543210"));
        assert_eq!(parse_hash("js: 1\n", "css"), None);
        assert_eq!(parse_hash("css:\n", "css"), None);
    }

    #[test]
    fn the_stylesheet_is_hashed_only_when_the_site_says() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hash.txt");
        std::fs::write(&file, "css: abc\n").unwrap();
        let hashed = LeptosOptions::builder()
            .output_name("selfheal")
            .hash_files(true)
            .hash_file(std::sync::Arc::from(file.to_string_lossy()))
            .build();
        assert_eq!(stylesheet_href(&hashed), "/pkg/selfheal.abc.css");
        let plain = LeptosOptions::builder().output_name("selfheal").build();
        assert_eq!(stylesheet_href(&plain), "/pkg/selfheal.css");
    }
}
