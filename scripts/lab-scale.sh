#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# make lab-scale N=24: N more, light lab hosts lab-scale-01..N (group `scale`, written to
# inventories/lab/scale.yml), for measuring the fleet playbooks on many hosts.
#
# Light: the lab role runs once per layout (debian, rhel, multi) on a template container, which
# is committed as an image; each scale host is a container of one of those images (round robin),
# so it boots with nginx and php-fpm configured and enabled and needs no converge of its own.
# The template images are rebuilt only when the lab image or the lab role changes.
# Every fourth host gets real crashes (its /b/crash.php kills the worker with SIGSEGV: php-fpm
set -euo pipefail
cd "$(dirname "$0")/.."
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/lab/containers.conf}
export ANSIBLE_CONFIG=$PWD/ansible.cfg

N=${N:-24}
case "$N" in ''|*[!0-9]*) echo "lab-scale: N must be a number of hosts (1-99), got '$N'" >&2; exit 2 ;; esac
if [ "$N" -lt 1 ] || [ "$N" -gt 99 ]; then
    echo "lab-scale: N must be between 1 and 99, got $N" >&2; exit 2
fi
NETWORK=opcache-lab
LAYOUTS=(debian rhel multi)
INVENTORY=inventories/lab/scale.yml

./scripts/lab-image.sh
lab_id=$(podman image inspect --format '{{.Id}}' localhost/opcache-fleet-lab:latest)
role_hash=$( (echo "$lab_id"; find roles/lab playbooks/lab.yml -type f ! -name '*.pyc' | LC_ALL=C sort | xargs cat) \
    | sha256sum | cut -c1-12)
podman network exists "$NETWORK" || podman network create "$NETWORK" >/dev/null

# 1. One template per layout, converged by the lab role and committed.
missing=()
for layout in "${LAYOUTS[@]}"; do
    podman image exists "localhost/opcache-fleet-lab-$layout:$role_hash" || missing+=("$layout")
done
if [ ${#missing[@]} -gt 0 ]; then
    mkdir -p .cache
    tpl_inv=.cache/lab-scale-templates.yml
    {
        echo "all:"
        echo "  children:"
        echo "    webservers:"
        echo "      hosts:"
        for layout in "${missing[@]}"; do
            echo "        lab-scale-tpl-$layout: {lab_layout: $layout}"
        done
        echo "      vars: {ansible_connection: containers.podman.podman, ansible_python_interpreter: /usr/bin/python3}"
    } > "$tpl_inv"
    for layout in "${missing[@]}"; do
        podman rm -f "lab-scale-tpl-$layout" >/dev/null 2>&1 || true
        podman run -d --name "lab-scale-tpl-$layout" --hostname "lab-scale-tpl-$layout" --network "$NETWORK" \
            --systemd=always --cap-add SYS_PTRACE localhost/opcache-fleet-lab:latest >/dev/null
    done
    ./scripts/lab-wait-systemd.sh "${missing[@]/#/lab-scale-tpl-}"
    echo "lab-scale: converging the templates of ${missing[*]}"
    .venv/bin/ansible-playbook -i "$tpl_inv" playbooks/lab.yml > .cache/lab-scale-templates.log 2>&1 \
        || { tail -n 30 .cache/lab-scale-templates.log; echo "lab-scale: converge failed, log in .cache/lab-scale-templates.log" >&2; exit 1; }
    for layout in "${missing[@]}"; do
        tpl=lab-scale-tpl-$layout
        # The services start at boot (enabled by the role); the image carries no logs of the template.
        podman exec "$tpl" sh -c 'systemctl stop nginx "php*-fpm*" >/dev/null 2>&1 || true
            find /var/log -type f -exec truncate -s 0 {} +
            rm -rf /var/lib/opcache-fleet/* /var/log/journal/*'
        podman commit -q "$tpl" "localhost/opcache-fleet-lab-$layout:$role_hash" >/dev/null
        podman rm -f -t 5 "$tpl" >/dev/null
        echo "lab-scale: template image opcache-fleet-lab-$layout:$role_hash"
    done
fi

# 2. The hosts. Extra ones from a bigger N earlier are removed.
hosts=()
for i in $(seq 1 "$N"); do
    host=$(printf 'lab-scale-%02d' "$i")
    layout=${LAYOUTS[$(( (i - 1) % 3 ))]}
    image="localhost/opcache-fleet-lab-$layout:$role_hash"
    hosts+=("$host:$layout")
    if [ "$(podman container inspect --format '{{.ImageName}} {{.State.Running}}' "$host" 2>/dev/null)" = "$image true" ] &&
        podman exec "$host" true >/dev/null 2>&1; then
        continue
    fi
    podman rm -f "$host" >/dev/null 2>&1 || true
    podman run -d --name "$host" --hostname "$host" --network "$NETWORK" \
        --systemd=always --cap-add SYS_PTRACE "$image" >/dev/null
done
for extra in $(podman ps -a --format '{{.Names}}' | grep -E '^lab-scale-[0-9]+$' || true); do
    [ "${extra#lab-scale-}" -le "$N" ] 2>/dev/null || podman rm -f -t 5 "$extra" >/dev/null
done

{
    echo "---"
    echo "# Written by scripts/lab-scale.sh (make lab-scale N=$N); removed by make lab-down. Not in git."
    echo "all:"
    echo "  children:"
    echo "    scale:"
    echo "      hosts:"
    for h in "${hosts[@]}"; do echo "        ${h%%:*}: {lab_layout: ${h##*:}}"; done
    echo "      vars:"
    echo "        ansible_connection: containers.podman.podman"
    echo "        ansible_python_interpreter: /usr/bin/python3"
} > "$INVENTORY"

# 3. Every host answers its health page (the services started at boot); then the crashes.
bad=0
for i in $(seq 1 "$N"); do
    host=$(printf 'lab-scale-%02d' "$i")
    ok=
    for _ in $(seq 1 60); do
        if [ "$(podman exec "$host" curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://127.0.0.1/a/health.php 2>/dev/null)" = 200 ]; then
            ok=1; break
        fi
        sleep 0.5
    done
    [ -n "$ok" ] || { echo "lab-scale: $host does not answer http://127.0.0.1/a/health.php" >&2; bad=1; }
done
[ "$bad" = 0 ] || exit 1
crashed=0
for i in $(seq 1 4 "$N"); do
    host=$(printf 'lab-scale-%02d' "$i")
    codes=$(podman exec "$host" sh -c 'for n in 1 2 3; do curl -s -o /dev/null -w "%{http_code} " --max-time 5 http://127.0.0.1/b/crash.php; done')
    case "$codes" in *502*) crashed=$((crashed + 1)) ;; *) echo "lab-scale: $host: /b/crash.php answered $codes, not 502" >&2; exit 1 ;; esac
done
echo "lab-scale: $N host(s) up (group scale in $INVENTORY), $crashed with worker crashes in their logs"
