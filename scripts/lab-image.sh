#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Build the lab image without any registry: debootstrap -> podman import -> podman build.
# The base is imported once; the lab image is tagged with a hash of its inputs and
# rebuilt only when they change.
set -euo pipefail
cd "$(dirname "$0")/.."
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/lab/containers.conf}

BASE=localhost/opcache-fleet-base:bookworm
IMAGE=localhost/opcache-fleet-lab
APP=roles/lab/files/app
inputs_hash=$( (cat lab/Containerfile scripts/lab-image.sh; tar -C "$APP" --sort=name --mtime=@0 --owner=0 --group=0 -c .) | sha256sum | cut -c1-12)

if podman image exists "$IMAGE:$inputs_hash"; then
    podman tag "$IMAGE:$inputs_hash" "$IMAGE:latest"
    echo "lab-image: $IMAGE:$inputs_hash is up to date"
    exit 0
fi

start=$(date +%s)
if ! podman image exists "$BASE"; then
    # Use the same Debian mirror the controller uses, so the image reaches it too.
    # LAB_DEBIAN_MIRROR overrides; otherwise the first Debian URI apt is configured with.
    mirror=${LAB_DEBIAN_MIRROR:-$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}
    mirror=${mirror:-$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)}
    if [ -z "$mirror" ]; then
        echo "lab-image: no Debian mirror found in apt's sources; set LAB_DEBIAN_MIRROR" >&2
        exit 1
    fi
    rootfs=$(mktemp -d /var/tmp/opcache-fleet-rootfs.XXXXXX)
    trap 'rm -rf "$rootfs"' EXIT
    echo "lab-image: debootstrap bookworm from $mirror"
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >/dev/null
    # apt inside the image must reach the mirrors the controller reaches.
    rm -f "$rootfs/etc/apt/sources.list"
    mkdir -p "$rootfs/etc/apt/sources.list.d" "$rootfs/etc/apt/apt.conf.d"
    cp -a /etc/apt/sources.list.d/. "$rootfs/etc/apt/sources.list.d/" 2>/dev/null || true
    [ -f /etc/apt/sources.list ] && cp /etc/apt/sources.list "$rootfs/etc/apt/sources.list"
    for f in /etc/apt/apt.conf.d/*; do
        case "$(basename "$f")" in docker-*|20packagekit|50appstream) continue ;; esac
        cp "$f" "$rootfs/etc/apt/apt.conf.d/" 2>/dev/null || true
    done
    tar -C "$rootfs" -c . | podman import - "$BASE" >/dev/null
    rm -rf "$rootfs"
    trap - EXIT
fi
echo "lab-image: building $IMAGE:$inputs_hash"
context=$(mktemp -d)
cp lab/Containerfile "$context/"
cp -a "$APP" "$context/app"
podman build -q -f "$context/Containerfile" -t "$IMAGE:$inputs_hash" -t "$IMAGE:latest" "$context" >/dev/null
rm -rf "$context"
echo "lab-image: built in $(( $(date +%s) - start ))s"
