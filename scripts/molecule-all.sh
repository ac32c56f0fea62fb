#!/usr/bin/env bash
# Run every Molecule scenario (molecule/*/molecule.yml) one after the other against
# the podman lab image, then print one summary line in pytest's format.
# SCENARIOS="lab opcache_control" limits the run.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH=$PWD/.venv/bin:$PATH
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/lab/containers.conf}
export ANSIBLE_CONFIG=$PWD/ansible.cfg
export ANSIBLE_DEPRECATION_WARNINGS=False
export PY_COLORS=0 ANSIBLE_FORCE_COLOR=0
mkdir -p .cache/molecule

scenarios=${SCENARIOS:-$(for f in molecule/*/molecule.yml; do basename "$(dirname "$f")"; done)}
passed=0 failed=0 failed_names=""
for s in $scenarios; do
    log=.cache/molecule/$s.log
    start=$(date +%s)
    if molecule test -s "$s" > "$log" 2>&1; then
        passed=$((passed + 1)); verdict=PASSED
    else
        failed=$((failed + 1)); verdict=FAILED; failed_names="$failed_names $s"
        tail -n 80 "$log"
    fi
    # testinfra's own summary line, for the record
    summary=$(grep -E '^=+ .*(passed|failed|error).* =+$' "$log" | tail -n1)
    echo "molecule $s: $verdict in $(( $(date +%s) - start ))s ${summary:+($summary)} log: $log"
done
echo "molecule scenarios: $passed passed, $failed failed"
[ "$failed" -eq 0 ] || { echo "failed scenarios:$failed_names"; exit 1; }
