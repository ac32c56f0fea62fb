# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Groups of evidence categories (shared/design/evidence-categories.md), defined once.

Private to opcache-fleet. Standard library only. The correlator, the report's judge and
the culprit hunt all ask "is this a crash?", "is this a 502?": they ask it here.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

# nginx lines of a request whose php-fpm worker died under it (the 502 of a crash).
CRASH_502 = ("upstream_reset", "upstream_prematurely_closed")
# php-fpm lines of a worker crash.
WORKER_CRASH = ("child_signal", "heap_corruption")
# kernel lines of a crash of a process (the pid ties them to a worker).
KERNEL_CRASH = ("kernel_segfault", "general_protection", "kernel_trap")
# nginx could not reach php-fpm at all.
CONNECT_FAILED = ("upstream_connect_refused", "upstream_connect_eagain", "upstream_connect_enoent",
                  "upstream_connect_eacces", "upstream_connect_other", "no_live_upstreams",
                  "upstream_disabled")
# nginx categories that answer the client with 502.
GATEWAY_502 = CRASH_502 + (
    "upstream_connect_refused", "upstream_connect_eagain", "upstream_connect_enoent",
    "upstream_connect_eacces", "upstream_connect_other", "upstream_too_big_header",
    "upstream_send_failed", "upstream_invalid_response", "no_live_upstreams",
)
# Signals that mean "the worker crashed" (SIGTERM/SIGKILL/SIGQUIT are sent by someone).
CRASH_SIGNALS = frozenset((4, 5, 6, 7, 8, 11, 31))
