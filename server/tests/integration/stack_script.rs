//! `scripts/stack.sh`, which `./start.sh` uses in both modes, on its own (no stack started).
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use crate::common;

/// Regression: the first `stack.sh secret NAME` created the file but printed nothing (head cut
/// tr off, and under `pipefail` that ended the script), so a first `./start.sh` in compose mode
/// gave docker compose an empty admin password and failed.
#[test]
fn a_secret_is_printed_the_first_time_and_kept_private() {
    let dir = tempfile::tempdir().unwrap();
    let run = || {
        Command::new(common::process::repo().join("scripts/stack.sh"))
            .args(["secret", "admin-password"])
            .env("STACK_DIR", dir.path())
            .output()
            .unwrap()
    };
    let first = run();
    assert!(first.status.success(), "{first:?}");
    let secret = String::from_utf8(first.stdout).unwrap();
    assert_eq!(secret.len(), 20, "{secret:?}");
    assert!(secret.chars().all(|c| c.is_ascii_alphanumeric()), "{secret:?}");
    let again = run();
    assert_eq!(String::from_utf8(again.stdout).unwrap(), secret, "generated once, then kept");
    let mode = std::fs::metadata(dir.path().join("admin-password")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}
