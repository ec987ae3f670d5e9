# A PostgreSQL cluster of our own from Debian's `postgresql` package, never the machine's:
# initdb + pg_ctl in a folder, owned by the non-root `postgres` user when we are root, C
# locale, listening on 127.0.0.1 and a socket in the folder alone, trust authentication for the
# `selfheal` role (loopback only). Sourced by bench/intake.sh and scripts/stack.sh.
#   pg_cluster_start DIR PORT [PASSWORD_FILE]
#                               initdb DIR/data once, then start it (waits until it accepts);
#                               with PASSWORD_FILE, logins over 127.0.0.1 need that password
#                               (scram-sha-256) and only the socket in DIR (mode 700) trusts
#   pg_cluster_stop DIR         a fast stop, if it runs
#   pg_create_database DIR PORT NAME   a database (no error if it exists); prints its URL

pg_bin() { find /usr/lib/postgresql -maxdepth 2 -name bin | sort -V | tail -n 1; }

# Runs a server program as `postgres` when we are root (PostgreSQL refuses to run as root).
pg_as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_cluster_start() {
    local dir=$1 port=$2 password=${3:-} bin auth=(-A trust)
    bin=$(pg_bin)
    [ -n "$bin" ] || { echo "postgres: no server under /usr/lib/postgresql (apt-get install postgresql)" >&2; return 1; }
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
    chmod 700 "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        if [ -n "$password" ]; then
            # initdb runs as the cluster's owner: a copy of the password it may read, then gone.
            install -m 600 "$password" "$dir/pwfile"
            if [ "$(id -u)" = 0 ]; then chown postgres "$dir/pwfile"; fi
            auth=(--auth-local=trust --auth-host=scram-sha-256 --pwfile="$dir/pwfile")
        fi
        pg_as_owner "$bin/initdb" -D "$dir/data" -U selfheal "${auth[@]}" --no-locale -E UTF8 >"$dir/initdb.log" 2>&1 \
            || { rm -f "$dir/pwfile"; cat "$dir/initdb.log" >&2; return 1; }
        rm -f "$dir/pwfile"
    fi
    pg_as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -s \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir" start \
        || { tail -n 20 "$dir/server.log" >&2; return 1; }
}

pg_cluster_stop() {
    local dir=$1 bin
    bin=$(pg_bin)
    [ -f "$dir/data/postmaster.pid" ] || return 0
    pg_as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -s stop >/dev/null 2>&1 || true
}

pg_create_database() {
    local dir=$1 port=$2 name=$3 bin
    bin=$(pg_bin)
    if ! pg_as_owner "$bin/psql" -h "$dir" -p "$port" -U selfheal -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = '$name'" | grep -q 1; then
        pg_as_owner "$bin/psql" -h "$dir" -p "$port" -U selfheal -d postgres -qc "CREATE DATABASE \"$name\"" >/dev/null
    fi
    echo "postgres://selfheal@127.0.0.1:$port/$name"
}
