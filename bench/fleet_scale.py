#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""How diagnose.yml grows with the number of hosts, against ``ansible -m ping`` on the same
hosts in the same run (issue 14: diagnose <= 3x ping at 24 hosts).

Needs the scale hosts of ``make lab-scale N=24`` (group ``scale`` in inventories/lab/scale.yml).
For each size (first N scale hosts) and each run, alternately: ``ansible scale[0:N-1] -m ping``
and ``ansible-playbook playbooks/diagnose.yml -e target=scale -l scale[0:N-1] -e since=all``
(the report written under bench/out/scale/, raw records kept for the on-host step times).
Prints a markdown table of the medians, the ratio, and where the time goes on the hosts.

    .venv/bin/python bench/fleet_scale.py                       # 3, 12, 24 hosts, 3 runs, forks 10
    .venv/bin/python bench/fleet_scale.py --sizes 24 --forks 25 --runs 2
"""
import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out", "scale")
SCALE_INVENTORY = os.path.join(ROOT, "inventories", "lab", "scale.yml")


def env():
    e = dict(os.environ)
    e.update(ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
             CONTAINERS_CONF=os.path.join(ROOT, "lab", "containers.conf"),
             PATH=os.path.join(ROOT, ".venv", "bin") + os.pathsep + e.get("PATH", ""),
             ANSIBLE_DEPRECATION_WARNINGS="False", PYTHONWARNINGS="ignore")
    return e


def timed(argv, forks, log):
    started = time.monotonic()
    with open(log, "w") as f:
        rc = subprocess.call(argv + ["--forks", str(forks)], cwd=ROOT, env=env(), stdout=f, stderr=subprocess.STDOUT)
    took = time.monotonic() - started
    if rc != 0:
        sys.exit("fleet_scale: %s failed (rc %d), log in %s" % (" ".join(argv[:3]), rc, log))
    return took


def scale_hosts():
    if not os.path.exists(SCALE_INVENTORY):
        sys.exit("fleet_scale: no %s: run make lab-scale N=24 first" % SCALE_INVENTORY)
    with open(SCALE_INVENTORY) as f:
        return [line.split(":")[0].strip() for line in f if line.startswith("        lab-scale-")]


def host_steps(report_dir):
    """Median seconds per diagnose_host step over the hosts of one run (raw-hosts.json)."""
    raw = json.load(open(os.path.join(report_dir, "raw-hosts.json")))
    steps = {}
    for h in raw:
        for k, v in (h.get("timings") or {}).items():
            steps.setdefault(k, []).append(v)
    return dict((k, statistics.median(v)) for k, v in steps.items())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="3,12,24")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--forks", type=int, default=10)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    hosts = scale_hosts()
    if max(sizes) > len(hosts):
        sys.exit("fleet_scale: %d scale hosts, %d needed: make lab-scale N=%d" % (len(hosts), max(sizes), max(sizes)))
    os.makedirs(OUT, exist_ok=True)
    print("load average before: %s" % " ".join("%.2f" % x for x in os.getloadavg()))
    rows = []
    for n in sizes:
        limit = "scale[0:%d]" % (n - 1)
        pings, diags, steps = [], [], []
        for run in range(args.runs):
            pings.append(timed(["ansible", limit, "-m", "ping"], args.forks,
                               os.path.join(OUT, "ping-%d-%d.log" % (n, run))))
            report_dir = os.path.join(OUT, "reports-%d-%d" % (n, run))
            diags.append(timed(["ansible-playbook", "playbooks/diagnose.yml", "-e", "target=scale", "-l", limit,
                                "-e", "since=all", "-e", "keep_raw=true", "-e", "report_dir=" + report_dir],
                               args.forks, os.path.join(OUT, "diagnose-%d-%d.log" % (n, run))))
            steps.append(host_steps(sorted(glob.glob(os.path.join(report_dir, "*/")))[-1]))
        ping, diag = statistics.median(pings), statistics.median(diags)
        on_host = statistics.median(s.get("total", 0) for s in steps)
        rows.append((n, ping, diag, diag / ping, on_host, pings, diags))
    print("load average after: %s" % " ".join("%.2f" % x for x in os.getloadavg()))
    print()
    print("| hosts | forks | `ansible -m ping` | `diagnose.yml` | ratio | diagnose_host on a host (median) | runs (ping / diagnose) |")
    print("|---|---|---|---|---|---|---|")
    for n, ping, diag, ratio, on_host, pings, diags in rows:
        print("| %d | %d | %.1f s | %.1f s | %.2fx | %.2f s | %s / %s |" % (
            n, args.forks, ping, diag, ratio, on_host,
            " ".join("%.1f" % x for x in pings), " ".join("%.1f" % x for x in diags)))


if __name__ == "__main__":
    main()
