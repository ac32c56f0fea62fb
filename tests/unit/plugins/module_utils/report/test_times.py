# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""report.times: log and OPcache time stamps.
"""
import datetime

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.times import parse_time


def epoch(iso):
    return int(datetime.datetime.fromisoformat(iso).timestamp())


def test_parse_time():
    assert parse_time("2026-11-26T17:44:02Z").timestamp() == epoch("2026-11-26T17:44:02+00:00")
    assert parse_time(0) is None and parse_time("yesterday") is None and parse_time(None) is None
    assert parse_time("2026-11-26T18:44:02+01:00").timestamp() == epoch("2026-11-26T17:44:02+00:00")
