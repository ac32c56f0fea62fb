# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Retries with backoff for a cure step whose request met a worker that went away.

Private to opcache-fleet. Standard library only, Python 3.8+.

A php-fpm worker recycles (pm.max_requests, a crash, a reload in progress) and the request
it was serving ends without an answer; a pool can be momentarily full. A new connection
reaches another worker, so the step is tried again after a pause that doubles each time.
Any other error (a setting that blocks the helper, a verification that failed) is final.
Every step of the ladder may run twice: an invalidation or a reset that did happen before
the answer was lost is verified by figures, not by the lost answer.
"""
from __future__ import absolute_import, division, print_function

import time

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.errors import ControlError
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.helper import HelperError

__metaclass__ = type

# The causes HelperSession and open_master give a request whose worker went away, or a pool
# that said it is overloaded. Not "timeout": a request that timed out may still run in a
# saturated pool, and sending it again adds to the load (opcache_reset's fallback=reload is
# the answer to a saturated pool).
TRANSIENT_CAUSES = ("truncated", "ECONNRESET", "overloaded")


def with_backoff(action, retries=3, first_delay=0.25, sleep=None, record=None):
    """``action()``, tried again up to ``retries`` times on a transient cause, after 0.25 s,
    0.5 s, 1 s... Each retry is appended to ``record`` ({attempt, cause, msg, delay})."""
    attempt = 0
    while True:
        try:
            return action()
        except (ControlError, HelperError) as exc:
            if getattr(exc, "cause", None) not in TRANSIENT_CAUSES or attempt >= retries:
                raise
            delay = first_delay * (2 ** attempt)
            attempt += 1
            if record is not None:
                record.append({"attempt": attempt, "cause": exc.cause, "msg": str(exc)[:300], "delay": delay})
            (sleep or time.sleep)(delay)
