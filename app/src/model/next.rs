//! Back to where the visitor was going: a deep link opened while signed out goes through
//! `/login?next=…` and lands on the page asked for, never on another site.
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

/// `next` if it is a page of this site to return to after the login: a path starting with one
/// `/` (not `//host` or `/\host`, which browsers read as another site), without control
/// characters, and not the login page or the API.
pub fn return_path(next: &str) -> Option<&str> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(char::is_control)
        && !next.starts_with("/login")
        && !next.starts_with("/api/");
    ok.then_some(next)
}

/// The login page's URL for a visitor who asked for `path_and_query` (plain `/login` when
/// that is the overview or not a page to return to).
pub fn login_url(path_and_query: &str) -> String {
    match return_path(path_and_query).filter(|p| *p != "/") {
        Some(p) => format!("/login?next={}", utf8_percent_encode(p, NON_ALPHANUMERIC)),
        None => "/login".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pages_of_this_site_are_returned_to() {
        let cases = [
            ("/alerts/7", true),
            ("/runs?status=failed&from=2", true),
            ("/", true),
            ("//evil.example/x", false),
            ("/\\evil.example", false),
            ("https://evil.example/", false),
            ("alerts", false),
            ("", false),
            ("/login?next=/x", false),
            ("/api/logout", false),
            ("/alerts\n/x", false),
        ];
        for (next, ok) in cases {
            assert_eq!(return_path(next).is_some(), ok, "{next:?}");
        }
    }

    #[test]
    fn the_login_url_carries_the_page_encoded() {
        assert_eq!(login_url("/alerts/7"), "/login?next=%2Falerts%2F7");
        assert_eq!(login_url("/runs?status=failed&x=1"), "/login?next=%2Fruns%3Fstatus%3Dfailed%26x%3D1");
        assert_eq!(login_url("/"), "/login");
        assert_eq!(login_url("//evil.example"), "/login");
    }
}
