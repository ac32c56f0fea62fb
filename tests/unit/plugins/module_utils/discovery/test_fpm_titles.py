# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""fpm_titles: recognising php-fpm masters and pool workers by their process titles."""
import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.fpm_titles import master_title, pool_name


@pytest.mark.parametrize("argv, expected", [
    (["php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)"],
     {"config": "/etc/php/8.2/fpm/php-fpm.conf", "truncated": False}),
    (["php-fpm8.2: master process (/etc/php/8.2/fpm/php-fpm.conf)", ""],
     {"config": "/etc/php/8.2/fpm/php-fpm.conf", "truncated": False}),
    (["php-fpm: master process (/etc/very/long/pa"], {"config": "/etc/very/long/pa", "truncated": True}),
    (["php-fpm: master process ()"], {"config": None, "truncated": False}),
    (["php-fpm: pool www"], None),
    (["/usr/sbin/php-fpm8.2", "--nodaemonize"], None),
])
def test_master_title(argv, expected):
    assert master_title(argv) == expected


def test_pool_name():
    assert pool_name(["php-fpm: pool www"]) == "www"
    assert pool_name(["php-fpm7.4: pool site_1   "]) == "site_1"
    assert pool_name(["php-fpm: master process (/x)"]) is None
