# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Newline and over-long-line arithmetic on a file descriptor (pread) or a
buffer: what the grep path needs where Python does not read the file itself.

Private to opcache-fleet. Standard library only.
"""

from __future__ import absolute_import, division, print_function

import os

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence import limits

__metaclass__ = type


def _nl_forward(fd, pos, limit):
    """Offset of the first newline in [pos, limit) of a file (pread), or -1."""
    while pos < limit:
        b = os.pread(fd, min(1 << 16, limit - pos), pos)
        if not b:
            return -1
        i = b.find(b"\n")
        if i >= 0:
            return pos + i
        pos += len(b)
    return -1


def _nl_backward(fd, pos, low):
    """Offset of the last newline before ``pos`` and at or after ``low``, or low - 1."""
    while pos > low:
        a = max(low, pos - (1 << 16))
        b = os.pread(fd, pos - a, a)
        i = b.rfind(b"\n")
        if i >= 0:
            return a + i
        pos = a
    return low - 1


def _count_nl(fd, a, b):
    n = 0
    while a < b:
        d = os.pread(fd, min(1 << 20, b - a), a)
        if not d:
            break
        n += d.count(b"\n")
        a += len(d)
    return n


def _overlong_between(fd, a, b):
    """Lines longer than MAX_LINE among the complete lines in [a, b) of a file (``a``
    a line start): such a line covers a whole aligned window of MAX_LINE // 2 bytes;
    each window is probed with a small read, and only a window without a newline
    in its first bytes is looked at closely."""
    max_line = limits.MAX_LINE
    step = max_line // 2
    n = 0
    i = (a + step - 1) // step * step
    while i + step <= b:
        if b"\n" in os.pread(fd, min(512, step), i):
            i += step
            continue
        j = _nl_forward(fd, i, i + step)
        if j >= 0:
            i += step
            continue
        s = _nl_backward(fd, i, a) + 1
        e = _nl_forward(fd, i + step, b)
        if e < 0:
            e = b
        if e - s > max_line:
            n += 1
        i = (e // step + 1) * step
    return n


def _count_overlong(work, end=None):
    """Number of lines longer than MAX_LINE in ``work`` (complete lines). A line
    that long covers a whole aligned window of MAX_LINE // 2 bytes without a
    newline: only such windows are looked at closely."""
    max_line = limits.MAX_LINE
    step = max_line // 2
    n = 0
    i = 0
    L = len(work) if end is None else end
    find = work.find
    while i + step <= L:
        if find(b"\n", i, i + step) >= 0:
            i += step
            continue
        s = work.rfind(b"\n", 0, i) + 1
        e = find(b"\n", i, L)
        if e < 0:
            e = L
        if e - s > max_line:
            n += 1
        i = (e // step + 1) * step
    return n


def lines_before(before):
    """The complete lines of ``before`` (the file's bytes that end where a line starts,
    at most NEAR_BYTES: when that long, its first line may be cut and is left out),
    nearest first, as (line, how many lines back): at most NEAR_LINES of them, and none
    past an over-long line (its start is not where the scan keeps it)."""
    lines = before.split(b"\n")[:-1]       # ``before`` ends with the previous line's newline
    if len(before) >= limits.NEAR_BYTES:
        lines = lines[1:]
    max_line = limits.MAX_LINE
    back = 0
    for line in reversed(lines[-limits.NEAR_LINES:]):
        if len(line) > max_line:
            return
        back += 1
        yield line, back
