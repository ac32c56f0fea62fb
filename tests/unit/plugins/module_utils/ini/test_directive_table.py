# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of the OPcache directive table: defaults, descriptions, what exists where."""
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.ini import directive_table as dt


def test_defaults_and_describe():
    info = dt.lookup("opcache.memory_consumption")
    assert info.default_for((5, 6)) == "64" and info.default_for((8, 2)) == "128"
    assert dt.lookup("opcache.jit").default_for((8, 4)) == "disable"
    assert dt.lookup("opcache.enable_cli").default_for((7, 1, 3)) == "1"
    assert dt.lookup("opcache.fast_shutdown").as_dict((7, 1))["removed"] == "7.2"


def test_known_for():
    names = dt.known_for("8.2")
    assert "opcache.jit" in names and "opcache.fast_shutdown" not in names
    assert "opcache.mmap_base" not in names
    assert "opcache.load_comments" in dt.known_for("5.6")
