# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The reference oracle of the scan: what a scan yields, defined line by
line in the simplest code (held to by test_scan_reference.py).

Private to opcache-fleet. Standard library only. Every physical line, cut at MAX_LINE
bytes, is one record, matched against the signatures of the searched kinds only; a
slowlog header takes its script from the next line.
"""

from __future__ import absolute_import, division, print_function

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence import limits
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.line_events import (
    _slowlog_script_of, events_from_line,
)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.timestamps import TimeContext
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.search_plan import ALL_KINDS

__metaclass__ = type

__all__ = ["reference_events"]


def reference_events(data, path, kinds=ALL_KINDS, since=None, until=None, tctx=None, matcher=None):
    """The plain definition of what a scan yields, one physical line at a time and
    with no literal search (slow; the tests hold the scanner to it). Returns
    (events, lines, overlong_lines)."""
    kinds = frozenset(kinds)
    tctx = tctx or TimeContext()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    out = []
    overlong = 0
    cut = []
    max_line = limits.MAX_LINE
    for raw in lines:
        if len(raw) > max_line:
            overlong += 1
            raw = raw[:max_line]
        cut.append(raw)
    for i, raw in enumerate(cut):
        for ev in events_from_line(raw, path, i + 1, tctx, matcher, kinds=kinds):
            ts = ev["_ts"]
            if since is not None or until is not None:
                if ts is None or (since is not None and ts < since) or (until is not None and ts > until):
                    continue
            if ev["category"] == "slow_request" and ev.get("script") is None:
                ev["script"] = _slowlog_script_of(cut[i + 1] if i + 1 < len(cut) else None)
            out.append(ev)
    return out, len(cut), overlong
