#!/bin/sh
# selfheal's container entrypoint: refuse to start without the secrets (a clear message
# instead of a webhook that refuses everything), then run selfheal.
set -eu
: "${SELFHEAL_WEBHOOK_PASSWORD:?set SELFHEAL_WEBHOOK_PASSWORD (./start.sh generates it)}"
: "${SELFHEAL_ADMIN_PASSWORD:?set SELFHEAL_ADMIN_PASSWORD (./start.sh generates it)}"
exec /usr/local/bin/selfheal "$@"
