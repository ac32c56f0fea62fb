# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Time stamps of the report: parsing log/OPcache times and writing them back.

Private to opcache-fleet. Standard library only. Log stamps carry the host's offset; OPcache
times are epoch seconds of the same clock. The report writes times in the logs' time zone.
"""
from __future__ import absolute_import, division, print_function

import datetime

__metaclass__ = type

_UTC = datetime.timezone.utc


def parse_time(value):
    """ISO 8601 (offset optional, ``Z`` accepted) or epoch seconds -> aware datetime, or None."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return datetime.datetime.fromtimestamp(value, _UTC) if value > 0 else None
    s = str(value).strip()
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    try:
        dt = datetime.datetime.fromisoformat(s)
    except ValueError:
        return None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=_UTC)


def epoch_of(value):
    dt = parse_time(value)
    return dt.timestamp() if dt is not None else None


def iso_time(epoch, tz):
    return datetime.datetime.fromtimestamp(epoch, tz or _UTC).replace(microsecond=0).isoformat()


def clock_time(epoch, tz, other=None):
    """``17:44:02`` (the date too when ``other`` is on another day), in the logs' time zone."""
    dt = datetime.datetime.fromtimestamp(epoch, tz or _UTC)
    if other is not None and datetime.datetime.fromtimestamp(other, tz or _UTC).date() != dt.date():
        return dt.strftime("%Y-%m-%d %H:%M:%S")
    return dt.strftime("%H:%M:%S")


def report_tz(model):
    """The time zone of the host's log stamps (UTC when there are none)."""
    for i in model.incidents:
        dt = parse_time(i.get("timestamp"))
        if dt is not None:
            return dt.tzinfo
    return _UTC
