#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Remove the lab hosts and their network; images are kept.
set -euo pipefail
cd "$(dirname "$0")/.."
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/lab/containers.conf}
for host in ${LAB_HOSTS:-lab-web1 lab-web2 lab-web3}; do
    podman rm -f -t 5 "$host" >/dev/null 2>&1 || true
done
podman network rm -f opcache-lab >/dev/null 2>&1 || true
echo "lab-down: lab hosts and network removed"
