#!/usr/bin/env bash
# The native demo stack: nginx (the demo service), its exporters, Prometheus, Alertmanager and
# selfheal, each a background process on 127.0.0.1 with its state under one folder.
#   scripts/stack.sh up        start what is not running (harmless when all is up)
#   scripts/stack.sh down      stop everything, selfheal first so no heal starts meanwhile
#   scripts/stack.sh status    one line per component; exit 3 when something is down
#   scripts/stack.sh secret N  print the generated secret N (admin-password, webhook-password)
#   scripts/stack.sh exec CMD [ARG...]
#                              start CMD in the background as part of the demo nginx, the native
#                              counterpart of `docker exec <nginx container> CMD` (see
#                              scripts/service-exec.py): `scripts/stack.sh exec sh -c "yes > /dev/null &"`
# Environment:
#   STACK_DIR      state folder (default .selfheal): logs/, run/ (pids), nginx/,
#                  prometheus/, alertmanager/, selfheal.db, the generated passwords
#   STACK_BIN      the selfheal binary (default target/release/selfheal)
#   STACK_CONFIG   selfheal's config (default selfheal.toml)
#   STACK_PROMETHEUS_CONFIG  Prometheus' config (default prometheus/prometheus.yml)
#   STACK_PROFILE  ha: two selfheal replicas (127.0.0.1:5000 and :5001) on a PostgreSQL cluster
#                  of their own (postgres/, owned by the non-root postgres user, 127.0.0.1:5434,
#                  a generated password), two Alertmanagers gossiping (9093 and 9094), Prometheus
#                  sending to both (docs/ha.md). STACK_DIR must then be reachable by that user.
#   STACK_CPU_THRESHOLD, STACK_MEMORY_THRESHOLD  replace the ratios of prometheus/thresholds.yml
#                  (0.9 of nginx's CPU budget, 0.8 of the memory it may use: here the host's),
#                  e.g. STACK_MEMORY_THRESHOLD=0.3 to see NginxHighMemory without filling the host
# Expects the Debian packages (scripts/setup.sh stack) and a built selfheal (scripts/build.sh).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

dir=${STACK_DIR:-$repo/.selfheal}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
bin=${STACK_BIN:-$repo/target/release/selfheal}
config=${STACK_CONFIG:-$repo/selfheal.toml}

# Name, then the URL that answers when the component is ready, in start order.
components=(nginx nginx-exporter nginx-log-exporter node-exporter process-exporter blackbox-exporter selfheal alertmanager prometheus)
declare -A ready_url=(
    [nginx]=http://127.0.0.1:8080/health
    [nginx-exporter]=http://127.0.0.1:9113/metrics
    [nginx-log-exporter]=http://127.0.0.1:3903/metrics
    [node-exporter]=http://127.0.0.1:9100/metrics
    [process-exporter]=http://127.0.0.1:9256/metrics
    [blackbox-exporter]=http://127.0.0.1:9115/metrics
    [selfheal]=http://127.0.0.1:5000/health
    [alertmanager]=http://127.0.0.1:9093/-/ready
    [prometheus]=http://127.0.0.1:9090/-/ready
)

profile=${STACK_PROFILE:-default}
# The ha profile's PostgreSQL: its port, and the URL the replicas share (password from secret).
pg_port=5434
if [ "$profile" = ha ]; then
    components=(postgres nginx nginx-exporter nginx-log-exporter node-exporter process-exporter blackbox-exporter
        selfheal selfheal-2 alertmanager alertmanager-2 prometheus)
    ready_url[postgres]=postgres://127.0.0.1:$pg_port
    ready_url[selfheal-2]=http://127.0.0.1:5001/health
    ready_url[alertmanager-2]=http://127.0.0.1:9094/-/ready
    # shellcheck source=scripts/postgres.sh
    source "$repo/scripts/postgres.sh"
fi

# Whether component NAME answers (PostgreSQL: pg_isready; the others: their ready URL).
answers() {
    if [ "$1" = postgres ]; then
        "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$pg_port"
    else
        curl -fsS -o /dev/null "${ready_url[$1]}" 2>/dev/null
    fi
}

# The database selfheal serves from: the SQLite file, or the ha profile's PostgreSQL.
database() {
    if [ "$profile" = ha ]; then
        echo "postgres://selfheal:$(secret db-password)@127.0.0.1:$pg_port/selfheal"
    else
        echo "$dir/selfheal.db"
    fi
}

# A secret generated once and kept (mode 600) so restarts, Alertmanager and scripts agree on it.
secret() {
    local file=$dir/$1 value
    if [ ! -s "$file" ]; then
        # head cuts tr off (SIGPIPE): under pipefail that status would end the script before
        # the secret is printed, so the first `stack.sh secret NAME` printed nothing.
        value=$(set +o pipefail; LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 20)
        [ ${#value} -eq 20 ] || { echo "stack: cannot generate the secret $1" >&2; exit 1; }
        (umask 077; printf '%s' "$value" >"$file")
    fi
    cat "$file"
}

# nginx writes its own pid file (a heal may have started a new master); the others ours.
pidfile() {
    if [ "$1" = nginx ]; then echo "$dir/nginx/nginx.pid"; else echo "$dir/run/$1.pid"; fi
}
pid_of() {
    local f
    f=$(pidfile "$1")
    [ -s "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && cat "$f"
}

# Log files are readable by their owner and group only (0640, in 0750 folders): they name
# hosts, users and what was healed. Created before their writer opens them, which keeps the mode.
log_file() {
    local folder
    folder=$(dirname "$1")
    mkdir -p "$folder"
    chmod 750 "$folder"
    [ -e "$1" ] || install -m 640 /dev/null "$1"
    chmod 640 "$1"
}

# Starts a component in its own session (so it outlives this script and a terminal's Ctrl-C).
launch() {
    local name=$1
    shift
    log_file "$dir/logs/$name.log"
    setsid "$@" >>"$dir/logs/$name.log" 2>&1 </dev/null &
    echo $! >"$dir/run/$name.pid"
}

wait_ready() {
    local name=$1
    for _ in $(seq 1 150); do
        answers "$name" && return 0
        [ "$name" = nginx ] || pid_of "$name" >/dev/null || break
        sleep 0.1
    done
    echo "stack: $name did not become ready at ${ready_url[$name]}; last lines of $dir/logs/$name.log:" >&2
    tail -n 20 "$dir/logs/$name.log" >&2 || true
    return 1
}

start() {
    local name=$1
    case $name in
    nginx)
        # Workers run as nobody: they need to reach the page (the secrets stay mode 600).
        chmod 711 "$dir"
        mkdir -p "$dir/nginx/logs" "$dir/nginx/tmp" "$dir/nginx/html"
        install -m 644 services/index.html "$dir/nginx/html/index.html"
        log_file "$dir/nginx/logs/error.log"
        log_file "$dir/nginx/logs/access.log"
        log_file "$dir/logs/nginx.log"
        /usr/sbin/nginx -c "$repo/services/nginx.conf" -p "$dir/nginx/" -e logs/error.log \
            >>"$dir/logs/nginx.log" 2>&1
        ;;
    nginx-exporter)
        launch "$name" prometheus-nginx-exporter -nginx.scrape-uri=http://127.0.0.1:8080/stub_status \
            -nginx.retries=10 -nginx.retry-interval=1s -web.listen-address=127.0.0.1:9113
        ;;
    nginx-log-exporter)
        # mtail turns nginx's access log into request, status-class and response-time metrics
        # (prometheus/mtail/nginx_access.mtail). The log must exist before mtail looks for it.
        log_file "$dir/nginx/logs/access.log"
        launch "$name" mtail --progs "$repo/prometheus/mtail" --logs "$dir/nginx/logs/access.log" \
            --address 127.0.0.1 --port 3903 --logtostderr
        ;;
    node-exporter)
        launch "$name" prometheus-node-exporter --web.listen-address=127.0.0.1:9100
        ;;
    process-exporter)
        # The shipped config groups every process of the nginx container. Here the host runs
        # much else (another stack, the compose stack's containers, whose processes the host
        # sees), so the group is this stack's nginx: the processes whose command line names its
        # prefix folder (nginx's master and workers, `stack.sh exec`'s supervisor) and
        # (-children, the default) everything they start.
        local prefix
        prefix=$(printf '%s' "$dir/nginx" | sed 's/[][\.*^$+?(){}|]/\\&/g')
        cat >"$dir/process-exporter.yml" <<EOF
# Written by scripts/stack.sh: prometheus/process-exporter.yml narrowed to the nginx of $dir.
process_names:
  - name: nginx
    cmdline:
      - '^nginx: .* -p $prefix/?( |\$)'
EOF
        # -recheck: group each process by its name at every scrape, not by the name it had when
        # first seen (a process renamed after fork, as nginx's workers are, would stay uncounted).
        launch "$name" prometheus-process-exporter -config.path "$dir/process-exporter.yml" \
            -recheck -web.listen-address 127.0.0.1:9256
        ;;
    blackbox-exporter)
        launch "$name" prometheus-blackbox-exporter --config.file="$repo/prometheus/blackbox.yml" \
            --web.listen-address=127.0.0.1:9115
        ;;
    postgres)
        # Its own cluster under the state folder, owned by `postgres` (PostgreSQL refuses root):
        # password logins over 127.0.0.1, the socket in its folder (mode 700) for its owner.
        chmod 711 "$dir"
        pg_as_owner test -x "$dir" || {
            echo "stack: the postgres user cannot reach $dir (a folder above it is closed to others);" \
                "choose STACK_DIR under one it may enter, e.g. STACK_DIR=/var/tmp/selfheal-ha" >&2
            return 1
        }
        secret db-password >/dev/null
        log_file "$dir/logs/postgres.log"
        pg_cluster_start "$dir/postgres" "$pg_port" "$dir/db-password" >>"$dir/logs/postgres.log" 2>&1
        pg_create_database "$dir/postgres" "$pg_port" selfheal >/dev/null
        head -n 1 "$dir/postgres/data/postmaster.pid" >"$dir/run/postgres.pid"
        ;;
    selfheal | selfheal-2)
        local listen=127.0.0.1:5000
        [ "$name" = selfheal ] || listen=127.0.0.1:5001
        SELFHEAL_CONFIG=$config SELFHEAL_DATABASE=$(database) SELFHEAL_LISTEN=$listen STACK_DIR=$dir \
        SELFHEAL_ADMIN_PASSWORD=$(secret admin-password) \
        SELFHEAL_WEBHOOK_PASSWORD=$(secret webhook-password) \
            launch "$name" "$bin" serve
        ;;
    alertmanager | alertmanager-2)
        # The shipped file reads the webhook password from ../.selfheal/; point it at ours. The
        # ha profile: both replicas as receivers, and a cluster of two gossiping on loopback.
        local state=$dir/$name web=127.0.0.1:9093 file=alertmanager/alertmanager.yml
        local cluster=(--cluster.listen-address=)
        if [ "$profile" = ha ]; then
            file=alertmanager/alertmanager-ha.yml
            cluster=(--cluster.listen-address=127.0.0.1:9096 --cluster.peer=127.0.0.1:9097)
            if [ "$name" = alertmanager-2 ]; then
                web=127.0.0.1:9094
                cluster=(--cluster.listen-address=127.0.0.1:9097 --cluster.peer=127.0.0.1:9096)
            fi
        fi
        mkdir -p "$state"
        secret webhook-password >/dev/null
        sed "s|password_file: .*|password_file: $dir/webhook-password|" "$file" >"$state/alertmanager.yml"
        launch "$name" prometheus-alertmanager --config.file="$state/alertmanager.yml" \
            --storage.path="$state" --web.listen-address="$web" "${cluster[@]}"
        ;;
    prometheus)
        # Prometheus reads its rule files beside its config: a folder of links to the shipped
        # files, where thresholds.yml is rewritten when STACK_*_THRESHOLD asks for other ratios.
        local conf=$dir/prometheus-config
        rm -rf "$conf"
        mkdir -p "$conf"
        if [ "$profile" = ha ]; then
            # Both Alertmanagers, both replicas.
            sed -e 's|targets: \["127.0.0.1:9093"\]|targets: ["127.0.0.1:9093", "127.0.0.1:9094"]|' \
                -e 's|targets: \["127.0.0.1:5000"\]|targets: ["127.0.0.1:5000", "127.0.0.1:5001"]|' \
                "${STACK_PROMETHEUS_CONFIG:-$repo/prometheus/prometheus.yml}" >"$conf/prometheus.yml"
        else
            ln -s "${STACK_PROMETHEUS_CONFIG:-$repo/prometheus/prometheus.yml}" "$conf/prometheus.yml"
        fi
        ln -s "$repo/prometheus/alert_rules.yml" "$conf/alert_rules.yml"
        if [ -n "${STACK_CPU_THRESHOLD:-}${STACK_MEMORY_THRESHOLD:-}" ]; then
            sed -e "/record: selfheal:nginx_cpu_threshold:ratio/{n;s/vector([0-9.]*)/vector(${STACK_CPU_THRESHOLD:-0.9})/}" \
                -e "/record: selfheal:nginx_memory_threshold:ratio/{n;s/vector([0-9.]*)/vector(${STACK_MEMORY_THRESHOLD:-0.8})/}" \
                "$repo/prometheus/thresholds.yml" >"$conf/thresholds.yml"
        else
            ln -s "$repo/prometheus/thresholds.yml" "$conf/thresholds.yml"
        fi
        launch "$name" prometheus --config.file="$conf/prometheus.yml" \
            --storage.tsdb.path="$dir/prometheus" --web.listen-address=127.0.0.1:9090 \
            --storage.tsdb.retention.time=2d
        ;;
    esac
}

stop() {
    local name=$1 pid
    pid=$(pid_of "$name") || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    echo "stack: stopped $name (pid $pid)"
}

case "${1:-up}" in
up)
    [ -x "$bin" ] || { echo "stack: $bin not found: run scripts/build.sh --release first" >&2; exit 1; }
    mkdir -p "$dir/logs" "$dir/run"
    for name in "${components[@]}"; do
        if pid=$(pid_of "$name"); then
            echo "stack: $name already running (pid $pid)"
            continue
        fi
        start "$name"
        wait_ready "$name"
        echo "stack: started $name (pid $(pid_of "$name"))"
    done
    ;;
down)
    # selfheal first (its replicas stop healing), then what feeds it, the demo service last, with what
    # `exec` started in it (each in the session of its supervisor).
    stop selfheal
    [ "$profile" != ha ] || stop selfheal-2
    for ((i = ${#components[@]} - 1; i >= 0; i--)); do
        case "${components[$i]}" in
        selfheal | selfheal-2) ;;
        postgres)
            if pid=$(pid_of postgres); then
                pg_cluster_stop "$dir/postgres"
                echo "stack: stopped postgres (pid $pid)"
            fi
            ;;
        *) stop "${components[$i]}" ;;
        esac
    done
    if [ -f "$dir/run/exec.pids" ]; then
        while read -r session; do
            if pkill -KILL -s "$session" 2>/dev/null; then
                echo "stack: stopped what exec started (session $session)"
            fi
        done <"$dir/run/exec.pids"
        rm -f "$dir/run/exec.pids"
    fi
    ;;
status)
    down=0
    for name in "${components[@]}"; do
        if pid=$(pid_of "$name") && answers "$name"; then
            printf '  %-18s up    pid %-7s %s\n' "$name" "$pid" "${ready_url[$name]}"
        else
            printf '  %-18s DOWN  %s\n' "$name" "${ready_url[$name]}"
            down=1
        fi
    done
    [ "$down" = 0 ] || exit 3
    ;;
secret)
    secret "${2:?which secret}"
    ;;
exec)
    shift
    [ $# -gt 0 ] || { echo "usage: $0 exec CMD [ARG...]" >&2; exit 2; }
    pid_of nginx >/dev/null || { echo "stack: nginx is not running" >&2; exit 1; }
    mkdir -p "$dir/run"
    log_file "$dir/logs/exec.log"
    # argv[0] names nginx's prefix: what the process-exporter group and the runaway search use.
    # Its own session (setsid): `down` ends it and everything it started, as stopping a container
    # ends what `docker exec` started in it.
    setsid bash -c 'exec -a "$0" /usr/bin/python3 "$@"' "nginx: exec supervisor -p $dir/nginx/" \
        "$repo/scripts/service-exec.py" "$@" >>"$dir/logs/exec.log" 2>&1 </dev/null &
    echo "$!" >>"$dir/run/exec.pids"
    echo "stack: started $* in nginx's process tree (supervisor pid $!; output in $dir/logs/exec.log)"
    ;;
*)
    echo "usage: $0 [up|down|status|secret NAME|exec CMD...]" >&2
    exit 2
    ;;
esac
