# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A discovery fixture's fake /proc, built at test time with real ``PID/exe`` symlinks.

The committed fixtures hold no symlinks (``ansible-test sanity`` refuses them, and the
captured ones dangle): each ``PID/exe`` is stored as ``PID/exe.link``, a text file with
the symlink's target. :func:`build_proc` copies the fixture's ``proc/`` tree and turns
every ``exe.link`` back into an ``exe`` symlink, so ``procfs.read_exe`` reads it with
``os.readlink`` exactly as on a real host.
"""
import os
import shutil

from fake_runner import FIXTURES

LINK_SUFFIX = ".link"


def build_proc(name, dest):
    """Copy fixture ``name``'s ``proc/`` to ``dest/<name>/proc``; return that path."""
    source = os.path.join(FIXTURES, name, "proc")
    target = os.path.join(str(dest), name, "proc")
    shutil.copytree(source, target)
    for directory, _dirs, files in os.walk(target):
        for filename in files:
            if not filename.endswith(LINK_SUFFIX):
                continue
            path = os.path.join(directory, filename)
            with open(path) as handle:
                link_target = handle.read().rstrip("\n")
            os.remove(path)
            os.symlink(link_target, path[:-len(LINK_SUFFIX)])
    return target
