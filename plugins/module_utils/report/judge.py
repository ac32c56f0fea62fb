# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The judge: figures of one scope (host, pool or release folder) -> verdict and reasons.

Private to opcache-fleet. Standard library only. Scope stats count what the evidence says
happened in the scope; judge() turns them and the supporting OPcache signs into a verdict
(docs/report-schema.md: verdict, confidence, reasons, notes, also); priority_of says how soon
a human is needed.
"""
from __future__ import absolute_import, division, print_function

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.categories import GATEWAY_502
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.figures import as_int, plural, top_paths
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.host_model import down_targets, is_under

__metaclass__ = type

VERDICTS = ("opcache_suspect", "misconfig", "capacity", "timeouts", "healthy")
CAPACITY = ("max_children", "seems_busy", "upstream_connect_eagain")
TIMEOUTS = ("upstream_timeout", "exec_timeout")
MISCONFIG = ("upstream_connect_eacces", "upstream_connect_enoent", "upstream_connect_refused",
             "primary_script_unknown")
CATEGORY_TEXT = {
    "max_children": "pool reached pm.max_children",
    "seems_busy": "pool seems busy (spawning children hard)",
    "upstream_connect_eagain": "connect() to php-fpm failed with EAGAIN (listen backlog full)",
    "upstream_timeout": "nginx timed out waiting for php-fpm (504)",
    "exec_timeout": "request_terminate_timeout killed a request",
    "upstream_connect_eacces": "connect() to the php-fpm socket denied (EACCES: socket permissions)",
    "upstream_connect_enoent": "php-fpm socket file missing (ENOENT)",
    "upstream_connect_refused": "connect() to php-fpm refused (nothing listens)",
    "primary_script_unknown": "php-fpm could not find the script (Primary script unknown)",
}


# ---------------------------------------------------------------------------- scope stats

def _empty_stats():
    return {"counts": {}, "crashes": 0, "tied_crashes": 0, "tied_502s": 0, "crash_paths": {},
            "signals": {}, "opcache_so": 0, "heap_corruption": 0, "hosts_headers": {}}


def _add_incident(stats, inc, path_filter=None):
    if inc.get("crash") is False:
        return  # a child death that is not a crash (exit code, SIGTERM)
    requests = inc.get("requests") or []
    if path_filter is not None:
        requests = [r for r in requests if path_filter(r.get("path") or "")]
        if not requests:
            return
    stats["crashes"] += 1
    sig = inc.get("signal_name") or ("heap corruption" if inc.get("heap_corruption") else inc.get("category"))
    if sig:
        stats["signals"][sig] = stats["signals"].get(sig, 0) + 1
    if inc.get("heap_corruption"):
        stats["heap_corruption"] += 1
    if (inc.get("module") or "").startswith("opcache"):
        stats["opcache_so"] += 1
    if requests:
        stats["tied_crashes"] += 1
        stats["tied_502s"] += len(requests)
        for r in requests:
            p = r.get("path")
            if p:
                stats["crash_paths"][p] = stats["crash_paths"].get(p, 0) + 1
                hh = r.get("host")
                if hh:
                    stats["hosts_headers"].setdefault(p, hh)


def _add_event(stats, ev):
    c = ev.get("category")
    if c:
        stats["counts"][c] = stats["counts"].get(c, 0) + 1


def host_stats(model):
    """Host-wide figures: counts from the module (complete), crashes from the incidents."""
    st = _empty_stats()
    counts = (model.evidence.get("counts") or {}).get("by_category") or {}
    st["counts"] = dict((k, as_int(v)) for k, v in counts.items())
    for inc in model.incidents:
        _add_incident(st, inc)
    # Incidents beyond the module's cap (the oldest) still count as crashes.
    st["crashes"] += max(0, as_int(model.evidence.get("incidents_total")) - len(model.incidents))
    kernel = len([ev for ev in model.events
                  if ev.get("category") in ("kernel_segfault", "general_protection")
                  and ev.get("is_php", True) is not False and (ev.get("module") or "").startswith("opcache")])
    st["opcache_so"] = max(st["opcache_so"], kernel)
    st["down_targets"] = down_targets(model)
    return st


def pool_stats(model, pool):
    st = _empty_stats()
    for inc in model.incidents:
        if inc.get("pool") == pool:
            _add_incident(st, inc)
    for ev in model.events:
        if model.pool_of_event(ev) == pool:
            _add_event(st, ev)
    return st


def section_stats(model, prefix, root=None):
    st = _empty_stats()

    def match(path):
        return path.startswith(prefix)
    for inc in model.incidents:
        _add_incident(st, inc, path_filter=match)
    for ev in model.events:
        if ev.get("source_kind") == "nginx" and match(ev.get("path") or ""):
            _add_event(st, ev)
        elif ev.get("script") and ev.get("category") in TIMEOUTS + ("slow_request",):
            # php-fpm names the script, not the URI: the section's root decides.
            if root and is_under(ev["script"], root):
                _add_event(st, ev)
    st["down_targets"] = down_targets(model, root, prefix) if root else []
    return st


# ---------------------------------------------------------------------------- judging

def judge(stats, signs=None, thresholds=None):
    """Verdict of one scope (host, pool or release folder).

    ``stats`` as built by host_stats/pool_stats/section_stats; ``signs`` = supporting OPcache
    signs: stale (int), cache_full (bool), oom_restarts, hash_restarts, collisions (list of
    names), overrides (list of "pool: directive=value").
    Returns {verdict, confidence, reasons: [{code, text}], also: [verdicts]}.
    """
    signs = signs or {}
    th = {"misconfig": 1, "capacity": 1, "timeouts": 1}
    th.update(thresholds or {})
    counts = stats.get("counts") or {}
    found = []
    reasons = []

    support = []
    opcache_so = as_int(stats.get("opcache_so"))
    if opcache_so:
        support.append(("opcache_so_segfault", "kernel: %s in opcache.so" % plural(opcache_so, "segfault")))
    if stats.get("heap_corruption"):
        support.append(("heap_corruption", "%s reported zend_mm_heap corrupted" % plural(stats["heap_corruption"], "worker")))
    if as_int(signs.get("stale")):
        support.append(("stale_scripts", "%s still cached although changed on disk (stale)"
                        % plural(as_int(signs["stale"]), "script")))
    if signs.get("cache_full"):
        support.append(("cache_full", "OPcache memory is full"))
    if as_int(signs.get("oom_restarts")):
        support.append(("oom_restarts", "OPcache restarted %s for lack of memory (oom_restarts)"
                        % plural(as_int(signs["oom_restarts"]), "time")))
    if as_int(signs.get("hash_restarts")):
        support.append(("hash_restarts", "OPcache restarted %s for a full key table (hash_restarts)"
                        % plural(as_int(signs["hash_restarts"]), "time")))
    if signs.get("collisions"):
        names = signs["collisions"]
        support.append(("class_collisions", "%s declared in more than one file: %s"
                        % (plural(len(names), "class name"), ", ".join(names[:5]) + (" ..." if len(names) > 5 else ""))))
    if signs.get("overrides"):
        support.append(("pool_opcache_overrides", "per-pool OPcache/extension overrides (tied to php-src crashes "
                        "GH-23355, GH-23288): " + ", ".join(signs["overrides"][:5])))

    tied, crashes = as_int(stats.get("tied_crashes")), as_int(stats.get("crashes"))
    if tied or crashes or opcache_so:
        found.append("opcache_suspect")
        sigs = ", ".join(sorted((stats.get("signals") or {}).keys()))
        if tied:
            pages = top_paths(stats.get("crash_paths") or {}, 3)
            reasons.append({"code": "crashes_tied_to_502", "text": "%s tied to %d of %s%s; pages: %s" % (
                plural(as_int(stats.get("tied_502s")), "nginx 502"), tied,
                plural(crashes, "php-fpm worker crash", "php-fpm worker crashes"),
                " (%s)" % sigs if sigs else "",
                ", ".join("%s (%d)" % (p["path"], p["count"]) for p in pages) or "-")})
        elif crashes:
            reasons.append({"code": "worker_crashes", "text": "%s without a 502 tied to them%s" % (
                plural(crashes, "php-fpm worker crash", "php-fpm worker crashes"), " (%s)" % sigs if sigs else "")})
        reasons.extend({"code": c, "text": t} for c, t in support)
    down = stats.get("down_targets") or []
    if down:
        found.append("misconfig")
        for d in down:
            where = ", ".join("server %s, location %s" % (u.get("server_name") or "?", u.get("location") or "?")
                              for u in d.get("uses") or []) or "?"
            reasons.append({"code": "fastcgi_target_down", "text": "nginx passes PHP requests to %s (%s) but nothing "
                            "listens there (%s): php-fpm is stopped or listens elsewhere"
                            % (d.get("target"), where, d.get("detail") or "down")})
    for name, cats in (("misconfig", MISCONFIG), ("capacity", CAPACITY), ("timeouts", TIMEOUTS)):
        hits = [(c, as_int(counts.get(c))) for c in cats if as_int(counts.get(c))]
        if sum(n for dummy, n in hits) >= th[name]:
            found.append(name)
            for c, n in hits:
                reasons.append({"code": c, "text": "%s: %s" % (CATEGORY_TEXT.get(c, c), plural(n, "time"))})
    order = [v for v in VERDICTS if v in found]
    verdict = order[0] if order else "healthy"
    if verdict == "opcache_suspect":
        confidence = "high" if (tied and support) else ("medium" if tied or opcache_so else "low")
    else:
        confidence = None
    notes = []
    if verdict != "opcache_suspect":
        notes = [{"code": c, "text": t} for c, t in support]
    if verdict == "healthy":
        g = sum(as_int(counts.get(c)) for c in GATEWAY_502)
        reasons.append({"code": "no_faults", "text": "no worker crashes, 502s tied to crashes, capacity, timeout "
                        "or socket errors in the window" + ("" if not g else " (%s not tied to a crash)" % plural(g, "other 502"))})
    return {"verdict": verdict, "confidence": confidence, "reasons": reasons, "notes": notes, "also": order[1:]}


def signs_for(model, pids=None, root=None):
    ms = [m for m in model.opcache_masters() if pids is None or m.get("master_pid") in pids]
    full = any((m.get("status") or {}).get("cache_full") for m in ms)
    oom = sum(as_int(((m.get("status") or {}).get("opcache_statistics") or {}).get("oom_restarts")) for m in ms)
    hsh = sum(as_int(((m.get("status") or {}).get("opcache_statistics") or {}).get("hash_restarts")) for m in ms)
    stale = len(model.stale_scripts(root=root, pids=pids)) if root else model.stale_total(pids)
    cols = model.collision_items(root) if root else model.collision_items()
    overrides = []
    for m in model.masters:
        if pids is not None and m.get("master_pid") not in pids:
            continue
        for p in m.get("pools") or []:
            for d, v in sorted((p.get("opcache_overrides") or {}).items()):
                val = v.get("value") if isinstance(v, dict) else v
                overrides.append("%s: %s=%s" % (p.get("name"), d, val))
            for e in p.get("extension_overrides") or []:
                overrides.append("%s: %s=%s" % (p.get("name"), e.get("directive"), e.get("value")))
    return {"cache_full": full, "oom_restarts": oom, "hash_restarts": hsh, "stale": stale,
            "collisions": sorted(set(c.get("name") or c.get("key") for c in cols)), "overrides": overrides}


def priority_of(verdict, resolved, also):
    """How soon a scope needs a human: high (502s now: crashes, socket errors), medium (capacity,
    timeouts), low (crashes stopped after a reset), None (healthy, no result)."""
    if verdict == "opcache_suspect" and resolved:
        return priority_of(also[0], False, also[1:]) if also else "low"
    return {"opcache_suspect": "high", "misconfig": "high", "capacity": "medium", "timeouts": "medium"}.get(verdict)
