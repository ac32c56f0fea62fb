# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""opcache/state.py: the file-cache purge and its refusals."""
import os

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache import state
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.errors import ControlError


def make_file_cache(tmp_path):
    d = tmp_path / "fc"
    sysid = d / ("0123456789abcdef" * 2) / "srv" / "app"
    sysid.mkdir(parents=True)
    (sysid / "x.php.bin").write_text("x")
    return d


def test_purge_file_cache(tmp_path):
    d = make_file_cache(tmp_path)
    res = state.purge_file_cache(str(d), check_mode=True)
    assert res["files"] == 1 and not res["purged"] and list(d.iterdir())
    res = state.purge_file_cache(str(d))
    assert res["purged"] and list(d.iterdir()) == [] and d.is_dir()


@pytest.mark.parametrize("bad", ["/", "/var", "/etc", "/srv", "/tmp"])
def test_purge_file_cache_refuses_system_dirs(bad):
    with pytest.raises(ControlError) as exc:
        state.file_cache_plan(bad)
    assert exc.value.cause == "opcache.file_cache" and repr(bad) in str(exc.value)


def test_purge_file_cache_refuses_foreign_content(tmp_path):
    d = make_file_cache(tmp_path)
    (d / "notes.txt").write_text("mine")
    with pytest.raises(ControlError, match="not an OPcache file-cache entry"):
        state.file_cache_plan(str(d))
    d2 = make_file_cache(tmp_path / "other")
    next(d2.iterdir()).joinpath("evil.sh").write_text("x")
    with pytest.raises(ControlError, match="unexpected file"):
        state.file_cache_plan(str(d2))


# ------------------------------------------------------------------ issue 11, finding 4

def test_purge_does_not_follow_a_subdir_swapped_for_a_symlink(tmp_path, monkeypatch):
    # The pool user owns the file cache: between the listing and the unlinks it swaps a
    # sub-directory for a symlink to a directory of root's. Nothing outside may go.
    d = make_file_cache(tmp_path)
    sysid = next(d.iterdir())
    outside = tmp_path / "outside" / "app"
    outside.mkdir(parents=True)
    (outside / "x.php.bin").write_text("root's")
    real_plan = state.file_cache_plan

    def plan_then_swap(*args, **kwargs):
        planned = real_plan(*args, **kwargs)
        app = sysid / "srv" / "app"
        (app / "x.php.bin").unlink()
        app.rmdir()
        app.symlink_to(outside)  # what a hostile pool user does in the gap
        return planned
    monkeypatch.setattr(state, "file_cache_plan", plan_then_swap)
    state.purge_file_cache(str(d))
    assert (outside / "x.php.bin").read_text() == "root's"
    assert (sysid / "srv" / "app").is_symlink()  # the planted link itself is left alone too


def test_purge_removes_only_regular_bin_files(tmp_path):
    d = make_file_cache(tmp_path)
    app = next(d.iterdir()) / "srv" / "app"
    os.mkfifo(str(app / "fifo.bin"))
    with pytest.raises(ControlError, match="unexpected file"):
        state.file_cache_plan(str(d))


def test_purge_refuses_a_symlinked_file_cache_dir(tmp_path):
    d = make_file_cache(tmp_path)
    link = tmp_path / "link"
    link.symlink_to(d)
    with pytest.raises(ControlError, match="not a directory"):
        state.purge_file_cache(str(link))
    assert list(d.rglob("*.bin"))


def test_a_master_sharing_this_root_is_reached_by_the_plain_path_which_outlives_it(tmp_path):
    """The lab's restart emptied nothing through /proc/<pid>/root once the master had stopped."""
    (tmp_path / "42").mkdir()
    os.symlink("/", str(tmp_path / "42" / "root"))
    assert state.master_root(42, proc=str(tmp_path)) == ("", True)


def test_a_master_in_another_root_is_reached_through_proc_while_it_runs(tmp_path):
    (tmp_path / "42" / "root").mkdir(parents=True)
    assert state.master_root(42, proc=str(tmp_path)) == (str(tmp_path / "42" / "root"), False)


def test_no_pid_or_no_proc_entry_means_the_plain_path(tmp_path):
    assert state.master_root(None, proc=str(tmp_path)) == ("", True)
    assert state.master_root(7, proc=str(tmp_path)) == ("", True)
