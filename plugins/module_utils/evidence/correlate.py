# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: opcache-fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Counts and incidents from evidence events (private helper of fpm_evidence).

An *incident* is one php-fpm worker crash (``child_signal`` or ``heap_corruption``,
merged per master, pool and pid) with the nginx 502s it caused (``upstream_reset`` or
``upstream_prematurely_closed`` carrying an upstream, in the pool behind that
upstream, within ``window_s`` seconds), and the kernel report of the same pid
(``kernel_segfault`` / ``general_protection`` / ``kernel_trap``: its ``module``, e.g.
opcache.so) and crash-handler core dump when present.

A pool is its master and its name: two masters on one host may both have ``[www]``
(php7.4-fpm beside php8.2-fpm). ``source_masters`` says which master wrote each crash
log (file or journal source) and ``upstream_masters`` which master listens behind each
upstream; a crash is tied to a 502 only when both name the same master, or when one
of them is not known (a log the user named, two masters writing one file): then by
pool name, as without them.

Without an upstream -> pool mapping, 502s are tied to crashes by time only, and the
report says so (``correlation.mode``). Memory is bounded: per-kind record lists keep
at most ``max_records`` entries (the most recent when over), distinct keys of every
aggregate are capped at ``max_keys``; what was dropped is reported.

The :class:`Correlator` is a scan sink (add / merge / shift_lines) and is picklable.
"""

from __future__ import absolute_import, division, print_function

import bisect
import time

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.addresses import normalize_upstream
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.categories import (
    CRASH_502, CRASH_SIGNALS, KERNEL_CRASH, WORKER_CRASH,
)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.php_notices import php_messages_of
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.timestamps import format_ts

__all__ = ["Correlator", "correlate"]

KERNEL_WINDOW_S = 600.0
MERGE_WINDOW_S = 10.0

# record layouts (tuples; the last two items are always file, line_no)
# gateway: (ts, upstream_norm, category, method, path, client, host, upstream_raw, file, line_no)
# crash:   (ts, pool, master, pid, category, signal_number, signal_name, core_dumped, uptime_s, stderr, file, line_no)
# kernel:  (ts, pid, category, process, module, fault_addr, ip, error_code, file, line_no)
# core:    (ts, pid, process, uid, file, line_no)


_UPSTREAM_CACHE = {}


class Correlator(object):
    def __init__(self, upstream_pools=None, window_s=2.0, max_keys=1000, max_records=20000,
                 max_incidents=200, upstream_masters=None, source_masters=None):
        self.upstream_pools = {}
        for k, v in (upstream_pools or {}).items():
            self.upstream_pools[normalize_upstream(str(k))] = v
        self.upstream_masters = {}
        for k, v in (upstream_masters or {}).items():
            self.upstream_masters[normalize_upstream(str(k))] = v
        # crash log (a file path or a journal source label) -> the master that writes it
        self.source_masters = dict(source_masters or {})
        self.window_s = float(window_s)
        self.max_keys = int(max_keys)
        self.max_records = int(max_records)
        self.max_incidents = int(max_incidents)
        self.by_category = {}
        self.by_source_kind = {}
        self.by_file = {}
        self.first = {}
        self.last = {}
        self.gateway = []
        self.crashes = []
        self.kernel = []
        self.cores = []
        self.total = 0
        self.dropped_records = 0
        self.dropped_keys = 0
        self.php_messages = {}      # (severity, script) -> count, of every fastcgi_stderr event

    # -- sink interface ------------------------------------------------------------
    def add(self, ev):
        cat = ev["category"]
        self.total += 1
        self.by_category[cat] = self.by_category.get(cat, 0) + 1
        sk = ev.get("source_kind")
        self.by_source_kind[sk] = self.by_source_kind.get(sk, 0) + 1
        f = ev.get("file")
        fc = self.by_file.get(f)
        if fc is None:
            if len(self.by_file) >= self.max_keys:
                self.dropped_keys += 1
                fc = None
            else:
                fc = self.by_file[f] = {}
        if fc is not None:
            fc[cat] = fc.get(cat, 0) + 1
        ts = ev.get("_ts")
        if ts is not None:
            if cat not in self.first or ts < self.first[cat]:
                self.first[cat] = ts
            if cat not in self.last or ts > self.last[cat]:
                self.last[cat] = ts
        line = ev.get("line_no")
        if cat in CRASH_502:
            up = ev.get("upstream")
            if up:
                norm = _UPSTREAM_CACHE.get(up)
                if norm is None:
                    if len(_UPSTREAM_CACHE) > 1000:
                        _UPSTREAM_CACHE.clear()
                    norm = _UPSTREAM_CACHE[up] = normalize_upstream(up)
                self._keep(self.gateway, (ts, norm, cat, ev.get("method"),
                                          ev.get("path"), ev.get("client"), ev.get("host"), ev["upstream"],
                                          f, line))
        elif cat in WORKER_CRASH:
            self._keep(self.crashes, (ts, ev.get("pool"), self.source_masters.get(f), ev.get("pid"), cat, ev.get("signal_number"),
                                      ev.get("signal_name"), ev.get("core_dumped"), ev.get("uptime_s"),
                                      ev.get("stderr"), f, line))
        elif cat in KERNEL_CRASH:
            self._keep(self.kernel, (ts, ev.get("pid"), cat, ev.get("process"), ev.get("module"),
                                     ev.get("fault_addr"), ev.get("ip"), ev.get("error_code"), f, line))
        elif cat == "coredump":
            self._keep(self.cores, (ts, ev.get("pid"), ev.get("process"), ev.get("uid"), f, line))
        elif cat == "fastcgi_stderr":
            self._php_messages_of_event(ev)

    bulk_notices = True

    def count_notices(self, path, tally, n, first, last):
        """PHP notice lines counted in bulk (evidence/php_notices.py): what add() does
        with their ``n`` fastcgi_stderr events, without the events. ``tally``: (severity,
        script) -> how many of their PHP messages; ``first``, ``last``: their epochs."""
        cat = "fastcgi_stderr"
        self.total += n
        self.by_category[cat] = self.by_category.get(cat, 0) + n
        self.by_source_kind["nginx"] = self.by_source_kind.get("nginx", 0) + n
        fc = self.by_file.get(path)
        if fc is None:
            if len(self.by_file) >= self.max_keys:
                self.dropped_keys += 1
            else:
                fc = self.by_file[path] = {}
        if fc is not None:
            fc[cat] = fc.get(cat, 0) + n
        if first is not None:
            cur = self.first.get(cat)
            if cur is None or first < cur:
                self.first[cat] = first
            cur = self.last.get(cat)
            if cur is None or last > cur:
                self.last[cat] = last
        for key, count in tally.items():
            self._count_php_message(key, count)

    def add_detail(self, ev):
        """A notice line brought in full next to a 502 (scanner): already counted."""

    def _php_messages_of_event(self, ev):
        for key in php_messages_of(ev.get("stderr") or ""):
            if key[0] is not None:
                self._count_php_message(key, 1)

    def _count_php_message(self, key, n):
        """``n`` more PHP messages of (severity, script) ``key``; a new key past
        max_keys is dropped (and counted)."""
        pm = self.php_messages
        c = pm.get(key)
        if c is None and len(pm) >= self.max_keys:
            self.dropped_keys += 1
            return
        pm[key] = (c or 0) + n

    def _keep(self, lst, rec):
        lst.append(rec)
        if len(lst) > self.max_records:
            drop = len(lst) - self.max_records // 2
            # keep the most recent half (by time; undated ones count as oldest)
            lst.sort(key=lambda r: r[0] if r[0] is not None else float("-inf"))
            del lst[:drop]
            self.dropped_records += drop

    def merge(self, other):
        self.total += other.total
        for src, dst in ((other.by_category, self.by_category), (other.by_source_kind, self.by_source_kind)):
            for k, v in src.items():
                dst[k] = dst.get(k, 0) + v
        for f, counts in other.by_file.items():
            mine = self.by_file.get(f)
            if mine is None:
                if len(self.by_file) >= self.max_keys:
                    self.dropped_keys += 1
                    continue
                mine = self.by_file[f] = {}
            for k, v in counts.items():
                mine[k] = mine.get(k, 0) + v
        for k, v in other.first.items():
            if k not in self.first or v < self.first[k]:
                self.first[k] = v
        for k, v in other.last.items():
            if k not in self.last or v > self.last[k]:
                self.last[k] = v
        for mine, theirs in ((self.gateway, other.gateway), (self.crashes, other.crashes),
                             (self.kernel, other.kernel), (self.cores, other.cores)):
            for rec in theirs:
                self._keep(mine, rec)
        for key, n in other.php_messages.items():
            self._count_php_message(key, n)
        self.dropped_records += other.dropped_records
        self.dropped_keys += other.dropped_keys

    def shift_lines(self, offset):
        for lst in (self.gateway, self.crashes, self.kernel, self.cores):
            for i, r in enumerate(lst):
                if r[-1] is not None:
                    lst[i] = r[:-1] + (r[-1] + offset,)

    # -- analysis ----------------------------------------------------------------------
    def _merged_crashes(self):
        """Merge heap_corruption and child_signal records of one (master, pool, pid)."""
        out = []
        open_by_key = {}
        for r in sorted(self.crashes, key=lambda r: (r[0] is None, r[0] or 0)):
            ts, pool, master, pid, cat, signum, signame, core, uptime, stderr, f, line = r
            key = (master, pool, pid)
            prev = open_by_key.get(key)
            if (prev is not None and pid is not None and ts is not None and prev["_ts"] is not None
                    and abs(ts - prev["_ts"]) <= MERGE_WINDOW_S
                    and (prev["category"] != cat or cat == "heap_corruption")):
                if cat == "child_signal":
                    prev.update(signal_number=signum, signal_name=signame, core_dumped=bool(core),
                                uptime_s=uptime, category="child_signal")
                else:
                    prev["heap_corruption"] = True
                    prev.setdefault("stderr", stderr)
                prev["evidence"].append({"file": f, "line_no": line, "category": cat})
                continue
            c = {"_ts": ts, "pool": pool, "master": master, "pid": pid, "category": cat, "signal_number": signum,
                 "signal_name": signame, "core_dumped": bool(core), "uptime_s": uptime,
                 "heap_corruption": cat == "heap_corruption", "file": f, "line_no": line,
                 "evidence": [{"file": f, "line_no": line, "category": cat}]}
            if stderr is not None and cat == "heap_corruption":
                c["stderr"] = stderr
            open_by_key[key] = c
            out.append(c)
        return out

    def _pool_for(self, upstream_norm):
        if not self.upstream_pools:
            return None
        return self.upstream_pools.get(upstream_norm)

    def report(self):
        crashes = self._merged_crashes()
        # undated crashes sort last and are never tied by time: bisect over the dated ones
        crash_ts = [c["_ts"] for c in crashes if c["_ts"] is not None]
        for c in crashes:
            c["requests"] = []
        unmatched_gateway = 0
        modes = set()
        for g in sorted(self.gateway, key=lambda r: (r[0] is None, r[0] or 0)):
            ts, up, cat, method, path, client, host, up_raw, f, line = g
            if ts is None:
                unmatched_gateway += 1
                continue
            want_pool = self._pool_for(up)
            want_master = self.upstream_masters.get(up) if want_pool is not None else None
            mode = "upstream_map" if want_pool is not None else "time_only"
            lo = bisect.bisect_left(crash_ts, ts - self.window_s) if crash_ts else 0
            best = None
            i = lo
            while i < len(crashes) and crashes[i]["_ts"] is not None and crashes[i]["_ts"] <= ts + self.window_s:
                c = crashes[i]
                if want_pool is None or c["pool"] is None or (
                        c["pool"] == want_pool and (want_master is None or c["master"] in (None, want_master))):
                    # One dead worker resets one request: prefer a crash that no 502
                    # was tied to yet, then the closest in time (stamps are whole seconds).
                    key = (bool(c["requests"]), abs(c["_ts"] - ts))
                    if best is None or key < best[0]:
                        best = (key, c)
                i += 1
            if best is None:
                unmatched_gateway += 1
                continue
            modes.add(mode)
            # the record itself: its dict is built only for the incidents reported
            best[1]["requests"].append(g + (mode,))
        # kernel reports and core dumps by pid
        kern_by_pid = {}
        for k in self.kernel:
            kern_by_pid.setdefault(k[1], []).append(k)
        core_by_pid = {}
        for k in self.cores:
            core_by_pid.setdefault(k[1], []).append(k)
        paths = {}
        per_hour = {}
        hour_names = {}
        incidents = []
        for c in crashes:
            kk = _closest(kern_by_pid.get(c["pid"], ()), c["_ts"], KERNEL_WINDOW_S)
            if kk is not None:
                c["kernel"] = {"category": kk[2], "process": kk[3], "module": kk[4], "fault_addr": kk[5],
                               "ip": kk[6], "error_code": kk[7], "timestamp": format_ts(kk[0]),
                               "file": kk[8], "line_no": kk[9]}
                c["module"] = kk[4]
            else:
                c["kernel"] = None
                c["module"] = None
            cc = _closest(core_by_pid.get(c["pid"], ()), c["_ts"], KERNEL_WINDOW_S)
            c["coredump"] = cc is not None
            if cc is not None:
                c["core_dumped"] = True
            is_crash = c["heap_corruption"] or (c["signal_number"] in CRASH_SIGNALS)
            c["crash"] = bool(is_crash)
            if is_crash and c["_ts"] is not None:
                floor = _hour_floor_local(c["_ts"])
                hour = hour_names.get(floor)
                if hour is None:
                    hour = hour_names[floor] = format_ts(floor)
                if hour in per_hour or len(per_hour) < self.max_keys:
                    per_hour[hour] = per_hour.get(hour, 0) + 1
                else:
                    self.dropped_keys += 1
            if c["requests"]:
                pool_paths = paths.get(c["pool"])
                if pool_paths is None:
                    pool_paths = paths[c["pool"]] = {}
                for r in c["requests"]:
                    p = r[4] or "(unknown)"
                    if p in pool_paths or len(pool_paths) < self.max_keys:
                        pool_paths[p] = pool_paths.get(p, 0) + 1
                    else:
                        self.dropped_keys += 1
                c["request_paths"] = sorted(set(r[4] for r in c["requests"] if r[4]))
            else:
                c["request_paths"] = []
            if is_crash or c["requests"]:
                incidents.append(c)
        unmatched_crashes = sum(1 for c in incidents if not c["requests"])
        total_incidents = len(incidents)
        truncated = total_incidents > self.max_incidents
        if truncated:
            incidents = incidents[-self.max_incidents:]
        out_incidents = []
        for c in incidents:
            d = dict((k, v) for k, v in c.items() if k != "_ts")
            d["timestamp"] = format_ts(c["_ts"])
            d["requests"] = [_request_dict(r) for r in c["requests"]]
            out_incidents.append(d)
        if not self.upstream_pools:
            mode = "time_only"
            note = ("no upstream -> pool mapping given: 502s were tied to crashes by time only "
                    "(within %g s)" % self.window_s)
        elif modes == set(["upstream_map"]) or not modes:
            mode = "upstream_map"
            note = "502s were tied to crashes of the pool behind their upstream (within %g s)" % self.window_s
        else:
            mode = "mixed"
            note = ("some 502 upstreams are not in the mapping and were tied to crashes by time only "
                    "(within %g s)" % self.window_s)
        top = {}
        for pool, counts in paths.items():
            items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:20]
            top[pool if pool is not None else "(unknown)"] = [{"path": p, "count": n} for p, n in items]
        return {
            "counts": {
                "total": self.total,
                "by_category": dict(self.by_category),
                "by_source_kind": dict(self.by_source_kind),
                "by_file": dict((f, dict(v)) for f, v in self.by_file.items()),
            },
            "incidents": out_incidents,
            "incidents_total": total_incidents,
            "incidents_truncated": truncated,
            "correlation": {"mode": mode, "window_s": self.window_s, "note": note,
                            "upstream_pools": dict(self.upstream_pools),
                            "upstream_masters": dict(self.upstream_masters)},
            "unmatched": {"gateway_errors": unmatched_gateway, "crashes": unmatched_crashes},
            "top_crash_paths": top,
            "crashes_per_hour": dict(sorted(per_hour.items())),
            "first_seen": dict((k, format_ts(v)) for k, v in sorted(self.first.items())),
            "last_seen": dict((k, format_ts(v)) for k, v in sorted(self.last.items())),
            "php_messages": self._php_messages_report(),
            "limits": {"records_dropped": self.dropped_records, "keys_dropped": self.dropped_keys,
                       "max_records": self.max_records, "max_keys": self.max_keys},
        }

    def _php_messages_report(self, top=20):
        """PHP messages of the FastCGI stderr lines: counts per severity, and the most
        frequent (severity, script) pairs."""
        by_sev = {}
        for (sev, dummy), n in self.php_messages.items():
            by_sev[sev] = by_sev.get(sev, 0) + n
        items = sorted(self.php_messages.items(), key=lambda kv: (-kv[1], kv[0][0], kv[0][1] or ""))
        return {"total": sum(by_sev.values()), "by_severity": by_sev,
                "top": [{"severity": k[0], "script": k[1], "count": n} for k, n in items[:top]],
                "distinct": len(self.php_messages)}


def _request_dict(r):
    """A 502 tied to a crash, as the report shows it (a gateway record and how it was tied)."""
    ts, dummy, cat, method, path, client, host, up_raw, f, line, mode = r
    return {"timestamp": format_ts(ts), "category": cat, "method": method, "path": path, "upstream": up_raw,
            "client": client, "host": host, "file": f, "line_no": line, "match": mode}


def _closest(records, ts, window):
    best = None
    for r in records:
        if ts is None or r[0] is None:
            d = window  # undated on one side: pid alone, weakest match
        else:
            d = abs(r[0] - ts)
            if d > window:
                continue
        if best is None or d < best[0]:
            best = (d, r)
    return best[1] if best else None


def _hour_floor_local(ts):
    lt = time.localtime(ts)
    return ts - (lt.tm_min * 60 + lt.tm_sec) - (ts % 1)


def correlate(events, upstream_pools=None, window_s=2.0, **kw):
    """Convenience: run a list of internal events (with ``_ts`` epoch or an ISO
    ``timestamp``) through a Correlator and return its report."""
    from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.timestamps import parse_iso
    c = Correlator(upstream_pools=upstream_pools, window_s=window_s, **kw)
    for ev in events:
        if "_ts" not in ev:
            ev = dict(ev)
            ev["_ts"] = parse_iso(ev["timestamp"]) if ev.get("timestamp") else None
        c.add(ev)
    return c.report()
