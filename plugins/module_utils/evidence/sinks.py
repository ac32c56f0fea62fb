# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Sinks that collect scan results (``add(event)``, ``merge(other)``,
``shift_lines(n)``; picklable, because worker processes send them back).

Private to opcache-fleet. Standard library only. The correlator
(evidence/correlate.py) is the other sink.
"""

from __future__ import absolute_import, division, print_function

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.line_events import public_event

__metaclass__ = type

__all__ = ["EventCollector", "CompositeSink"]


class EventCollector(object):
    """Keeps the first ``max_events`` events (as output dicts); counts the rest. PHP
    notice lines (evidence/php_notices.py) are counted only, unless one comes in full
    next to a 502 (add_detail)."""

    def __init__(self, max_events=1000, enabled=True):
        self.max_events = max_events
        self.enabled = enabled
        self.events = []
        self.total = 0
        self.bulk = 0           # notice lines counted in total but never kept

    def add(self, ev):
        self.total += 1
        if self.enabled and len(self.events) < self.max_events:
            self.events.append(public_event(ev))

    bulk_notices = True

    def count_notices(self, path, tally, n, first, last):
        """``n`` PHP notice lines counted in bulk (not kept: only their count)."""
        self.total += n
        self.bulk += n

    def add_detail(self, ev):
        """A notice line counted in bulk, brought in full because a 502 of its nginx
        connection follows it."""
        if self.enabled and len(self.events) < self.max_events:
            self.events.append(public_event(ev))
            self.bulk -= 1

    def merge(self, other):
        self.total += other.total
        self.bulk += other.bulk
        room = self.max_events - len(self.events)
        if self.enabled and room > 0:
            self.events.extend(other.events[:room])

    def shift_lines(self, offset):
        for ev in self.events:
            if ev.get("line_no") is not None:
                ev["line_no"] += offset

    @property
    def truncated(self):
        return self.enabled and self.total - self.bulk > len(self.events)


class CompositeSink(object):
    """Feeds every event to several sinks."""

    def __init__(self, *sinks):
        self.sinks = list(sinks)

    def add(self, ev):
        for s in self.sinks:
            s.add(ev)

    @property
    def bulk_notices(self):
        return all(getattr(s, "bulk_notices", False) for s in self.sinks)

    def count_notices(self, path, tally, n, first, last):
        for s in self.sinks:
            s.count_notices(path, tally, n, first, last)

    def add_detail(self, ev):
        for s in self.sinks:
            s.add_detail(ev)

    def merge(self, other):
        for a, b in zip(self.sinks, other.sinks):
            a.merge(b)

    def shift_lines(self, offset):
        for s in self.sinks:
            s.shift_lines(offset)
