# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read and atomically rewrite a small config file for opcache-fleet modules.

Private to opcache-fleet. Standard library only, Python 3.8+.

``target(path, param, follow)`` returns the file an edit of ``path`` really replaces: the
path itself, or the target of a symlink (the link is kept), after checking that no other
user could redirect the write (``real_path.py``); raises ManagedFileError otherwise.
Callers read and write that file, so a rename never replaces a symlink by a regular file
and a backup holds the target's content, next to the target.

``read_text(path)`` returns (text, exists) or raises ManagedFileError for a directory,
an unreadable or a binary file. ``write_text(module, path, text, backup)`` writes a temp
file next to ``path`` and moves it in place with ``module.atomic_move`` (which keeps an
existing file's mode, owner and SELinux context); a new file gets mode 0644 and, when run
as root, owner root:root. Returns the backup file name or None. Directories are never
created: the directory a php-fpm master reads exists, and creating one on a path others
could prepare is exactly what must not happen.
"""

from __future__ import absolute_import, division, print_function

import os
import stat
import tempfile

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.ini.real_path import RealPathError, real_path

__metaclass__ = type

NEW_FILE_MODE = 0o644


class ManagedFileError(Exception):
    pass


def target(path, param="path", follow=True):
    """(file to read and replace, [(link, target text)]) for ``path``; see the docstring."""
    try:
        return real_path(path, param=param, follow=follow)
    except RealPathError as exc:
        raise ManagedFileError(str(exc))


def read_text(path, param="path"):
    if os.path.isdir(path):
        raise ManagedFileError("%s: %s is a directory, not a file" % (param, path))
    if not os.path.exists(path):
        parent = os.path.dirname(path) or "."
        if not os.path.isdir(parent):
            raise ManagedFileError("%s: the directory %s of %s does not exist" % (param, parent, path))
        return "", False
    try:
        # O_NONBLOCK: a FIFO among the ini files (or given as one) must not hang the module
        # waiting for a writer; it is refused below, like a device
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    except (IOError, OSError) as exc:
        raise ManagedFileError("%s: cannot read %s: %s" % (param, path, exc))
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise ManagedFileError("%s: %s is not a regular file (a device, FIFO or socket); "
                                   "refusing to read it" % (param, path))
        try:
            data = handle.read()
        except (IOError, OSError) as exc:
            raise ManagedFileError("%s: cannot read %s: %s" % (param, path, exc))
    if b"\0" in data:
        raise ManagedFileError("%s: %s looks binary (NUL bytes); refusing to edit it" % (param, path))
    try:
        return data.decode("utf-8"), True
    except UnicodeDecodeError:
        return data.decode("latin-1"), True


def write_text(module, path, text, backup=False, existed=True):
    backup_file = None
    if backup and existed:
        backup_file = module.backup_local(path)
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=".opcache-fleet.", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
        if not existed:
            os.chmod(tmp, NEW_FILE_MODE)
        module.atomic_move(tmp, path, unsafe_writes=False)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    if not existed:
        os.chmod(path, NEW_FILE_MODE)
        if os.geteuid() == 0:
            os.chown(path, 0, 0)
    return backup_file
