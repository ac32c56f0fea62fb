#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""What each step of the cure ladder costs on a lab host under load (issue 13).

For each cure - none (the reference), stale (20 of the generated scripts touched, then invalidated), full reset, reload,
restart - on a host of the running lab (``make lab``):

1. restart php-fpm and warm the cache with the load itself;
2. run bench/cure_load.py inside the host (CONCURRENCY threads over the lab's pages) for
   WARM + WINDOW + 2 seconds;
3. the load is steady (RATE requests/s in all, CPU to spare); WARM seconds in, run the cure through Ansible from the controller, as an operator would:
   ``opcache_reset mode=stale|full`` (the module the ladder's first two steps use), and
   ``systemd_service state=reloaded|restarted`` (the same systemctl commands as its last two);
   ``none`` runs ``ansible.builtin.ping`` so that every row pays the same Ansible overhead;
4. over the WINDOW seconds from the moment the cure was started: requests served, latency
   p50 / p99 / max, answers other than 200 (502s, resets), and the host's CPU seconds (its
   cgroup: php-fpm, nginx, the load generator and the module together; compare with none).

Usage: python3 bench/cure_cost.py [--host lab-web1] [--runs 3] [--window 30] [--concurrency 4]
Prints a Markdown table (median of the runs per row) and writes bench/out/cure_cost.json.
"""
from __future__ import print_function

import argparse
import json
import os
import statistics
import subprocess
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LAB_PAGES = ["/a/index.php", "/a/report.php", "/b/index.php", "/b/report.php", "/c/index.php", "/c/report.php"]
# The lab app caches ~100 small scripts: recompiling them after a reset costs a few ms, lost in
# the noise. A real application has thousands. The bench adds one to release a (removed at the
# end, bench/cure_app_gen.py): FILES classes, and ROUTES pages that each load their own slice.
FILES, ROUTES = 2000, 10
BENCH_ROOT = "/srv/app/releases/a/cure-bench"
BENCH_PAGES = ["/a/cure-bench/route.php?r=%d" % r for r in range(ROUTES)]
PAGES = LAB_PAGES + BENCH_PAGES
CURES = {
    "none": ["-m", "ansible.builtin.ping"],
    "stale": ["-m", "phpfpm.opcache_fleet.opcache_reset", "-a", "mode=stale"],
    "full": ["-m", "phpfpm.opcache_fleet.opcache_reset", "-a", "mode=full"],
    "reload": ["-m", "ansible.builtin.systemd_service", "-a", "name=php8.2-fpm state=reloaded"],
    "restart": ["-m", "ansible.builtin.systemd_service", "-a", "name=php8.2-fpm state=restarted"],
}


def sh(argv, **kw):
    return subprocess.run(argv, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def percentile(values, p):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100.0 * (len(values) - 1))))]


def generate_app(host):
    """Write the bench's code base into release a of ``host`` (its mtimes a minute ago)."""
    sh(["podman", "exec", "-i", host, "python3", "-", BENCH_ROOT, str(FILES), str(ROUTES)],
       input=open(os.path.join(HERE, "cure_app_gen.py")).read())
    sh(["podman", "exec", host, "bash", "-c", "find %s -type f -exec touch -d '-60 seconds' {} +" % BENCH_ROOT])
    first = sh(["podman", "exec", host, "curl", "-s", "http://127.0.0.1" + BENCH_PAGES[0]]).stdout
    if "loaded %d" % (FILES // ROUTES * 5) not in first:
        raise SystemExit("the bench page does not answer as expected: %r" % first[:300])


def remove_app(host):
    sh(["podman", "exec", host, "rm", "-rf", BENCH_ROOT])


def one_run(host, cure, warm, window, concurrency, rate):
    sh(["podman", "exec", host, "systemctl", "restart", "php8.2-fpm"])
    time.sleep(1)
    urls = ["http://127.0.0.1" + p for p in PAGES]
    # warm the cache (every page compiled once) before the measured load
    sh(["podman", "exec", "-i", host, "python3", "-", "3", str(concurrency), "1000"] + urls,
       input=open(os.path.join(HERE, "cure_load.py")).read())
    if cure == "stale":
        # 20 scripts of release a get a new mtime: possibly stale, so stale mode invalidates them
        sh(["podman", "exec", host, "bash", "-c",
            "find %s/src -name '*.php' | sort | head -20 | xargs touch" % BENCH_ROOT])
    out = {}

    def load():
        out["load"] = json.loads(sh(["podman", "exec", "-i", host, "python3", "-", str(warm + window + 2),
                                     str(concurrency), str(rate)] + urls,
                                    input=open(os.path.join(HERE, "cure_load.py")).read()).stdout)
    t = threading.Thread(target=load)
    t.start()
    time.sleep(warm)
    t_cure = time.time()
    res = subprocess.run(["ansible", host] + CURES[cure], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True)
    t_done = time.time()
    t.join()
    if res.returncode != 0:
        raise SystemExit("%s on %s failed:\n%s" % (cure, host, res.stdout[-2000:]))
    reqs = [r for r in out["load"]["requests"] if t_cure <= r[0] < t_cure + window]
    cpu = out["load"]["cpu"]
    c0 = min(cpu, key=lambda c: abs(c[0] - t_cure))
    c1 = min(cpu, key=lambda c: abs(c[0] - (t_cure + window)))
    lat = [r[1] * 1000 for r in reqs]
    first = [r[1] * 1000 for r in reqs if r[0] < t_cure + 5]
    return {
        "cure": cure, "cure_seconds": round(t_done - t_cure, 2), "requests": len(reqs),
        "p50_ms": round(percentile(lat, 50), 1), "p99_ms": round(percentile(lat, 99), 1),
        "max_ms": round(max(lat), 1), "p99_first_5s_ms": round(percentile(first, 99), 1),
        "over_100ms": sum(1 for v in lat if v > 100), "not_200": sum(1 for r in reqs if r[2] != 200),
        "status_502": sum(1 for r in reqs if r[2] == 502), "resets": sum(1 for r in reqs if r[2] == 0),
        "cpu_seconds": round((c1[1] - c0[1]) * window / max(c1[0] - c0[0], 1e-6), 2),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="lab-web1")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--warm", type=float, default=5)
    ap.add_argument("--window", type=float, default=30)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--rate", type=float, default=200, help="requests per second in all")
    ap.add_argument("--cures", default=",".join(CURES))
    args = ap.parse_args()
    os.environ.setdefault("ANSIBLE_CONFIG", os.path.join(ROOT, "ansible.cfg"))
    rows = {}
    generate_app(args.host)
    try:
        for run in range(args.runs):
            for cure in args.cures.split(","):
                r = one_run(args.host, cure, args.warm, args.window, args.concurrency, args.rate)
                rows.setdefault(cure, []).append(r)
                print("run %d %-8s %s" % (run + 1, cure, json.dumps(r)), flush=True)
    finally:
        remove_app(args.host)
        sh(["podman", "exec", args.host, "systemctl", "restart", "php8.2-fpm"])
    os.makedirs(os.path.join(HERE, "out"), exist_ok=True)
    with open(os.path.join(HERE, "out", "cure_cost.json"), "w") as f:
        json.dump({"host": args.host, "args": vars(args), "runs": rows}, f, indent=1)
        f.write("\n")
    print("\n%s, %d threads at %g requests/s over %d pages (%d generated scripts), %d run(s), medians over the %g s "
          "after the cure started\n" % (args.host, args.concurrency, args.rate, len(PAGES), FILES, args.runs, args.window))
    keys = ("cure_seconds", "requests", "p50_ms", "p99_ms", "p99_first_5s_ms", "max_ms", "over_100ms", "not_200",
            "status_502", "cpu_seconds")
    print("| cure | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    for cure, runs in rows.items():
        print("| %s | %s |" % (cure, " | ".join(str(statistics.median(r[k] for r in runs)) for k in keys)))


if __name__ == "__main__":
    main()
