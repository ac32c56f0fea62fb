# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The per-event shortcuts of the scan (issue 12, speed) give what the long way gives:
split_glued's two searches against collecting every header, the Matcher's per-text cache
against no cache, the nginx context kept per text after the client against parsing it
whole, the nginx stamp's per-minute epoch against the full conversion. Each is held to
its long form on every sample line of the signature table and on generated lines."""
import random
import re

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence import glued
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.line_events import _event_of, events_from_line
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.parse import (
    EVENT_CONTEXT_KEYS, nginx_context_fields, nginx_stamp_time, parse_nginx_context, parse_record,
)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.signatures import Matcher
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.timestamps import TimeContext
from signature_samples import categories, load_samples

KINDS = (None, frozenset(["nginx"]), frozenset(["php-fpm"]), frozenset(["kernel", "coredump", "php-fpm"]))


def _sample_lines():
    return [raw.decode("utf-8", "replace") for cat in categories() for dummy, dummy2, raw, dummy3 in load_samples(cat)
            if raw]


SAMPLES = _sample_lines()

_HEADERS = ["[06-Dec-2016 17:22:18] NOTICE: ", "[06-Dec-2016 17:22:18.123456]  [pool www] ",
            "Jan 11 08:54:01.164325 [WARNING] ", "[39825.157236] php5-fpm[9524]", "[ 12.000001] a[1]",
            "2026/11/26 17:01:02 [error] 2481#2481: *18 ", "php74_1  | ", "x" * 150, "'", '"', ", client: ",
            " said into stderr: ", "(request: ", " script '", "[pool www] child 1 started", "Nov 3 ", "2026/ ",
            " child 2 exited on signal 11 (SIGSEGV) after 1.5 seconds from start",
            "[01-Jan-2020 00:00:00]", " ", "[", "]", "Mar 1 1:2:3.4 [A] "]


def _fuzz_lines(n, seed):
    rng = random.Random(seed)
    return ["".join(rng.choice(_HEADERS) for dummy in range(rng.randint(1, 6))) for dummy in range(n)]


def _split_glued_long(line):
    """split_glued as it was written first: every header of the three patterns collected."""
    if len(line) < glued._SHORTEST or line.find("[", 1) < 0:
        return [line]
    if glued._RE_NGINX_HEAD.search(line, 0, glued._NGINX_HEAD_WITHIN) is not None:
        return [line]
    limit = glued._foreign_from(line)
    found = set()
    for regex in (glued._RE_FPM_AT, glued._RE_FPM53_AT, glued._RE_DMESG_AT):
        for m in regex.finditer(line, 0, limit):
            found.add(m.start())
    own = min(found) if found else None
    cuts = sorted(c for c in found if c > 0 and (own is None or own > glued._PREFIX_BUDGET or c > own))
    if not cuts:
        return [line]
    out, prev = [], 0
    for cut in cuts:
        out.append(line[prev:cut].rstrip())
        prev = cut
    out.append(line[prev:])
    return out


def test_split_glued_equals_collecting_every_header():
    lines = SAMPLES + _fuzz_lines(20000, 12)
    split = [l for l in lines if len(_split_glued_long(l)) > 1]
    assert len(split) > 1000          # the fuzz does reach the glued cases
    for line in lines:
        assert glued.split_glued(line) == _split_glued_long(line), line


def test_matcher_cache_gives_each_caller_the_uncached_answer():
    cached, plain = Matcher(), Matcher(cache=False)
    tctx = TimeContext(ref_epoch=1798675200)
    recs = [parse_record(l, tctx) for l in SAMPLES]
    nginx = [r for r in recs if r.kind == "nginx"]
    assert len(nginx) > 50
    for dummy in range(2):                  # the second round answers from the cache
        for r in recs:
            for kinds in KINDS:
                for cut_ok in (True, False):
                    want = plain.match(r.kind, r.message, r.tag, kinds, cut_ok)
                    got = cached.match(r.kind, r.message, r.tag, kinds, cut_ok)
                    assert got == want, r.message
                    if got is not None:
                        got[2]["client"] = "changed by a caller"
    assert cached.cache                     # nginx records were kept


def test_matcher_cache_stays_bounded():
    m = Matcher()
    for i in range(m.CACHE_SIZE + 10):
        m.match("nginx", "upstream timed out (110: Connection timed out) while reading upstream %d" % i)
    assert len(m.cache) <= m.CACHE_SIZE
    # long texts (a hostile file's 64 KiB lines) are matched, never kept
    m.cache.clear()
    long_text = "upstream timed out (110: Connection timed out) while reading upstream " + "x" * 5000
    assert m.match("nginx", long_text)[0] == "upstream_timeout"
    assert not m.cache


def test_nginx_context_cache_keeps_no_long_context():
    from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence import parse
    parse._CTX_CACHE.clear()
    msg = "upstream timed out, client: 192.0.2.1, server: a, request: \"GET /%s HTTP/1.1\"" % ("x" * 5000)
    assert nginx_context_fields(msg)["path"] == "/" + "x" * 5000
    assert not parse._CTX_CACHE


_CONTEXTS = [
    ', client: 192.0.2.1, server: a, request: "GET /x HTTP/1.1", upstream: "fastcgi://unix:/run/p.sock:", host: "a"',
    ', client: 192.0.2.2, server: a, request: "GET /x HTTP/1.1", upstream: "fastcgi://unix:/run/p.sock:", host: "a"',
    ', client: , server: a, request: "GET /x HTTP/1.1"',
    ', client: "192.0.2.1, x", server: a, request: "GET /y HTTP/1.1"',
    ', client: 192.0.2.1',
    ', client: 192.0.2.1, server: a, request: "GET /a"b" HTTP/1.1", host: "h", referrer: "r"',
    ', client: 2001:db8::1, server: b, subrequest: "/s", upstream: "http://10.0.0.1:80/", host: "h:8080"',
    ', client: 192.0.2.1, server: a, request: "POST /cut',
    ', client: 192.0.2.1,server: a',
]


def test_nginx_context_kept_per_rest_equals_parsing_it_whole():
    messages = ["upstream timed out" + c for c in _CONTEXTS]
    tctx = TimeContext()
    messages += [parse_record(l, tctx).message for l in SAMPLES]
    for dummy in range(2):
        for msg in messages:
            whole = parse_nginx_context(msg)[1]
            assert nginx_context_fields(msg) == dict((k, whole.get(k)) for k in EVENT_CONTEXT_KEYS), msg


def test_nginx_stamp_per_minute_equals_the_full_conversion():
    tctx = TimeContext()
    seen = TimeContext()
    stamps = []
    for day in (1, 28, 29, 30, 31):
        for hh, mi in ((0, 0), (1, 59), (2, 30), (12, 0), (23, 59)):
            for ss in (0, 1, 30, 59, 60, 61, 99):
                stamps.append("2026/%02d/%02d %02d:%02d:%02d" % (3 if day < 29 else 10, day, hh, mi, ss))
    stamps.append("2026/02/30 10:00:00")     # mktime normalizes it
    for stamp in stamps + stamps:
        y, mo, d = int(stamp[0:4]), int(stamp[5:7]), int(stamp[8:10])
        want = tctx.local(y, mo, d, int(stamp[11:13]), int(stamp[14:16]), int(stamp[17:19]))
        assert nginx_stamp_time(stamp, seen) == want, stamp


@pytest.mark.parametrize("stamp", ["2026/11/26 17:01:02", "2026/11/26 17:01:59"])
def test_nginx_stamp_cache_keeps_minutes_apart_from_seconds(stamp):
    tctx = TimeContext()
    first = nginx_stamp_time(stamp, tctx)
    assert re.match(r"^\d{4}/\d\d/\d\d \d\d:\d\d$", stamp[:16])
    # the minute's entry is its epoch at second 0, never taken for a stamp's own
    assert tctx._stamp_cache[stamp[:16]] == first - int(stamp[17:19])
    assert nginx_stamp_time(stamp, tctx) == first


def test_events_of_a_line_are_those_of_each_of_its_records():
    """events_from_line takes a line that starts with an nginx header as one record without
    asking split_glued: the same events as asking it."""
    matcher = Matcher(cache=False)
    lines = SAMPLES + _fuzz_lines(5000, 7) + ["2026/" + l for l in _fuzz_lines(2000, 8)]
    glued_lines = 0
    for line in lines:
        tctx = TimeContext(ref_epoch=1798675200)
        want = []
        records = glued.split_glued(line)
        glued_lines += len(records) > 1
        for rtext in records:
            rec = parse_record(rtext, tctx)
            ev = _event_of(rec, "/x", 3, matcher, None)
            if ev is not None:
                want.append(ev)
        got = events_from_line(line, "/x", 3, TimeContext(ref_epoch=1798675200), matcher)
        assert [dict(e, _ts=None) for e in got] == [dict(e, _ts=None) for e in want], line
    assert glued_lines > 500


def test_the_kinds_a_caller_names_may_be_any_collection():
    m = Matcher()
    msg = "upstream timed out (110: Connection timed out) while reading upstream, client: 192.0.2.1"
    for kinds in (["nginx"], {"nginx"}, ("nginx",), frozenset(["nginx"])):
        assert m.match("nginx", msg, None, kinds)[0] == "upstream_timeout"
    assert m.match("nginx", msg, None, ["php-fpm"]) is None
