#!/bin/sh
# The nginx container's entry point: start prometheus-process-exporter and mtail detached
# (setsid -f: their parent exits at once, so they belong to the container's init, not to
# nginx), then run the command (nginx in the foreground) in this process. The process exporter
# shares the container's pid namespace: it measures this container and nothing else (its own
# and mtail's share too: they live under the same CPU quota and memory limit).
set -eu
# Logs readable by their owner and group only (0640; folders 0750).
umask 027
setsid -f prometheus-process-exporter -config.path /etc/selfheal/process-exporter.yml \
    -recheck -web.listen-address :9256 </dev/null
# mtail looks for the log once at start: it must exist (nginx appends to it).
touch /srv/nginx/logs/access.log
setsid -f mtail --progs /etc/selfheal/mtail --logs /srv/nginx/logs/access.log --port 3903 \
    --logtostderr </dev/null
exec "$@"
