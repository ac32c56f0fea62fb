# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""evidence/crash_sources.py: ``coredumpctl list`` output."""

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.crash_sources import coredumpctl_events
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.timestamps import parse_iso

pytestmark = pytest.mark.usefixtures("utc")   # TZ=UTC for every test (conftest.py)


def test_coredumpctl_list_parsing():
    out = (b"Thu 2026-11-26 17:01:02 UTC  24352    33    33 SIGSEGV present  /usr/sbin/php-fpm8.2  1.2M\n"
           b"Thu 2026-11-26 17:05:00 UTC   4321     0     0 SIGABRT missing  /usr/bin/bash            -\n")
    evs = coredumpctl_events(out)
    assert [(e["pid"], e["process"], e["signal_number"], e["is_php"]) for e in evs] == [
        (24352, "php-fpm8.2", 11, True), (4321, "bash", 6, False)]
    assert evs[0]["_ts"] == parse_iso("2026-11-26T17:01:02Z")
