# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""cure/steps.py: where a master's file cache is reached, before and after it stops."""
import os

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.cure.steps import master_root


def test_a_master_sharing_this_root_is_reached_by_the_plain_path_which_outlives_it(tmp_path):
    """The lab's restart emptied nothing through /proc/<pid>/root once the master had stopped."""
    (tmp_path / "42").mkdir()
    os.symlink("/", str(tmp_path / "42" / "root"))
    assert master_root(42, proc=str(tmp_path)) == ("", True)


def test_a_master_in_another_root_is_reached_through_proc_while_it_runs(tmp_path):
    (tmp_path / "42" / "root").mkdir(parents=True)
    assert master_root(42, proc=str(tmp_path)) == (str(tmp_path / "42" / "root"), False)


def test_no_pid_or_no_proc_entry_means_the_plain_path(tmp_path):
    assert master_root(None, proc=str(tmp_path)) == ("", True)
    assert master_root(7, proc=str(tmp_path)) == ("", True)
