# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Following a log as it grows: a local file across rotation and truncation, and the
records of ``journalctl -o json``, with only the trusted ones kept.

Private to opcache-fleet. Standard library only, no asyncio: the Event-Driven Ansible
source (extensions/eda/plugins/event_source/crash_storm.py) calls ``poll`` on a timer.
"""
from __future__ import absolute_import, division, print_function

import errno
import json
import os

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.readers import NotRegularFile, open_regular

__metaclass__ = type

__all__ = ["FileFollower", "journal_message", "MAX_LINE"]

# A line longer than this is cut (its head is kept; signatures read the head).
MAX_LINE = 64 * 1024
_READ = 1024 * 1024


class FileFollower:
    """``tail -F`` for one path: starts at the end of the file (only new lines count),
    reads on when the file grows, reads the old file to its end and then the new one from
    its start when the path is rotated (renamed or removed, then created again), and
    starts again from the top when the file is truncated in place (copytruncate).

    ``poll()`` returns the complete lines (bytes, without the newline) that arrived since
    the last call. ``problem`` names why the path is not being read (missing, not a
    regular file, unreadable), or is None."""

    def __init__(self, path, from_start=False):
        self.path = path
        self.fd = None
        self.ident = None
        self.pos = 0
        self.partial = b""
        self.problem = None
        self.rotations = 0
        self.truncations = 0
        self._open(at_end=not from_start)

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def poll(self):
        lines = []
        if self.fd is None:
            self._open(at_end=False)
            if self.fd is None:
                return lines
        ident = _ident_of(self.path)
        if ident is not None and ident != self.ident:
            # Rotated: what the old file still holds first, then the new file from its start.
            lines.extend(self._drain())
            self.close()
            self.rotations += 1
            self._open(at_end=False)
            if self.fd is None:
                return lines
        else:
            size = os.fstat(self.fd).st_size
            if size < self.pos:
                self.truncations += 1
                self.pos = 0
                self.partial = b""
                os.lseek(self.fd, 0, os.SEEK_SET)
        lines.extend(self._drain())
        return lines

    def _open(self, at_end):
        try:
            fd, st = open_regular(self.path)
        except NotRegularFile as exc:
            self.problem = "not a regular file: %s" % exc.kind
            return
        except OSError as exc:
            self.problem = "cannot open: %s" % (os.strerror(exc.errno) if exc.errno else exc)
            return
        self.fd = fd
        self.ident = (st.st_dev, st.st_ino)
        self.pos = st.st_size if at_end else 0
        os.lseek(fd, self.pos, os.SEEK_SET)
        self.partial = b""
        self.problem = None

    def _drain(self):
        out = []
        while True:
            try:
                chunk = os.read(self.fd, _READ)
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EINTR):
                    break
                self.problem = "read failed: %s" % os.strerror(exc.errno)
                break
            if not chunk:
                break
            self.pos += len(chunk)
            data = self.partial + chunk
            parts = data.split(b"\n")
            self.partial = parts.pop()
            if len(self.partial) > MAX_LINE:
                # An endless line: keep its head as one line, drop the rest until a newline.
                out.append(self.partial[:MAX_LINE])
                self.partial = b""
            out.extend(p[:MAX_LINE] for p in parts)
        return out


def _ident_of(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def journal_message(text):
    """The message of one ``journalctl -o json`` record, as bytes, when the record can be
    trusted as written by root (php-fpm's master) or the kernel; None otherwise.

    ``_UID`` and ``_TRANSPORT`` are fields journald itself adds (trusted fields): a user
    who runs ``logger -t php-fpm`` gets their own uid there, whatever the identifier says.
    ``MESSAGE`` is text, or a list of byte values when it is not UTF-8."""
    try:
        rec = json.loads(text)
    except ValueError:
        return None
    if not isinstance(rec, dict):
        return None
    transport = rec.get("_TRANSPORT")
    if transport != "kernel" and rec.get("_UID") != "0":
        return None
    msg = rec.get("MESSAGE")
    if isinstance(msg, list):
        try:
            return bytes(bytearray(msg))[:MAX_LINE]
        except (TypeError, ValueError):
            return None
    if not isinstance(msg, str):
        return None
    return msg.encode("utf-8", "replace")[:MAX_LINE]
