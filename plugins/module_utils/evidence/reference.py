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

import re

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence import limits
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.line_events import (
    _slowlog_script_of, events_from_line,
)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.parse import parse_record
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.php_notices import (
    NOTICE_LINE, notice_messages, payload_of,
)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.timestamps import TimeContext, undated_time
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.search_plan import ALL_KINDS

__metaclass__ = type

__all__ = ["reference_events"]


def reference_events(data, path, kinds=ALL_KINDS, since=None, until=None, tctx=None, matcher=None,
                     notices=None):
    """The plain definition of what a scan yields, one physical line at a time and
    with no literal search (slow; the tests hold the scanner to it). Returns
    (events, lines, overlong_lines): the events a sink's add() gets, plus, just before
    each nginx event of a connection, the notice line of that connection when it is
    the nearest line naming the connection among the NEAR_LINES before the event that
    start less than NEAR_BYTES before it (no further than an over-long line, see limits)
    and the window keeps it.

    PHP notice lines (evidence/php_notices.py) are counted, not events: when
    ``notices`` (a list) is given, their (epoch, messages) pairs are appended to it.

    An undated event takes the time of the nearest dated line among those same
    neighbours (``time_source`` 'previous_line'), else ``tctx.file_mtime`` ('file_mtime'), else
    it has none (None); dated ones say 'line'. An event with no time passes any window."""
    kinds = frozenset(kinds)
    tctx = tctx or TimeContext()
    file_mtime = tctx.file_mtime
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    starts = []
    pos = 0
    for raw in lines:
        starts.append(pos)
        pos += len(raw) + 1
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
        msgs = _notice_messages(raw, tctx) if "nginx" in kinds else None
        for ev in events_from_line(raw, path, i + 1, tctx, matcher, kinds=kinds):
            ts = ev["_ts"]
            if ts is not None:
                ev["time_source"] = "line"
            else:
                ts, ev["time_source"] = undated_time(_previous_stamp(lines, starts, i, tctx), file_mtime)
                ev["_ts"] = ts
            if ts is not None and not _in_window(ts, since, until):
                continue
            if msgs is not None:
                if notices is not None:
                    notices.append((ts, msgs))
                continue
            if "nginx" in kinds and ev["source_kind"] == "nginx" and ev.get("connection") is not None:
                j = _notice_of_connection(lines, starts, i, ev["connection"])
                if j is not None and _notice_messages(cut[j], tctx) is not None:
                    for dev in events_from_line(cut[j], path, j + 1, tctx, matcher, kinds=kinds):
                        if _in_window(dev["_ts"], since, until):
                            dev["time_source"] = "line"
                            dev["_detail"] = True       # counted with the notices already
                            out.append(dev)
            if ev["category"] == "slow_request" and ev.get("script") is None:
                ev["script"] = _slowlog_script_of(cut[i + 1] if i + 1 < len(cut) else None)
            out.append(ev)
    return out, len(cut), overlong


def _in_window(ts, since, until):
    return not ((since is not None and ts < since) or (until is not None and ts > until))


def _neighbours(lines, starts, i):
    """The indexes of the lines before line ``i``, nearest first: the NEAR_LINES before
    it that start less than NEAR_BYTES before it, no further than an over-long line."""
    for j in range(i - 1, max(-1, i - 1 - limits.NEAR_LINES), -1):
        if starts[i] - starts[j] >= limits.NEAR_BYTES or len(lines[j]) > limits.MAX_LINE:
            return
        yield j


def _notice_of_connection(lines, starts, i, conn):
    """The index of the nearest neighbour of line ``i`` whose nginx header names
    connection ``conn``; None when there is none."""
    head = re.compile(br"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[[a-z]+\] \d+#\d+: \*%d " % conn)
    for j in _neighbours(lines, starts, i):
        if head.match(lines[j]):
            return j
    return None


def _notice_messages(raw, tctx):
    """The (severity, script) pairs of a PHP notice line, or None when it is not one."""
    m = NOTICE_LINE.match(raw)
    if m is None or parse_record(raw[:m.end()].decode("ascii"), tctx).ts is None:
        return None
    return notice_messages(payload_of(raw, m.end()), {})


def _previous_stamp(lines, starts, i, tctx):
    """The time of the nearest dated neighbour of line ``i``, or None."""
    for j in _neighbours(lines, starts, i):
        if lines[j]:
            ts = parse_record(lines[j][:512].rstrip(b"\r").decode("utf-8", "replace"), tctx).ts
            if ts is not None:
                return ts
    return None
