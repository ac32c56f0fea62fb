#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark of the fpm_evidence scan engine against GNU grep / zgrep.

Generates realistic mixed logs into bench/out/ (gitignored): an nginx error log
(mostly static-file 404s, keepalive/SSL/limit_req noise, ~2% upstream failures) and a
php-fpm stderr stream as docker writes it (mostly fpm access lines, child recycling,
~2% crashes and pool warnings). Then, with the page cache warm, it times side by side:

* the engine (log_scan.scan with the correlator, as fpm_evidence runs it) in a child
  process, with its peak RSS (getrusage of the child and of its workers);
* ``LC_ALL=C grep -c -E '<interesting phrases>'`` over the same files;
* the same two over gzip copies (engine vs ``zgrep -c -E``).

Usage: python3 bench/evidence_bench.py [--size 1G] [--runs 3] [--no-gzip] [--regen]
Targets: engine <= 1.5x grep, peak RSS < 100 MB, gzip engine <= 1.5x zgrep.
"""

from __future__ import print_function

import argparse
import gzip
import json
import os
import platform
import random
import re
import resource
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out")

# What an on-call engineer greps for: one distinctive phrase per evidence category.
PHRASES = [
    "(104: Connection reset by peer) while", "upstream prematurely closed", "while connecting to upstream",
    "upstream timed out", "upstream sent", "while sending request to upstream",
    "upstream server temporarily disabled", "no live upstreams", "FastCGI sent in stderr",
    "client prematurely closed connection", "exited on signal", "exited with code", "said into stderr",
    "max_children setting", "seems busy", "execution timed out", "executing too slow", "failed to ptrace",
    "unknown child", "ready to handle connections", "fpm is running", "segfault at", "general protection",
    "oom-killer", "dumped core",
]
GREP_PATTERN = "|".join(re.sub(r"([.()\[\]*+?{}|^$\\])", r"\\\1", p) for p in PHRASES)


def parse_size(s):
    m = re.match(r"^(\d+(?:\.\d+)?)\s*([KMG]?)i?B?$", s.strip(), re.I)
    if not m:
        raise argparse.ArgumentTypeError("size like 1G, 200M or 50000K: %r" % s)
    mult = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[m.group(2).upper()]
    return int(float(m.group(1)) * mult)


# ------------------------------------------------------------------ generation

def _nginx_lines(rng, n, t0):
    paths = ["/wp-content/uploads/2023/%02d/img%d.jpg", "/static/js/app.%d.js", "/favicon-%d.ico",
             "/images/products/%d/thumb.png", "/assets/fonts/f%d.woff2"]
    pages = ["/index.php", "/a/report.php", "/b/report.php", "/c/crash.php", "/shop/cart.php",
             "/api/v1/orders.php", "/wp-admin/admin-ajax.php", "/search.php?q=%d"]
    socks = ["unix:/run/php/php8.2-fpm.sock:", "unix:/run/php/site-a.sock:", "127.0.0.1:9001"]
    out = []
    for i in range(n):
        ts = time.strftime("%Y/%m/%d %H:%M:%S", time.localtime(t0 + i * 0.02))
        pid = 2480 + (i % 4)
        conn = 1000000 + i
        ip = "203.0.%d.%d" % ((i * 7) % 256, (i * 13) % 256)
        r = rng.random()
        if r < 0.02:     # interesting
            k = rng.random()
            page = pages[i % len(pages)] % (i % 1000) if "%d" in pages[i % len(pages)] else pages[i % len(pages)]
            sock = socks[i % 3]
            ctx = ', client: %s, server: example.com, request: "GET %s HTTP/1.1", upstream: "fastcgi://%s", host: "example.com"' % (ip, page, sock)
            if k < 0.4:
                msg = "[error] %d#%d: *%d recv() failed (104: Connection reset by peer) while reading response header from upstream" % (pid, pid, conn)
            elif k < 0.5:
                msg = "[error] %d#%d: *%d upstream prematurely closed connection while reading response header from upstream" % (pid, pid, conn)
            elif k < 0.6:
                msg = "[error] %d#%d: *%d connect() to %s failed (11: Resource temporarily unavailable) while connecting to upstream" % (pid, pid, conn, sock.rstrip(":"))
            elif k < 0.75:
                msg = "[error] %d#%d: *%d upstream timed out (110: Connection timed out) while reading response header from upstream" % (pid, pid, conn)
            elif k < 0.95:
                msg = ('[error] %d#%d: *%d FastCGI sent in stderr: "PHP message: PHP Warning:  Undefined array key \\"id\\" in /srv/app/releases/a/lib/Model%d.php on line %d" while reading response header from upstream' % (pid, pid, conn, i % 50, i % 400))
            else:
                msg = '[error] %d#%d: *%d FastCGI sent in stderr: "Primary script unknown" while reading response header from upstream' % (pid, pid, conn)
            out.append("%s %s%s\n" % (ts, msg, ctx))
            continue
        k = rng.random()
        if k < 0.42:
            p = paths[i % len(paths)] % (i % 97) if paths[i % len(paths)].count("%") == 1 else paths[i % len(paths)] % (i % 12 + 1, i % 997)
            out.append('%s [error] %d#%d: *%d open() "/var/www/html%s" failed (2: No such file or directory), client: %s, server: example.com, request: "GET %s HTTP/1.1", host: "example.com", referrer: "https://example.com/page/%d"\n' % (ts, pid, pid, conn, p, ip, p, i % 5000))
        elif k < 0.62:
            out.append("%s [info] %d#%d: *%d client %s closed keepalive connection\n" % (ts, pid, pid, conn, ip))
        elif k < 0.70:
            out.append('%s [error] %d#%d: *%d access forbidden by rule, client: %s, server: example.com, request: "GET /.git/config HTTP/1.1", host: "example.com"\n' % (ts, pid, pid, conn, ip))
        elif k < 0.78:
            out.append('%s [error] %d#%d: *%d limiting requests, excess: 10.%03d by zone "one", client: %s, server: example.com, request: "GET /api/v1/items?page=%d HTTP/1.1", host: "example.com"\n' % (ts, pid, pid, conn, i % 1000, ip, i % 300))
        elif k < 0.86:
            out.append("%s [crit] %d#%d: *%d SSL_do_handshake() failed (SSL: error:0A00006C:SSL routines::bad key share) while SSL handshaking, client: %s, server: 0.0.0.0:443\n" % (ts, pid, pid, conn, ip))
        elif k < 0.92:
            out.append('%s [warn] %d#%d: *%d an upstream response is buffered to a temporary file /var/cache/nginx/fastcgi_temp/%d/%02d/%010d while reading upstream, client: %s, server: example.com, request: "GET /export.php?id=%d HTTP/1.1", upstream: "fastcgi://unix:/run/php/php8.2-fpm.sock:", host: "example.com"\n' % (ts, pid, pid, conn, i % 10, i % 100, i, ip, i))
        elif k < 0.97:
            out.append('%s [warn] %d#%d: *%d a client request body is buffered to a temporary file /var/cache/nginx/client_temp/%010d, client: %s, server: example.com, request: "POST /upload HTTP/1.1", host: "example.com"\n' % (ts, pid, pid, conn, i, ip))
        else:
            out.append('%s [error] %d#%d: *%d directory index of "/var/www/html/files/%d/" is forbidden, client: %s, server: example.com, request: "GET /files/%d/ HTTP/1.1", host: "example.com"\n' % (ts, pid, pid, conn, i % 300, ip, i % 300))
    return out


def _fpm_lines(rng, n, t0):
    out = []
    mon = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    pools = ["www", "site-a", "shop.example-com"]
    for i in range(n):
        t = t0 + i * 0.01
        lt = time.localtime(t)
        fts = "%02d-%s-%04d %02d:%02d:%02d" % (lt.tm_mday, mon[lt.tm_mon - 1], lt.tm_year, lt.tm_hour, lt.tm_min, lt.tm_sec)
        pool = pools[i % 3]
        r = rng.random()
        if r < 0.02:
            k = rng.random()
            if k < 0.35:
                out.append("php_1  | [%s] WARNING: [pool %s] child %d exited on signal 11 (SIGSEGV) after %d.%06d seconds from start\n" % (fts, pool, 20000 + i % 40000, i % 900, i % 999999))
            elif k < 0.45:
                out.append("php_1  | [%s] WARNING: [pool %s] child %d exited with code 11 after %d.%06d seconds from start\n" % (fts, pool, 20000 + i % 40000, i % 900, i % 999999))
            elif k < 0.55:
                out.append('php_1  | [%s] WARNING: [pool %s] child %d said into stderr: "zend_mm_heap corrupted"\n' % (fts, pool, 20000 + i % 40000))
            elif k < 0.75:
                out.append("php_1  | [%s] WARNING: [pool %s] server reached pm.max_children setting (50), consider raising it\n" % (fts, pool))
            elif k < 0.9:
                out.append("php_1  | [%s] WARNING: [pool %s] child %d, script '/srv/app/releases/a/report.php' (request: \"GET /a/report.php\") executing too slow (5.%06d sec), logging\n" % (fts, pool, 20000 + i % 40000, i % 999999))
            else:
                out.append("php_1  | [%s] NOTICE: [pool %s] child %d started\n" % (fts, pool, 20000 + i % 40000))
            continue
        out.append('php_1  | 172.22.%d.%d -  %s +0000 "%s /index.php" %d\n' % (
            i % 4, i % 250, time.strftime("%d/%b/%Y:%H:%M:%S", lt), "GET" if i % 5 else "POST",
            200 if i % 17 else 302))
    return out


def generate(size, regen=False):
    os.makedirs(OUT, exist_ok=True)
    nginx = os.path.join(OUT, "nginx-error.log")
    fpm = os.path.join(OUT, "php-fpm.log")
    stamp = os.path.join(OUT, ".size")
    if not regen and os.path.exists(stamp) and open(stamp).read() == str(size) and \
            os.path.exists(nginx) and os.path.exists(fpm):
        return [nginx, fpm]
    rng = random.Random(20261126)
    t0 = time.time() - 20 * 86400
    targets = ((nginx, int(size * 0.7), _nginx_lines), (fpm, size - int(size * 0.7), _fpm_lines))
    for path, want, fn in targets:
        done = 0
        with open(path, "w") as f:
            block = 0
            while done < want:
                lines = fn(rng, 20000, t0 + block * 20000 * (0.02 if fn is _nginx_lines else 0.01))
                data = "".join(lines)
                if done + len(data) > want:
                    data = data[:want - done]
                    data = data[:data.rfind("\n") + 1] or data
                f.write(data)
                done += len(data)
                block += 1
                if not data:
                    break
    with open(stamp, "w") as f:
        f.write(str(size))
    for p in (nginx + ".gz", fpm + ".gz"):
        if os.path.exists(p):
            os.unlink(p)
    return [nginx, fpm]


def gzip_copies(files):
    out = []
    for p in files:
        gz = p + ".gz"
        if not os.path.exists(gz) or os.path.getmtime(gz) < os.path.getmtime(p):
            with open(p, "rb") as src, gzip.open(gz + ".tmp", "wb", compresslevel=6) as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            os.rename(gz + ".tmp", gz)
        out.append(gz)
    return out


# ------------------------------------------------------------------ measuring

def engine_child(files, workers, prefilter="auto"):
    """Runs in a child process: the engine as fpm_evidence uses it."""
    sys.path.insert(0, os.path.join(ROOT, ".collections"))
    from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.scan import scan
    from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.sinks import CompositeSink, EventCollector
    from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.correlate import Correlator

    def factory():
        return CompositeSink(Correlator(), EventCollector(max_events=1000, enabled=True))
    t = time.time()
    sink, reports = scan([(f, None) for f in files], factory, since=None, until=None, workers=workers,
                         prefilter=prefilter)
    rep = sink.sinks[0].report()
    elapsed = time.time() - t
    self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"elapsed": elapsed, "events": rep["counts"]["total"],
                      "by_category": rep["counts"]["by_category"], "incidents": rep["incidents_total"],
                      "lines": sum(r.get("lines", 0) for r in reports),
                      "errors": [r for r in reports if r["status"] != "scanned"],
                      "rss_self_kb": self_rss, "rss_workers_kb": kids_rss}))


def run_engine(files, workers, prefilter="auto"):
    cmd = [sys.executable, os.path.abspath(__file__), "--engine-child", "--workers", str(workers),
           "--prefilter", prefilter] + files
    c0 = _children_cpu()
    t = time.time()
    out = subprocess.check_output(cmd)
    wall = time.time() - t
    res = json.loads(out.decode().strip().splitlines()[-1])
    res["wall"] = wall
    res["cpu"] = _children_cpu() - c0
    return res


def _children_cpu():
    """user + system seconds of the waited-for children (and their own children)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_cmd(cmd):
    env = dict(os.environ, LC_ALL="C")
    c0 = _children_cpu()
    t = time.time()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    wall = time.time() - t
    run_cmd.cpu = _children_cpu() - c0
    if p.returncode not in (0, 1):
        raise RuntimeError("%s failed: %s" % (cmd[0], p.stderr.decode()[:500]))
    counts = [int(x.rsplit(":", 1)[-1]) for x in p.stdout.decode().split()]
    return wall, sum(counts), run_cmd.cpu


def warm(files):
    for f in files:
        with open(f, "rb") as fh:
            while fh.read(1 << 24):
                pass


def best(fn, runs):
    results = [fn() for _ in range(runs)]
    return min(results, key=lambda r: r[0] if isinstance(r, tuple) else r["wall"]), results


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / float(1 << 30)
    grep_v = subprocess.run(["grep", "--version"], stdout=subprocess.PIPE).stdout.decode().splitlines()[0]
    return "%s; %d CPUs; %.0f GiB RAM; %s; Python %s; %s" % (
        cpu, os.cpu_count() or 0, mem, platform.platform(), platform.python_version(), grep_v)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=parse_size, default=parse_size("1G"), help="total plain log size (1G)")
    ap.add_argument("--runs", type=int, default=3, help="timed runs of each command; the best is kept")
    ap.add_argument("--workers", type=int, default=0, help="engine worker processes (0: automatic)")
    ap.add_argument("--prefilter", choices=["auto", "grep", "python"], default="auto",
                    help="engine candidate search (fpm_evidence option prefilter; auto: GNU grep if present)")
    ap.add_argument("--no-gzip", action="store_true", help="skip the gzip comparison")
    ap.add_argument("--regen", action="store_true", help="regenerate the logs even when present")
    ap.add_argument("--json", help="also write the figures to this file")
    ap.add_argument("--engine-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("files", nargs="*", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.engine_child:
        engine_child(a.files, a.workers or None, a.prefilter)
        return 0

    t = time.time()
    files = generate(a.size, a.regen)
    total = sum(os.path.getsize(f) for f in files)
    print("logs: %s (%.1f MB) generated/reused in %.1fs" % (", ".join(os.path.basename(f) for f in files),
                                                          total / 1e6, time.time() - t))
    print("machine: %s" % machine())
    print("engine prefilter: %s; load average before: %.2f %.2f %.2f" % ((a.prefilter,) + os.getloadavg()))
    warm(files)
    grep_cmd = ["grep", "-c", "-E", GREP_PATTERN] + files
    g, _ = best(lambda: run_cmd(grep_cmd), a.runs)
    e, _ = best(lambda: run_engine(files, a.workers, a.prefilter), a.runs)
    rss_mb = max(e["rss_self_kb"], e["rss_workers_kb"]) / 1024.0
    figures = {"size_bytes": total, "prefilter": a.prefilter, "loadavg_before": os.getloadavg(), "grep_s": round(g[0], 3), "grep_lines": g[1],
               "engine_wall_s": round(e["wall"], 3), "engine_scan_s": round(e["elapsed"], 3),
               "engine_events": e["events"], "engine_incidents": e["incidents"],
               "ratio": round(e["wall"] / g[0], 2), "peak_rss_mb": round(rss_mb, 1),
               "grep_cpu_s": round(g[2], 3), "engine_cpu_s": round(e["cpu"], 3),
               "cpu_ratio": round(e["cpu"] / max(g[2], 1e-3), 2),
               "engine_errors": e["errors"]}
    print("\n%-34s %10s %12s" % ("plain", "seconds", "hits"))
    print("%-34s %10.2f %12d lines" % ("LC_ALL=C grep -c -E", g[0], g[1]))
    print("%-34s %10.2f %12d events (%d incidents)" % ("engine (fpm_evidence scan)", e["wall"], e["events"],
                                                       e["incidents"]))
    print("%-34s %10.2fx  (target <= 1.5x)" % ("engine / grep", figures["ratio"]))
    print("%-34s %10.2fx  (CPU s: grep %.2f, engine %.2f incl. its greps)" % (
        "engine / grep, CPU time", figures["cpu_ratio"], g[2], e["cpu"]))
    print("%-34s %10.1f MB (target < 100 MB; self %.1f, workers %.1f)" % (
        "engine peak RSS", rss_mb, e["rss_self_kb"] / 1024.0, e["rss_workers_kb"] / 1024.0))
    if not a.no_gzip:
        t = time.time()
        gz = gzip_copies(files)
        print("\ngzip copies ready in %.1fs (%.1f MB)" % (time.time() - t, sum(os.path.getsize(f) for f in gz) / 1e6))
        warm(gz)
        zg, _ = best(lambda: run_cmd(["zgrep", "-c", "-E", GREP_PATTERN] + gz), a.runs)
        ze, _ = best(lambda: run_engine(gz, a.workers, a.prefilter), a.runs)
        zrss = max(ze["rss_self_kb"], ze["rss_workers_kb"]) / 1024.0
        figures.update({"zgrep_s": round(zg[0], 3), "zgrep_lines": zg[1], "engine_gz_wall_s": round(ze["wall"], 3),
                        "engine_gz_events": ze["events"], "gz_ratio": round(ze["wall"] / zg[0], 2),
                        "gz_peak_rss_mb": round(zrss, 1), "engine_gz_errors": ze["errors"],
                        "zgrep_cpu_s": round(zg[2], 3), "engine_gz_cpu_s": round(ze["cpu"], 3),
                        "gz_cpu_ratio": round(ze["cpu"] / max(zg[2], 1e-3), 2)})
        print("%-34s %10s %12s" % ("gzip", "seconds", "hits"))
        print("%-34s %10.2f %12d lines" % ("zgrep -c -E", zg[0], zg[1]))
        print("%-34s %10.2f %12d events" % ("engine on .gz", ze["wall"], ze["events"]))
        print("%-34s %10.2fx  (target <= 1.5x)" % ("engine / zgrep", figures["gz_ratio"]))
        print("%-34s %10.2fx  (CPU s: zgrep %.2f, engine %.2f)" % (
            "engine / zgrep, CPU time", figures["gz_cpu_ratio"], zg[2], ze["cpu"]))
        print("%-34s %10.1f MB" % ("engine peak RSS (gzip)", zrss))
    figures["loadavg_after"] = os.getloadavg()
    if a.json:
        with open(a.json, "w") as f:
            json.dump(figures, f, indent=2)
    ok = figures["ratio"] <= 1.5 and figures["peak_rss_mb"] < 100 and figures.get("gz_ratio", 0) <= 1.5
    print("load average after: %.2f %.2f %.2f" % os.getloadavg())
    print("\nresult: %s" % ("targets met" if ok else "TARGETS MISSED"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
