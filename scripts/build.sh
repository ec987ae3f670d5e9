#!/usr/bin/env bash
# Builds the `selfheal` binary and the web assets in target/site (what cargo-leptos does, step by
# step, with plain cargo and wasm-bindgen: nothing is downloaded).
#   scripts/build.sh            debug build (tests)
#   scripts/build.sh --release  optimised binary and wasm bundle (start.sh)
#   scripts/build.sh --site     the web assets only (test.sh: `cargo test` builds the binary with
#                               the dev-dependencies' features, so building it here too would
#                               compile app and server twice)
# SITE_DIR: where the web assets go (default target/site, what the demo stack serves; the tests
# build theirs into target/test-site so a running demo stack keeps its own).
set -euo pipefail
cd "$(dirname "$0")/.."

release=false
binary=true
case "${1:-}" in
    --release) release=true ;;
    --site) binary=false ;;
    "") ;;
    *) echo "usage: scripts/build.sh [--release|--site]" >&2; exit 2 ;;
esac

if $release; then
    cargo build --locked -p server --release
    cargo build --locked -p app --lib --target wasm32-unknown-unknown --features hydrate --profile wasm-release
    wasm=target/wasm32-unknown-unknown/wasm-release/app.wasm
else
    if $binary; then cargo build --locked -p server; fi
    cargo build --locked -p app --lib --target wasm32-unknown-unknown --features hydrate
    wasm=target/wasm32-unknown-unknown/debug/app.wasm
fi

site=${SITE_DIR:-target/site}
rm -rf "$site"
mkdir -p "$site/pkg"
cp -r public/. "$site/"
wasm-bindgen --target web --no-typescript --out-dir "$site/pkg" --out-name selfheal "$wasm"
mv "$site/pkg/selfheal_bg.wasm" "$site/pkg/selfheal.wasm"
cp style/main.css "$site/pkg/selfheal.css"

if $release; then
    export PATH="$PWD/tools/node_modules/.bin:$PATH"
    wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
        "$site/pkg/selfheal.wasm" -o "$site/pkg/selfheal.wasm"
fi
echo "build: $(du -h "$site/pkg/selfheal.wasm" | cut -f1) wasm bundle in $site/pkg"
