#!/usr/bin/env bash
# Installs what building (and, with `test`, testing) selfheal needs on Debian, as root.
# Idempotent: each step is skipped when its result is already there.
#   scripts/setup.sh          build tools only (modes combine: scripts/setup.sh stack release)
#   scripts/setup.sh release  also wasm-opt for release bundles
#   scripts/setup.sh stack    also the native demo stack's Debian packages (./start.sh)
#   scripts/setup.sh test     the stack's packages, headless Chromium + ChromeDriver for the
#                             browser tests, and the linters the config tests run
set -euo pipefail
cd "$(dirname "$0")/.."

# The Debian packages we need; build-essential/pkg-config for -sys crates, curl for health checks,
# brotli to precompress the web assets, python3 to list each page's parts (scripts/build.sh).
apt_packages=(build-essential pkg-config curl ca-certificates brotli python3)
# The native stack (scripts/stack.sh); iproute2 for the tests' network namespaces.
# mtail reads nginx's access log (request rate, errors by status class, response time).
stack_packages=(nginx prometheus prometheus-alertmanager prometheus-node-exporter
    prometheus-nginx-exporter prometheus-process-exporter prometheus-blackbox-exporter mtail
    ansible-core iproute2)
modes=" $* "
[[ $modes == *" stack "* || $modes == *" test "* ]] && apt_packages+=("${stack_packages[@]}")
# slapd and ldap-utils: a real LDAP directory for the sign-in tests (started by each test);
# postgresql: the server binaries for the PostgreSQL tests' throwaway clusters (the package's
# own cluster is created but, like every service installed here, not started).
[[ $modes == *" test "* ]] && apt_packages+=(chromium chromium-driver ansible-lint slapd ldap-utils postgresql)
# The native stack's ha profile (STACK_PROFILE=ha ./start.sh): its own PostgreSQL cluster.
[[ $modes == *" stack "* && ${STACK_PROFILE:-} == ha ]] && apt_packages+=(postgresql)

missing=()
for pkg in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "setup: installing ${missing[*]}"
    $sudo apt-get update -qq
    # Packages like nginx and the exporters start a system service on install (0.0.0.0:80 for
    # nginx); the stack runs its own copies on 127.0.0.1, so forbid that while installing.
    added_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\n# added by selfheal scripts/setup.sh while installing\nexit 101\n' |
            $sudo tee /usr/sbin/policy-rc.d >/dev/null
        $sudo chmod 755 /usr/sbin/policy-rc.d
        added_policy=1
    fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
    [ -z "$added_policy" ] || $sudo rm -f /usr/sbin/policy-rc.d
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

# The splitter that cuts the bundle into a part per page (scripts/build.sh), the version
# this tree was built and tested with (Leptos 0.8's wasm_split_helpers 0.2.3).
split_version=0.2.4
if ! cargo install --list | grep -qx "wasm_split_cli_support v$split_version:"; then
    echo "setup: installing wasm-split-cli $split_version"
    cargo install --locked wasm_split_cli_support --version "$split_version" --features build-binary
fi

# wasm-opt for release bundles: npm's binaryen (Debian's 108 produces a bundle that never hydrates).
if [[ $modes == *" release "* ]] && [ ! -x tools/node_modules/.bin/wasm-opt ]; then
    echo "setup: installing binaryen (wasm-opt) from npm into tools/"
    npm install --silent --no-audit --no-fund --prefix tools binaryen@132
fi

# The sign-in tests' OpenID Provider: the certified oidc-provider from npm, as locked.
if [[ $modes == *" test "* ]] && [ ! -d server/tests/op/node_modules/oidc-provider ]; then
    echo "setup: installing the tests' OpenID Provider (oidc-provider) from npm"
    npm ci --silent --no-audit --no-fund --prefix server/tests/op
fi
