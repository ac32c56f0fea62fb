# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Events of one physical line: its records split and matched against the
signature table; the internal event dict and its public form.

Private to opcache-fleet. Standard library only. The scanner and the reference oracle
(evidence/reference.py) both build their events here.
"""

from __future__ import absolute_import, division, print_function

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.parse import parse_nginx_context, parse_record, split_records
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.signatures import Matcher
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.timestamps import TimeContext, format_ts

__metaclass__ = type

__all__ = ["events_from_line", "public_event"]


def public_event(ev):
    """Internal event -> output dict (ISO timestamp, no private keys)."""
    out = {}
    for k, v in ev.items():
        if k == "_ts":
            continue
        out[k] = v
    out["timestamp"] = format_ts(ev.get("_ts"))
    return out


def events_from_line(raw, path=None, line_no=None, tctx=None, matcher=None, state=None):
    """All evidence events of one physical line (bytes or str): one per recognised
    record (glued records are split). Events are internal dicts: ``_ts`` holds epoch
    seconds (None when undated); see public_event() for the output form. A record
    without a stamp takes the one of an earlier record of the same line; ``state``
    (optional dict) carries the last stamp further, across calls."""
    if isinstance(raw, bytes):
        if raw[-1:] == b"\r":
            raw = raw[:-1]
        text = raw.decode("utf-8", "replace")
    else:
        text = raw.rstrip("\r")
    tctx = tctx or TimeContext()
    matcher = matcher or _default_matcher()
    last_ts = state["last_ts"] if state is not None else None
    out = []
    for rtext in split_records(text):
        rec = parse_record(rtext, tctx)
        if rec.ts is None:
            rec.ts = last_ts
        else:
            last_ts = rec.ts
        res = matcher.match(rec.kind, rec.message, rec.tag)
        if res is None:
            continue
        category, source_kind, fields = res
        ev = {"file": path, "line_no": line_no, "source_kind": source_kind, "category": category,
              "_ts": rec.ts, "level": rec.level}
        if source_kind == "nginx":
            _text, ctx = parse_nginx_context(rec.message)
            get = ctx.get
            for k in _NGX_CTX_KEYS:
                fields[k] = get(k)
            ev.update(rec.fields)
        elif rec.tag and source_kind in ("kernel", "coredump"):
            ev["tag"] = rec.tag
        if rec.container:
            ev["container"] = rec.container
        ev.update(fields)
        out.append(ev)
    if state is not None:
        state["last_ts"] = last_ts
    return out


_NGX_CTX_KEYS = ("client", "server", "request", "method", "path", "uri", "upstream", "host")


_MATCHER = []


def _default_matcher():
    if not _MATCHER:
        _MATCHER.append(Matcher())
    return _MATCHER[0]


def _slowlog_script_of(line):
    """In a slowlog, the header line is followed by 'script_filename = /path'."""
    if line and line.startswith(b"script_filename = "):
        return line[18:].strip().decode("utf-8", "replace")
    return None
