# PostgreSQL for docker-compose.yml's `ha` profile (docs/ha.md): Debian's package on
# debian:bookworm-slim (no other registry), run as the non-root `postgres` user. On its first
# start the entrypoint makes the cluster (C locale, password authentication over the network)
# and the `selfheal` database; selfheal's replicas apply the schema themselves.
FROM debian:bookworm-slim
RUN printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d \
    && apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /var/lib/selfheal-postgres \
    && chown postgres:postgres /var/lib/selfheal-postgres \
    && chmod 700 /var/lib/selfheal-postgres \
    && ln -s "$(find /usr/lib/postgresql -maxdepth 2 -name bin | sort -V | tail -n 1)" /usr/local/lib/postgresql-bin
COPY services/postgres-entrypoint.sh /usr/local/bin/selfheal-postgres
USER postgres
VOLUME /var/lib/selfheal-postgres
EXPOSE 5432
HEALTHCHECK --interval=2s --timeout=2s --retries=30 \
    CMD /usr/local/lib/postgresql-bin/pg_isready -q -h 127.0.0.1 -U selfheal -d selfheal || exit 1
ENTRYPOINT ["/usr/local/bin/selfheal-postgres"]
