#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# make eda-demo: the crash_storm rulebook against the lab. `make incident` has armed the
# poisoned page on HOST; this starts ansible-rulebook (the collection's rulebook, the lab's
# variables in inventories/lab/eda.yml), requests the poisoned page until the rulebook sees
# a storm and its diagnose writes a report, stops the rulebook, checks that the report says
# opcache_suspect for the host that triggered, and prints as its last line:
#   EDA report=<report dir> trigger=<host>
#   HOST=lab-web2 scripts/eda-demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/lab/containers.conf}
export ANSIBLE_CONFIG=${ANSIBLE_CONFIG:-$PWD/ansible.cfg}
export PATH=$PWD/.venv/bin:$PATH
HOST=${HOST:-lab-web1}

url=$(sed -n 's/.* url=\([^ ]*\).*/\1/p' ".cache/incident-$HOST.txt" 2>/dev/null | tail -n1)
[ -n "$url" ] || { echo "eda-demo: no armed incident for $HOST (make incident HOST=$HOST)" >&2; exit 1; }

work=.cache/eda && mkdir -p "$work"
reports=$PWD/reports/eda-$(date -u +%Y%m%dT%H%M%SZ)
log=$work/rulebook.log
{ cat inventories/lab/eda.yml; echo "opcache_fleet_eda_report_dir: $reports"; } > "$work/vars.yml"

# Its own session, so that stopping it stops everything it started (the podman exec clients
# close the followers' stdin, and the follow script in each host ends its tail).
setsid ansible-rulebook -v -i inventories/lab/hosts.yml -r phpfpm.opcache_fleet.crash_storm \
    --vars "$work/vars.yml" > "$log" 2>&1 < /dev/null &
rb=$!
stop_rulebook() {
    kill -TERM -- "-$rb" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$rb" 2>/dev/null || break; sleep 0.2; done
    kill -KILL -- "-$rb" 2>/dev/null || true
    wait "$rb" 2>/dev/null || true
}
trap stop_rulebook EXIT

wait_for() {  # wait_for SECONDS PATTERN: until the rulebook log has PATTERN
    local until=$((SECONDS + $1))
    while ! grep -qE "$2" "$log"; do
        kill -0 "$rb" 2>/dev/null || { tail -n 30 "$log"; echo "eda-demo: ansible-rulebook exited" >&2; return 1; }
        [ $SECONDS -lt $until ] || return 1
        sleep 0.5
    done
}

echo "eda-demo: ansible-rulebook started (log $log), waiting for its followers"
wait_for 120 "crash_storm: $HOST: following .*fpm" || { tail -n 30 "$log"; echo "eda-demo: the source never followed $HOST" >&2; exit 1; }
sleep 1   # tail -F starts at the end of the file: let every follower open it first

echo "eda-demo: requesting $url on $HOST until the rulebook sees a crash storm"
fired=
for i in $(seq 30); do
    code=$(podman exec "$HOST" curl -s -o /dev/null --max-time 10 -w '%{http_code}' "$url" || true)
    echo "eda-demo: request $i: HTTP $code"
    if wait_for 1 "crash_storm: storm on "; then fired=1; break; fi
done
[ -n "$fired" ] || { tail -n 30 "$log"; echo "eda-demo: no storm seen after 30 requests" >&2; exit 1; }
trigger=$(sed -n 's/.*crash_storm: storm on \([A-Za-z0-9_.-]*\):.*/\1/p' "$log" | head -n1)
echo "eda-demo: storm on $trigger; waiting for the rulebook's diagnose to write its report"

report=
until=$((SECONDS + 300))
while [ $SECONDS -lt $until ]; do
    report=$(ls -d "$reports"/*/ 2>/dev/null | head -n1 || true)
    [ -n "$report" ] && [ -f "$report/report.html" ] && break   # written last (each file renamed into place)
    kill -0 "$rb" 2>/dev/null || break
    sleep 1
done
stop_rulebook
trap - EXIT
[ -n "$report" ] && [ -f "$report/report.html" ] || { tail -n 40 "$log"; echo "eda-demo: no report written under $reports" >&2; exit 1; }
report=${report%/}
verdict=$(.venv/bin/python - "$report/report.json" "$trigger" <<'PYEOF'
import json, sys
report = json.load(open(sys.argv[1]))
print(next((h.get("verdict") for h in report["hosts"] if h.get("name") == sys.argv[2]), "absent"))
PYEOF
)
echo "eda-demo: the report says $trigger: $verdict ($report/report.md)"
[ "$verdict" = opcache_suspect ] || { echo "eda-demo: expected opcache_suspect for $trigger" >&2; exit 1; }
echo "EDA report=$report trigger=$trigger"
