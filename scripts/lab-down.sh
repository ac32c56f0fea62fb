#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Remove the lab hosts, the scale hosts of make lab-scale (and their inventory) and their
# network; images are kept.
set -euo pipefail
cd "$(dirname "$0")/.."
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/lab/containers.conf}
for host in ${LAB_HOSTS:-lab-web1 lab-web2 lab-web3 lab-web4}; do
    podman rm -f -t 5 "$host" >/dev/null 2>&1 || true
done
for host in $(podman ps -a --format '{{.Names}}' | grep -E '^lab-scale-' || true); do
    podman rm -f -t 5 "$host" >/dev/null 2>&1 || true
done
rm -f inventories/lab/scale.yml
podman network rm -f opcache-lab >/dev/null 2>&1 || true
echo "lab-down: lab hosts and network removed"
