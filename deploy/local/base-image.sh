#!/usr/bin/env bash
# Makes sure the Containerfile's base, debian:bookworm-slim, is in podman's local
# storage. Where a registry is reachable it is pulled; where none is (as on the
# CI machines), it is built from Debian's own packages with mmdebstrap, the way
# the official slim image is made: the minbase variant, without documentation,
# man pages or locales. Does nothing when the image is already there.
set -euo pipefail

IMAGE="${BASE_IMAGE:-debian:bookworm-slim}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if podman image exists "$IMAGE"; then
    echo "$IMAGE already in local storage"
    exit 0
fi
if [ "${BASE_IMAGE_PULL:-false}" = true ] && podman pull "docker.io/library/$IMAGE"; then
    podman tag "docker.io/library/$IMAGE" "$IMAGE"
    exit 0
fi
command -v mmdebstrap >/dev/null || {
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null
}
tarball="$(mktemp --suffix=.tar)"
trap 'rm -f "$tarball"' EXIT
# Same exclusions as the official slim images (their /etc/dpkg/dpkg.cfg.d/docker).
mmdebstrap --variant=minbase --quiet \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --aptopt='Acquire::Languages "none"' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
    bookworm "$tarball" \
    "deb $MIRROR bookworm main" \
    "deb $MIRROR bookworm-updates main" \
    "deb ${MIRROR%/debian}/debian-security bookworm-security main"
podman import --change 'CMD ["bash"]' "$tarball" "$IMAGE"
echo "$IMAGE built with mmdebstrap from $MIRROR"
