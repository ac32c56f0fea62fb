# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""APCu, the user cache that often runs beside OPcache: its state per php-fpm master, what
is wrong with it, and the check that a clear really happened.

Private to opcache-fleet. Standard library only, Python 3.8+. Pure functions on the helper's
``apcu`` answer (opcache/helper_php.py): :func:`summarize_apcu`, :func:`apcu_figures`,
:func:`clear_verified`.

Facts from APCu (5.1, apc_cache.c) this relies on:

* php-fpm maps APCu's shared memory in the master, so all pools of a master share ONE cache;
* a store that finds no room wipes the whole cache (a "real expunge": ``expunges`` + 1, with
  ``apc.ttl=0`` at once, otherwise after dropping the expired entries did not free enough);
* ``apcu_clear_cache()`` wipes it too, then sets a new ``start_time`` and ``expunges``, the
  hits, misses, inserts and entries to 0. So ``expunges`` counts the wipes for lack of room
  since the last clear or start, and a clear shows as a new ``start_time``;
* that new ``start_time`` is NOT wall-clock time: APCu 5.1 takes it from apc_time(), which is
  CLOCK_MONOTONIC seconds (the machine's uptime) unless ``apc.use_request_time=1``, while the
  first start_time is time(NULL). Seen on the lab (Debian 12, APCu 5.1.22): 1796628302 before
  a clear, 1497 after. So a clear is told by a start_time that CHANGED, never by comparing it
  with the clock.
"""
from __future__ import absolute_import, division, print_function

import math

__metaclass__ = type

# Free memory below this share of the segments: the next stores of a busy site wipe the cache.
NEAR_FULL_FREE_RATIO = 0.10
# More than this share of the free memory outside the largest free block: an entry bigger than
# that block cannot be stored without a wipe, although the total free memory would hold it.
FRAGMENTED_RATIO = 0.5
SETTINGS = ("apc.shm_size", "apc.shm_segments", "apc.ttl", "apc.gc_ttl", "apc.entries_hint",
            "apc.serializer", "apc.slam_defense", "apc.mmap_file_mask")


def _int(value):
    """A count from the helper's answer, or None (a pool's code could make it answer anything)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _size(n):
    if n is None:
        return "?"
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return "%.1f %s" % (n / float(1 << shift), unit)
    return "%d B" % n


def summarize_apcu(raw):
    """The ``apcu`` section of a master, from the helper's answer; None when the answer has none.

    ``state`` is the first that holds of not_loaded, disabled, unknown (no figures), near_full,
    fragmented, expunged, ok; ``findings`` lists every problem found, each with a code and a text.
    """
    if raw is None:
        return None
    if not isinstance(raw, dict):
        return {"loaded": None, "state": "unknown", "findings": [
            {"code": "apcu_unreadable", "text": "the pool's answer about APCu is not an object"}]}
    out = {"loaded": raw.get("loaded") is True}
    if not out["loaded"]:
        out.update(state="not_loaded", findings=[])
        return out
    ini = raw.get("ini") if isinstance(raw.get("ini"), dict) else {}
    out.update(version=raw.get("version") if isinstance(raw.get("version"), str) else None,
               enabled=raw.get("enabled") is True,
               settings=dict((k, ini.get(k)) for k in SETTINGS if isinstance(ini.get(k), str)))
    if not out["enabled"]:
        out.update(state="disabled", findings=[])
        return out
    cache = raw.get("cache") if isinstance(raw.get("cache"), dict) else {}
    sma = raw.get("sma") if isinstance(raw.get("sma"), dict) else {}
    segments, seg_size, free = _int(sma.get("num_seg")), _int(sma.get("seg_size")), _int(sma.get("avail_mem"))
    total = segments * seg_size if segments is not None and seg_size is not None else None
    largest, blocks = _int(sma.get("largest_free_block")), _int(sma.get("free_blocks"))
    out.update(
        entries=_int(cache.get("num_entries")), hits=_int(cache.get("num_hits")),
        misses=_int(cache.get("num_misses")), inserts=_int(cache.get("num_inserts")),
        expunges=_int(cache.get("expunges")), start_time=_int(cache.get("start_time")),
        slots=_int(cache.get("num_slots")), ttl=_int(cache.get("ttl")),
        memory_type=cache.get("memory_type") if isinstance(cache.get("memory_type"), str) else None,
        memory={"total": total, "free": free,
                "used": total - free if total is not None and free is not None else None,
                "free_ratio": round(free / float(total), 4) if total and free is not None else None},
        free_blocks=blocks, largest_free_block=largest,
        fragmentation=round(1 - largest / float(free), 4) if free and largest is not None and largest <= free
        else (0.0 if free == 0 else None))
    out["findings"] = _findings(out)
    if total is None or free is None:
        out["state"] = "unknown"
        out["findings"].insert(0, {"code": "apcu_unreadable", "text": "APCu is enabled but its memory "
                                   "figures could not be read (apcu_sma_info)"})
    else:
        codes = [f["code"] for f in out["findings"]]
        out["state"] = next((s for s in ("near_full", "fragmented", "expunged") if "apcu_" + s in codes), "ok")
    return out


def _findings(a):
    found = []
    mem = a["memory"]
    shm = a["settings"].get("apc.shm_size") or "?"
    if mem["free_ratio"] is not None and mem["free_ratio"] < NEAR_FULL_FREE_RATIO:
        found.append({"code": "apcu_near_full", "text": "APCu is %d%% full (%s free of %s, apc.shm_size=%s): "
                      "the next stores that find no room wipe the whole user cache"
                      % (round(100 * (1 - mem["free_ratio"])), _size(mem["free"]), _size(mem["total"]), shm)})
    if a["fragmentation"] is not None and a["fragmentation"] > FRAGMENTED_RATIO:
        found.append({"code": "apcu_fragmented", "text": "APCu's free memory is fragmented: %d%% of its %s free "
                      "lies outside the largest free block (%s, %s free blocks); an entry larger than that block "
                      "wipes the cache" % (round(100 * a["fragmentation"]), _size(mem["free"]),
                                           _size(a["largest_free_block"]), a["free_blocks"])})
    if a["expunges"]:
        found.append({"code": "apcu_expunged", "text": "APCu ran out of room and wiped itself %d time(s) since "
                      "it started or was last cleared (apc.shm_size=%s)" % (a["expunges"], shm)})
    return found


def apcu_figures(summary):
    """The few figures a reset reports before and after a clear."""
    s = summary or {}
    return {"loaded": s.get("loaded"), "enabled": s.get("enabled"), "state": s.get("state"),
            "entries": s.get("entries"), "inserts": s.get("inserts"), "expunges": s.get("expunges"),
            "start_time": s.get("start_time"), "used_memory": (s.get("memory") or {}).get("used")}


def clear_verified(before, after):
    """Whether a later answer shows the cache wiped after ``before`` (read in the clearing
    request, just before the clear): a start_time other than before's, or, should the new one
    fall on the same value, the counters started again (fewer inserts and fewer entries)."""
    b, a = before or {}, after or {}
    start, old = a.get("start_time"), b.get("start_time")
    if start is None or old is None:
        return False
    if start != old:
        return True
    counts = [a.get("inserts"), b.get("inserts"), a.get("entries"), b.get("entries")]
    return None not in counts and counts[0] < counts[1] and counts[2] < counts[3]
