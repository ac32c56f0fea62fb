# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The reset check: did an OPcache reset, reload or invalidation stop a scope's crashes?

Private to opcache-fleet. Standard library only. Gives ``resolved_by_reset`` /
``crashes_after_reset`` (docs/report-schema.md, ``reset_check``) and adds it to a judgement.
"""
from __future__ import absolute_import, division, print_function

import posixpath

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.categories import CRASH_502
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.figures import plural, top_paths
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.host_model import same_pool
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.times import (
    clock_time, epoch_of, iso_time, report_tz,
)

__metaclass__ = type

# A reset that worked leaves the crashes in the window: the report must not keep saying "reset
# it" for them. What OPcache tells about its own past (start_time: master started or reloaded;
# last_restart_time with manual_restarts: opcache_reset(); oom/hash restarts) and what
# opcache_reset (stale/files) and the culprit hunt recorded of their invalidations
# (helper_dir/invalidated.json, per master and cache generation) are compared with the time of
# the last crash of each scope. OPcache times are whole epoch seconds of the host clock, log
# times whole seconds of the same clock: a crash in the same second as a reset counts as before it.

RESET_STATES = ("resolved_by_reset", "crashes_after_reset")


def scope_crashes(model, incidents, path_filter=None):
    """[(epoch, tied, paths, master_pid)] of the crash incidents given (undated ones left out)."""
    out = []
    for inc in incidents:
        if inc.get("crash") is False:
            continue
        requests = inc.get("requests") or []
        if path_filter is not None:
            requests = [r for r in requests if path_filter(r.get("path") or "")]
            if not requests:
                continue
        t = epoch_of(inc.get("timestamp"))
        if t is None:
            continue
        out.append((t, bool(requests), [r.get("path") for r in requests if r.get("path")],
                    model.pid_of_pool(model.pool_of_incident(inc))))
    return out


def scope_gateways(model, events, path_filter=None, pool=None):
    """[(epoch, master_pid or None, path)] of nginx 502s that a crash makes (reset/closed)."""
    out = []
    for ev in events:
        if ev.get("category") not in CRASH_502:
            continue
        if path_filter is not None and not path_filter(ev.get("path") or ""):
            continue
        p = model.pool_of_event(ev)
        if pool is not None and p is not None and not same_pool(p, pool):
            continue
        t = epoch_of(ev.get("timestamp"))
        if t is not None:
            out.append((t, model.pid_of_pool(p), ev.get("path")))
    if model.evidence.get("events_truncated"):
        # Only the first events were returned: the module's last_seen says whether a crash 502
        # came later, somewhere on the host (which master is unknown).
        for c in CRASH_502:
            t = epoch_of((model.evidence.get("last_seen") or {}).get(c))
            if t is not None:
                out.append((t, None, None))
    return out


def pools_reset_check(model, pools):
    """reset_check of the crashes and crash 502s of any of ``pools`` ((master key, pool name) each)."""
    mine = [i for i in model.incidents if any(same_pool(model.pool_of_incident(i), p) for p in pools)]
    gateways = [g for p in pools for g in scope_gateways(model, model.events, pool=p)]
    return reset_check(model, scope_crashes(model, mine), gateways)


def _master_check(crashes, gateways, events, tz):
    """One master: the last cache event after the first crash, and what came after it."""
    if not crashes or not events:
        return None
    trouble = [c for c in crashes if c[1]] or crashes
    first = min(c[0] for c in trouble)
    later = [e for e in events if e["time"] > first]
    if not later:
        return None
    ev = later[-1]
    at = ev["time"]
    before = [c for c in crashes if c[0] <= at]
    tied_before = [c for c in before if c[1]]
    last_crash = max(c[0] for c in (tied_before or before))
    since = [c for c in crashes if c[0] > at]
    gw_since = [g for g in gateways if g[0] > at]
    paths = {}
    for c in since:
        for p in c[2]:
            paths[p] = paths.get(p, 0) + 1
    if not paths:
        for g in gw_since:
            if g[2]:
                paths[g[2]] = paths.get(g[2], 0) + 1
    times_since = [c[0] for c in since] + [g[0] for g in gw_since]
    last_since = max(times_since) if times_since else None
    return {
        "state": "crashes_after_reset" if (since or gw_since) else "resolved_by_reset",
        "master_pid": None, "last_crash": iso_time(last_crash, tz), "last_crash_tied": bool(tied_before),
        "reset_at": iso_time(at, tz), "reset_kind": ev["kind"], "reset_text": ev["text"],
        "invalidated_files": list(ev["files"]), "crashes_since": len(since), "gateway_502s_since": len(gw_since),
        "last_since": iso_time(last_since, tz) if last_since is not None else None,
        "paths_since": top_paths(paths, 5),
        "_epochs": (last_crash, at, last_since),
    }


def reset_check(model, crashes, gateways):
    """Compare a scope's crashes with the cache events of the master(s) behind them.

    None when no OPcache reset, restart, reload or invalidation happened after the first crash
    on some master with crashes (the verdict stands as it is). Otherwise a dict (the
    ``reset_check`` of the report): ``state`` ``resolved_by_reset`` (every master with crashes
    lost its cached code after its last crash, and no crash or crash 502 was logged since) or
    ``crashes_after_reset`` (a crash or crash 502 came after such a reset on some master)."""
    if not crashes:
        return None
    tz = report_tz(model)
    pids = []
    for c in crashes:
        if c[3] not in pids:
            pids.append(c[3])
    checks = []
    for pid in pids:
        mine = [c for c in crashes if c[3] == pid]
        gws = [g for g in gateways if g[1] in (pid, None)]
        chk = _master_check(mine, gws, model.cache_events(pid) if pid is not None else [], tz)
        if chk is None:
            checks.append(None)
            continue
        chk["master_pid"] = pid
        checks.append(chk)
    failed = [c for c in checks if c and c["state"] == "crashes_after_reset"]
    if failed:
        out = max(failed, key=lambda c: (c["crashes_since"] + c["gateway_502s_since"], c["reset_at"]))
    elif checks and all(checks):
        out = max(checks, key=lambda c: c["_epochs"][0])
    else:
        return None
    out = dict(out)
    if len([c for c in checks if c]) > 1:
        out["masters"] = [dict((k, v) for k, v in c.items() if k != "_epochs") for c in checks if c]
    out["reasons_text"] = _reset_text(out, tz)
    return out


def _reset_text(chk, tz):
    last_crash, at, last_since = chk["_epochs"]
    what = {
        "start": "php-fpm master (re)started or reloaded (new OPcache)",
        "reset": "OPcache reset",
        "restart": "OPcache restarted itself",
        "invalidate": "cached files invalidated (%s)" % ", ".join(
            posixpath.basename(f) for f in chk["invalidated_files"][:3])
        + (" ..." if len(chk["invalidated_files"]) > 3 else ""),
    }[chk["reset_kind"]]
    crash = "last crash %s%s" % (clock_time(last_crash, tz), " (tied to 502s)" if chk["last_crash_tied"] else "")
    when = "%s at %s" % (what, clock_time(at, tz, last_crash))
    if chk["state"] == "resolved_by_reset":
        return ("%s; %s; no crash or crash 502 logged since (request the page to confirm: no crash can also "
                "mean no request)" % (crash, when))
    since = []
    if chk["crashes_since"]:
        since.append(plural(chk["crashes_since"], "crash", "crashes"))
    if chk["gateway_502s_since"]:
        since.append(plural(chk["gateway_502s_since"], "crash 502"))
    pages = ", ".join("%s (%d)" % (p["path"], p["count"]) for p in chk["paths_since"][:3])
    if chk["reset_kind"] == "invalidate":
        why = ("the invalidated files were not (all) the culprit: another cached file crashes, or it is not a "
               "stale cache")
    else:
        why = ("the cache was emptied and the crash came back: not a stale-cache problem (the code on disk, an "
               "extension, or opcache.file_cache serving old code)")
    return "THE RESET DID NOT CURE IT: %s after the %s, %s since (last %s%s): %s" % (
        when, crash, " and ".join(since), clock_time(last_since, tz, at), ("; " + pages) if pages else "", why)


def apply_reset_check(j, chk):
    """Add ``resolved_by_reset`` / ``reset_check`` to a judgement (and its first reason)."""
    j["resolved_by_reset"] = False
    j["reset_check"] = None
    if j["verdict"] != "opcache_suspect" or not chk:
        return j
    text = chk.get("reasons_text")
    j["reset_check"] = dict((k, v) for k, v in chk.items() if not k.startswith("_") and k != "reasons_text")
    j["resolved_by_reset"] = chk["state"] == "resolved_by_reset"
    j["reasons"] = [{"code": chk["state"], "text": text}] + list(j["reasons"])
    return j
