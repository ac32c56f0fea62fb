# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The C heap of a process that scans big logs, kept from handing its pages back
(private helper of fpm_evidence).

A scan allocates and frees buffers of 256 KiB to a few MiB many times a second:
blocks of grep's output, their copies and splits, the batches of count_notice_rows,
gzip's inflated chunks. glibc serves such sizes with mmap, or from the top of its
heap, which it gives back to the kernel as soon as 128 KiB lie free there (both
limits adapt only to the largest block freed so far). Several buffers are alive at
once, so the top is given back and faulted in again over and over. On a 1 GiB nginx
log of PHP notices that cost 100,000 to 320,000 page faults and 0.5 to 1.5 s of system
time; with the limits below, 17,000 and 0.3 to 0.5 s. ``keep_freed_memory`` raises them
for the process (and the workers it forks): blocks under HEAP_MMAP_THRESHOLD come from
the heap, and up to HEAP_TRIM_THRESHOLD of free memory stays at its top. The peak RSS
of the bench's scans grew by 0 to 6 MB with them (bench/RESULTS.md).

glibc only (``os.confstr("CS_GNU_LIBC_VERSION")``), through ctypes; elsewhere, or
without ctypes, nothing changes. Standard library only.
"""

from __future__ import absolute_import, division, print_function

import os

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence import limits

__metaclass__ = type

__all__ = ["keep_freed_memory"]

# mallopt's parameters (glibc malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

_DONE = []


def keep_freed_memory():
    """Raise glibc's trim and mmap thresholds (limits.HEAP_TRIM_THRESHOLD,
    limits.HEAP_MMAP_THRESHOLD) once per process. Returns True when they are set (now or
    before), False where this is no glibc or mallopt cannot be called."""
    if _DONE:
        return _DONE[0]
    ok = _set_thresholds(limits.HEAP_TRIM_THRESHOLD, limits.HEAP_MMAP_THRESHOLD)
    _DONE.append(ok)
    return ok


def glibc_version():
    """``"glibc 2.36"`` or None when the C library is not glibc."""
    try:
        return os.confstr("CS_GNU_LIBC_VERSION")
    except (AttributeError, ValueError, OSError):
        return None


def _set_thresholds(trim, mmap):
    if not glibc_version():
        return False
    try:
        import ctypes
        mallopt = ctypes.CDLL(None).mallopt     # the process's own libc
    except (ImportError, OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    # the mmap threshold first: setting either fixes both (no more adapting)
    return mallopt(_M_MMAP_THRESHOLD, mmap) == 1 and mallopt(_M_TRIM_THRESHOLD, trim) == 1
