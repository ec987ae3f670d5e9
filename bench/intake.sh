#!/usr/bin/env bash
# Intake throughput, side by side, one load generator (wrk), same payloads, same concurrency:
#   selfheal (release build)            — stores every alert durably (group commit) before 2xx
#   adnanh/webhook (Debian `webhook`)   — stores nothing, runs /bin/true
#   Flask under gunicorn + SQLite       — one insert per alert, a commit per notification
# Prints a Markdown table (paste into docs/benchmarks.md). A benchmark, not a test: it never fails
# on a slow machine. Everything binds 127.0.0.1. Runs are interleaved (each repeat runs every
# receiver once, in turn), so a machine that slows down mid-run slows all of them alike.
#   bench/intake.sh [--smoke]             (--smoke: 2 s runs, one repeat)
#   bench/intake.sh --before REV [--smoke] selfheal at git revision REV against this tree
#                                         (before/after, same script, same machine)
#   bench/intake.sh --postgres [--smoke]  selfheal on SQLite against selfheal on PostgreSQL (a
#                                         throwaway cluster), with one replica and with two
#                                         sharing the load (issue 28)
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${DURATION:-10s}
repeats=${REPEATS:-3}
conns=${CONNS:-32}
before=""
postgres=""
while [ $# -gt 0 ]; do
    case "$1" in
        --smoke) duration=2s; repeats=1 ;;
        --before) before=$2; shift ;;
        --postgres) postgres=1 ;;
        *) echo "usage: bench/intake.sh [--smoke] [--before REV | --postgres]" >&2; exit 2 ;;
    esac
    shift
done

scripts/setup.sh
missing=()
for pkg in wrk webhook gunicorn python3-flask procps ${postgres:+postgresql}; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
work=$(mktemp -d)
pids=()
# The PostgreSQL cluster's folder: under /tmp itself, which its non-root owner can reach.
pgdir=""
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ -n "$pgdir" ]; then pg_cluster_stop "$pgdir"; rm -rf "$pgdir"; fi
    if [ -n "$before" ]; then git worktree remove --force "$work/before-tree" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

if [ -n "$before" ]; then
    # The earlier revision, built in a worktree with the same target dir (its dependencies are
    # shared; only the workspace's own crates build again), then put aside.
    # Cargo tells the two trees' `app` and `server` apart by file times only: the checkout is
    # newer than this tree's sources, so without a clean this tree's build reused the earlier
    # revision's crates (and a before/after run compared one build with itself). Each build
    # therefore starts with the workspace crates' release artifacts removed.
    repo=$PWD
    git worktree add --detach "$work/before-tree" "$before" >/dev/null
    cargo clean --release -p app -p server 2>/dev/null
    (cd "$work/before-tree" && CARGO_TARGET_DIR="$repo/target" cargo build --locked --release -p server 2>&1 | tail -1)
    cp target/release/selfheal "$work/selfheal-before"
    cargo clean --release -p app -p server 2>/dev/null
fi
cargo build --locked --release -p server 2>&1 | tail -1

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 1 200); do curl -s -o /dev/null "$1" && return 0; sleep 0.05; done; echo "no answer from $1" >&2; tail -5 "$work"/*.log >&2; exit 1; }

# start_selfheal NAME BINARY [DIR [DATABASE]]: serves on a free port with its own database (or
# DATABASE), from DIR (default here: its selfheal.toml and playbooks; a before build reads its
# own tree's, since a newer config can name keys an older build refuses); sets NAME_port, NAME_pid.
start_selfheal() {
    local name=$1 binary=$2 dir=${3:-.} database=${4:-$work/$1.db} port
    port=$(free_port)
    (cd "$dir" && SELFHEAL_LISTEN=127.0.0.1:$port SELFHEAL_DATABASE=$database SELFHEAL_ADMIN_PASSWORD=bench-harbor-quiet-92 \
    SELFHEAL_WEBHOOK_PASSWORD=bench RUST_LOG=warn exec "$binary" serve) >"$work/$name.log" 2>&1 &
    pids+=($!)
    printf -v "${name}_pid" '%s' "$!"
    printf -v "${name}_port" '%s' "$port"
    wait_http "http://127.0.0.1:$port/health"
}

if [ -n "$before" ]; then
    receivers=(before selfheal)
    start_selfheal before "$work/selfheal-before" "$work/before-tree"
    start_selfheal selfheal target/release/selfheal
    declare -A URL=([before]="http://127.0.0.1:$before_port/webhook" [selfheal]="http://127.0.0.1:$selfheal_port/webhook")
    declare -A PID=([before]=$before_pid [selfheal]=$selfheal_pid)
elif [ -n "$postgres" ]; then
    # pg1: one replica; pg2: two replicas on one database, each taking half the connections.
    # Their CPU counts PostgreSQL's too (the postmaster and its backends).
    source scripts/postgres.sh
    pgdir=$(mktemp -d /tmp/selfheal-bench-pg.XXXXXX)
    pg_port=$(free_port)
    pg_cluster_start "$pgdir" "$pg_port"
    pg_pid=$(head -n 1 "$pgdir/data/postmaster.pid")
    receivers=(sqlite pg1 pg2)
    start_selfheal sqlite target/release/selfheal
    start_selfheal pg1 target/release/selfheal . "$(pg_create_database "$pgdir" "$pg_port" bench1)"
    pg2_url=$(pg_create_database "$pgdir" "$pg_port" bench2)
    start_selfheal pg2a target/release/selfheal . "$pg2_url"
    start_selfheal pg2b target/release/selfheal . "$pg2_url"
    declare -A URL=([sqlite]="http://127.0.0.1:$sqlite_port/webhook" [pg1]="http://127.0.0.1:$pg1_port/webhook"
                    [pg2]="http://127.0.0.1:$pg2a_port/webhook,http://127.0.0.1:$pg2b_port/webhook")
    declare -A PID=([sqlite]=$sqlite_pid [pg1]="$pg1_pid,$pg_pid" [pg2]="$pg2a_pid,$pg2b_pid,$pg_pid")
else
    receivers=(selfheal webhook flask)
    start_selfheal selfheal target/release/selfheal

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
    declare -A URL=([selfheal]="http://127.0.0.1:$selfheal_port/webhook" [webhook]="http://127.0.0.1:$wh_port/hooks/alert"
                    [flask]="http://127.0.0.1:$fl_port/webhook")
    declare -A PID=([selfheal]=$selfheal_pid [webhook]=$wh_pid [flask]=$fl_pid)
fi

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

# once PIDS URLS ALERTS -> prints "rps p50_ms p99_ms errors receiver_cpu_us wrk_cpu_us" for one
# run: one wrk per URL (comma-separated; the connections shared among them) at once, their
# rates added, the slowest one's latencies; CPU per notification of the PIDS' process trees
# (comma-separated) and of the wrks
once() {
    local pids urls alerts=$3 before=0 after=0 p i n rps=0 p50=0 p99=0 errs="" wrk_cpu requests=0 out wpids=()
    IFS=, read -ra pids <<<"$1"
    IFS=, read -ra urls <<<"$2"
    n=${#urls[@]}
    for p in "${pids[@]}"; do before=$(( before + $(tree_ticks "$p") )); done
    for i in "${!urls[@]}"; do
        ( TIMEFORMAT='%U %S'; time SEED=$i ALERTS=$alerts AUTH=$auth wrk -t$(( 2 / n )) -c$(( conns / n )) -d"$duration" --latency \
            -s bench/wrk/alertmanager.lua "${urls[$i]}" >"$work/wrk.$i.out" ) 2>"$work/wrk.$i.time" &
        wpids+=($!)
    done
    wait "${wpids[@]}"
    for p in "${pids[@]}"; do after=$(( after + $(tree_ticks "$p") )); done
    wrk_cpu=$(cat "$work"/wrk.*.time | awk 'NF == 2 { s += $1 + $2 } END { print s }')
    for i in "${!urls[@]}"; do
        out=$(cat "$work/wrk.$i.out")
        rps=$(awk -v a="$rps" '/^Requests\/sec/ {print a + $2}' <<<"$out")
        p50=$(awk -v m="$p50" -v v="$(to_ms "$(awk '$1=="50%" {print $2}' <<<"$out")")" 'BEGIN {print (v > m ? v : m)}')
        p99=$(awk -v m="$p99" -v v="$(to_ms "$(awk '$1=="99%" {print $2}' <<<"$out")")" 'BEGIN {print (v > m ? v : m)}')
        errs+=$(awk '/Non-2xx/ {print $NF} /Socket errors/ {print "sock"}' <<<"$out" | paste -sd, -)
        requests=$(( requests + $(awk '/requests in/ {print $1}' <<<"$out") ))
    done
    rm -f "$work"/wrk.*.out "$work"/wrk.*.time
    echo "$rps $p50 $p99 ${errs:-0} $(per_request "$after/$tck" "$requests") $(per_request "$wrk_cpu" "$requests")"
}
# median LINES -> the line with the median rps
median() { sort -n | awk -v m=$(( (repeats + 1) / 2 )) 'NR==m'; }
# per_request CPU_SECONDS REQUESTS -> µs of CPU per request (CPU_SECONDS may be "ticks/hz")
per_request() { awk -v c="$1" -v n="$2" 'BEGIN { split(c, q, "/"); s = (q[2] ? q[1] / q[2] : q[1]); printf "%.1f", s * 1e6 / n }'; }
to_ms() { awk -v v="$1" 'BEGIN { n=v+0; if (v ~ /us$/) n/=1000; else if (v ~ /ms$/) n=n; else if (v ~ /s$/) n*=1000; printf "%.2f", n }'; }

declare -A R RUNS
for alerts in 1 100; do
    for _ in $(seq 1 "$repeats"); do
        for who in "${receivers[@]}"; do
            RUNS[$who,$alerts]+="$(once "${PID[$who]}" "${URL[$who]}" "$alerts")"$'\n'
        done
    done
    for who in "${receivers[@]}"; do
        R[$who,$alerts]=$(printf '%s' "${RUNS[$who,$alerts]}" | median)
    done
done

hwm() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
rows() { python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from alerts').fetchone()[0])" "$1"; }
machine="Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r); wrk -t2 -c$conns -d$duration, median of $repeats interleaved runs"

if [ -n "$before" ]; then
    echo
    echo "$machine"
    echo "before: $(git rev-parse --short "$before"); after: this tree ($(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo '+changes'))"
    echo
    echo "| build | alerts/notification | notifications/s | alerts/s | p50 ms | p99 ms | non-2xx | CPU µs/notif. | after/before |"
    echo "|---|---|---|---|---|---|---|---|---|"
    for alerts in 1 100; do
        read -r brps _ <<<"${R[before,$alerts]}"
        for who in before selfheal; do
            read -r rps p50 p99 errs cpu _ <<<"${R[$who,$alerts]}"
            awk -v who="$([ "$who" = before ] && echo before || echo after)" -v a="$alerts" -v rps="$rps" -v p50="$p50" \
                -v p99="$p99" -v e="$errs" -v cpu="$cpu" -v b="$brps" \
                'BEGIN { printf "| %s | %d | %.0f | %.0f | %s | %s | %s | %.0f | %.2f× |\n", who, a, rps, rps*a, p50, p99, e, cpu, rps/b }'
        done
    done
    echo
    echo "Peak RSS: before $(hwm "$before_pid") MB, after $(hwm "$selfheal_pid") MB. Alert rows stored: before $(rows "$work/before.db"), after $(rows "$work/selfheal.db")."
    exit 0
fi

if [ -n "$postgres" ]; then
    echo
    echo "$machine; PostgreSQL $(basename "$(dirname "$(pg_bin)")") on the same machine"
    echo
    echo "| backend | replicas | alerts/notification | notifications/s | alerts/s | p50 ms | p99 ms | non-2xx | CPU µs/notif. (selfheal + PostgreSQL) | vs SQLite |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    for alerts in 1 100; do
        read -r srps _ <<<"${R[sqlite,$alerts]}"
        for who in sqlite pg1 pg2; do
            read -r rps p50 p99 errs cpu _ <<<"${R[$who,$alerts]}"
            case $who in sqlite) label="SQLite | 1" ;; pg1) label="PostgreSQL | 1" ;; pg2) label="PostgreSQL | 2" ;; esac
            awk -v l="$label" -v a="$alerts" -v rps="$rps" -v p50="$p50" -v p99="$p99" -v e="$errs" -v cpu="$cpu" -v s="$srps" \
                'BEGIN { printf "| %s | %d | %.0f | %.0f | %s | %s | %s | %.0f | %.2f× |\n", l, a, rps, rps*a, p50, p99, e, cpu, rps/s }'
        done
    done
    pgrows() { pg_as_owner "$(pg_bin)/psql" -h "$pgdir" -p "$pg_port" -U selfheal -d "$1" -tAc 'SELECT count(*) FROM alerts'; }
    echo
    pgstat() { pg_as_owner "$(pg_bin)/psql" -h "$pgdir" -p "$pg_port" -U selfheal -d "$1" -tAc "SELECT $2 FROM pg_stat_database WHERE datname = '$1'"; }
    echo "Alert rows stored: SQLite $(rows "$work/sqlite.db"), PostgreSQL one replica $(pgrows bench1), two replicas $(pgrows bench2)."
    grep -A6 "deadlock detected" "$pgdir/server.log" | head -n 14 | sed 's/^/    /' || true
    echo "PostgreSQL: deadlocks broken $(pgstat bench1 deadlocks) (one replica), $(pgstat bench2 deadlocks) (two); transactions committed $(pgstat bench1 xact_commit), $(pgstat bench2 xact_commit); rolled back $(pgstat bench1 xact_rollback), $(pgstat bench2 xact_rollback)."
    exit 0
fi

echo
echo "$machine"
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
echo "selfheal stored $(rows "$work/selfheal.db") alert rows (every acknowledged alert, committed before its 2xx); peak RSS $(hwm "$selfheal_pid") MB."
