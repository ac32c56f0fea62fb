# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of PHP version parsing."""
import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.ini import php_version as pv


def test_parse_php_version():
    assert pv.parse_php_version("PHP 8.2.7 (fpm-fcgi)") == (8, 2, 7)
    assert pv.parse_php_version("8.2") == (8, 2)
    assert pv.parse_php_version((7, 4)) == (7, 4)
    with pytest.raises(ValueError):
        pv.parse_php_version("eight")
