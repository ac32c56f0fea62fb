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

A second shape (issue 12), ``nginx-notices.log``: the usual error log of a PHP site, ~12 %
``FastCGI sent in stderr: "PHP message: PHP Warning/Notice/Deprecated: ..."`` lines and ~2 %
502-type failures, timed against grep/zgrep with the seven 502-type phrases (PHRASES_502).

Usage: python3 bench/evidence_bench.py [--size 1G] [--shapes mix,notices] [--runs 3] [--no-gzip] [--regen]
Targets, per shape: engine <= 1.5x grep, gzip engine <= 1.0x zgrep, peak RSS < 100 MB.
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


# The seven phrases of the 502-type failures (the notice-heavy shape is timed against them).
PHRASES_502 = [
    "(104: Connection reset by peer) while", "upstream prematurely closed", "while connecting to upstream",
    "upstream timed out", "no live upstreams", "upstream sent invalid", "while sending request to upstream",
]
GREP_502_PATTERN = "|".join(re.sub(r"([.()\[\]*+?{}|^$\\])", r"\\\1", p) for p in PHRASES_502)

_NOTICES = [
    ("Deprecated", "Creation of dynamic property %s::$%s is deprecated"),
    ("Deprecated", "strlen(): Passing null to parameter #1 ($string) of type string is deprecated"),
    ("Deprecated", "Return type of %s::offsetGet($key) should either be compatible with ArrayAccess::offsetGet"
                   "(mixed $offset): mixed, or the #[\\ReturnTypeWillChange] attribute should be used"),
    ("Warning", "Undefined array key \"%s\""),
    ("Warning", "Undefined variable $%s"),
    ("Warning", "Trying to access array offset on value of type null"),
    ("Warning", "foreach() argument must be of type array|object, null given"),
    ("Notice", "Undefined index: %s"),
    ("Notice", "Only variables should be passed by reference"),
]
_SCRIPTS = ["/var/www/html/wp-content/plugins/woocommerce/includes/class-wc-%s.php",
            "/var/www/html/wp-content/themes/shop/functions.php", "/var/www/html/wp-includes/class-wp-%s.php",
            "/srv/app/releases/20261101120000/vendor/laravel/framework/src/Illuminate/%s.php",
            "/var/www/html/lib/private/%s.php"]
_WORDS = ["cart", "order", "session", "query", "hook", "meta", "post", "user", "item", "price", "tax", "locale"]


def _notice_site_lines(rng, n, t0):
    """The usual nginx error log of a PHP site: PHP notices through FastCGI stderr (~12 %),
    502-type failures (~2 %), the rest ordinary noise."""
    out = []
    socks = ["unix:/run/php/php8.2-fpm.sock:", "unix:/run/php/php7.4-fpm.sock:"]
    for i in range(n):
        ts = time.strftime("%Y/%m/%d %H:%M:%S", time.localtime(t0 + i * 0.02))
        pid = 1310 + (i % 2)
        conn = 3000000 + i
        ip = "198.51.%d.%d" % ((i * 11) % 256, (i * 3) % 256)
        page = ["/", "/shop/", "/cart/", "/checkout/", "/wp-admin/admin-ajax.php", "/product/%d/" % (i % 700),
                "/index.php?p=%d" % (i % 90)][i % 7]
        ctx = (', client: %s, server: shop.example.com, request: "GET %s HTTP/2.0", upstream: "fastcgi://%s", '
               'host: "shop.example.com", referrer: "https://shop.example.com/category/%d/"'
               % (ip, page, socks[i % 2], i % 40))
        r = rng.random()
        if r < 0.12:
            msgs = []
            for _ in range(1 + (rng.random() < 0.35) + (rng.random() < 0.1)):
                sev, text = _NOTICES[rng.randrange(len(_NOTICES))]
                w = _WORDS[rng.randrange(len(_WORDS))]
                text = text.replace("%s", w)
                script = _SCRIPTS[rng.randrange(len(_SCRIPTS))].replace("%s", w.capitalize())
                msgs.append("PHP message: PHP %s:  %s in %s on line %d" % (sev, text, script, 10 + rng.randrange(900)))
            phase = "reading response header from upstream" if rng.random() < 0.8 else "reading upstream"
            out.append('%s [error] %d#%d: *%d FastCGI sent in stderr: "%s" while %s%s\n'
                       % (ts, pid, pid, conn, "".join(msgs), phase, ctx))
        elif r < 0.14:
            k = rng.random()
            if k < 0.45:
                msg = "recv() failed (104: Connection reset by peer) while reading response header from upstream"
            elif k < 0.6:
                msg = "upstream prematurely closed connection while reading response header from upstream"
            elif k < 0.75:
                msg = "connect() to %s failed (11: Resource temporarily unavailable) while connecting to upstream" \
                      % socks[i % 2].rstrip(":")
            elif k < 0.85:
                msg = "connect() to %s failed (111: Connection refused) while connecting to upstream" \
                      % socks[i % 2].rstrip(":")
            elif k < 0.97:
                msg = "upstream timed out (110: Connection timed out) while reading response header from upstream"
            else:
                msg = "no live upstreams while connecting to upstream"
            out.append("%s [error] %d#%d: *%d %s%s\n" % (ts, pid, pid, conn, msg, ctx))
        else:
            k = rng.random()
            if k < 0.55:
                p = "/wp-content/uploads/2026/%02d/img-%d.webp" % (i % 12 + 1, i % 4000)
                out.append('%s [error] %d#%d: *%d open() "/var/www/html%s" failed (2: No such file or directory), '
                           'client: %s, server: shop.example.com, request: "GET %s HTTP/2.0", host: '
                           '"shop.example.com", referrer: "https://shop.example.com/"\n' % (ts, pid, pid, conn, p, ip, p))
            elif k < 0.8:
                out.append("%s [info] %d#%d: *%d client %s closed keepalive connection\n" % (ts, pid, pid, conn, ip))
            elif k < 0.92:
                out.append('%s [warn] %d#%d: *%d an upstream response is buffered to a temporary file '
                           '/var/cache/nginx/fastcgi_temp/%d/%02d/%010d while reading upstream%s\n'
                           % (ts, pid, pid, conn, i % 10, i % 100, i, ctx))
            else:
                out.append('%s [error] %d#%d: *%d access forbidden by rule, client: %s, server: shop.example.com, '
                           'request: "GET /.env HTTP/1.1", host: "shop.example.com"\n' % (ts, pid, pid, conn, ip))
    return out


def _write_shape(path, want, fn, rng, t0, step):
    done = 0
    with open(path, "w") as f:
        block = 0
        while done < want:
            data = "".join(fn(rng, 20000, t0 + block * 20000 * step))
            if done + len(data) > want:
                data = data[:want - done]
                data = data[:data.rfind("\n") + 1] or data
            f.write(data)
            done += len(data)
            block += 1
            if not data:
                break


def generate_notices(size, regen=False):
    """The PHP-notice-heavy shape: one nginx error log of ``size`` bytes."""
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "nginx-notices.log")
    stamp = os.path.join(OUT, ".size-notices")
    if not regen and os.path.exists(stamp) and open(stamp).read() == str(size) and os.path.exists(path):
        return [path]
    _write_shape(path, size, _notice_site_lines, random.Random(20261204), time.time() - 20 * 86400, 0.02)
    with open(stamp, "w") as f:
        f.write(str(size))
    if os.path.exists(path + ".gz"):
        os.unlink(path + ".gz")
    return [path]


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
    _write_shape(nginx, int(size * 0.7), _nginx_lines, rng, t0, 0.02)
    _write_shape(fpm, size - int(size * 0.7), _fpm_lines, rng, t0, 0.01)
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
        return CompositeSink(Correlator(), EventCollector(max_events=1000, enabled=False))
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


def measure(name, files, pattern, a):
    """One shape: grep and the engine on the plain files, then zgrep and the engine on
    gzip copies. Returns the figures (dict) and prints its rows."""
    g, e, rss = _side_by_side(["grep", "-c", "-E", pattern], files, a)
    fig = {"shape": name, "files": [os.path.basename(f) for f in files],
           "size_bytes": sum(os.path.getsize(f) for f in files),
           "grep_s": round(g[0], 3), "grep_lines": g[1], "grep_cpu_s": round(g[2], 3),
           "engine_wall_s": round(e["wall"], 3), "engine_scan_s": round(e["elapsed"], 3),
           "engine_cpu_s": round(e["cpu"], 3), "engine_events": e["events"], "engine_incidents": e["incidents"],
           "engine_by_category": e["by_category"], "ratio": round(e["wall"] / g[0], 2),
           "peak_rss_mb": round(rss, 1), "engine_errors": e["errors"]}
    _row(name, "plain", fig["size_bytes"], "grep -c -E", g[0], g[1], e, rss, 1.5)
    if not a.no_gzip:
        gz = gzip_copies(files)
        zg, ze, zrss = _side_by_side(["zgrep", "-c", "-E", pattern], gz, a)
        fig.update({"zgrep_s": round(zg[0], 3), "zgrep_lines": zg[1], "zgrep_cpu_s": round(zg[2], 3),
                    "engine_gz_wall_s": round(ze["wall"], 3), "engine_gz_cpu_s": round(ze["cpu"], 3),
                    "engine_gz_events": ze["events"], "gz_ratio": round(ze["wall"] / zg[0], 2),
                    "gz_peak_rss_mb": round(zrss, 1), "engine_gz_errors": ze["errors"]})
        _row(name, "gzip", sum(os.path.getsize(f) for f in gz), "zgrep -c -E", zg[0], zg[1], ze, zrss, 1.0)
    return fig


def _side_by_side(cmd, files, a):
    """The tool ``cmd`` and the engine on ``files``, page cache warm, best of a.runs each:
    (tool (wall, hits, cpu), engine figures, engine peak RSS in MB)."""
    warm(files)
    t, _ = best(lambda: run_cmd(cmd + files), a.runs)
    e, _ = best(lambda: run_engine(files, a.workers, a.prefilter), a.runs)
    return t, e, max(e["rss_self_kb"], e["rss_workers_kb"]) / 1024.0


_HEAD = "%-8s %-6s %8s %-12s %8s %9s %8s %10s %7s %7s  %s"


def _row(shape, form, size, tool, t_tool, hits, e, rss, target):
    ratio = e["wall"] / t_tool
    ok = ratio <= target and rss < 100
    print(_HEAD % (shape, form, "%.0f MB" % (size / 1e6), tool, "%.2f s" % t_tool, "%d" % hits,
                   "%.2f s" % e["wall"], "%d" % e["events"], "%.2fx" % ratio, "%.0f MB" % rss,
                   "ok" if ok else "MISSED (<= %.1fx, < 100 MB)" % target))
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=parse_size, default=parse_size("1G"), help="size of each shape's plain logs (1G)")
    ap.add_argument("--shapes", default="mix,notices",
                    help="comma-separated: mix (nginx + php-fpm logs), notices (a PHP-notice-heavy nginx log)")
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

    shapes = [x.strip() for x in a.shapes.split(",") if x.strip()]
    bad = [x for x in shapes if x not in ("mix", "notices")]
    if bad:
        ap.error("unknown shape(s): %s" % ", ".join(bad))
    t = time.time()
    inputs = []
    if "mix" in shapes:
        inputs.append(("mix", generate(a.size, a.regen), GREP_PATTERN))
    if "notices" in shapes:
        inputs.append(("notices", generate_notices(a.size, a.regen), GREP_502_PATTERN))
    print("logs generated/reused in %.1fs: %s" % (time.time() - t, "; ".join(
        "%s: %s" % (n, ", ".join(os.path.basename(f) for f in fs)) for n, fs, _p in inputs)))
    print("machine: %s" % machine())
    print("engine prefilter: %s; runs: %d (best kept); load average before: %.2f %.2f %.2f"
          % ((a.prefilter, a.runs) + os.getloadavg()))
    print("")
    print(_HEAD % ("shape", "input", "size", "tool", "tool", "tool hits", "engine", "events", "ratio", "RSS",
                   "target"))
    figures = {"prefilter": a.prefilter, "runs": a.runs, "machine": machine(), "loadavg_before": os.getloadavg(),
               "shapes": [measure(n, fs, p, a) for n, fs, p in inputs]}
    figures["loadavg_after"] = os.getloadavg()
    if a.json:
        with open(a.json, "w") as f:
            json.dump(figures, f, indent=2)
    ok = all(f["ratio"] <= 1.5 and f["peak_rss_mb"] < 100 and f.get("gz_ratio", 0) <= 1.0 and
             f.get("gz_peak_rss_mb", 0) < 100 for f in figures["shapes"])
    print("load average after: %.2f %.2f %.2f" % os.getloadavg())
    print("\nresult: %s" % ("targets met" if ok else "TARGETS MISSED"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
