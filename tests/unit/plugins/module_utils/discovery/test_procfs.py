# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""discovery/procfs.py: cases kept from opcache_control's former copies of parse_cgroup_unit and
children_of (the other parse_cgroup_unit cases are in test_masters.py)."""
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.procfs import children_of, parse_cgroup_unit


def test_parse_cgroup_unit_cases_of_opcache_control():
    assert parse_cgroup_unit("12:pids:/x\n1:name=systemd:/system.slice/php-fpm.service\n") == "php-fpm.service"
    assert parse_cgroup_unit("0::/user.slice\n") is None


def test_children_of_reads_the_parent_from_stat(tmp_path):
    # the stat lines opcache/reload.py's tests fake: the comm may hold spaces and ")"
    for pid, ppid, comm in ((42, 1, "php-fpm8.2"), (100, 42, "php-fpm: pool www"), (101, 42, "a) b"),
                            (7, 4, "other")):
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "stat").write_text("%d (%s) S %d 1 1" % (pid, comm, ppid))
    (tmp_path / "self").mkdir()
    assert children_of(42, str(tmp_path)) == [100, 101]
    assert children_of("42", proc_root=str(tmp_path)) == [100, 101]
    assert children_of(42, str(tmp_path / "gone")) == []
