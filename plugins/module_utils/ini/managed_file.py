# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read and atomically rewrite a small config file for opcache-fleet modules.

Private to opcache-fleet. Standard library only, Python 3.8+.

``read_text(path)`` returns (text, exists) or raises ManagedFileError for a directory,
an unreadable or a binary file. ``write_text(module, path, text, backup)`` writes a temp
file next to ``path`` and moves it in place with ``module.atomic_move`` (which keeps an
existing file's mode and owner); a new file gets mode 0644 and, when run as root, owner
root:root. Returns the backup file name or None.
"""

from __future__ import absolute_import, division, print_function

import os
import tempfile

__metaclass__ = type

NEW_FILE_MODE = 0o644


class ManagedFileError(Exception):
    pass


def read_text(path, param="path"):
    if os.path.isdir(path):
        raise ManagedFileError("%s: %s is a directory, not a file" % (param, path))
    if not os.path.exists(path):
        parent = os.path.dirname(path) or "."
        if not os.path.isdir(parent):
            raise ManagedFileError("%s: the directory %s of %s does not exist" % (param, parent, path))
        return "", False
    try:
        with open(path, "rb") as handle:
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
