# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""report.judge: the verdict of one scope from its figures and OPcache signs.
"""
import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.judge import judge


def test_judge_healthy_when_nothing_happened():
    j = judge({"counts": {}}, {})
    assert j["verdict"] == "healthy" and j["also"] == [] and j["reasons"][0]["code"] == "no_faults"


def test_judge_crash_tied_to_502_is_opcache_suspect_with_support():
    stats = {"counts": {"upstream_reset": 3}, "crashes": 2, "tied_crashes": 2, "tied_502s": 3,
             "crash_paths": {"/a/report.php": 3}, "signals": {"SIGSEGV": 2}, "opcache_so": 1}
    j = judge(stats, {"stale": 1, "collisions": ["App\\X"], "cache_full": True, "oom_restarts": 2})
    assert j["verdict"] == "opcache_suspect" and j["confidence"] == "high"
    codes = [r["code"] for r in j["reasons"]]
    assert codes[0] == "crashes_tied_to_502"
    assert {"opcache_so_segfault", "stale_scripts", "class_collisions", "cache_full", "oom_restarts"} <= set(codes)
    assert "/a/report.php (3)" in j["reasons"][0]["text"]


def test_judge_crash_without_502_is_low_confidence():
    j = judge({"counts": {}, "crashes": 1, "signals": {"SIGSEGV": 1}})
    assert (j["verdict"], j["confidence"], j["reasons"][0]["code"]) == ("opcache_suspect", "low", "worker_crashes")


@pytest.mark.parametrize("category,verdict", [
    ("max_children", "capacity"), ("seems_busy", "capacity"), ("upstream_connect_eagain", "capacity"),
    ("upstream_timeout", "timeouts"), ("exec_timeout", "timeouts"),
    ("upstream_connect_eacces", "misconfig"), ("upstream_connect_enoent", "misconfig"),
    ("upstream_connect_refused", "misconfig"), ("primary_script_unknown", "misconfig"),
])
def test_judge_each_category_gives_its_verdict(category, verdict):
    j = judge({"counts": {category: 2}})
    assert j["verdict"] == verdict and j["reasons"][0]["code"] == category and j["confidence"] is None


def test_judge_priority_and_also():
    j = judge({"counts": {"max_children": 1, "upstream_timeout": 4, "upstream_connect_eacces": 1},
               "crashes": 1, "tied_crashes": 1, "tied_502s": 1, "crash_paths": {"/x": 1}})
    assert j["verdict"] == "opcache_suspect" and j["also"] == ["misconfig", "capacity", "timeouts"]


def test_judge_thresholds():
    assert judge({"counts": {"max_children": 2}}, thresholds={"capacity": 3})["verdict"] == "healthy"


def test_supporting_signs_alone_are_notes_not_a_verdict():
    j = judge({"counts": {}}, {"stale": 3, "collisions": ["App\\Legacy\\Cache"], "overrides": ["site-b: x=0"]})
    assert j["verdict"] == "healthy"
    assert [n["code"] for n in j["notes"]] == ["stale_scripts", "class_collisions", "pool_opcache_overrides"]
