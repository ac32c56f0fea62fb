# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""opcache/targets.py: targets from fpm_discover (pool order, document roots)."""
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache import targets


def test_targets_from_discovery_orders_pools_and_collects_roots():
    discovered = {"masters": [{"master_pid": 1, "config": "/c", "php_version": "8.2", "opcache": {},
                               "pools": [{"name": "jail", "listen": "/j.sock", "chroot": "/srv/j"},
                                         {"name": "tcp", "listen": "127.0.0.1:9001", "listen_kind": "tcp"},
                                         {"name": "www", "listen": "/w.sock", "listen_kind": "unix",
                                          "security_limit_extensions": [".php"]}]}],
                  "nginx": {"servers": [{"root": "/srv/app/releases", "locations": [{"root": None}]}]}}
    t = targets.targets_from_discovery(discovered)[0]
    assert t["sockets"] == ["/w.sock", "127.0.0.1:9001", "/j.sock"]
    assert t["pool_names"] == ["jail", "tcp", "www"] and t["document_roots"] == ["/srv/app/releases"]
    assert targets.targets_from_discovery(discovered, ["2"]) == []


def test_a_target_says_where_its_workers_deaths_are_written():
    # the cure's watch reads them (cure/watch.py crash_source)
    discovered = {"masters": [{"master_pid": 1, "pools": [{"name": "www", "listen": "/w.sock"}],
                               "error_log": "/proc/self/fd/2", "error_log_kind": "stderr",
                               "syslog_ident": "php-fpm", "systemd_unit": "php-fpm.service"}]}
    t = targets.targets_from_discovery(discovered)[0]
    assert (t["error_log"], t["error_log_kind"], t["syslog_ident"], t["systemd_unit"]) == \
        ("/proc/self/fd/2", "stderr", "php-fpm", "php-fpm.service")
