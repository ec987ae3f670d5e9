#!/usr/bin/env bash
# Starts the whole selfheal stack: selfheal (embedded SQLite), Prometheus, Alertmanager, nginx
# (the demo service) and the exporters, every port on 127.0.0.1.
#   ./start.sh          install what is missing, build, start (harmless when already running)
#   ./start.sh stop     stop it
#   ./start.sh status   what runs, and where
# Mode: with a Docker engine that answers, `docker compose up` (images built from the repo's
# Dockerfiles); otherwise native: Debian packages, background processes, state in .selfheal/.
# Force one with STACK_MODE=native or STACK_MODE=compose.
# Also read: STACK_DIR (the state folder, default .selfheal) and, natively, STACK_BIN (a selfheal
# binary already built: nothing is built then; the tests start a stack this way).
# STACK_PROFILE=ha: two selfheal replicas on PostgreSQL behind two clustered Alertmanagers
# (docs/ha.md); the second replica on 127.0.0.1:5001. The choice is kept until stop.
set -euo pipefail
cd "$(dirname "$0")"

state=$(realpath -m "${STACK_DIR:-.selfheal}")
export STACK_DIR=$state
modefile=$state/mode

# Generated once under .selfheal/ (mode 600), shared by both modes.
secret() { scripts/stack.sh secret "$1"; }

# Prints the mode, then (on a second line) why it was chosen: the banner says so, since a Docker
# engine started meanwhile (scripts/test.sh starts one for its compose test) changes the choice.
pick_mode() {
    if [ -n "${STACK_MODE:-}" ]; then
        printf '%s\n%s\n' "$STACK_MODE" "STACK_MODE=$STACK_MODE"
    elif [ -s "$modefile" ]; then
        printf '%s\n%s\n' "$(cat "$modefile")" "the stack already runs in this mode ($modefile)"
    elif command -v docker >/dev/null && docker info >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
        printf '%s\n%s\n' compose "a Docker engine answers; STACK_MODE=native ./start.sh runs it natively"
    else
        printf '%s\n%s\n' native "no Docker engine answers; STACK_MODE=compose ./start.sh needs one"
    fi
}

profilefile=$state/profile
# The profile: STACK_PROFILE, else the one the running stack was started with, else the default.
pick_profile() {
    if [ -n "${STACK_PROFILE:-}" ]; then echo "$STACK_PROFILE"
    elif [ -s "$profilefile" ]; then cat "$profilefile"
    else echo default
    fi
}

# docker compose with what docker-compose.yml needs: the generated secrets and the group that
# owns the docker socket (selfheal's container heals nginx through it); with the ha profile,
# the database's URL and the Alertmanager pair.
compose() {
    local ha=()
    if [ "$profile" = ha ]; then
        ha=(COMPOSE_PROFILES=ha SELFHEAL_DB_PASSWORD="$(secret db-password)"
            SELFHEAL_DATABASE="postgres://selfheal:$(secret db-password)@postgres:5432/selfheal"
            ALERTMANAGER_CONFIG=alertmanager-ha.yml ALERTMANAGER_PEER=alertmanager-2 PROMETHEUS_VARIANT=-ha)
    fi
    env "${ha[@]}" SELFHEAL_ADMIN_PASSWORD="$(secret admin-password)" SELFHEAL_WEBHOOK_PASSWORD="$(secret webhook-password)" \
        DOCKER_GID="$(stat -c %g /var/run/docker.sock)" \
        docker compose --project-directory . -f docker-compose.yml "$@"
}

banner() {
    echo
    echo "  dashboard    : http://127.0.0.1:5000/"
    echo "  login        : admin / $(secret admin-password)   (set on the first start; $state/admin-password)"
    echo "  demo service : http://127.0.0.1:8080/   (stop nginx and watch it come back)"
    echo "  prometheus   : http://127.0.0.1:9090/classic/alerts   alertmanager: http://127.0.0.1:9093/"
    echo "  webhook      : POST http://127.0.0.1:5000/webhook, basic auth alertmanager / $(secret webhook-password)"
    if [ "$profile" = ha ]; then
        echo "  replica 2    : http://127.0.0.1:5001/   (same database; alertmanager 2: http://127.0.0.1:9094/)"
    fi
    echo "  mode         : $1 ($2)$([ "$profile" = default ] || echo ", profile $profile")"
    echo "  status       : ./start.sh status      stop: ./start.sh stop"
}

mkdir -p "$state"
chmod 711 "$state"
{ read -r mode; read -r mode_reason; } < <(pick_mode)
case "$mode" in native | compose) ;; *) echo "unknown STACK_MODE: $mode (native or compose)" >&2; exit 2 ;; esac
profile=$(pick_profile)
case "$profile" in default | ha) ;; *) echo "unknown STACK_PROFILE: $profile (ha, or unset)" >&2; exit 2 ;; esac
# scripts/stack.sh reads it too (natively: PostgreSQL and the second replica under $state).
export STACK_PROFILE=$profile

case "${1:-start}" in
start)
    if [ "$mode" = compose ]; then
        scripts/compose-setup.sh
        compose up --detach --build --wait
    else
        if [ -n "${STACK_BIN:-}" ]; then
            scripts/setup.sh stack
        else
            scripts/setup.sh stack release
            scripts/stack.sh status >/dev/null 2>&1 || scripts/build.sh --release
        fi
        scripts/stack.sh up
    fi
    echo "$mode" >"$modefile"
    echo "$profile" >"$profilefile"
    banner "$mode" "$mode_reason"
    ;;
stop)
    if [ "$mode" = compose ]; then compose down; else scripts/stack.sh down; fi
    rm -f "$modefile" "$profilefile"
    ;;
status)
    if [ "$mode" = compose ]; then compose ps; else scripts/stack.sh status; fi
    ;;
*)
    echo "usage: $0 [start|stop|status]" >&2
    exit 2
    ;;
esac
