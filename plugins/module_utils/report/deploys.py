# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: opcache-fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release table of deploy sites (``hosts[].deploys``, issue 10 point 4).

diagnose_host read each site from the disk (diagnose/deploys.py): its releases, the one
``current`` points to, the nginx roots that resolve into each, and per master how many
cached scripts each release holds. Here each release gets what the report says of it:
``state`` (``live``, ``served``: an nginx root resolves into it, ``old_served``: cached
scripts of it were used after the link moved, ``old_cached``, ``old``), and for the
releases nginx serves, the crashes and 502s of the pools behind those roots, judged like
any scope. An old release is not judged: no request reaches it by its own path, and its
still-cached code is said by its state and the host's ``old_release_*`` note.
"""
from __future__ import absolute_import, division, print_function

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.identity import master_key
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.figures import as_int, top_paths
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.judge import (
    judge, pools_stats, priority_of, signs_for,
)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.reset_check import (
    apply_reset_check, pools_reset_check,
)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.times import iso_time


def _pools_of_roots(model, roots):
    """(master key, pool name) of the fastcgi targets whose nginx root is one of ``roots``."""
    wanted = set(r.rstrip("/") or "/" for r in roots)
    refs = []
    for t in model.nginx.get("fastcgi_targets") or []:
        root = (t.get("root") or "").rstrip("/") or "/"
        ref = (master_key(t), t.get("pool"))
        if t.get("pool") and root in wanted and ref not in refs:
            refs.append(ref)
    return refs


def _cached(model, release):
    n = 0
    for m in model.opcache_masters():
        n += as_int((m.get("release_scripts") or {}).get(release.get("path")))
    return n


def _served_since_switch(model, release):
    spellings = (release.get("path"), release.get("resolved"))
    return sum(as_int(g.get("used_since_switch")) for m in model.opcache_masters()
               for g in m.get("superseded_releases") or [] if g.get("release") in spellings)


def _judged(model, release, thresholds):
    """Verdict fields of a release nginx serves, from the pools behind its roots; None
    when no pool behind them is known."""
    refs = _pools_of_roots(model, release.get("served_by") or [])
    if not refs:
        return None
    st = pools_stats(model, refs)
    pids = set(m.get("master_pid") for m in (model.master_of_pool(r) for r in refs) if m is not None) or None
    j = judge(st, signs_for(model, pids=pids, root=release.get("resolved") or release.get("path")), thresholds)
    apply_reset_check(j, pools_reset_check(model, refs))
    return {"pools": [model.pool_label(r) for r in refs], "verdict": j["verdict"], "confidence": j["confidence"],
            "priority": priority_of(j["verdict"], j["resolved_by_reset"], j["also"], j["reasons"]),
            "resolved_by_reset": j["resolved_by_reset"], "reset_check": j["reset_check"], "reasons": j["reasons"], "crashes": st["crashes"],
            "tied_502s": st["tied_502s"], "crash_paths": top_paths(st["crash_paths"])}


def release_entry(model, release, thresholds=None):
    cached, since = _cached(model, release), _served_since_switch(model, release)
    if release.get("live"):
        state = "live"
    elif release.get("served_by"):
        state = "served"
    elif since:
        state = "old_served"
    elif cached:
        state = "old_cached"
    else:
        state = "old"
    entry = {"name": release.get("name"), "path": release.get("path"), "resolved": release.get("resolved"),
             "state": state, "live": bool(release.get("live")), "served_by": list(release.get("served_by") or []),
             "cached_scripts": cached, "served_since_switch": since, "pools": [], "verdict": None,
             "confidence": None, "priority": None, "resolved_by_reset": False, "reset_check": None, "reasons": [], "crashes": 0,
             "tied_502s": 0, "crash_paths": []}
    if state in ("live", "served"):
        entry.update(_judged(model, release, thresholds) or {})
    return entry


def deploy_entries(model, thresholds=None, tz=None):
    """``hosts[].deploys``: one entry per deploy site, its releases oldest first."""
    out = []
    for site in model.deploys:
        switched = site.get("switched_at")
        out.append({
            "site": site.get("site"), "live_link": site.get("live_link"), "live_release": site.get("live_release"),
            "switched_at": iso_time(switched, tz) if switched else None, "roots": list(site.get("roots") or []),
            "releases_total": as_int(site.get("releases_total")), "error": site.get("error"),
            "releases": [release_entry(model, r, thresholds) for r in site.get("releases") or []
                         if isinstance(r, dict)],
        })
    return out
