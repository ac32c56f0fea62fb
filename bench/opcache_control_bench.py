#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""OPcache control timings on a lab host (see docs/emergency_reset.md, "Measurements").

    .venv/bin/python bench/opcache_control_bench.py ops --host lab-web3 [--status 200] [--resets 50]
    .venv/bin/python bench/opcache_control_bench.py playbook --rounds 5 [-l lab-web3] [--check]

``ops`` copies plugins/module_utils/ (as ansible_collections/phpfpm/opcache_fleet/...) and this
file into the container and runs, there, the exact code paths of the modules:

* status round trip: one opcache_status call per master without Ansible: helper written,
  one FastCGI status request through the pool socket, helper removed
  (``opcache_control.master_status``), timed around the whole call;
* verified full reset: ``opcache_control.reset_master(mode=full)``: helper written, status,
  ``opcache_reset()``, status polls until verified, helper removed, timed around the call.

``playbook`` alternates, in the same run, ``ansible -m ping`` and
``ansible-playbook playbooks/emergency_reset.yml`` (mode=full and mode=stale) on the same
hosts and prints the median wall time of each.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def describe(samples):
    s = sorted(samples)
    return {"n": len(s), "median_ms": round(statistics.median(s) * 1000, 2),
            "p10_ms": round(s[len(s) // 10] * 1000, 2), "p90_ms": round(s[(len(s) * 9) // 10] * 1000, 2),
            "min_ms": round(s[0] * 1000, 2), "max_ms": round(s[-1] * 1000, 2)}


WARM = ["http://127.0.0.1/%s/%s" % (r, p) for r in "abc" for p in ("index.php", "report.php")]


def warm(urls):
    from urllib.request import urlopen
    for u in urls:
        urlopen(u, timeout=10).read()


def ops_local(sockets, n_status, n_resets, warm_urls=WARM):
    """Runs ON the host, with ansible/module_utils/ next to this file. Before every reset
    the demo pages are requested (untimed) so each reset empties a warm cache."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache import control as c
    from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.targets import explicit_target
    out = {}
    warm(warm_urls)
    for sock in sockets:
        target = explicit_target(sock)
        c.master_status(target)  # warm-up
        st = []
        for _ in range(n_status):
            t = time.perf_counter()
            c.master_status(target)
            st.append(time.perf_counter() - t)
        rs, ver, cached = [], [], []
        for _ in range(n_resets):
            warm(warm_urls)
            t = time.perf_counter()
            r = c.reset_master(target, "full", timeout=10)
            rs.append(time.perf_counter() - t)
            assert r["verified"] and r["after"]["manual_restarts"] == r["before"]["manual_restarts"] + 1
            ver.append(r["verify_seconds"])
            cached.append(r["before"]["num_cached_scripts"])
        out[sock] = {"status_round_trip": describe(st), "verified_full_reset": describe(rs),
                     "of_which_verification": describe(ver),
                     "scripts_cached_before_reset": statistics.median(cached)}
    return out


def ops_remote(host, sockets, n_status, n_resets):
    env = dict(os.environ)
    env.setdefault("CONTAINERS_CONF", os.path.join(ROOT, "lab", "containers.conf"))
    with tempfile.TemporaryDirectory() as tmp:
        # The collection's module_utils, importable on the host as they are in a module.
        shutil.copytree(os.path.join(ROOT, "plugins", "module_utils"),
                        os.path.join(tmp, "ansible_collections", "phpfpm", "opcache_fleet", "plugins", "module_utils"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        with open(__file__) as src, open(os.path.join(tmp, "bench.py"), "w") as dst:
            dst.write(src.read())
        subprocess.run(["podman", "exec", host, "rm", "-rf", "/root/ofl-bench"], env=env, check=True)
        subprocess.run(["podman", "cp", tmp, "%s:/root/ofl-bench" % host], env=env, check=True)
    try:
        res = subprocess.run(["podman", "exec", host, "python3", "/root/ofl-bench/bench.py", "ops-local",
                              "--status", str(n_status), "--resets", str(n_resets)] + sockets,
                             env=env, check=True, stdout=subprocess.PIPE)
    finally:
        subprocess.run(["podman", "exec", host, "rm", "-rf", "/root/ofl-bench"], env=env, check=False)
    return json.loads(res.stdout)


def timed(argv, env):
    t = time.perf_counter()
    res = subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    took = time.perf_counter() - t
    if res.returncode != 0:
        sys.stderr.write(res.stdout.decode("utf-8", "replace")[-3000:])
        raise SystemExit("failed: %s" % " ".join(argv))
    return took


def playbook(rounds, limit, check):
    env = dict(os.environ)
    env["PATH"] = os.path.join(ROOT, ".venv", "bin") + os.pathsep + env.get("PATH", "")
    env.setdefault("CONTAINERS_CONF", os.path.join(ROOT, "lab", "containers.conf"))
    env["ANSIBLE_CONFIG"] = os.path.join(ROOT, "ansible.cfg")
    lim = ["-l", limit] if limit else []
    extra = ["--check"] if check else []
    runs = {"ping": [], "full": [], "stale": []}
    for _ in range(rounds):
        runs["ping"].append(timed(["ansible", "webservers", "-m", "ping"] + lim, env))
        runs["full"].append(timed(["ansible-playbook", "playbooks/emergency_reset.yml", "-e", "mode=full"]
                                  + lim + extra, env))
        runs["stale"].append(timed(["ansible-playbook", "playbooks/emergency_reset.yml"] + lim + extra, env))
    return dict((k, {"n": len(v), "median_s": round(statistics.median(v), 2),
                     "min_s": round(min(v), 2), "max_s": round(max(v), 2)}) for k, v in runs.items())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    o = sub.add_parser("ops")
    o.add_argument("--host", default="lab-web3")
    o.add_argument("--status", type=int, default=200)
    o.add_argument("--resets", type=int, default=50)
    o.add_argument("sockets", nargs="*", default=["/run/php/site-a.sock", "/run/php-fpm-alt/alt.sock"])
    ol = sub.add_parser("ops-local")
    ol.add_argument("--status", type=int, default=200)
    ol.add_argument("--resets", type=int, default=50)
    ol.add_argument("sockets", nargs="+")
    p = sub.add_parser("playbook")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("-l", "--limit", default="lab-web3")
    p.add_argument("--check", action="store_true")
    a = ap.parse_args()
    if a.cmd == "ops-local":
        print(json.dumps(ops_local(a.sockets, a.status, a.resets)))
    elif a.cmd == "ops":
        print(json.dumps(ops_remote(a.host, a.sockets, a.status, a.resets), indent=1))
    else:
        print(json.dumps(playbook(a.rounds, a.limit, a.check), indent=1))


if __name__ == "__main__":
    main()
