#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Run every Molecule scenario through pytest (one test per scenario, logs in
# .cache/molecule/<scenario>.log). SCENARIOS="lab culprit" limits the run.
set -uo pipefail
cd "$(dirname "$0")/.."
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/lab/containers.conf}
exec .venv/bin/pytest -p no:cacheprovider -rA tests/molecule "$@"
