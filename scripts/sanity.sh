#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# ansible-test sanity, offline, on this machine kind: no docker, no bootstrap download.
# ansible-test wants the collection at .../ansible_collections/phpfpm/opcache_fleet as a
# real directory (it resolves links); its tools come from .venv-sanity, made by
# scripts/setup.sh from ansible-test's own pinned requirement files (--local: nothing
# is installed or downloaded at run time, but the pinned requirements of each test's
# own virtualenv, from the package index; pip itself comes from
# scripts/ansible-test-get-pip.py, put where ansible-test looks for its bootstrap script).
set -euo pipefail
cd "$(dirname "$0")/.."
# Sanity runs on what ships: the collection as ansible-galaxy builds it (galaxy.yml's
# build_ignore leaves out the lab, Molecule, benchmarks and scripts), installed under
# .cache/sanity/ansible_collections/phpfpm/opcache_fleet.
rm -rf .cache/sanity
mkdir -p .cache/sanity/build
.venv/bin/ansible-galaxy collection build -f --output-path .cache/sanity/build . > /dev/null
.venv/bin/ansible-galaxy collection install -f -p .cache/sanity .cache/sanity/build/phpfpm-opcache_fleet-*.tar.gz > /dev/null
dest=.cache/sanity/ansible_collections/phpfpm/opcache_fleet
cd "$dest"
# ansible-test lists the files of a git checkout with git: give it one.
git init -q . && git add -A >/dev/null && git -c user.name=sanity -c user.email=sanity@localhost commit -qm sanity
exec ../../../../../.venv-sanity/bin/ansible-test sanity --local --python "$(../../../../../.venv-sanity/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')" --color no "$@"
