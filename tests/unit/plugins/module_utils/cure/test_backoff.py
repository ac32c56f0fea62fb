# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""cure/backoff.py: a step that met a dying worker is tried again, with growing pauses."""
import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.cure.backoff import with_backoff
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.errors import ControlError
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.helper import HelperError


def flaky(failures):
    calls = []

    def action():
        calls.append(1)
        if len(calls) <= len(failures):
            raise failures[len(calls) - 1]
        return "done"
    return action, calls


def test_transient_failures_are_retried_with_doubling_pauses():
    action, calls = flaky([HelperError("/run/php.sock", "truncated", "worker died"), ControlError("reset by peer", "ECONNRESET")])
    slept, record = [], []
    assert with_backoff(action, retries=3, sleep=slept.append, record=record) == "done"
    assert len(calls) == 3 and slept == [0.25, 0.5]
    assert [r["cause"] for r in record] == ["truncated", "ECONNRESET"]


def test_retries_run_out():
    action, calls = flaky([HelperError("/run/php.sock", "overloaded", "pool full")] * 5)
    with pytest.raises(HelperError):
        with_backoff(action, retries=2, sleep=lambda s: None)
    assert len(calls) == 3


def test_a_setting_that_blocks_the_helper_is_not_retried():
    action, calls = flaky([ControlError("restricted", "opcache.restrict_api")])
    with pytest.raises(ControlError):
        with_backoff(action, retries=3, sleep=lambda s: None)
    assert len(calls) == 1


def test_a_timeout_is_not_retried_into_a_saturated_pool():
    action, calls = flaky([HelperError("/run/php.sock", "timeout", "no answer within 2s")])
    with pytest.raises(HelperError):
        with_backoff(action, retries=3, sleep=lambda s: None)
    assert len(calls) == 1
