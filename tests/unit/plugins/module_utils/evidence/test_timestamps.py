# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""evidence/timestamps.py: ISO stamps, local time, the since/until window."""

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.timestamps import parse_iso, parse_window, parse_window_time


pytestmark = pytest.mark.usefixtures("utc")   # TZ=UTC for every test (conftest.py)


# ------------------------------------------------------------------ stamps

def test_parse_iso_forms():
    assert parse_iso("2024-01-31T12:00:00Z") == 1706702400
    assert parse_iso("2024-01-31T13:00:00+01:00") == 1706702400
    assert parse_iso("2024-01-31 13:00:00+0100") == 1706702400
    assert parse_iso("2024-01-31T12:00:00,25Z") == 1706702400.25
    assert parse_iso("2024-13-31T12:00:00Z") is None
    assert parse_iso("garbage") is None

# ------------------------------------------------------------------ window


def test_window_forms():
    now = 1000000.0
    assert parse_window_time("all", now) is None
    assert parse_window_time(None, now) is None
    assert parse_window_time("2h", now) == now - 7200
    assert parse_window_time("3d", now) == now - 3 * 86400
    assert parse_window_time("30m", now) == now - 1800
    assert parse_window_time("2024-01-31T12:00:00Z", now) == 1706702400
    assert parse_window_time("2024-01-31", now) == parse_iso("2024-01-31T00:00:00")


def test_window_local_time_without_zone(tz):
    tz("Europe/Paris")
    assert parse_window_time("2024-07-01T12:00:00") == parse_iso("2024-07-01T10:00:00Z")


def test_window_errors_name_the_parameter():
    with pytest.raises(ValueError, match=r"since must be 'all', a relative age.*'yesterday'"):
        parse_window("yesterday")
    with pytest.raises(ValueError, match="until must be"):
        parse_window("2h", "soon")
    with pytest.raises(ValueError, match="is after until"):
        parse_window("2024-02-01T00:00:00Z", "2024-01-01T00:00:00Z")
