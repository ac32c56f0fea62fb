# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Small number and text helpers shared by the report modules.

Private to opcache-fleet. Standard library only. Raw results come from hosts and may hold
None, strings or garbage where a count is expected: as_int reads them all as an int. What
report.md and report.html show of numbers is rounded (percent, mib) and of booleans is a word
(yes_no, setting_text's on/off); report.json keeps the raw values.
"""
from __future__ import absolute_import, division, print_function

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.ini.directive_table import lookup
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.ini.directives import parse_bool

__metaclass__ = type


def as_int(value):
    """A count from a raw result: 0 for None, "", or anything that is not a number."""
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def plural(n, word, many=None):
    """``1 crash``, ``2 crashes`` (``many`` when the plural is not word + s)."""
    return "%d %s" % (n, word if n == 1 else (many or word + "s"))


def top_paths(d, limit=10):
    """{path: count} -> [{path, count}], most first (ties by path: the report is stable)."""
    return [{"path": k, "count": v} for k, v in sorted(d.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]


# ---------------------------------------------------------------------------- numbers people read
# report.json keeps the machine values; report.md and report.html show these.

def yes_no(value):
    """A state as a word: ``yes``, ``no``, ``unknown`` (None)."""
    if value is None:
        return "unknown"
    return "yes" if value else "no"


def percent(value):
    """``79.78260869565217`` -> ``79.8 %``; ``-`` when not a number."""
    number = _number(value)
    return "-" if number is None else "%.1f %%" % number


def mib(num_bytes):
    """Bytes as MiB with one decimal (GiB from 1024 MiB on): ``9391808`` -> ``9.0 MiB``."""
    number = _number(num_bytes)
    if number is None:
        return "-"
    if abs(number) >= 1024 ** 3:
        return "%.1f GiB" % (number / 1024.0 ** 3)
    return "%.1f MiB" % (number / 1024.0 ** 2)


def _number(value):
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def opcache_summary(oc):
    """The OPcache status summary of a master (report ``masters[].opcache``) in words."""
    oc = oc or {}
    used, free, wasted = (_number(oc.get(k)) for k in ("used_memory", "free_memory", "wasted_memory"))
    memory = "-"
    if used is not None:
        memory = "%s used" % mib(used)
        if free is not None:
            memory += " of %s" % mib(used + free + (wasted or 0))
        if wasted:
            memory += ", %s wasted" % mib(wasted)
    parts = ["enabled: %s" % yes_no(oc.get("enabled")),
             "%s cached scripts" % ("-" if oc.get("num_cached_scripts") is None else as_int(oc.get("num_cached_scripts"))),
             "memory %s" % memory, "full: %s" % yes_no(oc.get("cache_full")),
             "hit rate %s" % percent(oc.get("hit_rate")),
             "restarts: OOM %d, hash %d, manual %d" % tuple(as_int(oc.get(k)) for k in (
                 "oom_restarts", "hash_restarts", "manual_restarts"))]
    if oc.get("restart_pending"):
        parts.append("restart pending: yes")
    return "; ".join(parts)


def apcu_summary(a):
    """The APCu state of a master (report ``masters[].apcu``) in words."""
    if not a:
        return "-"
    state = a.get("state") or "unknown"
    if state in ("not_loaded", "disabled"):
        return state.replace("_", " ")
    mem = a.get("memory") or {}
    hits, misses = _number(a.get("hits")), _number(a.get("misses"))
    rate = 100.0 * hits / (hits + misses) if hits is not None and misses is not None and hits + misses else None
    frag = _number(a.get("fragmentation"))
    return "; ".join([
        state.replace("_", " "), "%d entries" % as_int(a.get("entries")),
        "memory %s used of %s" % (mib(mem.get("used")), mib(mem.get("total"))),
        "fragmentation %s" % percent(None if frag is None else 100 * frag),
        "expunges %d" % as_int(a.get("expunges")), "hit rate %s" % percent(rate)])


def stale_counts_text(counts):
    """``{"certain": 0, "possible": 1, ...}`` -> ``certain 0, possible 1, fresh 61, unknown 0``."""
    if not isinstance(counts, dict) or not counts:
        return "-"
    order = ("certain", "possible", "fresh", "unknown")
    keys = [k for k in order if k in counts] + sorted(k for k in counts if k not in order)
    return ", ".join("%s %d" % (k, as_int(counts[k])) for k in keys)


_UNIT_WORDS = {"MB": "MiB", "seconds": "s", "percent": "%"}


def setting_text(directive, value):
    """An OPcache ini setting as people read it: ``validate_timestamps off``,
    ``memory_consumption 128 MiB``, ``revalidate_freq 2 s``; other values verbatim, ``(empty)``."""
    info = lookup(directive)
    name = str(directive)
    name = name[len("opcache."):] if name.startswith("opcache.") else name
    text = "" if value is None else str(value)
    if info is not None and info.kind == "bool":
        flag = parse_bool(value)
        if flag is not None:
            return "%s %s" % (name, "on" if flag else "off")
    elif info is not None and info.unit in _UNIT_WORDS and text.strip().isdigit():
        return "%s %s %s" % (name, text.strip(), _UNIT_WORDS[info.unit])
    return "%s %s" % (name, text if text.strip() else "(empty)")
