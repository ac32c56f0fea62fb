# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one exception of OPcache status, reset and reload (opcache_control).

Private to opcache-fleet. Standard library only, Python 3.8+.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ControlError(Exception):
    """A master could not be read or reset; ``cause`` names the setting or condition."""

    def __init__(self, msg, cause="error", details=None):
        super(ControlError, self).__init__(msg)
        self.cause = cause
        self.details = details or {}
