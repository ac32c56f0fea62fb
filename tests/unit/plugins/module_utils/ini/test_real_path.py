# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of real_path(): which file an edit replaces, and who could redirect it."""
import os

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.ini.real_path import RealPathError, real_path

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give files to another user")
NOBODY = 65534


def refused(path, **kwargs):
    with pytest.raises(RealPathError) as info:
        real_path(str(path), **kwargs)
    return str(info.value)


def test_plain_file_and_new_file(tmp_path):
    (tmp_path / "a.ini").write_text("x=1\n")
    assert real_path(str(tmp_path / "a.ini")) == (str(tmp_path / "a.ini"), [])
    assert real_path(str(tmp_path / "new.ini")) == (str(tmp_path / "new.ini"), [])


def test_debian_conf_d_link_is_followed(tmp_path):
    (tmp_path / "mods-available").mkdir()
    (tmp_path / "mods-available" / "opcache.ini").write_text("")
    (tmp_path / "conf.d").mkdir()
    os.symlink("../mods-available/opcache.ini", str(tmp_path / "conf.d" / "10-opcache.ini"))
    real, links = real_path(str(tmp_path / "conf.d" / "10-opcache.ini"))
    assert real == str(tmp_path / "mods-available" / "opcache.ini")
    assert links == [(str(tmp_path / "conf.d" / "10-opcache.ini"), "../mods-available/opcache.ini")]


def test_chain_of_links_and_linked_directory(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "f.ini").write_text("")
    os.symlink("real", str(tmp_path / "dir"))                 # a linked directory
    os.symlink(str(tmp_path / "dir" / "f.ini"), str(tmp_path / "one"))
    os.symlink("one", str(tmp_path / "two"))
    real, links = real_path(str(tmp_path / "two"))
    assert real == str(tmp_path / "real" / "f.ini") and len(links) == 3


def test_link_refused_when_not_followed(tmp_path):
    (tmp_path / "t.ini").write_text("")
    os.symlink("t.ini", str(tmp_path / "zz-opcache-fleet.ini"))
    message = refused(tmp_path / "zz-opcache-fleet.ini", follow=False)
    assert "is a symlink to %s" % (tmp_path / "t.ini") in message and "writes this file itself" in message


def test_dangling_link(tmp_path):
    os.symlink("gone.ini", str(tmp_path / "l.ini"))
    message = refused(tmp_path / "l.ini")
    assert "dangling" in message and str(tmp_path / "gone.ini") in message and str(tmp_path / "l.ini") in message


def test_link_loop(tmp_path):
    os.symlink("b", str(tmp_path / "a"))
    os.symlink("a", str(tmp_path / "b"))
    assert "too many symlinks" in refused(tmp_path / "a")


@pytest.mark.parametrize("target,fragment", [
    ("/dev/null", "not a regular file"),
    ("/proc/self/status", "kernel interface"),
])
def test_link_to_kernel_files_refused(tmp_path, target, fragment):
    os.symlink(target, str(tmp_path / "l.ini"))
    message = refused(tmp_path / "l.ini")
    assert fragment in message and str(tmp_path / "l.ini") in message


def test_directory_fifo_missing_parent_and_file_in_the_way(tmp_path):
    assert "is a directory" in refused(tmp_path)
    os.mkfifo(str(tmp_path / "fifo.ini"))
    assert "not a regular file" in refused(tmp_path / "fifo.ini")
    assert "does not exist" in refused(tmp_path / "no" / "x.ini")
    (tmp_path / "file").write_text("")
    assert "is not a directory" in refused(tmp_path / "file" / "x.ini")
    assert "not an absolute path" in refused("conf.d/x.ini")


def test_others_writable_directory_refused_on_the_way_and_at_the_end(tmp_path):
    drop = tmp_path / "drop"
    (drop / "sub").mkdir(parents=True)
    os.chmod(str(drop), 0o777)
    assert "%s is writable by other users (mode 0777)" % drop in refused(drop / "sub" / "x.ini")
    assert "%s is writable by other users" % drop in refused(drop / "x.ini")


def test_sticky_directory_passed_through_but_not_kept_in(tmp_path):
    sticky = tmp_path / "sticky"
    (sticky / "ours").mkdir(parents=True)
    os.chmod(str(sticky), 0o1777)
    assert real_path(str(sticky / "ours" / "x.ini"))[0] == str(sticky / "ours" / "x.ini")
    assert "writable by other users (mode 1777)" in refused(sticky / "x.ini")


def test_link_into_others_writable_directory_names_the_link(tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    os.chmod(str(drop), 0o777)
    os.symlink(str(drop), str(tmp_path / "conf.d"))
    message = refused(tmp_path / "conf.d" / "x.ini")
    assert str(drop) in message and "through the symlink %s -> %s" % (tmp_path / "conf.d", drop) in message


@as_root
def test_group_writable_directory_of_another_group_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chown(str(shared), 0, NOBODY)
    os.chmod(str(shared), 0o775)
    assert "writable by other users of group %d" % NOBODY in refused(shared / "x.ini")
    os.chown(str(shared), 0, 0)        # root's group: fine
    assert real_path(str(shared / "x.ini"))[0] == str(shared / "x.ini")


@as_root
def test_directory_or_link_of_another_user_refused(tmp_path):
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    os.chown(str(theirs), NOBODY, NOBODY)
    assert "%s is owned by uid %d" % (theirs, NOBODY) in refused(theirs / "x.ini")
    (tmp_path / "t.ini").write_text("")
    os.symlink("t.ini", str(tmp_path / "l.ini"))
    os.lchown(str(tmp_path / "l.ini"), NOBODY, NOBODY)
    assert "symlink owned by uid %d" % NOBODY in refused(tmp_path / "l.ini")
