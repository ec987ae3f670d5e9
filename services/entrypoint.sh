#!/bin/sh
# The nginx container's entry point: start prometheus-process-exporter detached (setsid -f: its
# parent exits at once, so it belongs to the container's init, not to nginx, and is never
# counted in nginx's group), then run the command (nginx in the foreground) in this process.
# The exporter shares the container's pid namespace: it measures this nginx and nothing else.
set -eu
setsid -f prometheus-process-exporter -config.path /etc/selfheal/process-exporter.yml \
    -recheck -web.listen-address :9256 </dev/null
exec "$@"
