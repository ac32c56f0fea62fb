# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Timestamps and time windows of the evidence scan: stamps to epoch seconds (local
time unless a zone is given), epoch to ISO 8601, and the ``since``/``until`` window.

Private to opcache-fleet. Standard library only, Python 3.8+. Nothing here does I/O.
Record parsing (evidence/parse.py) uses TimeContext for stamps without a zone or year.
"""

from __future__ import absolute_import, division, print_function

import calendar
import datetime
import re
import time

__metaclass__ = type

__all__ = ["TimeContext", "parse_iso", "format_ts", "parse_window_time", "parse_window", "MONTHS", "LOCAL_MONTHS"]

MONTHS = {
    "Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "May": 5, "Jun": 6,
    "Jul": 7, "Aug": 8, "Sep": 9, "Oct": 10, "Nov": 11, "Dec": 12,
}

# journalctl writes its short stamps in the reader's LC_TIME (strftime %b): under a
# Russian locale "июл 27 14:08:03 laptop kernel: ..." (ask.fedoraproject.org, "Laptop
# freezes after kernel bug"). The names are glibc's (localedata ru_RU, abmon and
# ab_alt_mon); only locales a published log line shows are here.
LOCAL_MONTHS = {
    u"янв": 1, u"фев": 2, u"мар": 3, u"апр": 4, u"мая": 5, u"май": 5, u"июн": 6, u"июл": 7,
    u"авг": 8, u"сен": 9, u"окт": 10, u"ноя": 11, u"дек": 12,
}


class TimeContext(object):
    """How to turn stamps into epoch seconds.

    Stamps without a zone are *local time of the host* (nginx and php-fpm write local
    time); they are converted with the process' local zone (``TZ``), cached per minute.
    ``ref_epoch`` anchors years for stamps that have none (BSD syslog, PHP 5.3 fpm):
    a stamp more than a day after the reference belongs to the previous year.
    ``boot_time`` converts dmesg uptime stamps; without it they stay undated.
    """

    def __init__(self, ref_epoch=None, boot_time=None):
        self.ref_epoch = time.time() if ref_epoch is None else float(ref_epoch)
        ref = time.localtime(self.ref_epoch)
        self.ref_year = ref.tm_year
        self.ref_md = (ref.tm_mon, ref.tm_mday)
        self.boot_time = boot_time
        # the time of an undated line with no dated neighbour: the file's mtime, set by the
        # scan of a file (in-memory output has none)
        self.file_mtime = None
        self._minute_cache = {}
        self._stamp_cache = {}    # "2024/01/31 12:00:00" -> epoch (the same second repeats a lot)

    def local(self, y, mo, d, hh, mi, ss, frac=0.0):
        key = (y, mo, d, hh, mi)
        base = self._minute_cache.get(key)
        if base is None:
            if len(self._minute_cache) > 4096:
                self._minute_cache.clear()
            try:
                base = time.mktime((y, mo, d, hh, mi, 0, 0, 0, -1))
            except (OverflowError, ValueError):
                return None
            self._minute_cache[key] = base
        return base + ss + frac

    def year_for(self, mo, d):
        y = self.ref_year
        if (mo, d) > self.ref_md:
            # more than ~a day in the future relative to the reference: last year
            rm, rd = self.ref_md
            if mo > rm or d > rd + 1:
                y -= 1
        return y


def _frac(s):
    if not s:
        return 0.0
    try:
        return float("0." + s[1:])
    except ValueError:
        return 0.0


def _hms(s):
    return int(s[0:2]), int(s[3:5]), int(s[6:8])


def parse_iso(s, tctx=None):
    """ISO 8601 / RFC 3339 stamp -> epoch seconds. No zone means local time."""
    m = re.match(r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d)(?::(\d\d)([.,]\d+)?)?\s*(Z|[+-]\d\d:?\d\d)?$", s.strip())
    if not m:
        return None
    y, mo, d, hh, mi = (int(m.group(i)) for i in range(1, 6))
    ss = int(m.group(6) or 0)
    frac = _frac(m.group(7).replace(",", ".")) if m.group(7) else 0.0
    zone = m.group(8)
    if not (1 <= mo <= 12 and 1 <= d <= 31 and hh < 24 and mi < 60 and ss < 62):
        return None
    if zone is None:
        tctx = tctx or TimeContext()
        return tctx.local(y, mo, d, hh, mi, ss, frac)
    try:
        base = calendar.timegm((y, mo, d, hh, mi, ss, 0, 0, 0))
    except (OverflowError, ValueError):
        return None
    if zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        z = zone[1:].replace(":", "")
        base -= sign * (int(z[:2]) * 3600 + int(z[2:4]) * 60)
    return base + frac


def format_ts(epoch):
    """Epoch seconds -> ISO 8601 with the host's local offset (seconds precision,
    microseconds kept when present)."""
    if epoch is None:
        return None
    dt = datetime.datetime.fromtimestamp(epoch).astimezone()
    if dt.microsecond:
        return dt.isoformat(timespec="microseconds")
    return dt.isoformat(timespec="seconds")


_RE_REL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)?\s*$", re.I)
_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_window_time(value, now=None, name="since"):
    """'all'/None/'' -> None; '2h', '3d', '30m' -> now - delta; ISO 8601 (zone optional,
    local time when absent) or epoch number -> epoch. Raises ValueError naming the
    parameter and the value."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    v = str(value).strip()
    if v == "" or v.lower() in ("all", "none", "any"):
        return None
    now = time.time() if now is None else now
    if v.lower() == "now":
        return now
    m = _RE_REL.match(v)
    if m and m.group(2):
        return now - float(m.group(1)) * _UNITS[m.group(2).lower()]
    if re.match(r"^\d{9,11}(\.\d+)?$", v):
        return float(v)
    ts = parse_iso(v)
    if ts is None and re.match(r"^\d{4}-\d\d-\d\d$", v):
        ts = parse_iso(v + "T00:00:00")
    if ts is None:
        raise ValueError(
            "%s must be 'all', a relative age like '2h', '3d' or '30m', or an ISO 8601 time; got %r"
            % (name, value))
    return ts


def parse_window(since="24h", until=None, now=None):
    """Returns (since_epoch_or_None, until_epoch_or_None); ValueError on bad input."""
    now = time.time() if now is None else now
    s = parse_window_time(since, now, "since")
    u = parse_window_time(until, now, "until")
    if s is not None and u is not None and s > u:
        raise ValueError("since (%s) is after until (%s)" % (since, until))
    return s, u


def undated_time(near_ts, file_mtime):
    """(epoch, time_source) of an event whose line has no stamp: the nearest dated line
    before it (``near_ts``, 'previous_line'), else the file's mtime ('file_mtime'), else
    none (None, None)."""
    if near_ts is not None:
        return near_ts, "previous_line"
    if file_mtime is not None:
        return file_mtime, "file_mtime"
    return None, None
