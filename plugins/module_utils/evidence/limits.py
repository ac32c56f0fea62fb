# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Size and time limits of the evidence scan, in one place.

Private to opcache-fleet. Standard library only. The readers, the scanner and the
orchestration read these as ``limits.NAME`` at the start of a call (never per line),
so tests and callers can tune them in one module.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

CHUNK_SIZE = 1 << 20          # read size (bytes)
MAX_LINE = 64 * 1024          # longest line examined; longer ones are cut and counted
SNIFF_SIZE = 64 * 1024
SMALL_FILE = 4 << 20          # files that together stay below 4x this are scanned in-process
SPLIT_MIN = 48 << 20          # plain files above this are split across workers
RANGES_PER_WORKER = 2        # ranges per worker process (balance at the end of a scan)
WINDOW_SLACK = 3600.0         # tolerance for unordered stamps when skipping chunks
MTIME_SLACK = 300.0
# the neighbourhood of a line: where an undated line takes its time from, and where a
# 502 finds the notice its request logged (the nearest lines, starting this close before)
NEAR_BYTES = 4096
NEAR_LINES = 8
# nginx connections of PHP notice lines counted in bulk kept to tell whether a 502 may have
# one just before it (a few MB at most; emptied when full: the 502s whose neighbourhood
# reaches back before the emptying are then looked up, as they all were before)
NOTICE_CONNECTIONS = 65536
# A gzip member is scanned by three threads of one process (inflating into grep, reading
# grep's output, scanning): with Python's default 5 ms switch interval each of them waits
# up to 5 ms for the GIL after every read, write or inflate, and the pipeline stalls
# (measured on a 750 MB nginx log: 3.3 s; with 0.2 ms: 2.5 s, and less system time).
GZIP_SWITCH_INTERVAL = 0.0002
# glibc's heap in a scanning process (heap.keep_freed_memory): blocks below this come from
# the heap, not mmap (gzip inflates up to 4 MiB at a time)...
HEAP_MMAP_THRESHOLD = 8 << 20
# ...and this much free memory stays at its top instead of going back to the kernel and
# being faulted in again for the next buffer
HEAP_TRIM_THRESHOLD = 32 << 20
