#!/usr/bin/env bash
# Installs what building (and, with `test`, testing) selfheal needs on Debian, as root.
# Idempotent: each step is skipped when its result is already there.
#   scripts/setup.sh          build tools only
#   scripts/setup.sh test     also headless Chromium + ChromeDriver for the browser tests
set -euo pipefail
cd "$(dirname "$0")/.."

# The Debian packages we need; build-essential/pkg-config for -sys crates, curl for health checks.
apt_packages=(build-essential pkg-config curl ca-certificates)
if [ "${1:-}" = "test" ]; then
    apt_packages+=(chromium chromium-driver prometheus prometheus-alertmanager ansible-core)
fi

missing=()
for pkg in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "setup: installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The browser bundle is compiled for wasm32.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    echo "setup: adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
fi

# wasm-bindgen-cli must be exactly the wasm-bindgen version in Cargo.lock.
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
if [ "$have" != "$want" ]; then
    echo "setup: installing wasm-bindgen-cli $want (found: ${have:-none})"
    # No --locked: its lock pins a webpki-roots release the registry mirror lacks.
    cargo install wasm-bindgen-cli --version "$want"
fi

# wasm-opt for release bundles: npm's binaryen (Debian's 108 produces a bundle that never hydrates).
if [ "${1:-}" = "release" ] && [ ! -x tools/node_modules/.bin/wasm-opt ]; then
    echo "setup: installing binaryen (wasm-opt) from npm into tools/"
    npm install --silent --no-audit --no-fund --prefix tools binaryen@132
fi
