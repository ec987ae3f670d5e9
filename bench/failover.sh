#!/usr/bin/env bash
# Failover time on PostgreSQL (issue 28): three real selfheal replicas on a throwaway PostgreSQL
# cluster; the leader is killed with SIGKILL ROUNDS times (default 7, restarted after each) and
# each time the clock runs from the kill to the new leader's first duty done (the audit sealer
# sealing an event recorded right after the kill). Prints the median and every time. It is the
# failover test (`ha_failover`) run with more rounds: a benchmark, never failing on a slow machine
# beyond what the test itself asserts.
#   bench/failover.sh            ROUNDS=11 bench/failover.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test >/dev/null
FAILOVER_ROUNDS=${ROUNDS:-7} cargo test --locked -p server --test integration ha_failover -- --nocapture 2>&1 \
    | grep -E '^failover' | sed 's/^/    /'
echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r), PostgreSQL $(ls /usr/lib/postgresql | sort -n | tail -1)"
