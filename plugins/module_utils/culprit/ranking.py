# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ranking of the cached scripts for the culprit hunt (which to invalidate first).

Private to opcache-fleet. Standard library only, Python 3.8+.

The signal and the ranking key are described in culprit/hunt.py's docstring: include sets
from ``last_used_timestamp`` (:func:`probe_seconds`, :func:`include_set`,
:func:`used_elsewhere`), staleness, class collisions (:func:`collision_files`,
:func:`collision_roots_for`), mtime; :func:`rank_candidates` orders, :func:`groups` cuts.
"""
from __future__ import absolute_import, division, print_function

import os

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.status_summary import HELPER_PATH_RE

__metaclass__ = type

STALE_ORDER = {"certain": 0, "possible": 1, "unknown": 2, "fresh": 3}


def probe_seconds(probe):
    """The whole seconds a probe's request may carry as its start time."""
    return sorted(set([int(probe["t0"]), int(probe["t1"])]))


def include_set(scripts, seconds):
    """Cached scripts last used in one of ``seconds`` (helper files excluded)."""
    secs = set(seconds)
    return set(s["full_path"] for s in scripts or []
               if s.get("cached") and s.get("last_used_timestamp") in secs
               and not HELPER_PATH_RE.search(s.get("full_path") or ""))


def used_elsewhere(snapshots, since, probe_secs):
    """Scripts seen used in a second >= ``since`` in which no probe of ours ran: other
    requests use them (the helper's own file is excluded)."""
    secs = set(probe_secs)
    out = set()
    for scripts in snapshots:
        for s in scripts or []:
            lu = s.get("last_used_timestamp")
            path = s.get("full_path") or ""
            if lu is None or HELPER_PATH_RE.search(path):
                continue
            if lu >= since and lu not in secs:
                out.add(path)
    return out


def collision_files(result):
    """Files of real collisions (not only between release folders) from find_collisions()."""
    out = set()
    for c in (result or {}).get("collisions") or []:
        if c.get("across_releases"):
            continue
        for f in c.get("files") or []:
            out.add(f.get("path"))
    return out


def collision_roots_for(paths, script_filename=None, fallback=None):
    """Code roots to scan for collisions: the deepest common directory of the include set
    (at least two levels deep), else the release folder or directory of the page script."""
    from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.php.class_collisions import release_of
    paths = [p for p in paths or [] if p and p.startswith("/")]
    if paths:
        common = os.path.commonpath([os.path.dirname(p) for p in paths])
        if common.count("/") >= 2:
            return [common]
    if script_filename:
        rel = release_of(script_filename)
        return [rel or os.path.dirname(script_filename)]
    return [fallback] if fallback else []


def rank_candidates(classified, include=None, shared=None, collisions=None, twins=None):
    """Order cached scripts (opcache_control.classify_scripts output) for invalidation.

    ``twins``: {path: reason} of culprit/twins.py. Returns a list of dicts {rank, path,
    in_include_set, twin_differs, used_elsewhere, stale, collision, mtime,
    last_used_timestamp, reasons}.
    """
    twins = twins or {}
    shared = shared or set()
    collisions = collisions or set()
    rows = []
    for e in classified:
        path = e["full_path"]
        inc = include is not None and path in include
        row = {
            "path": path,
            "in_include_set": inc if include is not None else None,
            "twin_differs": path in twins,
            "used_elsewhere": path in shared,
            "stale": e.get("stale"),
            "collision": path in collisions,
            "mtime": e.get("mtime"),
            "last_used_timestamp": e.get("last_used_timestamp"),
        }
        reasons = []
        if inc:
            reasons.append("in the crashing request's include set")
        if row["twin_differs"]:
            reasons.append(twins[path])
        if row["used_elsewhere"]:
            reasons.append("also used by other requests")
        if row["stale"] in ("certain", "possible", "unknown"):
            reasons.append("stale %s: %s" % (row["stale"], e.get("reason")))
        if row["collision"]:
            reasons.append("declares a class another file also declares")
        row["reasons"] = reasons
        rows.append(row)
    rows.sort(key=lambda r: (0 if (include is None or r["in_include_set"]) else 1,
                             0 if r["twin_differs"] else 1,
                             1 if r["used_elsewhere"] else 0,
                             STALE_ORDER.get(r["stale"], 3),
                             0 if r["collision"] else 1,
                             -(r["mtime"] or 0),
                             r["path"]))
    for i, r in enumerate(rows):
        r["rank"] = i + 1
    return rows


def groups(paths, size):
    size = max(1, int(size))
    return [paths[i:i + size] for i in range(0, len(paths), size)]
