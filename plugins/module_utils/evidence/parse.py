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

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.timestamps import (
    LOCAL_MONTHS, MONTHS, TimeContext, _frac, _hms, parse_iso,
)

__all__ = ["Record", "parse_record", "parse_nginx_context", "nginx_context_fields", "nginx_message_text",
           "EVENT_CONTEXT_KEYS"]

_MON = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_ISO = (r"(?P<iso>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?"
        r"(?:Z|[+-]\d\d:?\d\d)?)")

# --- transport prefixes -------------------------------------------------------
# docker compose: "php74_1        | ", "php-fpm-mailcow_1    | ", "web-1  | "
_RE_COMPOSE = re.compile(r"(?P<svc>[A-Za-z0-9][\w.\-]{0,80}?)\s*\| ?")
# A syslog host name never ends in a colon: with journald's blank host ("Jan 02 03:04:05
# kernel: php-fpm[1]: segfault ...", two blanks) "kernel:" is the tag, not the host.
_HOST = r"[^\s\[]*[^\s\[:]"
# A syslog tag holds no single colon; php-fpm's syslog.ident may hold "::" (cPanel's per-user
# masters log as "php-fpm::<pool>[31361]: [NOTICE] ...").
_TAG = r"[^\s:\[\]]+(?:::[^\s:\[\]]+)*"
# ISO stamp first: CRI ("... stdout F "), docker logs -t, rsyslog RFC3339, journald short-iso
_RE_ISO_PREFIX = re.compile(
    _ISO + r"\s+(?:(?P<stream>stdout|stderr)\s+(?:[FP]\s+)?"
    r"|(?P<host>" + _HOST + r")\s+(?P<tag>" + _TAG + r")(?:\[(?P<pid>\d+)\])?:\s"
    r"|)")
# a container log viewer's export, "date<TAB>stream<TAB>content" (the viewer's local time,
# so the record's own stamp wins): "2024/11/12 14:08:57\tstderr\t[12-Nov-2024 10:08:57] ERROR: ..."
# (an nginx header has " [level] " after its stamp, never a tab)
_RE_VIEWER_TSV = re.compile(r"(?P<y>\d{4})/(?P<mo>\d\d)/(?P<d>\d\d) (?P<hms>\d\d:\d\d:\d\d)\t(?:stdout|stderr)\t")
# RFC 5424: "<165>1 2003-10-11T22:14:15.003Z host app procid msgid [sd] msg"
_RE_RFC5424 = re.compile(
    r"(?:<\d{1,3}>)?1 " + _ISO + r" (?P<host>\S+) (?P<tag>\S+) (?P<pid>\S+) \S+ "
    r"(?:-|(?:\[(?:[^\]\\]|\\.)*\])+) ?")
# BSD syslog / journald short / short-precise: "Apr 12 14:54:39 host php-fpm[812]: "
# (journalctl prints an empty host as two spaces)
_RE_BSD = re.compile(
    r"(?:<\d{1,3}>)?(?P<mon>" + _MON + r"|" + "|".join(sorted(LOCAL_MONTHS)) + r")"
    r" +(?P<day>\d\d?) (?P<hms>\d\d:\d\d:\d\d)(?P<frac>\.\d+)?"
    r" +(?:(?P<host>" + _HOST + r") +)?(?P<tag>" + _TAG + r")(?:\[(?P<pid>\d+)\])?: ?")
# the first characters a BSD/journald stamp can start with (English or a journalctl locale)
_BSD_FIRST = frozenset("JFMASOND<" + "".join(m[0] for m in LOCAL_MONTHS))
# dmesg: "[12345.678901] ", dmesg -T: "[Wed Jan 31 12:00:00 2024] "
# dmesg of a kernel built with CONFIG_PRINTK_CALLER adds the caller after the stamp,
# "[  305.600587] [      T3327] traps: ..." (kernel/printk/printk.c: "T<tid>" or "C<cpu>")
_RE_DMESG = re.compile(r"\[\s*(?P<up>\d+\.\d+)\] ?(?:\[ *[TC]\d+\] )?")
_RE_DMESG_T = re.compile(
    r"\[(?:[A-Z][a-z]{2} )?(?P<mon>" + _MON + r") +(?P<day>\d\d?) (?P<hms>\d\d:\d\d:\d\d) (?P<year>\d{4})\] ?")
_RE_ZONE_END = re.compile(r"[+-]\d\d:?\d\d$")

# --- record headers -----------------------------------------------------------
_RE_NGINX = re.compile(
    r"(?P<y>\d{4})/(?P<mo>\d\d)/(?P<d>\d\d) (?P<hms>\d\d:\d\d:\d\d) \[(?P<level>[a-z]+)\] "
    r"(?P<pid>\d+)#(?P<tid>\d+): (?:\*(?P<conn>\d+) )?")
# nginx header partly lost (pasted or cut): "[error] 525#0: *4 ...", "12785#0: *1095 ...";
# a stamp cut at its start leaves digits before the level ("12 [error] 17114#0: *54 ...",
# "020/04/15 15:17:42 [error] 16319#16319: *129 ..."): no time is taken from them
_RE_NGINX_PARTIAL = re.compile(
    r"(?:[\d/:]{1,10}(?: [\d:]{1,8})? (?=\[[a-z]+\] \d+#\d+: ))?"
    r"(?:\[(?P<level>[a-z]+)\] )?(?P<pid>\d+)#(?P<tid>\d+): (?:\*(?P<conn>\d+) )?")
_RE_FPM = re.compile(
    r"\[(?P<d>\d\d)-(?P<mon>" + _MON + r")-(?P<y>\d{4}) (?P<hms>\d\d:\d\d:\d\d)(?P<frac>\.\d+)?\] +"
    r"(?:(?P<level>[A-Z]+): +)?(?:pid (?P<mpid>\d+), \w+\(\), line \d+: )?")
_RE_FPM_FAST = re.compile(
    r"(?:(?P<svc>[A-Za-z0-9][\w.\-]{0,80}?)\s*\| ?)?"
    r"\[(?P<stamp>(?P<d>\d\d)-(?P<mon>" + _MON + r")-(?P<y>\d{4}) (?P<hms>\d\d:\d\d:\d\d))(?P<frac>\.\d+)?\] +"
    r"(?:(?P<level>[A-Z]+): +)?(?:pid (?P<mpid>\d+), \w+\(\), line \d+: )?")
# PHP 5.3 with log_level = debug printed "Jan 11 08:54:01.164325 [WARNING] fpm_children_bury(),
# line 215: " (no pid; blog.haohtml.com, archives/11417): the decoration's pid is optional
_RE_FPM53 = re.compile(
    r"(?P<mon>" + _MON + r") +(?P<d>\d\d?) (?P<hms>\d\d:\d\d:\d\d)(?P<frac>\.\d+)? "
    r"\[(?P<level>[A-Z]+)\] +(?:(?:pid (?P<mpid>\d+), )?\w{1,64}\(\), line \d+: )?")
# php-fpm records without a stamp (zlog.c, zlog_buf_prefix): through syslog the level is
# bracketed ("[WARNING] ", log_level = debug: "[WARNING] fpm_children_bury(), line 256: ");
# a child's own records and the lines journald or "docker logs" show without the stamp
# are "WARNING: " (debug: "WARNING: pid 1, fpm_children_bury(), line 256: " from the
# master, "WARNING: fpm_stdio_child_said(), line 12: " from a child).
_FPM_DECOR = r"(?:(?:pid (?P<mpid>\d+), )?\w{1,64}\(\), line \d+: )?"
_RE_FPM_BRACKET = re.compile(
    r"\[(?P<level>DEBUG|NOTICE|WARNING|ERROR|ALERT|SYSTEM)\] +" + _FPM_DECOR)
# Other programs write the same level words first and then name themselves, e.g. apport's
# own log "ERROR: apport (pid 12345) Wed Jan 31 12:00:00 2024: called for pid 5678, ...";
# php-fpm never follows its level with "<name> (pid N) ", so such a line is not its record.
_RE_FPM_BARE = re.compile(
    r"(?P<level>DEBUG|NOTICE|WARNING|ERROR|ALERT): +(?![\w.\-]{1,64} \(pid \d+\) )" + _FPM_DECOR)
# Tags of syslog records that are never php-fpm's, whatever their text looks like.
_NOT_FPM_TAGS = frozenset(("kernel", "systemd-coredump", "abrt-hook-ccpp", "abrtd", "apport"))

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

# --- what a person put around a line pasted into a bug report ----------------------
# Leading blanks, "> " quote markers, list bullets ("- ", "* ", "1. "), one opening quote
# or backtick run, and one short label ("php-fpm log: ", "Error: "). They are peeled only
# at the very start of the physical line and within _PASTE_BUDGET characters, so no text
# inside a record (an nginx quoted field, a child's output) is ever looked at; a label is
# peeled only when a record header or transport stamp follows it, so "PHP Warning:  <a
# script's text>" or a kernel "php-fpm[1]: segfault ..." body keeps its first word.
_PASTE_BUDGET = 120
_RE_PASTE = re.compile(
    r"(?:[ \t]+|>[ \t]?|[-*+\u2022][ \t]+|\d{1,3}[.)][ \t]+|<snip>[ \t]+)"
    r"|(?P<quote>`{1,3}|[\"'\u201c])")
# a label: up to 40 characters of words, then ": " (never a php-fpm level word itself)
_RE_LABEL = re.compile(r"(?P<label>[A-Za-z][\w .()/\-]{0,39}?|[\w.\-/]{1,40}\[\d+\]): +")
# PHP's own message prefixes ("PHP Warning:  ", "Fatal error: "): what follows is a
# script's text, so they are no label
_RE_PHP_LABEL = re.compile(
    r"(?:PHP(?: |$)|(?:Fatal|Parse|Catchable fatal|Recoverable fatal) error$|Warning$|Notice$|Deprecated$"
    r"|Strict Standards$|(?:DEBUG|NOTICE|WARNING|ERROR|ALERT)$)")
# what may follow a label: a record header or a transport stamp
_RE_AFTER_LABEL = re.compile(
    r"\[\d\d-" + _MON + r"-\d{4} |(?:DEBUG|NOTICE|WARNING|ERROR|ALERT): |\[(?:DEBUG|NOTICE|WARNING|ERROR|ALERT)\] "
    r"|\d{4}/\d\d/\d\d \d\d:\d\d:\d\d |\d{4}-\d\d-\d\d[T ]\d\d:|" + _MON + r" +\d\d? \d\d:\d\d:\d\d")
_CLOSING = {"\u201c": "\u201d"}


def _peel_paste(s):
    """``s`` without the wrappers of a pasted line (see _RE_PASTE); ``s`` itself when it has
    none. A quote opened before the record is closed at the end of the line: that last
    character is dropped too when it is the same mark."""
    pos = 0
    label_done = False
    closing = None
    n = len(s)
    while pos < n and pos <= _PASTE_BUDGET:
        m = _RE_PASTE.match(s, pos)
        if m is not None and m.end() > pos:
            q = m.group("quote")
            if q is not None:
                if closing is not None:
                    break
                closing = _CLOSING.get(q, q)
            pos = m.end()
            continue
        if not label_done:
            m = _RE_LABEL.match(s, pos)
            if (m is not None and not _RE_PHP_LABEL.match(m.group("label"))
                    and _RE_AFTER_LABEL.match(s, m.end())):
                label_done = True
                pos = m.end()
                continue
        break
    if pos == 0:
        return s
    out = s[pos:]
    if closing is not None:
        t = out.rstrip()
        if t.endswith(closing):
            out = t[:-len(closing)]
    return out


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
                    _set_tag(rec, m.group("tag"), m.group("pid"))
                s = s[m.end():]
                continue
            m = _RE_VIEWER_TSV.match(s)
            if m:
                if prefix_ts is None:
                    hh, mi, ss = _hms(m.group("hms"))
                    ts = tctx.local(int(m.group("y")), int(m.group("mo")), int(m.group("d")), hh, mi, ss)
                    if ts is not None:
                        prefix_ts, prefix_src = ts, "syslog"
                s = s[m.end():]
                continue
        if c0 == "<" or (c0 == "1" and s[1:2] == " "):
            m = _RE_RFC5424.match(s)
            if m:
                ts = parse_iso(m.group("iso"), tctx)
                if ts is not None:
                    prefix_ts, prefix_src = ts, "prefix-zoned"
                pid = m.group("pid")
                _set_tag(rec, m.group("tag"), pid if pid.isdigit() else None)
                s = s[m.end():]
                continue
        if c0 in _BSD_FIRST:
            m = _RE_BSD.match(s)
            if m:
                if prefix_ts is None:
                    mo = MONTHS.get(m.group("mon")) or LOCAL_MONTHS[m.group("mon")]
                    d = int(m.group("day"))
                    hh, mi, ss = _hms(m.group("hms"))
                    ts = tctx.local(tctx.year_for(mo, d), mo, d, hh, mi, ss, _frac(m.group("frac")))
                    if ts is not None:
                        prefix_ts, prefix_src = ts, "syslog"
                _set_tag(rec, m.group("tag"), m.group("pid"))
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
        if c0 == "k" and rec.tag is None and s.startswith("kernel: "):
            # under another program's tag, "kernel: " is that program's text (_set_tag)
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


def _set_tag(rec, tag, pid):
    """The syslog tag of a record is its outermost one, the one the log daemon wrote: a
    stamp and tag further in are text of that program's message ("php[374]: Jan 02
    03:04:05 web1 kernel: php-fpm[1]: segfault ..." is what any PHP script's syslog()
    can write), so they never make it the kernel's or a crash handler's (issue 11)."""
    if rec.tag is None:
        rec.tag = tag
        rec.tag_pid = pid


def nginx_stamp_time(stamp, tctx):
    """Epoch of an nginx stamp (str, "YYYY/MM/DD HH:MM:SS", digits checked by the caller)
    in local time, cached per second in ``tctx`` (the same second repeats a lot)."""
    cache = tctx._stamp_cache
    ts = cache.get(stamp, _MISSING)
    if ts is _MISSING:
        # a new second, most often of a minute seen already (the minute's epoch is kept
        # under "YYYY/MM/DD HH:MM", beside the seconds: their keys never collide)
        base = cache.get(stamp[:16], _MISSING)
        if base is _MISSING:
            base = tctx.local(int(stamp[0:4]), int(stamp[5:7]), int(stamp[8:10]), int(stamp[11:13]),
                              int(stamp[14:16]), 0)
        if len(cache) > 4096:
            cache.clear()
        cache[stamp[:16]] = base
        ts = cache[stamp] = None if base is None else base + int(stamp[17:19])
    return ts


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
            rec.level, pid, conn = m.group("level", "pid", "conn")
            f = rec.fields
            f["nginx_pid"] = int(pid)
            if conn:
                f["connection"] = int(conn)
            ts = nginx_stamp_time(text[:19], tctx)
            if ts is not None:
                rec.ts = ts
                rec.ts_source = "record"
            rec.message = text[m.end():]
            return rec
    elif "] " in text[:120]:
        # fast path, the usual php-fpm line, bare or behind a docker compose prefix:
        # no other prefix can match there (see the tests), so the result is the same
        m = _RE_FPM_FAST.match(text)
        svc = m.group("svc") if m else None
        if m and (svc is None or text.find("|") < 90):
            if svc is not None:
                rec.container = svc
            rec.kind = "php-fpm"
            rec.level, stamp, frac = m.group("level", "stamp", "frac")
            cache = tctx._stamp_cache
            ts = cache.get(stamp, _MISSING)
            if ts is _MISSING:
                hh, mi, ss = _hms(m.group("hms"))
                ts = tctx.local(int(m.group("y")), MONTHS[m.group("mon")], int(m.group("d")), hh, mi, ss)
                if len(cache) > 4096:
                    cache.clear()
                cache[stamp] = ts
            if ts is not None:
                rec.ts = ts + _frac(frac) if frac else ts
                rec.ts_source = "record"
            rec.message = text[m.end():]
            return rec
    return _parse_record_generic(text, rec, tctx)


def _parse_record_generic(text, rec, tctx):
    """parse_record without its fast paths (tests compare the two)."""
    s = _strip_prefixes(_peel_paste(text), rec, tctx)
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
        # a header-less php-fpm record ("[WARNING] ", "[pool www] ") from a program whose
        # syslog tag says it is the kernel or a crash handler is not php-fpm's
        m = _RE_FPM_BRACKET.match(s)
        if m and rec.tag not in _NOT_FPM_TAGS:
            rec.kind = "php-fpm"
            rec.level = m.group("level")
            rec.message = s[m.end():]
            return rec
        if s.startswith("[pool ") and rec.tag not in _NOT_FPM_TAGS:
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
    if c0 in "DNWEA" and rec.tag not in _NOT_FPM_TAGS:
        # "WARNING: [pool www] child 1 exited ..." (no stamp: journalctl -o cat, a child)
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


_CTX_CACHE = {}
_CTX_CACHE_SIZE = 4096
_CTX_CACHE_TEXT = 2048      # longer contexts are parsed each time (the cache stays a few MB)
# the context fields an event carries, in this order (absent ones as None)
EVENT_CONTEXT_KEYS = ("client", "server", "request", "method", "path", "uri", "upstream", "host")


def nginx_context_fields(message):
    """The fields of parse_nginx_context(message) that an event carries (EVENT_CONTEXT_KEYS,
    None when absent), kept per context after the client's address: what follows it
    (server, request, upstream, host) repeats from request to request, the address less.
    The client's value ends at the first comma after ``, client: `` (unless it is quoted),
    in the usual layout and field by field alike, so the fields of ``, client: <rest>`` are
    those of the message but the client."""
    idx = message.find(_NGX_CLIENT)
    if idx < 0:
        return dict.fromkeys(EVENT_CONTEXT_KEYS)
    start = idx + len(_NGX_CLIENT)
    j = message.find(",", start)
    if j < 0 or message[start:start + 1] == '"' or len(message) - j > _CTX_CACHE_TEXT:
        return _event_context(parse_nginx_context(message)[1])
    rest = message[j:]
    fields = _CTX_CACHE.get(rest)
    if fields is None:
        if len(_CTX_CACHE) >= _CTX_CACHE_SIZE:
            _CTX_CACHE.clear()
        fields = _CTX_CACHE[rest] = _event_context(parse_nginx_context(_NGX_CLIENT + rest)[1])
    fields = dict(fields)
    fields["client"] = message[start:j]
    return fields


def _event_context(fields):
    get = fields.get
    return dict((k, get(k)) for k in EVENT_CONTEXT_KEYS)


def _request_fields(fields):
    req = fields.get("request")
    if req:
        rm = _RE_REQUEST.match(req)
        if rm:
            fields["method"] = rm.group("method")
            uri = rm.group("uri")
            fields["uri"] = uri
            fields["path"] = uri.split("?", 1)[0]
