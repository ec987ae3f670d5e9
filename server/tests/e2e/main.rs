//! The end-to-end tier: tests that need the machine provisioned by `scripts/setup.sh test` and
//! `scripts/compose-setup.sh` (a Docker engine, the native stack's Debian packages, network
//! namespaces, headless Chromium, promtool, amtool, ansible-lint). `./scripts/test.sh` runs them
//! (it sets `RUN_E2E=1`); a bare `cargo test` skips each one, saying so.
#[path = "../common/mod.rs"]
mod common;

mod browser;
mod compose_stack;
mod native_stack;
mod stack_configs;

/// Whether the end-to-end tier runs; when not, says which command runs it.
pub fn provisioned(test: &str) -> bool {
    let on = std::env::var_os("RUN_E2E").is_some_and(|v| v == "1");
    if !on {
        eprintln!("skipped {test}: an end-to-end test (needs the machine provisioned); run ./scripts/test.sh, or RUN_E2E=1 cargo test --test e2e");
    }
    on
}
