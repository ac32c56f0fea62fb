#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Start the lab fleet: image (built if needed), network, three systemd containers,
# then converge them with playbooks/lab.yml. Safe to run again: containers of the
# current image are reused, anything else with the same name is replaced.
set -euo pipefail
cd "$(dirname "$0")/.."
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/lab/containers.conf}
export ANSIBLE_CONFIG=$PWD/ansible.cfg

IMAGE=localhost/opcache-fleet-lab:latest
NETWORK=opcache-lab
HOSTS=${LAB_HOSTS:-lab-web1 lab-web2 lab-web3 lab-web4}

./scripts/lab-image.sh
image_id=$(podman image inspect --format '{{.Id}}' "$IMAGE")

podman network exists "$NETWORK" || podman network create "$NETWORK" >/dev/null

for host in $HOSTS; do
    # "Running" in podman's records is not enough: after the machine restarted, podman can
    # still list a container as up whose process is gone (exec: "cannot exec in a stopped
    # container"). Only one that runs a command is reused.
    if [ "$(podman container inspect --format '{{.Image}} {{.State.Running}}' "$host" 2>/dev/null)" = "$image_id true" ] &&
        podman exec "$host" true >/dev/null 2>&1; then
        echo "lab-up: reusing running $host"
        continue
    fi
    podman rm -f "$host" >/dev/null 2>&1 || true
    podman run -d --name "$host" --hostname "$host" --network "$NETWORK" \
        --systemd=always --cap-add SYS_PTRACE "$IMAGE" >/dev/null
    echo "lab-up: started $host"
done

# systemd needs a moment before systemctl answers inside a fresh container.
# shellcheck disable=SC2086
./scripts/lab-wait-systemd.sh $HOSTS

.venv/bin/ansible-playbook -i inventories/lab/hosts.yml playbooks/lab.yml --limit "$(echo $HOSTS | tr ' ' ',')"
