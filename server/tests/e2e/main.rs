//! The end-to-end tier: tests that need the machine provisioned by `scripts/setup.sh test` and
//! `scripts/compose-setup.sh` (a Docker engine, the native stack's Debian packages, network
//! namespaces, headless Chromium, promtool, amtool, ansible-lint). `./scripts/test.sh` runs them
//! (it sets `RUN_E2E=1`); a bare `cargo test` skips each one, saying so.
// The turn (`provisioned`) is a std mutex held across awaits on purpose: it serialises whole
// tests, each on its own runtime, and no task ever waits for it while holding another.
#![allow(clippy::await_holding_lock)]

#[path = "../common/mod.rs"]
mod common;

mod browser;
mod compose_stack;
mod native_stack;
mod stack_configs;
mod start_script;
mod systemd_host;

/// One end-to-end test at a time, as when each was a binary of its own: they start whole stacks,
/// browsers and CPU hogs, and measure heals against time on two cores.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The end-to-end tier's turn for `test` (held until dropped), or `None` when the tier does not
/// run, saying which command runs it.
pub fn provisioned(test: &str) -> Option<std::sync::MutexGuard<'static, ()>> {
    if std::env::var_os("RUN_E2E").is_none_or(|v| v != "1") {
        eprintln!("skipped {test}: an end-to-end test (needs the machine provisioned); run ./scripts/test.sh, or RUN_E2E=1 cargo test --test e2e");
        return None;
    }
    // A test that failed still hands the turn on.
    Some(ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
}
