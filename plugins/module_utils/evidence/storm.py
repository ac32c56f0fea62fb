# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A crash storm, live: php-fpm worker crashes tied to the 502s they caused, counted per
host over a sliding window, as lines arrive from followed logs.

Private to opcache-fleet. Standard library only. The Event-Driven Ansible source
(extensions/eda/plugins/event_source/crash_storm.py) feeds it; it knows nothing of
asyncio, files or commands, so its rules are tested line by line.

Rules (docs/eda.md says why):
- a line is classified by the collection's own signature table, with only the kinds its
  stream writes (an nginx log holds nginx records only: a Referer cannot plant a crash);
- a crash is a worker that died on a crash signal (categories.CRASH_SIGNALS), a
  ``zend_mm_heap corrupted`` from a child, or a kernel fault of a PHP process; a 502 of a
  crash is ``upstream_reset`` or ``upstream_prematurely_closed``;
- a crash is *tied* when a 502 of the same host arrived within ``tie_seconds`` of it, one
  502 per crash; times are arrival times on the watcher (host clocks and log time zones
  do not matter, and undated lines count);
- the same record seen twice (two names of one file, a re-read after copytruncate, the
  journal and a file) counts once: a crash by its pid, a 502 by nginx's pid and
  connection number, anything else by its text;
- a host fires when its tied crashes within ``window`` seconds reach ``threshold``, and
  then not again for ``cooldown`` seconds (a storm that goes on fires again after it).
"""
from __future__ import absolute_import, division, print_function

import collections
import hashlib

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.categories import (
    CRASH_502, CRASH_SIGNALS, KERNEL_CRASH)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.line_events import events_from_line
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.timestamps import TimeContext

__metaclass__ = type

__all__ = ["StormSettings", "StormWatch", "STREAM_KINDS"]

# The evidence kinds each kind of stream is searched for (search_plan._HINT_KINDS' rule).
STREAM_KINDS = {
    "nginx": frozenset(("nginx",)),
    "php-fpm": frozenset(("php-fpm",)),
    "kernel": frozenset(("kernel", "coredump")),
}

# Bounds on what one event carries from the logs (text written by strangers).
_MAX_LISTED = 10
_MAX_TEXT = 200


class StormSettings:
    """The thresholds, checked once: every value a positive number of the right type."""

    def __init__(self, threshold=3, window=60.0, tie_seconds=5.0, cooldown=600.0):
        self.threshold = _positive(threshold, "threshold", integer=True)
        self.window = _positive(window, "window")
        self.tie_seconds = _positive(tie_seconds, "tie_seconds")
        self.cooldown = _positive(cooldown, "cooldown", zero_ok=True)
        if self.tie_seconds > self.window:
            raise ValueError("tie_seconds (%s) must not be longer than window (%s)"
                             % (self.tie_seconds, self.window))


def _positive(value, name, integer=False, zero_ok=False):
    if isinstance(value, bool) or not isinstance(value, (int, float) if not integer else int):
        raise ValueError("%s must be %s, got %r" % (name, "a whole number" if integer else "a number", value))
    if value < 0 or (value == 0 and not zero_ok):
        raise ValueError("%s must be %s, got %r" % (name, "0 or more" if zero_ok else "more than 0", value))
    return value


class _Seen:
    """One crash or one 502 as it arrived."""
    __slots__ = ("t", "wall", "key", "event", "stream", "tied")

    def __init__(self, t, wall, key, event, stream):
        self.t, self.wall, self.key, self.event, self.stream = t, wall, key, event, stream
        self.tied = False


class _Host:
    def __init__(self):
        self.crashes = collections.deque()
        self.gateway = collections.deque()
        self.keys = {}            # key -> arrival time, for the dedupe
        self.quiet_until = None   # cooldown after a fire
        self.tctx = TimeContext()


class StormWatch:
    """Feed it lines (``feed``); it answers with the storm to report, or None."""

    def __init__(self, settings=None):
        self.settings = settings or StormSettings()
        self.hosts = {}
        self.fired = 0

    # -- input ----------------------------------------------------------------
    def classify(self, host, stream_kind, line):
        """The crash/502 events of one line (list of (role, key, event)); role is 'crash'
        or '502'. Other evidence is ignored here (the diagnosis reads it later)."""
        state = self._host(host)
        out = []
        for ev in events_from_line(line, tctx=state.tctx, kinds=STREAM_KINDS[stream_kind]):
            role = _role(ev)
            if role is not None:
                out.append((role, _key(role, ev, line), ev))
        return out

    def feed(self, host, stream_kind, line, now, wall=None, stream=None):
        """Take one line that arrived at monotonic time ``now`` (``wall``: epoch seconds,
        for the report) from a stream of ``stream_kind`` ('nginx', 'php-fpm', 'kernel')
        on ``host``. Returns ``(counted, storm)``: what the line counted as (list of
        roles, duplicates left out) and the storm's summary (a dict) when this line
        makes ``host`` fire, else None."""
        state = self._host(host)
        self._expire(state, now)
        counted = []
        for role, key, ev in self.classify(host, stream_kind, line):
            if key in state.keys:
                continue
            state.keys[key] = now
            seen = _Seen(now, wall, key, ev, stream)
            (state.crashes if role == "crash" else state.gateway).append(seen)
            counted.append(role)
        if not counted:
            return counted, None
        return counted, self._maybe_fire(host, now)

    def tally(self, host, now):
        """(tied crashes, crashes, 502s) of ``host`` within the window at ``now``."""
        state = self._host(host)
        self._expire(state, now)
        return self._tied(state, now), len(self._recent(state.crashes, now)), len(self._recent(state.gateway, now))

    # -- rules ------------------------------------------------------------------
    def _host(self, host):
        state = self.hosts.get(host)
        if state is None:
            state = self.hosts[host] = _Host()
        return state

    def _expire(self, state, now):
        """Forget what is older than the window plus the tie margin (a 502 just outside
        the window can still tie a crash inside it)."""
        horizon = now - self.settings.window - self.settings.tie_seconds
        for q in (state.crashes, state.gateway):
            while q and q[0].t < horizon:
                q.popleft()
        if len(state.keys) > 4 * (len(state.crashes) + len(state.gateway)) + 64:
            state.keys = dict((k, t) for k, t in state.keys.items() if t >= horizon)

    def _recent(self, q, now):
        start = now - self.settings.window
        return [s for s in q if s.t >= start]

    def _tied(self, state, now):
        """Crashes in the window paired one to one with a 502 within tie_seconds (each
        crash takes the nearest free 502 in time)."""
        tie = self.settings.tie_seconds
        crashes = self._recent(state.crashes, now)
        free = list(state.gateway)
        for c in crashes:
            c.tied = False
            best = None
            for i, g in enumerate(free):
                d = abs(g.t - c.t)
                if d <= tie and (best is None or d < abs(free[best].t - c.t)):
                    best = i
            if best is not None:
                free.pop(best)
                c.tied = True
        return sum(1 for c in crashes if c.tied)

    def _maybe_fire(self, host, now):
        state = self.hosts[host]
        if state.quiet_until is not None and now < state.quiet_until:
            return None
        if self._tied(state, now) < self.settings.threshold:
            return None
        state.quiet_until = now + self.settings.cooldown
        self.fired += 1
        return self._summary(state, now)

    def _summary(self, state, now):
        tied = self._tied(state, now)
        crashes = self._recent(state.crashes, now)
        gateway = self._recent(state.gateway, now)
        walls = [s.wall for s in crashes + gateway if s.wall is not None]
        signals = collections.Counter()
        pools, pages, streams = [], [], []
        for c in crashes:
            ev = c.event
            signals[ev.get("signal_name") or ev["category"]] += 1
            _add(pools, ev.get("pool"))
            _add(streams, c.stream)
        for g in gateway:
            _add(pages, g.event.get("request"))
            _add(streams, g.stream)
        return {
            "tied_crashes": tied,
            "crashes": len(crashes),
            "gateway_502": len(gateway),
            "first_seen": min(walls) if walls else None,
            "last_seen": max(walls) if walls else None,
            "signals": dict(signals),
            "pools": pools,
            "requests": pages,
            "streams": streams,
        }


def _add(items, value):
    """Append a bounded copy of a value from the logs, once, up to _MAX_LISTED."""
    if value is None or len(items) >= _MAX_LISTED:
        return
    text = str(value)[:_MAX_TEXT]
    if text not in items:
        items.append(text)


def _role(ev):
    cat = ev["category"]
    if cat in CRASH_502:
        return "502"
    if cat == "child_signal":
        return "crash" if ev.get("signal_number") in CRASH_SIGNALS else None
    if cat == "heap_corruption":
        return "crash"
    if cat in KERNEL_CRASH:
        return "crash" if ev.get("is_php") else None
    return None


def _key(role, ev, line):
    """What makes two sightings the same record: a worker dies once (its pid, whether the
    php-fpm log, the kernel or the heap message says so); nginx numbers its connections."""
    if role == "crash" and ev.get("pid") is not None:
        return ("crash", ev["pid"])
    if role == "502" and ev.get("connection") is not None:
        return ("502", ev.get("nginx_pid"), ev["connection"])
    raw = line if isinstance(line, bytes) else line.encode("utf-8", "replace")
    return (role, hashlib.sha1(raw).hexdigest())
