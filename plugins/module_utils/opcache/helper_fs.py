# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The helper's place on disk: a directory reached without following anybody's symlinks, the
sweep of helpers an earlier run left behind, and their removal when the run is killed.

Private to opcache-fleet. Standard library only, Python 3.8+.

Why (issue 11): the modules run as root. Creating ``helper_dir`` by path followed a symlink a
local user planted among its parents; a helper left behind by SIGKILL/SIGTERM/SIGHUP stayed
for ever. Here every component is opened relative to its parent's descriptor with
O_NOFOLLOW and checked (a real directory, owned by root or us, not writable by others unless
sticky); leftovers older than :data:`SWEEP_AGE` are removed at each start; SIGTERM and SIGHUP
remove the live helpers, then the signal does what it would have done.
"""
from __future__ import absolute_import, division, print_function

import errno
import os
import re
import signal
import stat
import time

__metaclass__ = type

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
# A leftover helper refuses every request after 10 minutes (HELPER_PHP); sweep later than that.
SWEEP_AGE = 15 * 60
HELPER_DIR_NAME = re.compile(r"^[0-9a-f]{32}$")
HELPER_FILE_NAME = re.compile(r"^[0-9a-f]{32,64}\.[A-Za-z0-9_]{1,16}$")
# Every version of the helper text starts so: only such files are swept.
HELPER_MARKER = b"<?php\n// opcache-fleet helper."
CLEANUP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class UnsafePath(Exception):
    """A component of a path cannot be trusted; ``path`` is the component."""

    def __init__(self, path, why):
        self.path = path
        super(UnsafePath, self).__init__("%s %s" % (path, why))


def _trusted(st, path, final):
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafePath(path, "is not a directory")
    if st.st_uid not in (0, os.geteuid()):
        raise UnsafePath(path, "is owned by uid %d, not by root or us (uid %d)" % (st.st_uid, os.geteuid()))
    writable = st.st_mode & 0o022
    # A sticky directory (like /tmp) lets others add names but not replace ours; the
    # directory that holds the helpers themselves must not be writable by others at all.
    if writable and (final or not st.st_mode & stat.S_ISVTX):
        raise UnsafePath(path, "is group- or world-writable (mode %o)" % stat.S_IMODE(st.st_mode))


def _open_component(parent_fd, name, path, create, created, final):
    try:
        fd = os.open(name, DIR_FLAGS, dir_fd=parent_fd)
    except OSError as exc:
        if exc.errno == errno.ENOENT and create:
            try:
                os.mkdir(name, 0o711, dir_fd=parent_fd)
                created.append(path)
            except OSError as mk:
                if mk.errno != errno.EEXIST:
                    raise
            return _open_component(parent_fd, name, path, False, created, final)
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            try:
                st = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
            except OSError:
                st = None
            if st is not None and stat.S_ISLNK(st.st_mode):
                raise UnsafePath(path, "is a symlink (not followed; give the real path)")
            raise UnsafePath(path, "is not a directory")
        raise
    try:
        if path in created:
            os.fchmod(fd, 0o711)
        _trusted(os.fstat(fd), path, final)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_trusted_dir(start, components, created=None, must_exist=0):
    """Descriptor of ``start``/``components...``, each component opened without following a
    symlink and checked; missing ones created (0711), their paths appended to ``created``,
    except the first ``must_exist`` (a pool's chroot is never created). ``start`` ('/' or
    /proc/<pid>/root, a link the kernel resolves into the master's mount namespace) is opened
    as it is. Raises UnsafePath or OSError."""
    created = created if created is not None else []
    fd = os.open(start, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    path = start.rstrip("/")
    try:
        _trusted(os.fstat(fd), start, False)
        parts = [c for c in components if c not in ("", ".")]
        for i, name in enumerate(parts):
            if name == "..":
                raise UnsafePath(path + "/..", "climbs out of its parent")
            path = path + "/" + name
            nfd = _open_component(fd, name, path, i >= must_exist, created, i == len(parts) - 1)
            os.close(fd)
            fd = nfd
    except BaseException:
        os.close(fd)
        raise
    return fd


# ----------------------------------------------------------------- the sweep

def _sweepable(dir_fd, now):
    """Names of the files in one leftover directory when ALL are old helper texts, else None."""
    names = []
    for entry in os.scandir(dir_fd):
        if not entry.is_file(follow_symlinks=False) or not HELPER_FILE_NAME.match(entry.name):
            return None
        if now - entry.stat(follow_symlinks=False).st_mtime < SWEEP_AGE:
            return None
        fd = os.open(entry.name, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0), dir_fd=dir_fd)
        try:
            head = os.read(fd, len(HELPER_MARKER))
        finally:
            os.close(fd)
        if head != HELPER_MARKER:
            return None
        names.append(entry.name)
    return names


def sweep(base_fd, base_path, now=None):
    """Remove helper directories older than SWEEP_AGE that hold only helper texts. Never
    follows a symlink, never raises; returns the paths removed."""
    now = time.time() if now is None else now
    swept = []
    try:
        entries = list(os.scandir(base_fd))
    except OSError:
        return swept
    for entry in entries:
        try:
            if not HELPER_DIR_NAME.match(entry.name) or not entry.is_dir(follow_symlinks=False):
                continue
            if now - entry.stat(follow_symlinks=False).st_mtime < SWEEP_AGE:
                continue
            dfd = os.open(entry.name, DIR_FLAGS, dir_fd=base_fd)
            try:
                names = _sweepable(dfd, now)
                for name in names or ():
                    os.unlink(name, dir_fd=dfd)
            finally:
                os.close(dfd)
            if names is not None:
                os.rmdir(entry.name, dir_fd=base_fd)
                swept.append(os.path.join(base_path, entry.name))
        except OSError:
            continue
    return swept


# ----------------------------------------------------------------- removal on SIGTERM / SIGHUP

_LIVE = []
_PREVIOUS = {}


def _on_signal(signum, frame):
    previous = _PREVIOUS.get(signum, signal.SIG_DFL)
    for deployment in list(_LIVE):
        deployment.remove()
    if callable(previous):
        previous(signum, frame)
        return
    # The default action (terminate): put it back and let the signal do it.
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def register(deployment):
    """Remove ``deployment`` (its ``remove()``) if the process gets SIGTERM or SIGHUP."""
    if not _LIVE:
        for signum in CLEANUP_SIGNALS:
            try:
                previous = signal.getsignal(signum)
                if previous in (signal.SIG_IGN, None) or previous is _on_signal:
                    continue  # ignored signals kill nothing: nothing to clean up for them
                signal.signal(signum, _on_signal)
                _PREVIOUS[signum] = previous
            except ValueError:
                pass  # not the main thread: signals cannot be caught here (the sweep remains)
    if deployment not in _LIVE:
        _LIVE.append(deployment)


def unregister(deployment):
    if deployment in _LIVE:
        _LIVE.remove(deployment)
    if not _LIVE:
        for signum, previous in list(_PREVIOUS.items()):
            try:
                if signal.getsignal(signum) is _on_signal:
                    signal.signal(signum, previous)
            except ValueError:
                pass
            del _PREVIOUS[signum]
