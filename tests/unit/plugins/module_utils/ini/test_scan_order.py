# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""scan_order: the ini files PHP reads, in order, and which setting wins."""
import os

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.ini.scan_order import (
    files_in_scan_order,
    later_settings,
    scan_order_winner,
)


def test_scan_order_winner_and_later():
    files = [("/etc/php.ini", "opcache.memory_consumption=128\n"),
             ("/etc/php.d/10-opcache.ini", "opcache.memory_consumption=64\n"),
             ("/etc/php.d/zz-opcache-fleet.ini", "opcache.memory_consumption=256\n"),
             ("/etc/php.d/zzz-local.ini", "opcache.memory_consumption=32\n")]
    winner = scan_order_winner(files, "opcache.memory_consumption")
    assert winner.path == "/etc/php.d/zzz-local.ini" and winner.value == "32"
    later = later_settings(files, "/etc/php.d/zz-opcache-fleet.ini", "opcache.memory_consumption")
    assert [s.path for s in later] == ["/etc/php.d/zzz-local.ini"]
    assert scan_order_winner(files, "opcache.enable") is None


def test_files_in_scan_order(tmp_path):
    for name in ("20-x.ini", "10-opcache.ini", "zz-opcache-fleet.ini", "README", "Z.ini"):
        (tmp_path / name).write_text("")
    (tmp_path / "sub.ini").mkdir()
    order = files_in_scan_order("/etc/php.ini", str(tmp_path) + os.pathsep + "/nonexistent")
    assert order == ["/etc/php.ini"] + [str(tmp_path / n) for n in
                                        ("10-opcache.ini", "20-x.ini", "Z.ini", "zz-opcache-fleet.ini")]


def test_files_in_scan_order_includes_the_file_about_to_be_written(tmp_path):
    # (was opcache_ini._scan_order) the target goes where PHP would read it, once
    conf = tmp_path / "conf.d"
    conf.mkdir()
    (conf / "10-opcache.ini").write_text("")
    (conf / "zzz-local.ini").write_text("")
    target = str(conf / "zz-opcache-fleet.ini")
    order = files_in_scan_order("/etc/php.ini", [str(conf) + "/"], include=target)
    assert order == ["/etc/php.ini", str(conf / "10-opcache.ini"), target, str(conf / "zzz-local.ini")]
    (conf / "zz-opcache-fleet.ini").write_text("")
    assert files_in_scan_order(None, [str(conf)], include=target).count(target) == 1
    # a file outside every scan dir is not put anywhere
    assert files_in_scan_order(None, [str(conf)], include="/elsewhere/x.ini") == [
        str(conf / "10-opcache.ini"), target, str(conf / "zzz-local.ini")]


def test_files_in_scan_order_through_a_file_system_object():
    class FS:
        def listdir(self, path):
            return {"/etc/php.d": ["b.ini", "a.ini", "dir.ini", "x.conf"]}.get(path, [])

        def is_file(self, path):
            return not path.endswith("dir.ini")

    assert files_in_scan_order(None, "/etc/php.d::/gone", fs=FS()) == ["/etc/php.d/a.ini", "/etc/php.d/b.ini"]
    assert files_in_scan_order(None, None) == []
