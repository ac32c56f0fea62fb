# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 11, finding 6: no signature takes more than linear time on a hostile line.

A 64 KiB line (MAX_LINE, the longest one examined) of ``child 1 said into stderr:
corrupted `` repeated took 2.2 s in the old heap_corruption regex; a 1.3 MB file
43-50 s. Every signature is run on adversarial lines built from its own sample lines'
words (prefixes of the message repeated, the message repeated, its prefilters repeated);
a linear pattern takes milliseconds there, the bound is generous."""

import re
import time

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence import limits
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.line_events import events_from_line
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.parse import parse_record
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.signature_table import SIGNATURES
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.timestamps import TimeContext
from signature_samples import load_samples

pytestmark = pytest.mark.usefixtures("utc")   # TZ=UTC for every test (conftest.py)

# Linear, not fast: the time on a 64 KiB line against the time on a 16 KiB one (best of two
# each). Linear work grows 4 times, quadratic 16 times; 8 times plus a little slack tells
# them apart on a loaded machine too, where no absolute bound would be fair.
GROWTH = 8
SLACK_S = 0.05
FPM_HEAD = "[26-Nov-2026 17:01:02] WARNING: [pool www] "


def _fill(piece, n=None):
    n = n or limits.MAX_LINE
    return (piece * (n // max(1, len(piece)) + 1))[:n]


def _best(fn, arg, rounds=2):
    took = None
    for dummy in range(rounds):
        t = time.perf_counter()
        fn(arg)
        spent = time.perf_counter() - t
        took = spent if took is None else min(took, spent)
    return took


def assert_linear(label, fn, build):
    """``fn(build(n))`` takes linear time in n: 64 KiB against 16 KiB."""
    small = _best(fn, build(limits.MAX_LINE // 4))
    big = _best(fn, build(limits.MAX_LINE))
    assert big < GROWTH * small + SLACK_S, (
        "%s: %.3f s on a 64 KiB line, %.3f s on a 16 KiB one (linear grows 4x, quadratic 16x)" % (label, big, small))


def _events(line):
    return events_from_line(line.encode(), "php-fpm.log", 1, TimeContext())


def test_the_reported_heap_corruption_line_is_linear():
    def build(n):
        return FPM_HEAD + _fill("child 1 said into stderr: corrupted ", n - len(FPM_HEAD))
    assert_linear("heap_corruption", _events, build)
    # no corruption message starts what the child said; and child_stderr keeps at
    # most 512 characters of it, so such a line is no event at all
    assert _events(build(limits.MAX_LINE)) == []


@pytest.mark.parametrize("said", [
    "zend_mm_heap corrupted",
    "malloc(): corrupted top size",
    "free(): invalid pointer",
    "double free or corruption (!prev)",
    "corrupted size vs. prev_size",
    "malloc_consolidate(): invalid chunk size",
    "munmap_chunk(): invalid pointer",
    "realloc(): invalid next size",
    "corrupted double-linked list",
    "*** Error in `php-fpm: pool www': free(): invalid pointer: 0x00007f2b5c0b7e40 ***",
])
def test_real_heap_corruption_lines_still_match(said):
    line = '%schild 1117896 said into stderr: "%s"' % (FPM_HEAD, said)
    (ev,) = events_from_line(line.encode(), "php-fpm.log", 1, TimeContext())
    assert ev["category"] == "heap_corruption" and ev["pid"] == 1117896 and ev["pool"] == "www"
    assert ev["stderr"] == said


def test_a_hostile_heap_corruption_line_with_the_marker_is_linear_and_matches():
    def build(n):
        return FPM_HEAD + 'child 7 said into stderr: "malloc(): ' + _fill("corrupted ", n - 120)
    assert_linear("heap_corruption with its marker", _events, build)
    assert [e["category"] for e in _events(build(limits.MAX_LINE))] == ["heap_corruption"]


def _adversarial(message, prefilters):
    words = message.split(" ")
    pieces = [" ".join(words[:k]) + " " for k in range(1, len(words))]
    pieces += [message, message[:len(message) // 2], message.replace(",", "").replace(")", "")]
    pieces += [p.decode("ascii") + " " for p in prefilters]
    pieces += ["[pool ", "(", "Process 1 (", "Kill process 1 (", "child 1, script '"]
    return sorted(set(p for p in pieces if p.strip()))


def _cases():
    for sig in SIGNATURES:
        prefilters = sig["prefilter"] if isinstance(sig["prefilter"], tuple) else (sig["prefilter"],)
        for kind, dummy, raw, no in load_samples(sig["id"]):
            if kind == "match":
                msg = parse_record(raw.decode("utf-8", "replace"), TimeContext()).message
                yield pytest.param(sig, msg, prefilters, id="%s-%d" % (sig["id"], no))


@pytest.mark.parametrize("sig,message,prefilters", list(_cases()))
def test_every_signature_is_linear_on_lines_built_from_its_samples(sig, message, prefilters):
    regexes = [re.compile(r) for r in (sig["regex"] if isinstance(sig["regex"], tuple) else (sig["regex"],))]
    for piece in _adversarial(message, prefilters):
        for rx in regexes:
            assert_linear("%s (pattern %r) on %r..." % (sig["id"], rx.pattern, piece[:40]), rx.search,
                          lambda n, piece=piece: _fill(piece, n))
        assert_linear("%s: the whole line on %r..." % (sig["id"], piece[:40]),
                      lambda line: events_from_line(line.encode(), "x.log", 1, TimeContext()),
                      lambda n, piece=piece: FPM_HEAD + _fill(piece, n))
