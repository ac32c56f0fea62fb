# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Events of one physical line: its records (one, or glued php-fpm/kernel records:
evidence/glued.py) matched against the signature table (only the signatures of the kinds
its file is searched for); the internal event dict and its public form.

Private to opcache-fleet. Standard library only. The scanner and the reference oracle
(evidence/reference.py) both build their events here.
"""

from __future__ import absolute_import, division, print_function

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.glued import _RE_NGINX_HEAD, split_glued
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.parse import nginx_context_fields, parse_record
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


def events_from_line(raw, path=None, line_no=None, tctx=None, matcher=None, state=None, kinds=None):
    """The evidence events of one physical line (bytes or str): one per record, and a line
    is one record unless it holds glued php-fpm or kernel records before any quote or
    foreign field (evidence/glued.py: never nginx records, never inside a client's or a
    child's text). ``kinds``: the source kinds the file is searched for (None: all);
    only signatures of those kinds are tried. Events are internal dicts: ``_ts`` holds
    epoch seconds (None when undated); see public_event() for the output form. An
    undated record takes the last stamp carried in ``state`` (optional dict), if any."""
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
    if text[4:5] == "/" and _RE_NGINX_HEAD.match(text) is not None:
        records = (text,)       # an nginx record from the line's start is never cut (glued.py)
    else:
        records = split_glued(text)
    for rtext in records:
        rec = parse_record(rtext, tctx)
        if rec.ts is None:
            rec.ts = last_ts
        else:
            last_ts = rec.ts
        ev = _event_of(rec, path, line_no, matcher, kinds)
        if ev is not None:
            out.append(ev)
    if state is not None:
        state["last_ts"] = last_ts
    return out


def _event_of(rec, path, line_no, matcher, kinds):
    """The event of one record, or None when no signature of ``kinds`` matches it."""
    res = matcher.match(rec.kind, rec.message, rec.tag, kinds, _cut_ok(rec))
    if res is None:
        return None
    category, source_kind, fields = res
    ev = {"file": path, "line_no": line_no, "source_kind": source_kind, "category": category,
          "_ts": rec.ts, "level": rec.level}
    if source_kind == "nginx":
        fields.update(nginx_context_fields(rec.message))
        ev.update(rec.fields)
    elif rec.tag and source_kind in ("kernel", "coredump"):
        ev["tag"] = rec.tag
    if rec.container:
        ev["container"] = rec.container
    ev.update(fields)
    return ev


# An nginx record cut before it names its phase (a mail client's wrap, a paste) is
# evidence only where its header rules out what else it could be: nginx logs a client's
# reset at [info] and an upstream's at [error] (ngx_connection_error, the upstream
# peer's log_error), and an upstream exchange of a request carries its "*N" connection
# number, which a health check of a third-party module does not ("[error] 5626#0:
# recv() failed (104: ...)"). A record without any header has nothing to rule out.
_QUIET = frozenset(("info", "notice", "debug"))


def _cut_ok(rec):
    if rec.kind != "nginx":
        return True
    return rec.level not in _QUIET and "connection" in rec.fields


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
