# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""OPcache status summaries and the classification of cached scripts (stale detection).

Private to opcache-fleet. Standard library only, Python 3.8+. Pure functions on the
helper's answers: :func:`summarize_status`, :func:`summarize_configuration`,
:func:`classify_scripts` (fresh | possible | certain | unknown), :func:`stale_counts`,
:func:`match_patterns`, and the checks that prove a reset worked
(:func:`full_reset_verified`, :func:`target_verified`).
"""
from __future__ import absolute_import, division, print_function

import fnmatch
import re

__metaclass__ = type

STATS_KEYS = ("num_cached_scripts", "num_cached_keys", "max_cached_keys", "hits", "misses",
              "opcache_hit_rate", "start_time", "last_restart_time", "oom_restarts",
              "hash_restarts", "manual_restarts", "blacklist_misses")
HELPER_PATH_RE = re.compile(r"/[0-9a-f]{32}/[0-9a-f]{32}\.[A-Za-z0-9]+$")


def summarize_status(status):
    """The status figures the modules report, from opcache_get_status(false)."""
    if not status:
        return None
    stats = status.get("opcache_statistics") or {}
    return {
        "opcache_enabled": status.get("opcache_enabled"),
        "cache_full": status.get("cache_full"),
        "restart_pending": status.get("restart_pending"),
        "restart_in_progress": status.get("restart_in_progress"),
        "memory_usage": dict(status.get("memory_usage") or {}),
        "interned_strings_usage": dict(status.get("interned_strings_usage") or {}),
        "opcache_statistics": dict((k, stats.get(k)) for k in STATS_KEYS if k in stats),
    }


def summarize_configuration(conf):
    if not conf:
        return None
    return {
        "directives": conf.get("directives") or {},
        "blacklist": conf.get("blacklist") or [],
        "version": (conf.get("version") or {}).get("version"),
    }


def cache_ref_time(status):
    """When the cache last (re)started: last_restart_time, else start_time."""
    stats = (status or {}).get("opcache_statistics") or {}
    return stats.get("last_restart_time") or stats.get("start_time") or 0


def classify_scripts(scripts, status, invalidated=None):
    """Mark each CACHED script ``stale``: certain | possible | fresh | unknown.

    * certain: the entry has a ``timestamp`` (validate_timestamps=1) that differs
      from the file's mtime, or the file is gone;
    * possible: no timestamp (validate_timestamps=0) and the file was modified at or
      after the cache's last (re)start (or our last invalidation of that file);
    * unknown: the mtime could not be read (open_basedir, permissions);
    * fresh otherwise. Entries not cached (invalidated) and helper files are skipped.
    """
    ref = cache_ref_time(status)
    invalidated = invalidated or {}
    out = []
    for s in scripts or []:
        path = s.get("full_path") or ""
        if not s.get("cached") or HELPER_PATH_RE.search(path):
            continue
        entry = dict(s)
        mtime = s.get("mtime")
        if "timestamp" in s and s["timestamp"] is not None:
            if mtime is None:
                entry["stale"], entry["reason"] = "unknown", "mtime unreadable"
            elif mtime != s["timestamp"]:
                entry["stale"], entry["reason"] = "certain", "cached timestamp %s != mtime %s" % (
                    s["timestamp"], mtime)
            else:
                entry["stale"], entry["reason"] = "fresh", "cached timestamp equals mtime"
        elif mtime is None:
            entry["stale"], entry["reason"] = "unknown", "mtime unreadable (missing file or open_basedir)"
        else:
            inv = invalidated.get(path) or 0
            since = max(ref, inv)
            # at or after the (re)start: same-second changes may predate the compile; after our
            # own invalidation strictly later only, so a second run right after is idempotent
            if (mtime > inv) if inv >= ref else (mtime >= ref):
                entry["stale"], entry["reason"] = "possible", "modified at %s, cache (re)started or file " \
                    "invalidated at %s, timestamps not validated" % (mtime, since)
            else:
                entry["stale"], entry["reason"] = "fresh", "not modified since %s" % since
        out.append(entry)
    return out


def stale_counts(classified):
    counts = {"certain": 0, "possible": 0, "fresh": 0, "unknown": 0}
    for e in classified:
        counts[e["stale"]] = counts.get(e["stale"], 0) + 1
    return counts


def match_patterns(paths, patterns):
    """Paths matching any shell pattern (fnmatch, ``*`` also crosses '/')."""
    return [p for p in paths if any(fnmatch.fnmatchcase(p, pat) for pat in patterns)]


def full_reset_verified(before, after):
    """Success of opcache_reset(): restart no longer pending AND the cache restarted
    (manual_restarts up, last_restart_time moved, or start_time changed)."""
    if not after or after.get("restart_pending") or after.get("restart_in_progress"):
        return False
    b = (before or {}).get("opcache_statistics") or {}
    a = after.get("opcache_statistics") or {}
    return bool(
        (a.get("manual_restarts") or 0) > (b.get("manual_restarts") or 0)
        or (a.get("last_restart_time") or 0) > (b.get("last_restart_time") or 0)
        or a.get("start_time") != b.get("start_time"))


def target_verified(invalidate_entry, later_entry):
    """Verdict for one file target.

    opcache_is_script_cached() is false for an invalidated (corrupted) entry, for good.
    So when the invalidating request itself saw the file not cached, the old entry is
    dead: a LATER request that sees it not cached confirms it; one that sees it cached
    again sees a NEW entry compiled from the current source by traffic ("recompiled").
    """
    if invalidate_entry.get("invalidated") and not invalidate_entry.get("cached"):
        if later_entry.get("cached"):
            return True, "recompiled after invalidation"
        return True, "not cached"
    if not later_entry.get("cached"):
        return True, "not cached"
    return False, "still cached"
