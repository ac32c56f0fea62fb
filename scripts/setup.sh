#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Install everything opcache-fleet needs on the controller: Debian packages for the
# podman lab, a pinned virtualenv, and the containers.podman collection taken from
# the PyPI "ansible" distribution (Galaxy is not reachable here). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
ANSIBLE_DIST_VERSION=12.3.0   # ships containers.podman matching ansible-core 2.19

need_apt=()
# openssl: the unit tests make a self-signed certificate for the probe's TLS test.
for cmd in podman runc debootstrap openssl; do
    command -v "$cmd" >/dev/null 2>&1 || need_apt+=("$cmd")
done
# ansible-rulebook (Event-Driven Ansible) runs its rules engine on a Java 17+ runtime.
java_ok() { command -v java >/dev/null 2>&1 && java -version 2>&1 | grep -qE 'version "(1[7-9]|[2-9][0-9])'; }
java_ok || need_apt+=(openjdk-17-jre-headless)
# Debian splits venv/ensurepip out of python3.
"$PY" -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
# tests/browser (make browser) opens report.html in headless Chromium through chromedriver.
{ command -v chromium && command -v chromedriver; } >/dev/null 2>&1 || need_apt+=(chromium chromium-driver)
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${need_apt[*]} uidmap"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need_apt[@]}" uidmap >/dev/null
fi

stamp=.venv/.requirements.sha
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "setup: creating .venv from requirements.txt"
    "$PY" -m venv .venv
    .venv/bin/pip install -q -r requirements.txt
    echo "$want" > "$stamp"
fi

coll=.collections/ansible_collections/containers/podman
if [ ! -f "$coll/MANIFEST.json" ]; then
    echo "setup: extracting containers.podman from ansible==$ANSIBLE_DIST_VERSION"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    .venv/bin/pip download -q --no-deps -d "$tmp" "ansible==$ANSIBLE_DIST_VERSION"
    mkdir -p .collections
    .venv/bin/python - "$tmp"/ansible-*.whl .collections <<'PYEOF'
import sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
prefix = "ansible_collections/containers/podman/"
with zipfile.ZipFile(wheel) as zf:
    members = [m for m in zf.namelist() if m.startswith(prefix)]
    zf.extractall(dest, members)
print("setup: %d files of containers.podman extracted" % len(members))
PYEOF
fi
# ansible-test sanity's own tools, pinned by ansible-test itself (its requirement files),
# apart from the controller venv so their pins (pylint, yamllint...) cannot clash; and the
# local stand-in for the pip bootstrap script it would otherwise download.
reqs=$(ls -d .venv/lib/python3*/site-packages/ansible_test/_data/requirements | head -n1)
sanity_want=$(cat requirements.txt "$reqs"/sanity.{pep8,pylint,validate-modules,runtime-metadata,yamllint,import,ansible-doc}.txt | sha256sum | cut -d' ' -f1)
sanity_stamp=.venv-sanity/.requirements.sha
if [ ! -x .venv-sanity/bin/ansible-test ] || [ "$(cat "$sanity_stamp" 2>/dev/null)" != "$sanity_want" ]; then
    echo "setup: creating .venv-sanity from ansible-test's sanity requirements"
    "$PY" -m venv .venv-sanity
    cat "$reqs"/sanity.{pep8,pylint,validate-modules,runtime-metadata,yamllint,import,ansible-doc}.txt \
        | grep -v '^#' | sort -u > .venv-sanity/sanity-requirements.txt
    .venv-sanity/bin/pip install -q "$(grep '^ansible-core==' requirements.txt)" -r .venv-sanity/sanity-requirements.txt
    echo "$sanity_want" > "$sanity_stamp"
fi
pip_version=$(grep -o "pip='[0-9.]*'" .venv-sanity/lib/python3*/site-packages/ansible_test/_internal/python_requirements.py | grep -o '[0-9.]*')
mkdir -p ~/.ansible/test/cache
cp scripts/ansible-test-get-pip.py ~/.ansible/test/cache/"get_pip_${pip_version//./_}.py"

# The checkout itself is the collection phpfpm.opcache_fleet that Ansible (ansible.cfg's
# collections_path), pytest (pytest.ini) and the benches load: a link, never a copy.
link=.collections/ansible_collections/phpfpm/opcache_fleet
if [ "$(readlink "$link" 2>/dev/null)" != "../../.." ]; then
    mkdir -p "$(dirname "$link")"
    rm -rf "$link"
    ln -s ../../.. "$link"
fi
echo "setup: ready"
