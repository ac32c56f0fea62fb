# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""One generated test per signature: every sample line in
tests/unit/fixtures/signatures/<category>.log is checked against its expectation
comment (fail2ban style, see the README there); a signature without samples fails."""

import os
import re

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.timestamps import TimeContext, parse_iso
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.line_events import events_from_line, public_event
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.signature_table import (
    SIGNATURES, SCAN_LITERALS, SCAN_LITERALS_EXTRA, GREP_LITERALS, CATEGORIES, SOURCE_KINDS,
)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.signatures import Matcher
import signature_samples
from signature_samples import FIXTURES, load_samples

REF_EPOCH = 1798675200.0   # 2026-12-31T00:00:00Z: years of year-less stamps resolve before it


pytestmark = pytest.mark.usefixtures("utc")   # TZ=UTC for every test (conftest.py)


def classify(raw):
    tctx = TimeContext(ref_epoch=REF_EPOCH)
    return [public_event(e) for e in events_from_line(raw, "sample", 1, tctx)]


def _check_fields(category, expected, event, where):
    exp_cat = expected.get("category", category)
    assert event["category"] == exp_cat, "%s: expected category %s, got %s (%r)" % (
        where, exp_cat, event["category"], event)
    for k, v in expected.items():
        if k == "category":
            continue
        assert k in event, "%s: event has no field %r: %r" % (where, k, event)
        if k == "timestamp" and v is not None:
            assert event[k] is not None and abs(parse_iso(event[k]) - parse_iso(v)) < 1e-5, \
                "%s: timestamp %s != %s" % (where, event[k], v)
        else:
            assert event[k] == v, "%s: field %s = %r, expected %r" % (where, k, event[k], v)


@pytest.mark.parametrize("category", CATEGORIES)
def test_signature_samples(category):
    samples = load_samples(category)
    matches = [s for s in samples if s[0] == "match"]
    no_matches = [s for s in samples if s[0] == "no-match"]
    assert matches, "signature %s has no matching samples" % category
    assert no_matches, "signature %s has no non-matching samples" % category
    for kind, expected, raw, no in samples:
        where = "%s.log:%d" % (category, no)
        events = classify(raw)
        if kind == "match":
            exp_list = expected if isinstance(expected, list) else [expected or {}]
            assert len(events) == len(exp_list), "%s: expected %d event(s), got %r" % (
                where, len(exp_list), events)
            for exp, ev in zip(exp_list, events):
                _check_fields(category, exp, ev, where)
        else:
            cats = [e["category"] for e in events]
            assert category not in cats, "%s: must not match %s, got %r" % (where, category, events)
            if expected and "category" in expected:
                want = expected["category"]
                if want is None:
                    assert events == [], "%s: expected no event, got %r" % (where, events)
                else:
                    assert want in cats, "%s: expected category %s, got %r" % (where, want, events)


@pytest.mark.parametrize("category", CATEGORIES)
def test_scan_literals_cover_samples(category):
    """The scanner only looks at lines holding one of its coarse literals."""
    kind = [s for s in SIGNATURES if s["id"] == category][0]["source_kind"]
    for k, expected, raw, no in load_samples(category):
        if k != "match":
            continue
        lits = SCAN_LITERALS[kind] + SCAN_LITERALS_EXTRA.get(kind, ())
        assert any(l in raw for l in lits), "%s.log:%d has none of %r" % (category, no, lits)
        # the first GNU grep's literals (precise phrases where they differ) find it too
        glits = GREP_LITERALS.get(kind, SCAN_LITERALS[kind]) + SCAN_LITERALS_EXTRA.get(kind, ())
        assert any(l in raw for l in glits), "%s.log:%d has none of the grep literals %r" % (category, no, glits)


@pytest.mark.parametrize("entry", SIGNATURES, ids=[s["id"] for s in SIGNATURES])
def test_signature_entry_is_complete_data(entry):
    for key in ("id", "source_kind", "prefilter", "regex", "fields", "description", "example"):
        assert entry.get(key), "signature %s lacks %s" % (entry.get("id"), key)
    assert entry["source_kind"] in SOURCE_KINDS
    pre = entry["prefilter"] if isinstance(entry["prefilter"], tuple) else (entry["prefilter"],)
    assert all(isinstance(p, bytes) and p for p in pre)
    regexes = entry["regex"] if isinstance(entry["regex"], tuple) else (entry["regex"],)
    for rx in regexes:
        assert re.compile(rx).groupindex, "%s: regex without named groups" % entry["id"]
    # the example is a real line of this category
    events = classify(entry["example"].encode("utf-8"))
    assert [e["category"] for e in events] == [entry["id"]], (entry["id"], events)


def test_category_names_are_the_documented_interface():
    assert set(CATEGORIES) == set([
        "upstream_reset", "upstream_prematurely_closed", "upstream_connect_refused",
        "upstream_connect_eagain", "upstream_connect_enoent", "upstream_connect_eacces",
        "upstream_connect_other", "upstream_timeout", "upstream_too_big_header", "upstream_send_failed",
        "upstream_invalid_response", "upstream_disabled", "no_live_upstreams", "primary_script_unknown",
        "fastcgi_stderr", "client_abort", "child_signal", "child_exit_code", "heap_corruption",
        "child_stderr", "max_children", "seems_busy", "exec_timeout", "slow_request", "ptrace_failed",
        "unknown_child", "lifecycle", "kernel_segfault", "general_protection", "kernel_trap", "oom_kill",
        "coredump",
    ])
    assert len(CATEGORIES) == len(set(CATEGORIES))


def test_every_fixture_file_belongs_to_a_signature():
    names = [f[:-4] for f in os.listdir(FIXTURES) if f.endswith(".log")]
    assert sorted(names) == sorted(CATEGORIES)


def test_sample_loader_fails_on_a_signature_without_samples(tmp_path, monkeypatch):
    """The guard itself can fail: an empty sample file is reported."""
    (tmp_path / "child_signal.log").write_bytes(b"# just a comment\n")
    monkeypatch.setattr(signature_samples, "FIXTURES", str(tmp_path))
    with pytest.raises(AssertionError, match="has no matching samples"):
        test_signature_samples("child_signal")


def test_matcher_tries_kernel_before_nginx_for_headerless_records():
    m = Matcher()
    res = m.match("other", "php-fpm[1]: segfault at 0 ip 0 sp 0 error 4 in opcache.so[1+2]", None)
    assert res[0] == "kernel_segfault"
    res = m.match("other", "upstream timed out (110: Connection timed out) while reading response header "
                           "from upstream, client: 1.2.3.4", None)
    assert res[0] == "upstream_timeout"
