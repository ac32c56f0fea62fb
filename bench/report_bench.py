#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark of the fleet report at fleet scale (issue 14): a generated result set of 1,000 hosts.

The hosts are what the diagnose role records per host (host, status, discovery, evidence,
upstream_pools, opcache, opcache_invalidations, collisions, collision_roots, releases), built
from the two results captured on the lab (tests/unit/fixtures/diagnose/lab-web2.json: one master,
/a/report.php poisoned; lab-web3.json: two masters) and from real log lines parsed by the
evidence engine's own line parser (evidence/line_events.py):

* healthy (74 %): no crash, nothing stale; a third with PHP notices counted in bulk;
* down (1 %): nginx routes to a php-fpm socket where nothing listens (diagnose_host's
  upstream_probes), with the connect() errors it makes;
* opcache_suspect (10 %): the poisoned lab host as captured; some resolved by a reset, some
  still crashing after one, and "storms": 3,000 events (the diagnose cap, events_truncated),
  hundreds of incidents, 80 stale scripts (over the stale cap of 50), 80 class collisions;
* misconfig (4 %): connect() to the socket failed with EACCES, ENOENT or ECONNREFUSED;
* capacity (5 %): pm.max_children reached, "seems busy", EAGAIN on connect;
* timeouts (2 %): nginx upstream timeouts;
* unexplained (1 %): 502s of a crash's kind (connection reset / prematurely closed) with no crash
  to tie them to; half of these hosts also have a master whose crash log was not read
  (evidence.fpm_sources);
* unreachable (2.5 %) and failed (0.5 %): no result, an error message.

It then runs the report code end to end as the fleet_report action plugin does (build_report,
then write_report: report.json, report.md, report.html into a new directory) and prints the time
and the sizes. Targets: written in < 5 s, report.html < 5 MB.

    .venv/bin/python bench/report_bench.py                      # 1,000 hosts, best of 3
    .venv/bin/python bench/report_bench.py --hosts 5000 --runs 1
    .venv/bin/python bench/report_bench.py --runs 1 --screenshot docs/images/report-1000-hosts.png
    .venv/bin/python bench/report_bench.py --json figures.json

--screenshot opens the report in headless Chromium (Debian's chromium and chromium-driver,
driven by selenium) and saves a PNG of the top of the page, and one beside it (-filtered.png)
of the search and the verdict filter at work (the URL fragment #q=eacces&v=misconfig).
"""

from __future__ import print_function

import argparse
import datetime
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out", "report")
FIXTURES = os.path.join(ROOT, "tests", "unit", "fixtures", "diagnose")
sys.path.insert(0, os.path.join(ROOT, ".collections"))  # the checkout as phpfpm.opcache_fleet (make setup)

from ansible_collections.phpfpm.opcache_fleet.plugins.action.fleet_report import (  # noqa: E402
    report_directory, write_report,
)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.line_events import (  # noqa: E402
    events_from_line, public_event,
)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.timestamps import TimeContext  # noqa: E402
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.assembly import build_report  # noqa: E402
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.next_steps import CommandContext  # noqa: E402

GENERATED_AT = "2026-11-26T18:00:00Z"
WINDOW = {"since": "24h"}
# The lab captures crashed at 17:10:58-17:11:04 (host clock, UTC); generated trouble comes after.
TROUBLE_START = datetime.datetime(2026, 11, 26, 17, 12, 0)
MIX = (("healthy", 0.74), ("down", 0.01), ("opcache_suspect", 0.10), ("misconfig", 0.04), ("capacity", 0.05),
       ("timeouts", 0.02), ("unexplained", 0.01), ("unreachable", 0.025), ("failed", 0.005))
TARGET_SECONDS, TARGET_HTML_BYTES = 5.0, 5 * 1000 * 1000
PAGES = ("/a/report.php", "/a/cart.php", "/b/checkout.php", "/c/search.php?q=shoes", "/a/api/orders.php",
         "/b/index.php")
SOCKET = "unix:/run/php-fpm/www.sock"


def _templates():
    out = {}
    for name in ("lab-web2", "lab-web3"):
        with open(os.path.join(FIXTURES, name + ".json")) as fh:
            out[name] = fh.read()
    return out


def _nginx_line(when, conn, message, page, level="error"):
    return ('%s [%s] 1266#1266: *%d %s, client: 198.51.100.%d, server: shop.example, request: "GET %s HTTP/1.1", '
            'upstream: "fastcgi://%s:", host: "shop.example"' % (
                when.strftime("%Y/%m/%d %H:%M:%S"), level, conn, message, conn % 250 + 1, page, SOCKET))


def _fpm_line(when, message):
    return "[%s] WARNING: [pool www] %s" % (when.strftime("%d-%b-%Y %H:%M:%S"), message)


# What each kind of trouble writes in the logs: (log, level, message) picked at random per line.
TROUBLE_LINES = {
    "misconfig": (("nginx", "crit", "connect() to %s failed (13: Permission denied) while connecting to upstream"),
                  ("nginx", "crit", "connect() to %s failed (2: No such file or directory) while connecting "
                                    "to upstream"),
                  ("nginx", "error", "connect() to %s failed (111: Connection refused) while connecting to "
                                     "upstream")),
    "capacity": (("fpm", None, "server reached pm.max_children setting (5), consider raising it"),
                 ("fpm", None, "seems busy (you may need to increase pm.start_servers, or pm.min/max_spare_servers),"
                               " spawning 8 children, there are 0 idle, and 5 total children"),
                 ("nginx", "error", "connect() to %s failed (11: Resource temporarily unavailable) while connecting "
                                    "to upstream")),
    "timeouts": (("nginx", "error", "upstream timed out (110: Connection timed out) while reading response header "
                                    "from upstream"),),
    "down": (("nginx", "crit", "connect() to %s failed (2: No such file or directory) while connecting to upstream"),),
    "unexplained": (("nginx", "error", "recv() failed (104: Connection reset by peer) while reading response header "
                                       "from upstream"),
                    ("nginx", "error", "upstream prematurely closed connection while reading response header from "
                                       "upstream")),
}


def _add_events(raw, events, truncated_total=None):
    """Append parsed events to a host's evidence, with the counts fpm_evidence keeps beside them."""
    ev = raw["evidence"]
    counts = ev["counts"]
    for e in events:
        cat, kind, path = e["category"], e["source_kind"], e["file"]
        counts["by_category"][cat] = counts["by_category"].get(cat, 0) + 1
        counts["by_source_kind"][kind] = counts["by_source_kind"].get(kind, 0) + 1
        counts["by_file"].setdefault(path, {})
        counts["by_file"][path][cat] = counts["by_file"][path].get(cat, 0) + 1
        counts["total"] += 1
        ev["first_seen"].setdefault(cat, e["timestamp"])
        ev["last_seen"][cat] = e["timestamp"]
    ev["events"].extend(events)
    ev["events_total"] = truncated_total or (ev.get("events_total") or 0) + len(events)
    ev["events_truncated"] = truncated_total is not None


def _trouble(raw, kind, rng, tctx):
    """Log lines of one kind of trouble, parsed as fpm_evidence parses them, added to a healthy host."""
    events = []
    n = rng.randint(4, 60)
    line_no = 600
    for i in range(n):
        when = TROUBLE_START + datetime.timedelta(seconds=rng.randint(0, 2700))
        log, level, message = rng.choice(TROUBLE_LINES[kind])
        line_no += 1
        if log == "nginx":
            text, path = _nginx_line(when, 7000 + i, message.replace("%s", SOCKET), rng.choice(PAGES), level), \
                "/var/log/nginx/error.log"
        else:
            text, path = _fpm_line(when, message), "/var/log/php-fpm/error.log"
        events += [public_event(e) for e in events_from_line(text, path=path, line_no=line_no, tctx=tctx)]
    events.sort(key=lambda e: e["timestamp"])
    _add_events(raw, events)


def _down(raw):
    """php-fpm stopped behind the host's nginx: the probe of its socket found no socket file."""
    uses = [{"server_name": t.get("server_name"), "location": t.get("location"), "root": t.get("root")}
            for t in raw["discovery"]["nginx"].get("fastcgi_targets") or []]
    raw["upstream_probes"] = [{"target": SOCKET, "state": "missing", "detail": "no such socket file", "uses": uses}]


def _fpm_sources(raw, rng):
    """What diagnose_host says it read of each master's crash log; one master not read, on half the hosts."""
    out = []
    for i, m in enumerate(raw["discovery"]["masters"]):
        entry = {"master_pid": m.get("master_pid"), "config": m.get("config"), "error_log": m.get("error_log"),
                 "error_log_kind": "file", "source": m.get("error_log"), "status": "scanned", "events": 0, "reason": None}
        if i == 0 and rng.random() < 0.5:
            entry.update(error_log="syslog", error_log_kind="syslog", source="journalctl -u php-fpm.service",
                         status="not_read", reason="its log goes to the journal and journalctl is not on this host")
        out.append(entry)
    raw["evidence"]["fpm_sources"] = out


def _healthy(raw, rng):
    """A captured host with no crash evidence and nothing stale (tests/unit test_assembly's healthy())."""
    ev = raw["evidence"]
    ev["incidents"], ev["events"], ev["incidents_total"], ev["events_total"] = [], [], 0, 0
    ev["counts"] = {"total": 0, "by_category": {}, "by_file": {}, "by_source_kind": {}}
    ev["first_seen"], ev["last_seen"], ev["top_crash_paths"], ev["crashes_per_hour"] = {}, {}, {}, {}
    for m in raw["opcache"]["masters"]:
        m["scripts"] = []
        m["stale_counts"] = {"certain": 0, "possible": 0, "fresh": rng.randint(40, 900), "unknown": 0}
        stats = m["status"]["opcache_statistics"]
        stats["opcache_hit_rate"] = 100.0 * rng.random() ** 0.1
        m["status"]["memory_usage"]["used_memory"] = rng.randint(8, 120) * 1048576 + rng.randint(0, 1048575)
    if rng.random() < 0.3:
        scripts = ["/srv/app/releases/a/src/Legacy/Report%d.php" % i for i in range(rng.randint(1, 14))]
        top = [{"severity": rng.choice(("Deprecated", "Warning", "Notice")), "script": s, "count": rng.randint(1, 400)}
               for s in scripts]
        by_sev = {}
        for t in top:
            by_sev[t["severity"]] = by_sev.get(t["severity"], 0) + t["count"]
        ev["php_messages"] = {"total": sum(by_sev.values()), "by_severity": by_sev, "distinct": len(top),
                              "top": sorted(top, key=lambda t: -t["count"])[:10]}
    return raw


def _storm(raw, rng):
    """A poisoned host whose crash storm filled the event cap: 3,000 events, 80 stale scripts, 80 collisions."""
    ev = raw["evidence"]
    reset, crash = [e for e in ev["events"] if e["category"] == "upstream_reset"][0], \
        [e for e in ev["events"] if e["category"] == "child_signal"][0]
    incident = ev["incidents"][0]
    events, incidents = [], []
    for i in range(1500):
        when = (TROUBLE_START + datetime.timedelta(seconds=i * 1.7)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
        page = PAGES[i % 3]
        events.append(dict(reset, timestamp=when, connection=9000 + i, line_no=700 + i, path=page,
                           request="GET %s HTTP/1.1" % page, uri=page))
        events.append(dict(crash, timestamp=when, pid=7000 + i, line_no=30 + i))
        if i % 5 == 0:
            incidents.append(dict(incident, timestamp=when, pid=7000 + i, request_paths=[page], requests=[
                dict(incident["requests"][0], timestamp=when, path=page)]))
    _add_events(raw, events, truncated_total=len(events) + rng.randint(1000, 40000))
    # As fpm_evidence caps them: every crash is an incident, the list keeps a fifth; every 502 was tied.
    ev["incidents_total"] = len(ev["incidents"]) + 1500
    ev["incidents"] += incidents
    ev["incidents_truncated"] = True
    ev["unmatched"] = dict(ev.get("unmatched") or {}, gateway_errors=0)
    master = raw["opcache"]["masters"][0]
    template = master["scripts"][0]
    master["scripts"] = [dict(template, full_path="/srv/app/releases/a/src/Module%d/Service.php" % i,
                              stale="certain" if i % 4 == 0 else "possible") for i in range(80)]
    master["stale_counts"].update(certain=20, possible=60)
    cols = raw["collisions"]
    cols["collisions"] = [dict(cols["collisions"][0], name="App\\Legacy\\Cache%d" % i, key="app\\legacy\\cache%d" % i)
                          for i in range(80)]


def _poisoned(raw, rng, variant):
    """The lab's poisoned host as captured (crashes on /a/report.php tied to 502s), in a variant."""
    stats = raw["opcache"]["masters"][0]["status"]["opcache_statistics"]
    if variant == "resolved":      # opcache_reset() at 17:44:02, nothing crashed since
        stats.update(last_restart_time=1795715042, manual_restarts=1)
    elif variant == "not_cured":   # a reset at 17:11:00, crashes went on
        stats.update(last_restart_time=1795713060, manual_restarts=1)
    elif variant == "storm":
        _storm(raw, rng)
    return raw


def generate_hosts(count=1000, seed=14):
    """``count`` raw host records (the fleet_report ``hosts`` argument), deterministic for a seed.

    Returns (hosts, kinds): kinds maps each host name to the kind it was generated as.
    """
    rng = random.Random(seed)
    templates = _templates()
    tctx = TimeContext(ref_epoch=1795716000)
    kinds = []
    for kind, share in MIX:
        kinds += [kind] * int(round(share * count))
    kinds = (kinds + ["healthy"] * count)[:count]
    rng.shuffle(kinds)
    hosts, by_name = [], {}
    for i, kind in enumerate(kinds):
        name = "web-%04d" % (i + 1)
        by_name[name] = kind
        if kind == "unreachable":
            hosts.append({"host": name, "status": "unreachable", "error": "Failed to connect to the host via ssh: "
                          "ssh: connect to host %s port 22: Connection timed out" % name})
            continue
        if kind == "failed":
            hosts.append({"host": name, "status": "failed", "error": "diagnose_host: no trusted php-fpm master "
                          "(none of the processes titled 'php-fpm: master process' is owned by root)"})
            continue
        raw = json.loads(templates["lab-web3" if i % 3 == 0 else "lab-web2"])
        raw["host"] = name
        if kind == "opcache_suspect":
            variant = rng.choice(("captured", "captured", "resolved", "not_cured", "storm"))
            hosts.append(_poisoned(json.loads(templates["lab-web2"]), rng, variant))
            hosts[-1]["host"] = name
            continue
        _healthy(raw, rng)
        if kind != "healthy":
            _trouble(raw, kind, rng, tctx)
        if kind == "down":
            _down(raw)
        elif kind == "unexplained":
            _fpm_sources(raw, rng)
        hosts.append(raw)
    return hosts, by_name


def write_fleet_report(hosts, output_dir, stamp="report"):
    """What the fleet_report action plugin does with its hosts: judge them, write the three files.

    Returns (report, files, seconds)."""
    started = time.perf_counter()
    report = build_report(hosts, generated_at=GENERATED_AT, window=WINDOW,
                          ctx=CommandContext(inventory_args=["-i", "inventories/prod"]))
    files = write_report(report, report_directory(output_dir, stamp))
    return report, files, time.perf_counter() - started


def screenshot(html_path, png_path, fragment="", scroll_to=None, width=1280, height=1400):
    """A PNG of the report rendered by headless Chromium (chromium, chromium-driver): its top, or
    from the element whose id is ``scroll_to``; ``fragment`` (``#v=misconfig``) pre-filters it."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    profile = tempfile.mkdtemp(prefix="report-shot-")
    opts = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--hide-scrollbars", "--window-size=%d,%d" % (width, height),
                "--user-data-dir=%s" % profile):
        opts.add_argument(arg)
    opts.binary_location = "/usr/bin/chromium"
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    try:
        driver.get("file://" + os.path.abspath(html_path) + fragment)
        if scroll_to:
            driver.execute_script("document.getElementById(arguments[0]).scrollIntoView()", scroll_to)
        driver.save_screenshot(png_path)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3, help="write the report this many times, keep the best")
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--out", default=OUT, help="where the reports go (default bench/out/report, gitignored)")
    ap.add_argument("--screenshot", metavar="PNG", help="save a headless Chromium screenshot of report.html")
    ap.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    args = ap.parse_args()

    t0 = time.perf_counter()
    hosts, kinds = generate_hosts(args.hosts, args.seed)
    gen_s = time.perf_counter() - t0
    shutil.rmtree(args.out, ignore_errors=True)
    os.makedirs(args.out)
    best, times = None, []
    for run in range(args.runs):
        report, files, seconds = write_fleet_report(hosts, args.out, "run-%d" % (run + 1))
        times.append(seconds)
        if best is None or seconds < best[2]:
            best = (report, files, seconds)
    report, files, seconds = best
    sizes = dict((k, os.path.getsize(p)) for k, p in files.items())
    counts = report["fleet"]["verdict_counts"]
    load = " ".join("%.1f" % x for x in os.getloadavg())
    print("machine: %s, Python %s, load %s" % (platform.machine(), platform.python_version(), load))
    print("hosts: %d generated in %.2f s; verdicts: %s" % (len(hosts), gen_s, ", ".join(
        "%s %d" % kv for kv in sorted(counts.items()))))
    print("report written (build_report + write_report, best of %d): %.2f s  [target < %.0f s]  (runs: %s)" % (
        args.runs, seconds, TARGET_SECONDS, ", ".join("%.2f" % t for t in times)))
    for key in ("json", "md", "html"):
        print("  report.%-4s %8.2f MB%s" % (key, sizes[key] / 1e6, "  [target < 5 MB]" if key == "html" else ""))
    print("  in %s" % os.path.dirname(files["html"]))
    ok = seconds < TARGET_SECONDS and sizes["html"] < TARGET_HTML_BYTES
    print("targets: %s" % ("met" if ok else "MISSED"))
    if args.screenshot:
        screenshot(files["html"], args.screenshot)
        filtered = args.screenshot.replace(".png", "-filtered.png")
        screenshot(files["html"], filtered, "#q=eacces&v=misconfig", "filter")
        print("screenshots: %s (the top), %s (#q=eacces&v=misconfig)" % (args.screenshot, filtered))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"hosts": len(hosts), "seconds": seconds, "runs": times, "sizes": sizes, "verdict_counts": counts,
                       "kinds": dict((k, list(kinds.values()).count(k)) for k, dummy in MIX)}, fh, indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
