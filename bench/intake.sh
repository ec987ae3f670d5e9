#!/usr/bin/env bash
# Intake throughput, side by side, one load generator (wrk), same payloads, same concurrency:
#   selfheal (release build)            — stores every alert durably (group commit) before 2xx
#   adnanh/webhook (Debian `webhook`)   — stores nothing, runs /bin/true
#   Flask under gunicorn + SQLite       — one insert per alert, a commit per notification
# Prints a Markdown table (paste into docs/benchmarks.md). A benchmark, not a test: it never fails
# on a slow machine. Everything binds 127.0.0.1.
#   bench/intake.sh [--smoke]     (--smoke: 2 s runs, one repeat)
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${DURATION:-10s}
repeats=${REPEATS:-3}
conns=${CONNS:-32}
if [ "${1:-}" = "--smoke" ]; then duration=2s; repeats=1; fi

scripts/setup.sh
missing=()
for pkg in wrk webhook gunicorn python3-flask procps; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
cargo build --locked --release -p server 2>&1 | tail -1

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 1 200); do curl -s -o /dev/null "$1" && return 0; sleep 0.05; done; echo "no answer from $1" >&2; exit 1; }

# selfheal
sh_port=$(free_port)
SELFHEAL_LISTEN=127.0.0.1:$sh_port SELFHEAL_DATABASE=$work/selfheal.db SELFHEAL_ADMIN_PASSWORD=bench-harbor-quiet-92 \
SELFHEAL_WEBHOOK_PASSWORD=bench RUST_LOG=warn target/release/selfheal serve >"$work/selfheal.log" 2>&1 &
pids+=($!); sh_pid=$!
wait_http "http://127.0.0.1:$sh_port/health"

# adnanh/webhook
wh_port=$(free_port)
webhook -hooks bench/peers/hooks.json -ip 127.0.0.1 -port "$wh_port" >"$work/webhook.log" 2>&1 &
pids+=($!); wh_pid=$!
wait_http "http://127.0.0.1:$wh_port/hooks/alert"

# Flask + gunicorn (workers = 2 x cores + 1, gunicorn's own advice)
fl_port=$(free_port)
workers=$(( 2 * $(nproc) + 1 ))
FLASK_DB=$work/flask.db gunicorn --chdir bench/peers -w "$workers" -b "127.0.0.1:$fl_port" --log-level warning \
    flask_receiver:app >"$work/flask.log" 2>&1 &
pids+=($!); fl_pid=$!
wait_http "http://127.0.0.1:$fl_port/webhook"

auth="Basic $(printf 'alertmanager:bench' | base64)"

# CPU time (clock ticks) used so far by a process and its descendants, including reaped
# children (webhook's /bin/true): utime + stime + cutime + cstime of each.
tree_ticks() {
    local total child
    total=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$1/stat" 2>/dev/null || echo 0)
    for child in $(pgrep -P "$1" || true); do
        total=$(( total + $(tree_ticks "$child") ))
    done
    echo "$total"
}
tck=$(getconf CLK_TCK)

# run PID URL ALERTS -> prints "rps p50_ms p99_ms errors receiver_cpu_us wrk_cpu_us" (the run
# with the median rps; CPU per notification, of the receiver's process tree and of wrk)
run() {
    local pid=$1 url=$2 alerts=$3 out results=()
    for _ in $(seq 1 "$repeats"); do
        local before after rps p50 p99 errs wrk_cpu requests
        before=$(tree_ticks "$pid")
        out=$( { TIMEFORMAT='%U %S'; time ALERTS=$alerts AUTH=$auth wrk -t2 -c"$conns" -d"$duration" --latency \
            -s bench/wrk/alertmanager.lua "$url"; } 2>"$work/wrk.time")
        after=$(tree_ticks "$pid")
        wrk_cpu=$(tail -n 1 "$work/wrk.time" | awk '{ print $1 + $2 }')
        rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
        p50=$(awk '$1=="50%" {print $2}' <<<"$out")
        p99=$(awk '$1=="99%" {print $2}' <<<"$out")
        errs=$(awk '/Non-2xx/ {print $NF} /Socket errors/ {print "sock"}' <<<"$out" | paste -sd, -)
        requests=$(awk '/requests in/ {print $1}' <<<"$out")
        results+=("$rps $(to_ms "$p50") $(to_ms "$p99") ${errs:-0} $(per_request "$(( after - before ))/$tck" "$requests") $(per_request "$wrk_cpu" "$requests")")
    done
    printf '%s\n' "${results[@]}" | sort -n | awk -v m=$(( (repeats + 1) / 2 )) 'NR==m'
}
# per_request CPU_SECONDS REQUESTS -> µs of CPU per request (CPU_SECONDS may be "ticks/hz")
per_request() { awk -v c="$1" -v n="$2" 'BEGIN { split(c, q, "/"); s = (q[2] ? q[1] / q[2] : q[1]); printf "%.1f", s * 1e6 / n }'; }
to_ms() { awk -v v="$1" 'BEGIN { n=v+0; if (v ~ /us$/) n/=1000; else if (v ~ /ms$/) n=n; else if (v ~ /s$/) n*=1000; printf "%.2f", n }'; }

declare -A R
for alerts in 1 100; do
    R[selfheal,$alerts]=$(run "$sh_pid" "http://127.0.0.1:$sh_port/webhook" "$alerts")
    R[webhook,$alerts]=$(run "$wh_pid" "http://127.0.0.1:$wh_port/hooks/alert" "$alerts")
    R[flask,$alerts]=$(run "$fl_pid" "http://127.0.0.1:$fl_port/webhook" "$alerts")
done

stored=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from alerts').fetchone()[0])" "$work/selfheal.db")
rss=$(awk '/VmHWM/ {print $2/1024 " MB"}' "/proc/$sh_pid/status")

echo
echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r); wrk -t2 -c$conns -d$duration, median of $repeats runs"
echo
echo "| receiver | alerts/notification | notifications/s | alerts/s | p50 ms | p99 ms | non-2xx | alerts/s vs Flask | vs webhook | CPU µs/notif. | wrk µs/notif. | ceiling notif/s |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for alerts in 1 100; do
    read -r frps _ <<<"${R[flask,$alerts]}"
    read -r wrps _ <<<"${R[webhook,$alerts]}"
    for who in selfheal webhook flask; do
        read -r rps p50 p99 errs cpu wcpu <<<"${R[$who,$alerts]}"
        awk -v who="$who" -v a="$alerts" -v rps="$rps" -v p50="$p50" -v p99="$p99" -v e="$errs" -v f="$frps" -v w="$wrps" \
            -v cpu="$cpu" -v wcpu="$wcpu" -v cores="$(nproc)" \
            'BEGIN { printf "| %s | %d | %.0f | %.0f | %s | %s | %s | %.1f× | %.1f× | %.0f | %.0f | %.0f |\n",
                     who, a, rps, rps*a, p50, p99, e, rps/f, rps/w, cpu, wcpu, cores * 1e6 / (cpu + wcpu) }'
    done
done
echo
echo "CPU µs/notif.: CPU time of the receiver's processes (all threads and children) per notification;"
echo "wrk's likewise. Ceiling: what $(nproc) cores allow at those costs if every core were busy all the time"
echo "(cores / (receiver + wrk CPU per notification)); a target above it cannot be met on this machine."
echo
echo "selfheal stored $stored alert rows (every acknowledged alert, committed before its 2xx); peak RSS $rss."
