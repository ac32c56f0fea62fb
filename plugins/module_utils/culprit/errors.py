# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one exception of the culprit hunt (probe, routing and hunt all raise it).

Private to opcache-fleet. Standard library only, Python 3.8+.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type


class HuntError(Exception):
    """The hunt cannot start or go on; ``cause`` is a short code, ``details`` a dict."""

    def __init__(self, msg, cause="error", details=None):
        super(HuntError, self).__init__(msg)
        self.cause = cause
        self.details = details or {}
