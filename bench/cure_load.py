#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Load generator for bench/cure_cost.py. Runs ON a lab host (standard library only).

    python3 cure_load.py SECONDS CONCURRENCY RATE URL [URL...]

Each of CONCURRENCY threads requests the URLs in turn through the local nginx for SECONDS, at
RATE requests per second in all (a steady load that leaves CPU to spare, so that a cure's
extra CPU shows; a thread that falls behind sends its next request at once).
Prints one JSON document: every request as [wall time it started, seconds, status or 0 for
a reset/refused connection], and the host's CPU time (cgroup) sampled every 0.25 s as
[wall time, CPU seconds used so far].
"""
import http.client
import json
import sys
import threading
import time
from urllib.parse import urlsplit


def cpu_seconds():
    """CPU used by this container so far: cgroup v1 cpuacct, else cgroup v2 cpu.stat."""
    try:
        with open("/sys/fs/cgroup/cpuacct/cpuacct.usage") as f:
            return int(f.read()) / 1e9
    except OSError:
        with open("/sys/fs/cgroup/cpu.stat") as f:
            for line in f:
                if line.startswith("usage_usec "):
                    return int(line.split()[1]) / 1e6
    raise OSError("no cgroup CPU accounting found")


def worker(urls, until, out, offset, interval):
    i = offset
    due = time.time() + interval * offset / 8.0
    while time.time() < until:
        pause = due - time.time()
        if pause > 0:
            time.sleep(pause)
        due = max(due + interval, time.time() - interval)
        parts = urlsplit(urls[i % len(urls)])
        i += 1
        t0 = time.time()
        status = 0
        try:
            conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=30)
            conn.request("GET", parts.path + ("?" + parts.query if parts.query else ""),
                         headers={"Connection": "close"})
            resp = conn.getresponse()
            resp.read()
            status = resp.status
            conn.close()
        except (OSError, http.client.HTTPException):
            status = 0
        out.append([round(t0, 4), round(time.time() - t0, 5), status])


def main():
    seconds, concurrency, rate, urls = float(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4:]
    interval = concurrency / rate
    until = time.time() + seconds
    results, cpu = [], []
    threads = [threading.Thread(target=worker, args=(urls, until, results, n, interval)) for n in range(concurrency)]
    for t in threads:
        t.start()
    while time.time() < until:
        cpu.append([round(time.time(), 4), cpu_seconds()])
        time.sleep(0.25)
    for t in threads:
        t.join()
    cpu.append([round(time.time(), 4), cpu_seconds()])
    json.dump({"requests": results, "cpu": cpu}, sys.stdout)


if __name__ == "__main__":
    main()
