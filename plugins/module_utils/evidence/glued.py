# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Glued records: two php-fpm or kernel records on one physical line, and only those.

Private to opcache-fleet (fpm_evidence). Standard library only. Nothing here does I/O.

Real logs glue records: php-fpm's master writing two records without the newline between
them (``... after 4.220801 seconds from start[06-Dec-2016 17:22:18] NOTICE: [pool www]
child 2815 started``), dmesg continuation lines (``...in libc-2.19.so[7f38+1bb000][39825.157236]
php5-fpm[9524]: segfault at 41 ...``). Each record there is the master's or the kernel's own
words, and each is its own event.

A header in the middle of a line is also exactly what a stranger forges (issue 11): nginx
copies the request line, ``Host`` and ``Referer`` raw into its records, php-fpm copies what a
child said and the request line of a slow script. So a line is cut only

* at a php-fpm or dmesg header (never at an nginx one: nginx writes each record in one
  ``write()`` ending in a newline, so two nginx records never share a line);
* when the line does not start with an nginx record (whatever follows nginx's header may
  be the client's);
* before the first quote of the line and before any field that carries foreign text
  (``, client: ``, ``said into stderr``/``stdout``, ``(request: ``, ``script '``): text
  after them may be a client's or a child's, never a record.
"""
from __future__ import absolute_import, division, print_function

import re

__metaclass__ = type

_MON = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
# "[06-Dec-2016 17:22:18] NOTICE: " / "[06-Dec-2016 17:22:18.123456]  [pool " (php-fpm)
_RE_FPM_AT = re.compile(r"\[\d\d-" + _MON + r"-\d{4} \d\d:\d\d:\d\d(?:\.\d+)?\] +(?:[A-Z]+: |\[pool )")
# "Apr 12 14:54:39.045725 [WARNING] " (php-fpm 5.3)
_RE_FPM53_AT = re.compile(_MON + r" +\d\d? \d\d:\d\d:\d\d\.\d+ \[[A-Z]+\] ")
# "[39825.157236] php5-fpm[9524]" (dmesg)
_RE_DMESG_AT = re.compile(r"\[\s*\d+\.\d{6}\] \S+\[\d+\]")
# an nginx record header near the start of the line (after transport prefixes)
_RE_NGINX_HEAD = re.compile(r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[[a-z]+\] \d+#\d+: ")
_NGINX_HEAD_WITHIN = 300
# any of the three, at the leftmost position where one matches (see split_glued)
_RE_ANY_AT = re.compile("|".join("(?:%s)" % r.pattern for r in (_RE_FPM_AT, _RE_FPM53_AT, _RE_DMESG_AT)))
# what each of the three holds from a "[" at or after its start ("[06-", "[ 123.", "[WARNING] "):
# a line without it after its own header holds no other (a cheap search: it starts with "[")
_RE_MAYBE_AT = re.compile(r"\[(?:\s*\d|[A-Z]+\] )")
_FOREIGN = ('"', "'", ", client: ", " said into std", "(request: ", " script '")
_SHORTEST = 40
# How far transport prefixes (docker compose, CRI, syslog) may push a line's own header.
_PREFIX_BUDGET = 160


def _foreign_from(line):
    """Offset of the first quote or foreign-text field of ``line`` (len(line) when none)."""
    end = len(line)
    for marker in _FOREIGN:
        i = line.find(marker)
        if 0 <= i < end:
            end = i
    return end


def split_glued(line):
    """The records of one physical line (str), as a list of str: the line itself unless it
    holds glued php-fpm or kernel records in the places described above."""
    if len(line) < _SHORTEST or line.find("[", 1) < 0:
        return [line]
    # (an nginx header holds "#": most php-fpm and kernel lines are ruled out by one find)
    if line.find("#", 0, _NGINX_HEAD_WITHIN) >= 0 and _RE_NGINX_HEAD.search(line, 0, _NGINX_HEAD_WITHIN) is not None:
        return [line]
    limit = _foreign_from(line)
    # Most lines hold one header, their own: two searches of the three patterns at once
    # tell (the leftmost header, then any after it), instead of collecting every header.
    # A header of one pattern never starts inside another's, so a later one that finditer
    # would report is exactly one the second search finds.
    first = _RE_ANY_AT.search(line, 0, limit)
    if first is None:
        return [line]
    own = first.start()
    if own <= _PREFIX_BUDGET and _RE_MAYBE_AT.search(line, own + 1, limit) is None:
        return [line]
    found = set()
    for regex in (_RE_FPM_AT, _RE_FPM53_AT, _RE_DMESG_AT):
        for m in regex.finditer(line, 0, limit):
            found.add(m.start())
    # The first header within the prefix budget is the line's own (after "php74_1 | " or a
    # CRI stamp): only headers after it start records.
    own = min(found) if found else None
    cuts = [c for c in found if c > 0 and (own is None or own > _PREFIX_BUDGET or c > own)]
    if not cuts:
        return [line]
    out = []
    prev = 0
    for cut in sorted(cuts):
        out.append(line[prev:cut].rstrip())
        prev = cut
    out.append(line[prev:])
    return out
