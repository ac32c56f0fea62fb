# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading a log file as binary chunks: plain, gzip (inflated in a helper
thread), bz2/xz (standard library), and compression / binary detection from the head.

Private to opcache-fleet. Standard library only. Nothing here parses lines.
"""

from __future__ import absolute_import, division, print_function

import os
import stat
import threading
import zlib

try:
    import queue
except ImportError:  # pragma: no cover
    import Queue as queue  # type: ignore

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence import limits

__metaclass__ = type

_TEXT_BYTES = bytes(bytearray([7, 8, 9, 10, 12, 13, 27]) + bytearray(range(0x20, 0x100)))


class _ReadError(Exception):
    pass


class NotRegularFile(OSError):
    """The path is no regular file (``kind``: FIFO, character device, ...): it is
    reported, never read."""

    def __init__(self, path, kind):
        OSError.__init__(self, "not a regular file: %s" % kind)
        self.path = path
        self.kind = kind


_FILE_KINDS = ((stat.S_ISFIFO, "FIFO"), (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
               (stat.S_ISSOCK, "socket"), (stat.S_ISDIR, "directory"))


def file_kind(mode):
    """'FIFO', 'character device', ... for a st_mode; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    for test, name in _FILE_KINDS:
        if test(mode):
            return name
    return "special file"


def open_regular(path):
    """(fd, stat) of ``path`` opened read-only, when it is a regular file; else
    NotRegularFile (the fd closed). Opened with O_NONBLOCK, then fstat of the fd: open()
    of a FIFO without a writer blocks for ever, a read of a terminal too, and a stat of
    the path before the open says nothing about what a rotation swapped in since."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        kind = file_kind(st.st_mode)
        if kind is not None:
            raise NotRegularFile(path, kind)
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def open_regular_file(path):
    """open_regular() as a binary file object."""
    fd, dummy = open_regular(path)
    return os.fdopen(fd, "rb")


def _open_chunks(path, start=0, comp=None, report=None):
    """Yield binary chunks of a file, decompressing gzip/bz2/xz. Errors after the
    start are recorded in ``report['error']`` and end the iteration."""
    if comp is None:
        yield_from = _plain_chunks(path, start)
    elif comp == "gzip":
        yield_from = _gzip_chunks_threaded(path, report)
    elif comp in ("bz2", "xz"):
        yield_from = _stdlib_decomp_chunks(path, comp, report)
    else:
        raise _ReadError("%s-compressed file: not supported" % comp)
    yield from yield_from


def _plain_chunks(path, start):
    with open_regular_file(path) as f:
        if start:
            f.seek(start)
        while True:
            b = f.read(limits.CHUNK_SIZE)
            if not b:
                return
            yield b


def _gzip_inflate(f, report):
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    fed = False               # has the current member received any input?
    while True:
        raw = f.read(limits.CHUNK_SIZE)
        if not raw:
            if fed and not d.eof:
                report["error"] = "truncated gzip: compressed data ended before the end-of-stream marker"
            tail = d.flush()
            if tail:
                yield tail
            return
        while raw:
            fed = True
            try:
                out = d.decompress(raw, 4 * limits.CHUNK_SIZE)
            except zlib.error as e:
                report["error"] = "corrupt gzip data: %s" % e
                return
            if out:
                yield out
            if d.eof:
                rest = d.unused_data
                d = zlib.decompressobj(16 + zlib.MAX_WBITS)
                raw = rest.lstrip(b"\x00")   # padding between members
                fed = False
                if raw and raw[:2] != b"\x1f\x8b":
                    report["error"] = "trailing garbage after gzip data"
                    return
                continue
            raw = d.unconsumed_tail


def _gzip_chunks_threaded(path, report, feed=None):
    """Inflate in a helper thread (zlib releases the GIL) into a small queue; with a
    grep ``feed`` (_GrepStream), every chunk goes to grep before it is queued."""
    q = queue.Queue(maxsize=4)
    stop = threading.Event()
    sentinel = object()

    def producer():
        try:
            with open_regular_file(path) as f:
                for out in _gzip_inflate(f, report):
                    if feed is not None:
                        feed.write(out)
                    while not stop.is_set():
                        try:
                            q.put(out, timeout=0.5)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
        except (IOError, OSError) as e:
            report["error"] = "read error: %s" % e
        finally:
            if feed is not None:
                feed.end_input()
            while True:
                try:
                    q.put(sentinel, timeout=0.5)
                    break
                except queue.Full:
                    if stop.is_set():
                        break
    t = threading.Thread(target=producer, name="gunzip")
    t.daemon = True
    t.start()
    try:
        while True:
            item = q.get()
            if item is sentinel:
                break
            yield item
    finally:
        stop.set()
        try:
            while True:
                q.get_nowait()
        except queue.Empty:
            pass
        t.join(5)


def _stdlib_decomp_chunks(path, comp, report):
    try:
        if comp == "bz2":
            import bz2
            opener = bz2.open
        else:
            import lzma
            opener = lzma.open
    except ImportError:
        report["error"] = "%s support missing from this python" % comp
        return
    try:
        with open_regular_file(path) as raw, opener(raw, "rb") as f:
            while True:
                b = f.read(limits.CHUNK_SIZE)
                if not b:
                    return
                yield b
    except EOFError:
        report["error"] = "truncated %s data" % comp
    except (IOError, OSError, ValueError) as e:
        report["error"] = "corrupt %s data: %s" % (comp, e)


def _detect(head):
    """Compression from magic bytes, and whether the head looks binary."""
    if head[:2] == b"\x1f\x8b":
        return "gzip", False
    if head[:3] == b"BZh":
        return "bz2", False
    if head[:6] == b"\xfd7zXZ\x00":
        return "xz", False
    if head[:4] == b"\x28\xb5\x2f\xfd":
        return "zstd", False
    return None, _looks_binary(head)


def _looks_binary(sample):
    if not sample:
        return False
    sample = sample[:8192]
    if sample[:4] == b"\x7fELF":
        return True
    ctrl = len(sample.translate(None, _TEXT_BYTES))
    return ctrl > 0.3 * len(sample)
