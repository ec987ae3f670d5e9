#!/usr/bin/env bash
# The dashboard at scale: seed 1,000,000 alerts, 100,000 runs and 10,000,000 output lines
# (`selfheal dev seed`), start the release server on it, and time what the pages ask for —
# REQUESTS sequential requests each over loopback (curl's time_total: server time plus a
# loopback round trip) — then report p50/p95 and the server's peak RSS. Prints Markdown.
#   bench/dashboard.sh            ALERTS=... RUNS=... LINES=... REQUESTS=... to change sizes
#   bench/dashboard.sh --postgres the same on PostgreSQL (a throwaway cluster, scripts/postgres.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
postgres=""
case "${1:-}" in
--postgres) postgres=1 ;;
"") ;;
*) echo "usage: bench/dashboard.sh [--postgres]" >&2; exit 2 ;;
esac
alerts=${ALERTS:-1000000}
runs=${RUNS:-100000}
lines=${LINES:-100}
requests=${REQUESTS:-50}

scripts/setup.sh release >/dev/null
[ -s target/site/hash.txt ] || scripts/build.sh --release
cargo build --locked --release -p server 2>&1 | tail -1
work=$(mktemp -d)
pid=""
pgdir=""
cleanup() {
    [ -z "$pid" ] || kill "$pid" 2>/dev/null || true
    if [ -n "$pgdir" ]; then pg_cluster_stop "$pgdir"; rm -rf "$pgdir"; fi
    rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export SELFHEAL_DATABASE=$work/selfheal.db SELFHEAL_ADMIN_PASSWORD=bench-harbor-quiet-92 SELFHEAL_WEBHOOK_PASSWORD=bench
if [ -n "$postgres" ]; then
    dpkg-query -W -f='${Status}' postgresql 2>/dev/null | grep -q "install ok installed" \
        || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    source scripts/postgres.sh
    # Under /tmp itself, which the cluster's non-root owner can reach.
    pgdir=$(mktemp -d /tmp/selfheal-bench-pg.XXXXXX)
    pg_port=$(free_port)
    pg_cluster_start "$pgdir" "$pg_port"
    SELFHEAL_DATABASE=$(pg_create_database "$pgdir" "$pg_port" dashboard)
fi
port=$(free_port)
export SELFHEAL_LISTEN=127.0.0.1:$port

seed_started=$(date +%s.%N)
target/release/selfheal dev seed --alerts "$alerts" --runs "$runs" --lines-per-run "$lines"
seed_secs=$(echo "$(date +%s.%N) - $seed_started" | bc)
RUST_LOG=warn target/release/selfheal serve >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do curl -fsS -o /dev/null "http://127.0.0.1:$port/health" 2>/dev/null && break; sleep 0.1; done
jar=$work/jar
curl -fsS -c "$jar" -o /dev/null -d username=admin -d password=bench-harbor-quiet-92 "http://127.0.0.1:$port/api/login"

mid_alert=$((alerts / 2))
mid_run=$((runs / 2))
# A day ten days back, and three days (about 100,000 of the seed's alerts) for the export.
day_from=$(date -u -d '10 days ago' +%Y-%m-%dT%H:%M)
day_to=$(date -u -d '9 days ago' +%Y-%m-%dT%H:%M)
export_from=$(date -u -d '20 days ago' +%Y-%m-%dT%H:%M)
export_to=$(date -u -d '17 days ago' +%Y-%m-%dT%H:%M)
# name | method | path | form body
cases=(
    "overview|POST|/api/overview|"
    "alerts, first page|POST|/api/alerts|"
    "alerts, first page by arrival|POST|/api/alerts|filter[sort]=received"
    "alerts, status + alertname filter|POST|/api/alerts|filter[status]=firing&filter[alertname]=NginxDown"
    "alerts, page in the middle (keyset)|POST|/api/alerts|filter[before]=$mid_alert"
    "runs, first page|POST|/api/runs|"
    "alert detail (timeline)|POST|/api/alert|id=$mid_alert"
    "alert page (server-rendered HTML)|GET|/alerts/$mid_alert|"
    "run detail|POST|/api/run|id=$mid_run"
    "run output (first lines)|POST|/api/run_output|id=$mid_run&after=0"
    "alerts page (server-rendered HTML)|GET|/alerts|"
    "alerts, severity filter|POST|/api/alerts|filter[severity]=critical"
    "alerts, instance filter (1 in 40)|POST|/api/alerts|filter[instance]=web7:9113"
    "alerts, name + instance + severity matching nothing (whole scan window)|POST|/api/alerts|filter[alertname]=HostDown&filter[instance]=web7:9113&filter[severity]=critical"
    "alerts, free text in a label value|POST|/api/alerts|filter[q]=web7:"
    "alerts, free text matching nothing (whole history, full-text index)|POST|/api/alerts|filter[q]=no-such-text"
    "alerts, free text matching nothing, by arrival|POST|/api/alerts|filter[q]=no-such-text&filter[sort]=received"
    "alerts, last 24 h|POST|/api/alerts|filter[since]=24h"
    "alerts, last 7 days + instance|POST|/api/alerts|filter[since]=7d&filter[instance]=web7:9113"
    "alerts, one day 10 days ago|POST|/api/alerts|filter[from]=$day_from&filter[to]=$day_to"
    "alerts page, filtered (server-rendered HTML)|GET|/alerts?severity=critical&q=web7|"
    "runs, status + trigger filter|POST|/api/runs|filter[status]=failed&filter[trigger]=engine"
)
echo
echo "| request | p50 ms | p95 ms |"
echo "|---|---|---|"
for case in "${cases[@]}"; do
    IFS='|' read -r name method path body <<<"$case"
    times=()
    for _ in $(seq 1 "$requests"); do
        if [ "$method" = POST ]; then
            t=$(curl -fsS -b "$jar" -o /dev/null -w '%{time_total}' -H 'Accept: application/json' \
                --data "$body" "http://127.0.0.1:$port$path")
        else
            t=$(curl -fsS -b "$jar" -o /dev/null -w '%{time_total}' "http://127.0.0.1:$port$path")
        fi
        times+=("$t")
    done
    printf '%s\n' "${times[@]}" | python3 -c "
import sys
v = sorted(float(x) * 1000 for x in sys.stdin.read().split())
p = lambda q: v[min(len(v) - 1, round(q * (len(v) - 1)))]
print(f'| $name | {p(0.5):.1f} | {p(0.95):.1f} |')"
done
# The export of about 100,000 alerts (three days of the seed), a few times: time and rows.
for kind in csv jsonl; do
    for _ in 1 2 3; do
        out=$(curl -fsS -b "$jar" -o "$work/export.$kind" -w '%{time_total} %{size_download}' \
            "http://127.0.0.1:$port/api/export/alerts.$kind?from=$export_from&to=$export_to")
        echo "| export alerts.$kind, $(wc -l <"$work/export.$kind") lines, ${out#* } bytes | ${out% *} s |"
    done
done
echo
if [ -n "$postgres" ]; then
    size="PostgreSQL $(basename "$(dirname "$(pg_bin)")"), database $(pg_as_owner "$(pg_bin)/psql" -h "$pgdir" -p "$pg_port" \
        -U selfheal -d dashboard -tAc "SELECT pg_database_size('dashboard') / 1048576") MB"
else
    size="database $(du -m "$work/selfheal.db" | cut -f1) MB"
fi
echo "seeded $alerts alerts, $runs runs, $((runs * lines)) output lines in ${seed_secs}s;" \
     "$size; server peak RSS $(awk '/VmHWM/ { print int($2 / 1024) }' /proc/$pid/status) MB"
