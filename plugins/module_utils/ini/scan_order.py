# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which ini files PHP reads, in which order, and which setting wins.

Private to opcache-fleet. Standard library only, Python 3.8+. PHP reads the loaded
php.ini, then each scan directory (PHP_INI_SCAN_DIR, ``:``-separated) in turn, each
one's ``*.ini`` regular files sorted by name; the last value read wins. The one
implementation of that order, used by the discovery (``discovery/masters.py``, through
a root-relative file system) and by the ``opcache_ini``/``opcache_blacklist`` modules.
"""
from __future__ import absolute_import, division, print_function

import os

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.ini.ini_file import settings

__metaclass__ = type


class _LocalFS:
    """The two file system questions the scan order asks, on this host."""

    @staticmethod
    def listdir(path):
        try:
            return os.listdir(path)
        except OSError:
            return []

    @staticmethod
    def is_file(path):
        return os.path.isfile(path)


def _byte_order(name):
    # PHP sorts the names as bytes; undecodable names come back surrogate-escaped.
    return name.encode("utf-8", "surrogateescape")


def files_in_scan_order(php_ini, scan_dirs, fs=None, include=None):
    """Ini files in the order PHP reads them.

    ``php_ini``: the loaded php.ini or None; ``scan_dirs``: a list (or a
    ``:``-separated string as in PHP_INI_SCAN_DIR; empty elements, which PHP replaces by
    its compiled default, must already be substituted and are skipped). Each directory
    contributes its ``*.ini`` regular files (symlinks followed) sorted by name, byte
    order. ``fs`` answers ``listdir``/``is_file`` (default: this host; the discovery
    passes its ``HostFS``). ``include``: a file to place where PHP would read it even if
    it does not exist yet (the file a module is about to write).
    """
    fs = fs or _LocalFS()
    order = []
    if php_ini:
        order.append(php_ini)
    if isinstance(scan_dirs, str):
        scan_dirs = scan_dirs.split(os.pathsep)
    for directory in scan_dirs or []:
        if not directory:
            continue
        base = directory.rstrip("/")
        names = set(n for n in fs.listdir(directory)
                    if n.endswith(".ini") and fs.is_file(base + "/" + n))
        if include and os.path.dirname(include) == base:
            names.add(os.path.basename(include))
        for name in sorted(names, key=_byte_order):
            order.append(base + "/" + name)
    return order


def scan_order_winner(files, name):
    """The setting PHP ends up with for ``name``: the last one in scan order.

    ``files`` is ``[(path, text), ...]`` in the order PHP reads them (php.ini, then the
    scan directories' ``*.ini`` files sorted by name). Returns a :class:`Setting` or None.
    """
    winner = None
    for path, text in files:
        found = settings(text, name, path=path)
        if found:
            winner = found[-1]
    return winner


def later_settings(files, target_path, name):
    """Settings of ``name`` in files read after ``target_path`` (they override it)."""
    later, seen = [], False
    for path, text in files:
        if seen:
            later.extend(settings(text, name, path=path))
        elif path == target_path:
            seen = True
    return later
