#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# scripts/lab-wait-systemd.sh HOST...: wait (up to 30 s each) until systemd inside each fresh
# lab container answers systemctl (running or degraded); systemd needs a moment after start.
set -uo pipefail
export CONTAINERS_CONF=${CONTAINERS_CONF:-$(cd "$(dirname "$0")/.." && pwd)/lab/containers.conf}
for host in "$@"; do
    for _ in $(seq 1 60); do
        state=$(podman exec "$host" systemctl is-system-running 2>/dev/null || true)
        case "$state" in running|degraded) break ;; esac
        sleep 0.5
    done
done
