#!/usr/bin/env bash
# Starts selfheal (release build, embedded SQLite) in the background on 127.0.0.1:5000.
#   ./start.sh          install what is missing, build, start (harmless when already running)
#   ./start.sh stop     stop it
#   ./start.sh status   is it running, and where
# State lives under .selfheal/: the database, the log, the pid, and the generated credentials.
set -euo pipefail
cd "$(dirname "$0")"

state=.selfheal
pidfile=$state/selfheal.pid
log=$state/selfheal.log
listen=${SELFHEAL_LISTEN:-127.0.0.1:5000}

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

# A secret generated once and kept (mode 600) so restarts and scripts agree on it.
secret() {
    local file=$state/$1
    if [ ! -s "$file" ]; then
        (umask 077; tr -dc 'A-Za-z0-9' </dev/urandom | head -c 20 >"$file")
    fi
    cat "$file"
}

case "${1:-start}" in
start)
    mkdir -p "$state"
    chmod 700 "$state"
    if running; then
        echo "selfheal is already running (pid $(cat "$pidfile")) on http://$listen"
    else
        scripts/setup.sh release
        scripts/build.sh --release
        SELFHEAL_ADMIN_PASSWORD=$(secret admin-password) \
        SELFHEAL_WEBHOOK_PASSWORD=$(secret webhook-password) \
        SELFHEAL_LISTEN=$listen \
            nohup target/release/selfheal serve >>"$log" 2>&1 &
        echo $! >"$pidfile"
        for _ in $(seq 1 100); do
            curl -fsS "http://$listen/health" >/dev/null 2>&1 && break
            running || { echo "selfheal exited; last lines of $log:"; tail -n 20 "$log"; exit 1; }
            sleep 0.1
        done
        curl -fsS "http://$listen/health" >/dev/null || { echo "selfheal is not healthy; see $log"; exit 1; }
    fi
    echo
    echo "  dashboard : http://$listen/"
    echo "  login     : admin / $(secret admin-password)   (set on the first start; $state/admin-password)"
    echo "  webhook   : POST http://$listen/webhook, basic auth alertmanager / $(secret webhook-password)"
    echo "  log       : $log      stop: ./start.sh stop"
    ;;
stop)
    if running; then
        pid=$(cat "$pidfile")
        kill "$pid"
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
        echo "selfheal stopped"
    else
        echo "selfheal is not running"
    fi
    rm -f "$pidfile"
    ;;
status)
    if running; then
        echo "selfheal is running (pid $(cat "$pidfile")) on http://$listen"
        curl -fsS "http://$listen/health" && echo
    else
        echo "selfheal is not running"
        exit 3
    fi
    ;;
*)
    echo "usage: $0 [start|stop|status]" >&2
    exit 2
    ;;
esac
