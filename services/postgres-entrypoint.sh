#!/bin/sh
# The ha profile's PostgreSQL (services/postgres.Dockerfile): makes the cluster and the
# `selfheal` database on the first start, then runs the server in the foreground.
# SELFHEAL_DB_PASSWORD: the `selfheal` role's password (./start.sh generates it).
set -eu
bin=/usr/local/lib/postgresql-bin
data=/var/lib/selfheal-postgres/data
: "${SELFHEAL_DB_PASSWORD:?set SELFHEAL_DB_PASSWORD (./start.sh does)}"
if [ ! -s "$data/PG_VERSION" ]; then
    pwfile=$(mktemp)
    printf '%s\n' "$SELFHEAL_DB_PASSWORD" >"$pwfile"
    # C locale: selfheal orders times and keys as text, as SQLite does.
    "$bin/initdb" -D "$data" -U selfheal --pwfile="$pwfile" --auth-local=scram-sha-256 \
        --auth-host=scram-sha-256 --no-locale -E UTF8 >/dev/null
    rm -f "$pwfile"
    # Password logins from the compose network (docker-compose.yml's `database` network,
    # which only selfheal's replicas share with this container).
    printf 'host all all 0.0.0.0/0 scram-sha-256\nhost all all ::/0 scram-sha-256\n' >>"$data/pg_hba.conf"
    echo "CREATE DATABASE selfheal" | "$bin/postgres" --single -D "$data" postgres >/dev/null
fi
exec "$bin/postgres" -D "$data" -c listen_addresses='*' -c unix_socket_directories=/tmp
