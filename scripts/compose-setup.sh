#!/usr/bin/env bash
# Makes `docker compose` work on Debian 12 without Docker Hub, as root. Idempotent:
#  1. Debian's docker.io (engine 20.10) and iptables; dockerd started in the background when no
#     engine answers (no systemd needed; log in /var/log/dockerd.log);
#  2. compose v2 and buildx: bookworm has neither, so the two Debian packages are taken from
#     trixie (they need only libc6 >= 2.34; bookworm has 2.36), checked against trixie's signed
#     index, installed with apt; no trixie apt source is added;
#  3. the base image debian:bookworm-slim, when missing, made with debootstrap + docker import
#     (about 30 s; Docker Hub is not reachable from these machines).
# Then builds selfheal (release unless COMPOSE_SELFHEAL_PROFILE=debug): the images copy it.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

missing=()
for pkg in docker.io iptables debootstrap xz-utils gpgv debian-archive-keyring curl; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "compose-setup: installing ${missing[*]}"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
    echo "compose-setup: starting dockerd"
    setsid nohup dockerd --host=unix:///var/run/docker.sock >>/var/log/dockerd.log 2>&1 </dev/null &
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
    docker info >/dev/null 2>&1 || { echo "dockerd did not start:" >&2; tail -n 30 /var/log/dockerd.log >&2; exit 1; }
fi

if ! docker compose version --short 2>/dev/null | grep -Eq '^v?2\.' || ! docker buildx version >/dev/null 2>&1; then
    echo "compose-setup: installing docker-compose and docker-buildx from trixie"
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    curl -fsS -o "$work/InRelease" "$mirror/dists/trixie/InRelease"
    gpgv --keyring /usr/share/keyrings/debian-archive-keyring.gpg --output "$work/Release" \
        "$work/InRelease" 2>/dev/null || { echo "trixie's InRelease signature does not verify" >&2; exit 1; }
    curl -fsS -o "$work/Packages.xz" "$mirror/dists/trixie/main/binary-amd64/Packages.xz"
    sum=$(awk '/^SHA256:/ { s = 1; next } /^[^ ]/ { s = 0 } s && $3 == "main/binary-amd64/Packages.xz" { print $1 }' "$work/Release")
    echo "$sum  $work/Packages.xz" | sha256sum -c --quiet
    xz -dc "$work/Packages.xz" >"$work/Packages"
    debs=()
    for pkg in docker-compose docker-buildx; do
        read -r file sum < <(awk -v p="$pkg" '$1 == "Package:" { cur = $2 }
            cur == p && $1 == "Filename:" { f = $2 } cur == p && $1 == "SHA256:" { print f, $2; exit }' "$work/Packages")
        curl -fsS -o "$work/$(basename "$file")" "$mirror/$file"
        echo "$sum  $work/$(basename "$file")" | sha256sum -c --quiet
        debs+=("$work/$(basename "$file")")
    done
    apt-get install -y -qq "${debs[@]}" >/dev/null
fi

if ! docker image inspect debian:bookworm-slim >/dev/null 2>&1; then
    echo "compose-setup: making debian:bookworm-slim with debootstrap"
    root=$(mktemp -d /tmp/selfheal-rootfs.XXXXXX)
    debootstrap --variant=minbase bookworm "$root" "$mirror" >/tmp/selfheal-debootstrap.log 2>&1 ||
        { tail -n 20 /tmp/selfheal-debootstrap.log >&2; rm -rf "$root"; exit 1; }
    rm -f "$root/etc/apt/sources.list"
    cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security_mirror
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    # As slim as the official image: no apt cache, lists, docs or locales.
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* \
        "$root"/usr/share/man/* "$root"/usr/share/info/*
    find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
    tar -C "$root" --numeric-owner -c . |
        docker import -c 'CMD ["bash"]' \
            -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - debian:bookworm-slim
    rm -rf "$root"
fi

# The selfheal image copies the binary and the web assets built here (no Rust in the image).
if [ "${COMPOSE_SELFHEAL_PROFILE:-release}" = release ]; then
    scripts/setup.sh release
    scripts/build.sh --release
fi
