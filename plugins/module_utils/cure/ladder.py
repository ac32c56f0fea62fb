# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The cure ladder of one master: watch first, then each planned step in turn, each followed
by a watch; stop at the first step after which the watch passes.

Private to opcache-fleet. Standard library only, Python 3.8+.

The plan comes from cure/path.py, the steps from cure/steps.py, the watch from cure/watch.py.
A step that cannot run or cannot be verified is no cure: the ladder goes on to the next step
(the error is kept in the step). A step that had nothing to do (no stale script) is not
watched: the cache did not change, so the watch before it still holds.
"""
from __future__ import absolute_import, division, print_function

import time

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.cure.backoff import with_backoff
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.errors import ControlError
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.helper import HelperError

__metaclass__ = type


def cure_master(plan, run_step, watch, crash_log, check_mode=False, retries=3, sleep=time.sleep):
    """Run the ladder. ``run_step(entry)`` does one step and returns its result dict
    ({changed, verified, nothing_to_do?, ...}); ``watch()`` watches the pages (the crash
    log marked just before).

    Returns {outcome: healthy | cured | not_cured | would_cure, cured_by, changed, before,
    path}. ``healthy``: the pages answered and no worker crashed before anything was done,
    so nothing is done.
    """
    result = {"outcome": None, "cured_by": None, "changed": False, "path": plan}
    crash_log.mark()
    result["before"] = before = watch()
    if before["passed"]:
        result["outcome"] = "healthy"
        for entry in plan:
            entry.setdefault("outcome", "not_needed")
        return result
    if check_mode:
        result["outcome"] = "would_cure"
        for entry in plan:
            if not entry.get("skipped"):
                entry["outcome"] = "would_run"
        return result
    for entry in plan:
        if entry.get("skipped"):
            entry["outcome"] = "skipped"
            continue
        if result["outcome"] == "cured":
            entry["outcome"] = "not_needed"
            continue
        retried = []
        crash_log.mark()
        started = time.monotonic()
        try:
            out = with_backoff(lambda e=entry: run_step(e), retries=retries, sleep=sleep, record=retried)
        except (ControlError, HelperError) as exc:
            partial = (getattr(exc, "details", None) or {}).get("result") or {}
            result["changed"] = result["changed"] or bool(partial.get("changed"))
            entry.update(outcome="failed", error=str(exc), cause=exc.cause)
            if retried:
                entry["retries"] = retried
            continue
        entry["seconds"] = round(time.monotonic() - started, 3)
        if retried:
            entry["retries"] = retried
        entry["result"] = out
        during = crash_log.new_crashes()
        if during:
            # a worker died while the step ran: the cure itself may hurt (php-src #14471, #8143)
            entry["crashes_during_step"] = len(during)
            entry["crash_lines_during_step"] = during[:5]
        if out.get("nothing_to_do"):
            entry["outcome"] = "nothing_to_do"
            continue
        result["changed"] = True
        crash_log.mark()
        entry["watch"] = watch()
        if entry["watch"]["passed"]:
            entry["outcome"] = "cured"
            result.update(outcome="cured", cured_by=entry["step"])
        else:
            entry["outcome"] = "watch_failed"
    if result["outcome"] is None:
        result["outcome"] = "not_cured"
    return result
