# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The crash lines of a host and their neighbours, read back from the files they came from.

Private to opcache-fleet. Standard library only, Python 3.8+. fpm_evidence names each event's
file and line number; :func:`crash_neighbours` reads each file once, keeps ``context`` lines
around every crash line (worker crashes, kernel faults, core dumps, the 502s of a dead
worker), marks the crash line with ``>``, and redacts the result (bundle/redact.py). Files
are read as the evidence scan reads them (evidence/readers.py: never a FIFO, gzip, bz2 and xz
told by their magic bytes), so the line numbers are the scan's. Events from sources that are
not files (the journal) are listed as the event alone, and say so.
"""
from __future__ import absolute_import, division, print_function

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.bundle.redact import redact
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.categories import (
    CRASH_502, KERNEL_CRASH, WORKER_CRASH,
)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.readers import (
    _ReadError, _detect, _open_chunks, open_regular_file,
)

__metaclass__ = type

CRASH_KINDS = WORKER_CRASH + KERNEL_CRASH + CRASH_502 + ("coredump",)
MAX_LINE = 4096  # longer lines are cut: a bundle is read by people


def _wanted(events, max_events):
    by_file, other = {}, []
    for e in events or []:
        if e.get("category") not in CRASH_KINDS:
            continue
        f, n = e.get("file"), e.get("line_no")
        if isinstance(f, str) and f.startswith("/") and isinstance(n, int) and n > 0:
            by_file.setdefault(f, set()).add(n)
        else:
            other.append(e)
    kept, total = {}, 0
    for f in sorted(by_file):
        lines = sorted(by_file[f])[-max(max_events - total, 0):] if total < max_events else []
        if lines:
            kept[f] = lines
            total += len(lines)
    return kept, other, sum(len(v) for v in by_file.values()) - total


def _lines(path):
    """The lines of a log file (bytes, without their newline), decompressed as the scan does."""
    with open_regular_file(path) as f:
        comp, dummy = _detect(f.read(8))
    report, rest = {}, b""
    for chunk in _open_chunks(path, comp=comp, report=report):
        rows = (rest + chunk).split(b"\n")
        rest = rows.pop()
        yield from rows
    if report.get("error"):
        raise IOError(report["error"])
    if rest:
        yield rest


def _read_around(path, crash_lines, context):
    """[(line number, text, is crash line)] within ``context`` lines of each crash line."""
    want = set()
    for n in crash_lines:
        want.update(range(max(1, n - context), n + context + 1))
    last = max(want)
    out = []
    lines = _lines(path)
    try:
        for no, row in enumerate(lines, 1):
            if no in want:
                out.append((no, row[:MAX_LINE].decode("utf-8", "replace"), no in crash_lines))
            if no >= last:
                break
    finally:
        lines.close()  # stops a gzip reader's thread at once
    return out


def crash_neighbours(events, context=3, max_events=200, keep_raw=False):
    """``(text, {files, crash_lines, not_read, left_out, redactions})`` for crash_lines.txt; with
    ``keep_raw`` also ``raw``: {(file, line number): the crash line as read, unredacted}, for the
    kernel offsets (never written out as such)."""
    kept, other, left_out = _wanted(events, max_events)
    blocks, not_read, redactions, shown, raw = [], [], 0, 0, {}
    for path in sorted(kept):
        try:
            rows = _read_around(path, set(kept[path]), context)
        except (IOError, OSError, EOFError, ValueError, _ReadError) as exc:
            not_read.append({"file": path, "why": str(exc)})
            continue
        blocks.append("==> %s <==" % path)
        prev = None
        for no, text, crash in rows:
            if prev is not None and no != prev + 1:
                blocks.append("--")
            safe, n = redact(text)
            redactions += n
            shown += crash
            if crash and keep_raw:
                raw[(path, no)] = text
            blocks.append("%s%7d: %s" % (">" if crash else " ", no, safe))
            prev = no
        blocks.append("")
    if other:
        blocks.append("==> events from sources that are not files (the event only, no neighbours) <==")
        for e in other[:max_events]:
            fields = ", ".join("%s=%s" % (k, e[k]) for k in sorted(e) if k not in ("requests", "evidence"))
            safe, n = redact(fields)
            redactions += n
            blocks.append(safe)
    info = {"files": sorted(kept), "crash_lines": shown, "not_read": not_read, "left_out": left_out,
            "other_sources": len(other), "redactions": redactions}
    if keep_raw:
        info["raw"] = raw
    return "\n".join(blocks) + "\n", info
