# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""report.host_model: release folders, nginx locations, the invalidation record.
"""
import base64

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.host_model import (
    load_invalidations, location_matches, release_roots,
)


def test_release_roots_split_a_releases_directory_only():
    assert release_roots("/srv/app/releases", ["a", "/srv/app/releases/b"]) == \
        ["/srv/app/releases/a", "/srv/app/releases/b"]
    assert release_roots("/var/www/html", ["a", "b"]) == ["/var/www/html"]
    assert release_roots("/srv/app/releases/", []) == ["/srv/app/releases/"]


@pytest.mark.parametrize("location,uri,expected", [
    (r"~ ^/a/.+\.php$", "/a/index.php", True),
    (r"~ ^/a/.+\.php$", "/b/index.php", False),
    (r"~* \.PHP$", "/b/index.php", True),
    ("/b/", "/b/index.php", True),
    ("= /x.php", "/x.php", True),
    ("@fallback", "/x.php", False),
    ("~ ([", "/x.php", None),
])
def test_location_matches(location, uri, expected):
    assert location_matches(location, uri) is expected


@pytest.mark.parametrize("value,expected", [
    ({"data": {"1:2": {}}}, ({"1:2": {}}, None)),
    ({"content": base64.b64encode(b"[1]").decode()}, ({}, "invalidated.json is not a JSON object")),
    ({"msg": "file not found"}, ({}, None)),
    (None, ({}, None)),
])
def test_load_invalidations(value, expected):
    assert load_invalidations(value) == expected
