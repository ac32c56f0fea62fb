# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ini/target: the local fallback reads masters through discovery/procfs."""
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.ini.target import list_masters
from fake_proc import FakeStat, build_proc


def test_list_masters_reads_exe_symlinks_of_a_captured_host(tmp_path):
    masters = list_masters(build_proc("lab-multi", tmp_path), stat_fn=FakeStat())
    assert [m["pid"] for m in masters] == [6746, 6808]
    assert set(m["binary"] for m in masters) == {"/usr/sbin/php-fpm8.2"}
    assert all(m["config"].endswith(".conf") for m in masters)


def test_list_masters_skips_truncated_titles_and_missing_proc(tmp_path):
    proc = tmp_path / "proc"
    (proc / "7").mkdir(parents=True)
    (proc / "7" / "cmdline").write_bytes(b"php-fpm: master process (/etc/very/long/pa\0\0\0")
    assert list_masters(str(proc)) == []
    assert list_masters(str(tmp_path / "nothing")) == []


def test_list_masters_leaves_out_a_master_that_is_not_roots(tmp_path):
    """Issue 11, finding 1, in the ini modules' own fallback: nobody's "master" is not run."""
    masters = list_masters(build_proc("lab-multi", tmp_path, uids={6808: 65534}), stat_fn=FakeStat())
    assert [m["pid"] for m in masters] == [6746]
