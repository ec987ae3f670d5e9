#!/usr/bin/env bash
# Runs every test: installs what is missing, builds the site, then unit, integration and
# headless-browser tests. Idempotent; `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

start=$(date +%s)
# A clean CI machine gains nothing from incremental state: it only costs disk (2.2 GB) and time.
if [ -n "${CI:-}" ]; then export CARGO_INCREMENTAL=0; fi
scripts/setup.sh test
cargo fmt --all -- --check
# The tests' web assets, apart from target/site (a running demo stack serves that one).
SITE_DIR=target/test-site scripts/build.sh --site
cargo clippy --locked --workspace --all-targets -- -D warnings
cargo clippy --locked -p app --features hydrate --target wasm32-unknown-unknown -- -D warnings
# RUN_E2E=1: the end-to-end tier too (a bare `cargo test` skips it, saying so).
RUN_E2E=1 cargo test --locked --workspace --no-fail-fast
echo "test.sh: everything passed in $(( $(date +%s) - start )) s"
