# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of the declaration values the PHP lexer reports."""
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.php.declarations import Declaration, fold_case


def test_fold_case_is_ascii_only():
    assert fold_case(u"App\\ÄBC") == u"app\\Äbc"
    assert Declaration("class", u"Äb", "N", 1).key == u"n\\Äb"
    # Ä and ä are different classes for PHP
    assert fold_case(u"Ä") != fold_case(u"ä")
