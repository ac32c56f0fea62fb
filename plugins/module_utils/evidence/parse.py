# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: opcache-fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prefix stripping, record splitting and timestamp parsing for nginx, php-fpm and
kernel log lines as they are found in the wild (private helper of fpm_evidence).

Standard library only, Python 3.8+. Nothing here does I/O.

The parsing model: a *physical line* is one *record*, and a record header counts
only at the start of the line. A header further on is text of the record: nginx writes
the request line, the Host and the Referer raw inside its records (a web client chooses
them) and php-fpm writes what a child said, so a "second record" inside a line is
exactly what a stranger would forge (issue 11). The record may wear any number of
transport prefixes (docker compose
``svc_1 | ``, CRI ``<iso> stdout F ``, ``docker logs -t`` ISO stamps, BSD syslog,
RFC 5424, journald short-iso, dmesg uptime stamps) before its own header (nginx
``2024/01/31 12:00:00 [error] 1#1: *5``, php-fpm ``[31-Jan-2024 12:00:00] WARNING:``,
PHP 5.3-era ``Jan 31 12:00:00.123456 [WARNING]``). ``parse_record`` peels all of it
and returns a :class:`Record` with the body kind, the message and the best timestamp
(stamps are read by evidence/timestamps.py).
"""

from __future__ import absolute_import, division, print_function

import re

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.timestamps import MONTHS, TimeContext, _frac, _hms, parse_iso

__all__ = ["Record", "parse_record", "parse_nginx_context", "nginx_message_text"]

_MON = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_ISO = (r"(?P<iso>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?"
        r"(?:Z|[+-]\d\d:?\d\d)?)")

# --- transport prefixes -------------------------------------------------------
# docker compose: "php74_1        | ", "php-fpm-mailcow_1    | ", "web-1  | "
_RE_COMPOSE = re.compile(r"(?P<svc>[A-Za-z0-9][\w.\-]{0,80}?)\s*\| ?")
# ISO stamp first: CRI ("... stdout F "), docker logs -t, rsyslog RFC3339, journald short-iso
_RE_ISO_PREFIX = re.compile(
    _ISO + r"\s+(?:(?P<stream>stdout|stderr)\s+(?:[FP]\s+)?"
    r"|(?P<host>[^\s\[]+)\s+(?P<tag>[^\s:\[\]]+)(?:\[(?P<pid>\d+)\])?:\s"
    r"|)")
# RFC 5424: "<165>1 2003-10-11T22:14:15.003Z host app procid msgid [sd] msg"
_RE_RFC5424 = re.compile(
    r"(?:<\d{1,3}>)?1 " + _ISO + r" (?P<host>\S+) (?P<tag>\S+) (?P<pid>\S+) \S+ "
    r"(?:-|(?:\[(?:[^\]\\]|\\.)*\])+) ?")
# BSD syslog / journald short / short-precise: "Apr 12 14:54:39 host php-fpm[812]: "
# (journalctl prints an empty host as two spaces)
_RE_BSD = re.compile(
    r"(?:<\d{1,3}>)?(?P<mon>" + _MON + r") +(?P<day>\d\d?) (?P<hms>\d\d:\d\d:\d\d)(?P<frac>\.\d+)?"
    r" +(?:(?P<host>[^\s\[]+) +)?(?P<tag>[^\s:\[\]]+)(?:\[(?P<pid>\d+)\])?: ?")
# dmesg: "[12345.678901] ", dmesg -T: "[Wed Jan 31 12:00:00 2024] "
_RE_DMESG = re.compile(r"\[\s*(?P<up>\d+\.\d+)\] ?")
_RE_DMESG_T = re.compile(
    r"\[(?:[A-Z][a-z]{2} )?(?P<mon>" + _MON + r") +(?P<day>\d\d?) (?P<hms>\d\d:\d\d:\d\d) (?P<year>\d{4})\] ?")
_RE_ZONE_END = re.compile(r"[+-]\d\d:?\d\d$")

# --- record headers -----------------------------------------------------------
_RE_NGINX = re.compile(
    r"(?P<y>\d{4})/(?P<mo>\d\d)/(?P<d>\d\d) (?P<hms>\d\d:\d\d:\d\d) \[(?P<level>[a-z]+)\] "
    r"(?P<pid>\d+)#(?P<tid>\d+): (?:\*(?P<conn>\d+) )?")
# nginx header partly lost (pasted or cut): "[error] 525#0: *4 ...", "12785#0: *1095 ..."
_RE_NGINX_PARTIAL = re.compile(r"(?:\[(?P<level>[a-z]+)\] )?(?P<pid>\d+)#(?P<tid>\d+): (?:\*(?P<conn>\d+) )?")
_RE_FPM = re.compile(
    r"\[(?P<d>\d\d)-(?P<mon>" + _MON + r")-(?P<y>\d{4}) (?P<hms>\d\d:\d\d:\d\d)(?P<frac>\.\d+)?\] +"
    r"(?:(?P<level>[A-Z]+): +)?(?:pid (?P<mpid>\d+), \w+\(\), line \d+: )?")
_RE_FPM_FAST = re.compile(
    r"(?:(?P<svc>[A-Za-z0-9][\w.\-]{0,80}?)\s*\| ?)?"
    r"\[(?P<stamp>(?P<d>\d\d)-(?P<mon>" + _MON + r")-(?P<y>\d{4}) (?P<hms>\d\d:\d\d:\d\d))(?P<frac>\.\d+)?\] +"
    r"(?:(?P<level>[A-Z]+): +)?(?:pid (?P<mpid>\d+), \w+\(\), line \d+: )?")
_RE_FPM53 = re.compile(
    r"(?P<mon>" + _MON + r") +(?P<d>\d\d?) (?P<hms>\d\d:\d\d:\d\d)(?P<frac>\.\d+)? "
    r"\[(?P<level>[A-Z]+)\] +(?:pid (?P<mpid>\d+), \w+\(\), line \d+: )?")
_RE_FPM_BRACKET = re.compile(
    r"\[(?P<level>DEBUG|NOTICE|WARNING|ERROR|ALERT|SYSTEM)\] +(?:pid (?P<mpid>\d+), \w+\(\), line \d+: )?")
_RE_FPM_BARE = re.compile(
    r"(?P<level>DEBUG|NOTICE|WARNING|ERROR|ALERT): +(?:pid (?P<mpid>\d+), \w+\(\), line \d+: )?")

# nginx trailing context: ", client: X, server: Y, request: "...", upstream: "...", host: "..."
_RE_NGX_FIELD = re.compile(
    r", (?P<key>client|server|request|subrequest|upstream|host|referrer|login): "
    r"(?:\"(?P<q>(?:[^\"\\]|\\.)*)(?:\"|$)|(?P<v>[^,]*))")
# the usual complete layout, in one match
_RE_NGX_CTX_FAST = re.compile(
    r", client: (?P<client>[^,]*), server: (?P<server>[^,]*)"
    r"(?:, request: \"(?P<request>[^\"]*)\")?(?:, upstream: \"(?P<upstream>[^\"]*)\")?"
    r"(?:, host: \"(?P<host>[^\"]*)\")?(?:, referrer: \"[^\"]*\")?\s*$")
_RE_REQUEST = re.compile(r"(?P<method>[A-Z][A-Z_\-]{0,19}) (?P<uri>\S*)(?: (?P<proto>HTTP/[\d.]+))?")


class Record(object):
    """One log record, transport prefixes removed.

    kind: 'nginx', 'php-fpm' or 'other' (kernel/syslog/unknown: the kernel and coredump
    signatures are tried on it).
    """

    __slots__ = ("kind", "message", "level", "ts", "ts_source", "fields", "tag", "tag_pid",
                 "container", "truncated")

    def __init__(self):
        self.kind = "other"
        self.message = ""
        self.level = None
        self.ts = None          # epoch seconds (float) or None
        self.ts_source = None   # 'record', 'prefix-zoned', 'syslog', 'dmesg'
        self.fields = {}
        self.tag = None         # syslog tag ("kernel", "php-fpm", "systemd-coredump"...)
        self.tag_pid = None
        self.container = None
        self.truncated = False


_MISSING = object()


def _strip_prefixes(s, rec, tctx):
    """Peel transport prefixes; returns the remaining text. Fills rec.ts with a
    prefix stamp (zone-aware beats zoneless) and rec.tag/tag_pid/container."""
    prefix_ts = None
    prefix_src = None
    for dummy in range(6):
        c0 = s[:1]
        if not c0:
            break
        if c0.isdigit():
            m = _RE_ISO_PREFIX.match(s)
            if m and m.end() < len(s):
                iso = m.group("iso")
                ts = parse_iso(iso, tctx)
                if ts is not None:
                    zoned = iso.endswith("Z") or bool(_RE_ZONE_END.search(iso))
                    if prefix_ts is None or zoned:
                        prefix_ts = ts
                        prefix_src = "prefix-zoned" if zoned else "syslog"
                if m.group("tag"):
                    rec.tag = m.group("tag")
                    rec.tag_pid = m.group("pid")
                s = s[m.end():]
                continue
        if c0 == "<" or (c0 == "1" and s[1:2] == " "):
            m = _RE_RFC5424.match(s)
            if m:
                ts = parse_iso(m.group("iso"), tctx)
                if ts is not None:
                    prefix_ts, prefix_src = ts, "prefix-zoned"
                rec.tag = m.group("tag")
                pid = m.group("pid")
                rec.tag_pid = pid if pid.isdigit() else None
                s = s[m.end():]
                continue
        if c0 in "JFMASOND<":
            m = _RE_BSD.match(s)
            if m:
                if prefix_ts is None:
                    mo = MONTHS[m.group("mon")]
                    d = int(m.group("day"))
                    hh, mi, ss = _hms(m.group("hms"))
                    ts = tctx.local(tctx.year_for(mo, d), mo, d, hh, mi, ss, _frac(m.group("frac")))
                    if ts is not None:
                        prefix_ts, prefix_src = ts, "syslog"
                rec.tag = m.group("tag")
                rec.tag_pid = m.group("pid")
                s = s[m.end():]
                continue
        if c0 == "[":
            m = _RE_DMESG.match(s)
            if m:
                if prefix_ts is None and tctx.boot_time is not None:
                    prefix_ts, prefix_src = tctx.boot_time + float(m.group("up")), "dmesg"
                if rec.tag is None:
                    rec.tag = "kernel"
                s = s[m.end():]
                continue
            m = _RE_DMESG_T.match(s)
            if m:
                if prefix_ts is None:
                    mo = MONTHS[m.group("mon")]
                    hh, mi, ss = _hms(m.group("hms"))
                    prefix_ts = tctx.local(int(m.group("year")), mo, int(m.group("day")), hh, mi, ss)
                    prefix_src = "syslog"
                if rec.tag is None:
                    rec.tag = "kernel"
                s = s[m.end():]
                continue
        if c0 == "k" and s.startswith("kernel: "):
            rec.tag = "kernel"
            s = s[8:]
            continue
        if c0.isalnum() and "|" in s[:90]:
            m = _RE_COMPOSE.match(s)
            if m:
                rec.container = m.group("svc")
                s = s[m.end():]
                continue
        break
    if prefix_ts is not None:
        rec.ts = prefix_ts
        rec.ts_source = prefix_src
    return s


def parse_record(text, tctx=None):
    """Parse one record (str, no newline) into a :class:`Record`."""
    tctx = tctx or TimeContext()
    rec = Record()
    if text[4:5] == "/":
        # fast path, the usual nginx line: no transport prefix can come before an
        # nginx header (none of them matches "dddd/"), so the result is the same
        m = _RE_NGINX.match(text)
        if m:
            rec.kind = "nginx"
            rec.level = m.group("level")
            f = rec.fields
            f["nginx_pid"] = int(m.group("pid"))
            conn = m.group("conn")
            if conn:
                f["connection"] = int(conn)
            stamp = text[:19]
            cache = tctx._stamp_cache
            ts = cache.get(stamp, _MISSING)
            if ts is _MISSING:
                hh, mi, ss = _hms(m.group("hms"))
                ts = tctx.local(int(m.group("y")), int(m.group("mo")), int(m.group("d")), hh, mi, ss)
                if len(cache) > 4096:
                    cache.clear()
                cache[stamp] = ts
            if ts is not None:
                rec.ts = ts
                rec.ts_source = "record"
            rec.message = text[m.end():]
            return rec
    elif "] " in text[:120]:
        # fast path, the usual php-fpm line, bare or behind a docker compose prefix:
        # no other prefix can match there (see the tests), so the result is the same
        m = _RE_FPM_FAST.match(text)
        if m and (m.group("svc") is None or text.find("|") < 90):
            if m.group("svc") is not None:
                rec.container = m.group("svc")
            rec.kind = "php-fpm"
            rec.level = m.group("level")
            stamp = m.group("stamp")
            cache = tctx._stamp_cache
            ts = cache.get(stamp, _MISSING)
            if ts is _MISSING:
                hh, mi, ss = _hms(m.group("hms"))
                ts = tctx.local(int(m.group("y")), MONTHS[m.group("mon")], int(m.group("d")), hh, mi, ss)
                if len(cache) > 4096:
                    cache.clear()
                cache[stamp] = ts
            if ts is not None:
                frac = m.group("frac")
                rec.ts = ts + _frac(frac) if frac else ts
                rec.ts_source = "record"
            rec.message = text[m.end():]
            return rec
    return _parse_record_generic(text, rec, tctx)


def _parse_record_generic(text, rec, tctx):
    """parse_record without its fast paths (tests compare the two)."""
    s = _strip_prefixes(text, rec, tctx)
    c0 = s[:1]
    m = None
    if c0.isdigit():
        m = _RE_NGINX.match(s)
        if m:
            rec.kind = "nginx"
            rec.level = m.group("level")
            f = rec.fields
            f["nginx_pid"] = int(m.group("pid"))
            if m.group("conn"):
                f["connection"] = int(m.group("conn"))
            hh, mi, ss = _hms(m.group("hms"))
            ts = tctx.local(int(m.group("y")), int(m.group("mo")), int(m.group("d")), hh, mi, ss)
            _set_record_ts(rec, ts)
            rec.message = s[m.end():]
            return rec
        m = _RE_NGINX_PARTIAL.match(s)
        if m:
            return _nginx_partial(rec, m, s)
    elif c0 == "[":
        m = _RE_FPM.match(s)
        if m:
            rec.kind = "php-fpm"
            rec.level = m.group("level")
            hh, mi, ss = _hms(m.group("hms"))
            ts = tctx.local(int(m.group("y")), MONTHS[m.group("mon")], int(m.group("d")), hh, mi, ss,
                            _frac(m.group("frac")))
            _set_record_ts(rec, ts)
            rec.message = s[m.end():]
            return rec
        m = _RE_FPM_BRACKET.match(s)
        if m:
            rec.kind = "php-fpm"
            rec.level = m.group("level")
            rec.message = s[m.end():]
            return rec
        if s.startswith("[pool "):
            rec.kind = "php-fpm"
            rec.message = s
            return rec
        m = _RE_NGINX_PARTIAL.match(s)
        if m and m.group("level"):
            return _nginx_partial(rec, m, s)
    elif c0 in "JFMASOND":
        m = _RE_FPM53.match(s)
        if m:
            rec.kind = "php-fpm"
            rec.level = m.group("level")
            mo = MONTHS[m.group("mon")]
            d = int(m.group("d"))
            hh, mi, ss = _hms(m.group("hms"))
            ts = tctx.local(tctx.year_for(mo, d), mo, d, hh, mi, ss, _frac(m.group("frac")))
            _set_record_ts(rec, ts)
            rec.message = s[m.end():]
            return rec
        m = _RE_FPM_BARE.match(s)
        if m:
            rec.kind = "php-fpm"
            rec.level = m.group("level")
            rec.message = s[m.end():]
            return rec
    rec.message = s
    return rec


def _nginx_partial(rec, m, s):
    rec.kind = "nginx"
    rec.level = m.group("level")
    rec.fields["nginx_pid"] = int(m.group("pid"))
    if m.group("conn"):
        rec.fields["connection"] = int(m.group("conn"))
    rec.message = s[m.end():]
    return rec


def _set_record_ts(rec, ts):
    # A zone-aware transport stamp is exact; otherwise the record's own local stamp wins.
    if ts is not None and rec.ts_source != "prefix-zoned":
        rec.ts = ts
        rec.ts_source = "record"


def quick_timestamp(text, tctx):
    """Timestamp of a line (or None), used to skip whole chunks outside the window."""
    try:
        return parse_record(text, tctx).ts
    except Exception:  # pragma: no cover - defensive: never let a stamp probe stop a scan
        return None


# --- nginx helpers ----------------------------------------------------------------

_NGX_CLIENT = ", client: "


def nginx_message_text(message):
    """The part of an nginx error message that nginx itself wrote: everything before
    the first ``, client: ``. What follows (``request``, ``host``, ``referrer``) is
    copied raw from the client's request, so signatures never look there; the first
    occurrence is nginx's own (text before it can only move the cut earlier)."""
    idx = message.find(_NGX_CLIENT)
    return message if idx < 0 else message[:idx]


def parse_nginx_context(message):
    """Split an nginx error message into (text, fields) where fields holds client,
    server, request (raw), method, path, uri, upstream, host, referrer when present.
    Tolerates truncated lines (nginx cuts records at 2 KiB) and quotes in requests."""
    fields = {}
    idx = message.find(_NGX_CLIENT)
    if idx < 0:
        return message, fields
    text = message[:idx]
    ctx = message[idx:]
    m = _RE_NGX_CTX_FAST.match(ctx)
    if m:
        for k, v in m.groupdict().items():
            if v is not None:
                fields[k] = v
        _request_fields(fields)
        return text, fields
    for m in _RE_NGX_FIELD.finditer(ctx):
        key = m.group("key")
        val = m.group("q") if m.group("q") is not None else m.group("v")
        if val is None:
            continue
        if key in fields:
            continue
        fields[key] = val
    _request_fields(fields)
    return text, fields


def _request_fields(fields):
    req = fields.get("request")
    if req:
        rm = _RE_REQUEST.match(req)
        if rm:
            fields["method"] = rm.group("method")
            uri = rm.group("uri")
            fields["uri"] = uri
            fields["path"] = uri.split("?", 1)[0]
