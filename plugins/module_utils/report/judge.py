# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The judge: figures of one scope (host, pool or release folder) -> verdict and reasons.

Private to opcache-fleet. Standard library only. Scope stats count what the evidence says
happened in the scope; judge() turns them and the supporting OPcache signs into a verdict
(docs/report-schema.md: verdict, confidence, reasons, notes, also); priority_of says how soon
a human is needed. A scope is healthy only on evidence that was read and that explains its
crash 502s: a php-fpm master that nginx routes to and that is not running is ``down``, crash
502s no crash explains or a master whose crash log was not read are ``unexplained``.
"""
from __future__ import absolute_import, division, print_function

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.categories import CRASH_502, GATEWAY_502
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.figures import as_int, plural, top_paths
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.host_model import down_targets, is_under, same_pool

__metaclass__ = type

# By how bad, the first found is the verdict (the others are ``also``).
VERDICTS = ("down", "opcache_suspect", "misconfig", "capacity", "timeouts", "unexplained", "healthy")
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
    # untied_502s: crash 502s (CRASH_502) no crash explains, judged for the host only (the
    # module's counts are complete there; a pool's or a folder's come from capped lists).
    # not_read / sources_read: what of the php-fpm masters' crash logs was (not) read
    # (evidence.fpm_sources; sources_read None: a record from before fpm_sources, unknown).
    return {"counts": {}, "crashes": 0, "tied_crashes": 0, "tied_502s": 0, "crash_paths": {},
            "signals": {}, "opcache_so": 0, "heap_corruption": 0, "hosts_headers": {},
            "untied_502s": 0, "killed_502s": 0, "killed_signals": {}, "not_read": [], "sources_read": None}


def _add_incident(stats, inc, path_filter=None):
    requests = inc.get("requests") or []
    if path_filter is not None:
        requests = [r for r in requests if path_filter(r.get("path") or "")]
        if not requests and inc.get("crash") is not False:
            return
    if inc.get("crash") is False:
        # A child death that is not a crash (exit code, SIGTERM, SIGKILL): the 502s tied to it
        # are not a crash's; counted to say so.
        if requests:
            stats["killed_502s"] += len(requests)
            sig = inc.get("signal_name") or "exit"
            stats["killed_signals"][sig] = stats["killed_signals"].get(sig, 0) + 1
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


def crash_evidence(model, pids=None):
    """(sources read, masters not read) of the php-fpm masters ``pids`` (all when None), from
    evidence.fpm_sources: the ``source`` of each scanned entry, and ``{master_pid, config,
    error_log, error_log_kind, reason}`` of each entry not scanned. (None, []) for a record made
    before fpm_sources: what was read is not known, nothing is said about it."""
    entries = model.fpm_sources()
    if entries is None:
        return None, []
    if pids is not None:
        entries = [e for e in entries if e.get("master_pid") in pids]
    read = [e.get("source") or e.get("error_log") or "?" for e in entries if e.get("status") == "scanned"]
    not_read = [dict((k, e.get(k)) for k in ("master_pid", "config", "error_log", "error_log_kind", "reason"))
                for e in entries if e.get("status") != "scanned"]
    return read, not_read


def host_stats(model):
    """Host-wide figures: counts from the module (complete), crashes from the incidents."""
    st = _empty_stats()
    counts = (model.evidence.get("counts") or {}).get("by_category") or {}
    st["counts"] = dict((k, as_int(v)) for k, v in counts.items())
    for inc in model.incidents:
        _add_incident(st, inc)
    # Incidents beyond the module's cap (the oldest) still count as crashes.
    left_out = as_int(model.evidence.get("incidents_total")) - len(model.incidents)
    st["crashes"] += max(0, left_out)
    untied = sum(st["counts"].get(c, 0) for c in CRASH_502) - st["tied_502s"]
    unmatched = (model.evidence.get("unmatched") or {}).get("gateway_errors")
    if left_out > 0 and unmatched is not None:
        # The 502s tied to the incidents left out are not in tied_502s: the correlator's own
        # count of the crash 502s it tied to no crash is the better figure then.
        untied = min(untied, as_int(unmatched) + st["killed_502s"])
    st["untied_502s"] = max(0, untied)
    st["sources_read"], st["not_read"] = crash_evidence(model)
    if "counts" not in model.evidence:
        # the whole evidence step failed (a bad window, the scan could not run): nothing was read
        st["not_read"] = [{"master_pid": None, "config": None, "error_log": None, "error_log_kind": None,
                           "step": "evidence", "reason": "the evidence step failed: %s"
                           % (model.evidence.get("msg") or "no evidence result")}] + st["not_read"]
    kernel = len([ev for ev in model.events
                  if ev.get("category") in ("kernel_segfault", "general_protection")
                  and ev.get("is_php", True) is not False and (ev.get("module") or "").startswith("opcache")])
    st["opcache_so"] = max(st["opcache_so"], kernel)
    st["down_targets"] = down_targets(model)
    return st


def pool_stats(model, pool):
    """Figures of one pool, ``pool`` = (master key, pool name): two masters may both have [www]."""
    return pools_stats(model, [pool])


def pools_stats(model, pools):
    """Figures of the crashes and events of any of ``pools`` ((master key, name) each), with
    the crash logs of their masters read or not."""
    st = _empty_stats()
    for inc in model.incidents:
        ref = model.pool_of_incident(inc)
        if any(same_pool(ref, p) for p in pools):
            _add_incident(st, inc)
    for ev in model.events:
        ref = model.pool_of_event(ev)
        if any(same_pool(ref, p) for p in pools):
            _add_event(st, ev)
    pids = set(m.get("master_pid") for m in (model.master_of_pool(p) for p in pools) if m is not None)
    if pids:
        st["sources_read"], st["not_read"] = crash_evidence(model, pids)
    return st


def section_stats(model, prefix, root=None, pids=None):
    """Figures of the release folder served under ``prefix`` from ``root``; ``pids``: the
    masters of its pools (their crash logs read or not), None when not known."""
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
    if pids:
        st["sources_read"], st["not_read"] = crash_evidence(model, pids)
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
    found = {}  # verdict -> its reasons
    if tied or crashes or opcache_so:
        mine = found["opcache_suspect"] = []
        sigs = ", ".join(sorted((stats.get("signals") or {}).keys()))
        if tied:
            pages = top_paths(stats.get("crash_paths") or {}, 3)
            mine.append({"code": "crashes_tied_to_502", "text": "%s tied to %d of %s%s; pages: %s" % (
                plural(as_int(stats.get("tied_502s")), "nginx 502"), tied,
                plural(crashes, "php-fpm worker crash", "php-fpm worker crashes"),
                " (%s)" % sigs if sigs else "",
                ", ".join("%s (%d)" % (p["path"], p["count"]) for p in pages) or "-")})
        elif crashes:
            mine.append({"code": "worker_crashes", "text": "%s without a 502 tied to them%s" % (
                plural(crashes, "php-fpm worker crash", "php-fpm worker crashes"), " (%s)" % sigs if sigs else "")})
        mine.extend({"code": c, "text": t} for c, t in support)
    down = stats.get("down_targets") or []
    if down:
        mine = found["down"] = []
        for d in down:
            where = ", ".join("server %s, location %s" % (u.get("server_name") or "?", u.get("location") or "?")
                              for u in d.get("uses") or []) or "?"
            mine.append({"code": "fastcgi_target_down", "text": "nginx passes PHP requests to %s (%s) but nothing "
                         "listens there (%s): php-fpm is stopped or listens elsewhere"
                         % (d.get("target"), where, d.get("detail") or "down")})
    for name, cats in (("misconfig", MISCONFIG), ("capacity", CAPACITY), ("timeouts", TIMEOUTS)):
        hits = [(c, as_int(counts.get(c))) for c in cats if as_int(counts.get(c))]
        if sum(n for dummy, n in hits) >= th[name]:
            found[name] = [{"code": c, "text": "%s: %s" % (CATEGORY_TEXT.get(c, c), plural(n, "time"))} for c, n in hits]
    unexplained = _unexplained(stats)
    if unexplained:
        found["unexplained"] = unexplained
    order = [v for v in VERDICTS if v in found]
    reasons = [r for v in order for r in found[v]]
    verdict = order[0] if order else "healthy"
    if verdict == "opcache_suspect":
        confidence = "high" if (tied and support) else ("medium" if tied or opcache_so else "low")
    else:
        confidence = None
    notes = []
    if verdict != "opcache_suspect":
        notes = [{"code": c, "text": t} for c, t in support]
    if verdict == "healthy":
        # Crash 502s left would have made it unexplained: these are 502s of other kinds, below
        # the thresholds or of no verdict (too big a header, an invalid response).
        g = sum(as_int(counts.get(c)) for c in GATEWAY_502 if c not in CRASH_502)
        reasons.append({"code": "no_faults", "text": "no worker crashes, 502s tied to crashes, capacity, timeout "
                        "or socket errors in the window" + ("" if not g else " (%s, none of a crash's kind)"
                                                            % plural(g, "other 502"))})
    return {"verdict": verdict, "confidence": confidence, "reasons": reasons, "notes": notes, "also": order[1:]}


def untied_502s(stats):
    """Crash 502s (connection reset or closed by php-fpm) of a scope that no crash explains:
    ``untied_502s`` of the stats (host_stats: a correlator's figure when incidents were capped),
    else those counted less those tied to a crash."""
    if "untied_502s" in stats:
        return max(0, as_int(stats["untied_502s"]))
    counts = stats.get("counts") or {}
    return max(0, sum(as_int(counts.get(c)) for c in CRASH_502) - as_int(stats.get("tied_502s")))


def _unexplained(stats):
    """The reasons a scope cannot be called healthy on its evidence: crash 502s no crash
    explains (``untied_502s``) and php-fpm masters whose crash log was not read
    (``evidence_not_read``, one per master)."""
    out = []
    untied = untied_502s(stats)
    if untied:
        text = "%s (connection reset/closed by php-fpm) that no worker crash in the evidence read explains" % (
            plural(untied, "nginx 502"))
        killed = min(untied, as_int(stats.get("killed_502s")))
        if killed:
            text += "; %d came as a worker died without crashing (%s: killed or exited)" % (
                killed, ", ".join(sorted(stats.get("killed_signals") or {})) or "?")
        read = stats.get("sources_read")
        if read is not None:
            text += "; crash evidence read: %s" % (", ".join(read) or "none")
        out.append({"code": "untied_502s", "text": text})
    for m in stats.get("not_read") or []:
        out.append({"code": "evidence_not_read", "text": "crash evidence not read: %s: %s" % (
            unread_what(m), m.get("reason") or "not read")})
    return out


def unread_what(m):
    """Whose crash evidence an entry of ``not_read`` (or of evidence.fpm_sources) is: a master, or
    the host's whole evidence step."""
    if m.get("step"):
        return "this host (no log was read)"
    return "master %s (%s)" % (m.get("master_pid") if m.get("master_pid") is not None else "?", m.get("config") or "?")


def signs_for(model, pids=None, root=None):
    ms = [m for m in model.opcache_masters() if pids is None or m.get("master_pid") in pids]
    full = any((m.get("status") or {}).get("cache_full") for m in ms)
    oom = sum(as_int(((m.get("status") or {}).get("opcache_statistics") or {}).get("oom_restarts")) for m in ms)
    hsh = sum(as_int(((m.get("status") or {}).get("opcache_statistics") or {}).get("hash_restarts")) for m in ms)
    stale = len(model.stale_scripts(root=root, pids=pids)) if root else model.stale_total(pids)
    cols = model.collision_items(root, loaded_only=True) if root else model.collision_items(loaded_only=True)
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


def priority_of(verdict, resolved, also, reasons=None):
    """How soon a scope needs a human: high (502s now: a master down, crashes, socket errors, crash
    502s nothing explains), medium (capacity, timeouts, a crash log not read), low (crashes
    stopped after a reset), None (healthy, no result). ``reasons``: the judgement's (is an
    ``unexplained`` scope's trouble 502s, ``untied_502s``, or only an unread log?)."""
    if verdict == "opcache_suspect" and resolved:
        return priority_of(also[0], False, also[1:], reasons) if also else "low"
    if verdict == "unexplained":
        return "high" if any(r.get("code") == "untied_502s" for r in reasons or []) else "medium"
    return {"down": "high", "opcache_suspect": "high", "misconfig": "high", "capacity": "medium",
            "timeouts": "medium"}.get(verdict)
