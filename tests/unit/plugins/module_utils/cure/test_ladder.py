# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""cure/ladder.py: escalate while the watch fails, stop at the first step that cures."""
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.cure.ladder import cure_master
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.cure.path import cure_settings, plan_path
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.errors import ControlError
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.helper import HelperError


class Log(object):
    source = {"kind": "file"}

    def __init__(self, during=None):
        self.during = list(during or [])
        self.marks = 0

    def mark(self):
        self.marks += 1

    def new_crashes(self):
        return self.during.pop(0) if self.during else []


def ladder(watches, outcomes=None, check_mode=False, settings=None, during=None):
    ran = []
    outcomes = outcomes or {}
    results = iter(watches)

    def run_step(entry):
        ran.append(entry["step"])
        out = outcomes.get(entry["step"], {"changed": True, "verified": True})
        if isinstance(out, list):
            out = out.pop(0)
        if isinstance(out, Exception):
            raise out
        return out

    def watch():
        return {"passed": next(results)}
    plan = plan_path(settings or cure_settings({}, {"opcache_enabled": True}))
    res = cure_master(plan, run_step, watch, Log(during), check_mode=check_mode, sleep=lambda s: None)
    return res, ran


def outcomes_of(res):
    return dict((e["step"], e["outcome"]) for e in res["path"])


def test_healthy_pages_change_nothing():
    res, ran = ladder([True])
    assert res["outcome"] == "healthy" and ran == [] and not res["changed"]


def test_stops_at_the_first_step_whose_watch_passes():
    res, ran = ladder([False, False, True])
    assert ran == ["stale", "full"]
    assert res["outcome"] == "cured" and res["cured_by"] == "full" and res["changed"]
    assert outcomes_of(res) == {"stale": "watch_failed", "full": "cured", "reload": "not_needed",
                                "restart": "not_needed"}


def test_nothing_stale_goes_on_without_a_watch():
    res, ran = ladder([False, True], outcomes={"stale": {"changed": False, "nothing_to_do": True}})
    assert ran == ["stale", "full"] and res["cured_by"] == "full"
    assert outcomes_of(res)["stale"] == "nothing_to_do" and "watch" not in res["path"][0]


def test_a_step_that_fails_escalates_and_keeps_its_error():
    res, ran = ladder([False, False, True], outcomes={
        "full": ControlError("reset scheduled but not verified", "verify_timeout",
                             {"result": {"changed": True}})})
    assert ran == ["stale", "full", "reload"] and res["cured_by"] == "reload"
    assert res["path"][1]["outcome"] == "failed" and res["path"][1]["cause"] == "verify_timeout"


def test_a_worker_that_went_away_is_retried_not_escalated():
    res, ran = ladder([False, True], outcomes={"stale": [HelperError("s", "truncated", "died"),
                                                         {"changed": True, "verified": True}]})
    assert ran == ["stale", "stale"] and res["cured_by"] == "stale"
    assert res["path"][0]["retries"][0]["cause"] == "truncated"


def test_every_step_failing_is_not_cured():
    res, ran = ladder([False] * 5)
    assert res["outcome"] == "not_cured" and ran == ["stale", "full", "reload", "restart"]


def test_preload_path_never_runs_the_full_reset():
    res, ran = ladder([False, False, True], settings=cure_settings({"opcache.preload": "/p.php"}, {"opcache_enabled": True}))
    assert ran == ["stale", "reload"] and outcomes_of(res)["full"] == "skipped"


def test_check_mode_runs_nothing():
    res, ran = ladder([False], check_mode=True)
    assert ran == [] and res["outcome"] == "would_cure"
    assert set(outcomes_of(res).values()) == {"would_run"}


def test_crashes_while_a_step_ran_are_reported():
    res, dummy = ladder([False, True], during=[[{"pid": 7, "signal": "SIGSEGV"}]])
    assert res["path"][0]["crashes_during_step"] == 1
