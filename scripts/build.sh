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
cp style/main.css "$site/pkg/selfheal.css"

if $release; then
    export PATH="$PWD/tools/node_modules/.bin:$PATH"
    wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
        "$site/pkg/selfheal_bg.wasm" -o "$site/pkg/selfheal_bg.wasm"
fi

# Content-hashed names: the server sends them with `Cache-Control: immutable`, so a repeat
# visit fetches no wasm, and a new build's names differ, so it is fetched at once. hash.txt
# tells the server the names (Leptos' hash_files; selfheal points hash_file at this one).
hash_of() { sha256sum "$1" | cut -c1-16; }
js=$(hash_of "$site/pkg/selfheal.js")
wasm_hash=$(hash_of "$site/pkg/selfheal_bg.wasm")
css=$(hash_of "$site/pkg/selfheal.css")
mv "$site/pkg/selfheal.js" "$site/pkg/selfheal.$js.js"
mv "$site/pkg/selfheal_bg.wasm" "$site/pkg/selfheal.$wasm_hash.wasm"
mv "$site/pkg/selfheal.css" "$site/pkg/selfheal.$css.css"
printf 'js: %s\nwasm: %s\ncss: %s\n' "$js" "$wasm_hash" "$css" >"$site/hash.txt"

# Precompressed beside each asset (the server picks .br or .gz by Accept-Encoding). Release
# bundles get the best ratio; the tests' 11 MB debug bundle a quick one.
if $release; then br_level=11; gz_level=9; else br_level=4; gz_level=6; fi
for f in "$site/pkg/"selfheal.*; do
    brotli -f -k -q "$br_level" "$f"
    gzip -f -k "-$gz_level" "$f"
done

bundle="$site/pkg/selfheal.$wasm_hash.wasm"
raw=$(stat -c %s "$bundle")
gz=$(stat -c %s "$bundle.gz")
br=$(stat -c %s "$bundle.br")
echo "build: wasm bundle $raw bytes ($gz gzip, $br brotli) in $site/pkg"
# The budget holds for release bundles (what users download; a debug bundle is ten times it).
# Compressed: brotli, what every current browser is sent. Raw: 1.6 MB today (1,561,462 bytes
# in session 21, one JSON reader per type), against a goal of 1.2 MB that needs the bundle
# split by route (docs/benchmarks.md says what was tried).
if $release; then
    max_raw=${WASM_BUDGET_RAW:-1600000}
    max_br=${WASM_BUDGET_BROTLI:-450000}
    if [ "$raw" -gt "$max_raw" ] || [ "$br" -gt "$max_br" ]; then
        echo "build: the wasm bundle is over its budget ($max_raw bytes raw, $max_br brotli)" >&2
        exit 1
    fi
fi
