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

# The bundle is split at each page (its lazy route, app/src/pages/routes.rs): the main module
# (the shell, the router, the framework), one `split_*.wasm` per page and `chunk_*.wasm` files of
# code several pages share, with the loader `__wasm_split.js` that fetches them. wasm-bindgen
# then writes the main module's JavaScript; `--keep-lld-exports` keeps what the parts import.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
wasm-split-cli "$wasm" "$work" --target web --out-name selfheal
out="$work/out"
mkdir "$out"
wasm-bindgen --target web --no-typescript --keep-lld-exports --out-dir "$out" --out-name selfheal "$work/selfheal.wasm"
mv "$out/selfheal_bg.wasm" "$out/selfheal.wasm"
mv "$work"/split_*.wasm "$work"/chunk_*.wasm "$out/"
# Leptos names the loader `__wasm_split.<22 underscores>.js` when it preloads it (the name
# cargo-leptos gives it); the main module imports it by that name.
loader="__wasm_split.______________________.js"
mv "$work/__wasm_split.js" "$out/$loader"
sed -i 's#^\(import \* as import[0-9]* from "\./\)__wasm_split\.js"#\1'"$loader"'"#' "$out/selfheal.js"
grep -q "from \"./$loader\"" "$out/selfheal.js" || { echo "build: the main module does not import $loader" >&2; exit 1; }
LOADER=$loader python3 scripts/wasm-pages.py manifest "$out"
cp style/main.css "$out/selfheal.css"

if $release; then
    export PATH="$PWD/tools/node_modules/.bin:$PATH"
    # The splitter writes a names subsection wasm-opt does not know (it drops it, with a warning
    # per part: 180 lines of noise, kept out of the log; any other message shows).
    find "$out" -name '*.wasm' -print0 | xargs -0 -P "$(nproc)" -I{} sh -c '
        log=$(wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-mutable-globals "$1" -o "$1" 2>&1) || { echo "$log" >&2; exit 1; }
        printf "%s\n" "$log" | grep -v "^warning: unknown name subsection" | grep . >&2 || true' sh {}
fi

# One content hash names the folder of the whole set (the parts name each other, so a hash per
# file would go round in a circle): the server sends everything under it with
# `Cache-Control: immutable`, so a repeat visit fetches no wasm, and a new build's folder
# differs, so it is fetched at once. hash.txt tells the server the folder's name.
build=$(cd "$out" && find . -type f | LC_ALL=C sort | while read -r f; do echo "$f"; cat "$f"; done | sha256sum | cut -c1-16)
mv "$out" "$site/pkg/$build"
printf 'pkg: %s\n' "$build" >"$site/hash.txt"
pkg="$site/pkg/$build"

# Precompressed beside each asset (the server picks .br or .gz by Accept-Encoding). Release
# bundles get the best ratio; the tests' debug bundle a quick one.
if $release; then br_level=11; gz_level=9; else br_level=4; gz_level=6; fi
find "$pkg" -type f \( -name '*.wasm' -o -name '*.js' -o -name '*.css' \) -print0 |
    xargs -0 -P "$(nproc)" -n 16 sh -c 'for f; do brotli -f -k -q '"$br_level"' "$f" && gzip -f -k -'"$gz_level"' "$f"; done' sh

raw=$(find "$pkg" -name '*.wasm' -printf '%s\n' | awk '{ s += $1 } END { print s }')
br=$(find "$pkg" -name '*.wasm.br' -printf '%s\n' | awk '{ s += $1 } END { print s }')
echo "build: wasm bundle $raw bytes ($br brotli) in $(find "$pkg" -name '*.wasm' | wc -l) parts in $pkg"
# The budget holds for what a first visit to any page fetches of a release bundle: the main
# module, the page's split and the chunks it needs (a debug bundle is ten times it). Brotli is
# what every current browser is sent.
if $release; then
    MAX_RAW=${WASM_BUDGET_RAW:-1200000} MAX_BROTLI=${WASM_BUDGET_BROTLI:-450000} python3 scripts/wasm-pages.py sizes "$pkg"
else
    python3 scripts/wasm-pages.py sizes "$pkg" | sed -n 1p
fi
