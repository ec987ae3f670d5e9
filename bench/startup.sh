#!/usr/bin/env bash
# Sizes and start-up: the release binary and the wasm bundle (gzip too: what a browser fetches),
# and cold start to a healthy /health — a fresh database each time (migrations, the admin
# user's argon2 hash) and an existing one — median and p95 of RUNS starts. Prints Markdown.
#   bench/startup.sh            (builds the release binary and bundle first if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-20}
[ -x target/release/selfheal ] && [ -s target/site/hash.txt ] ||
    { scripts/setup.sh release && scripts/build.sh --release; }
# The content-hashed folder scripts/build.sh put the assets in.
pkg=target/site/pkg/$(sed -n 's/^pkg: //p' target/site/hash.txt)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# Seconds from exec to the first 200 from /health, for one start.
start_once() {
    local db=$1
    python3 - "$db" "$port" <<'PY'
import os, subprocess, sys, time, urllib.request
db, port = sys.argv[1], sys.argv[2]
env = {**os.environ, "SELFHEAL_LISTEN": f"127.0.0.1:{port}", "SELFHEAL_DATABASE": db,
       "SELFHEAL_ADMIN_PASSWORD": "bench-harbor-quiet-92", "SELFHEAL_WEBHOOK_PASSWORD": "bench", "RUST_LOG": "warn"}
t0 = time.perf_counter()
p = subprocess.Popen(["target/release/selfheal", "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
while True:
    try:
        if urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).status == 200:
            break
    except Exception:
        time.sleep(0.002)
print(f"{time.perf_counter() - t0:.4f}")
p.terminate(); p.wait()
PY
}

stats() { python3 -c 'import statistics,sys; v=sorted(map(float,sys.stdin.read().split())); print(f"{statistics.median(v)*1000:.0f} ms / {v[min(len(v)-1,int(round(0.95*(len(v)-1))))]*1000:.0f} ms")'; }

fresh=$(for i in $(seq 1 "$runs"); do start_once "$work/fresh-$i.db"; done | stats)
start_once "$work/existing.db" >/dev/null
existing=$(for i in $(seq 1 "$runs"); do start_once "$work/existing.db"; done | stats)

echo "| what | value |"
echo "|---|---|"
echo "| release binary | $(du -m target/release/selfheal | cut -f1) MB ($(stat -c %s target/release/selfheal) bytes) |"
total() { find "$pkg" -name "$1" -printf '%s\n' | awk '{ s += $1 } END { print s }'; }
largest=$(python3 scripts/wasm-pages.py sizes "$pkg" | sed -n 2p)
echo "| wasm bundle, main module | $(stat -c %s "$pkg/selfheal.wasm") bytes, $(stat -c %s "$pkg/selfheal.wasm.gz") gzip, $(stat -c %s "$pkg/selfheal.wasm.br") brotli |"
echo "| wasm bundle, the largest first visit (main module, page, shared chunks) | ${largest#wasm-pages: } |"
echo "| wasm bundle, every part | $(total '*.wasm') bytes, $(total '*.wasm.br') brotli |"
echo "| JS glue + loader + CSS | $(stat -c %s "$pkg/selfheal.js") + $(stat -c %s "$pkg/__wasm_split.______________________.js") + $(stat -c %s "$pkg/selfheal.css") bytes |"
echo "| cold start to /health 200, new database (median / p95, $runs starts) | $fresh |"
echo "| cold start to /health 200, existing database (median / p95) | $existing |"
