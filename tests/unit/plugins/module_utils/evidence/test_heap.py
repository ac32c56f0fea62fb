# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""evidence/heap.py: a scanning process keeps the pages of its big buffers (glibc) instead
of handing them back and faulting them in again; scan() asks for it on big scans only."""
import os
import subprocess
import sys

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence import heap, limits
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence import scan as scan_mod
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.sinks import EventCollector

# The scan's churn in small: a few buffers of 512 KiB alive at once, then all freed. With
# glibc's documented thresholds (128 KiB for both; set first, so that what the process did
# before, which moves the adaptive ones, does not matter) each round maps them and hands
# them back again: 128 page faults each.
CHURN = r"""
import resource, sys
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence import heap
assert heap._set_thresholds(128 << 10, 128 << 10) is True
if sys.argv[1] == "kept":
    assert heap.keep_freed_memory() is True
bufs = [b"x" * (512 << 10) for i in range(4)]
del bufs
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for round in range(200):
    bufs = [b"x" * (512 << 10) for i in range(4)]
    del bufs
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    for k in ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_"):
        env.pop(k, None)
    out = subprocess.run([sys.executable, "-c", CHURN, mode], stdout=subprocess.PIPE, env=env, check=True)
    return int(out.stdout.decode().strip())


def test_kept_memory_is_not_faulted_in_again():
    if heap.glibc_version() is None:
        pytest.skip("heap.keep_freed_memory only acts on glibc; this C library is not glibc")
    given_back = _faults("default")
    kept = _faults("kept")
    # 200 rounds x 4 buffers x 128 pages when the top goes back each round
    assert given_back > 200 * 128
    assert kept < given_back // 10


def test_only_on_glibc(monkeypatch):
    monkeypatch.setattr(heap, "glibc_version", lambda: None)
    assert heap._set_thresholds(1 << 20, 1 << 20) is False


def test_once_per_process(monkeypatch):
    calls = []
    monkeypatch.setattr(heap, "_DONE", [])
    monkeypatch.setattr(heap, "_set_thresholds", lambda trim, mmap: calls.append((trim, mmap)) or True)
    assert heap.keep_freed_memory() is True
    assert heap.keep_freed_memory() is True
    assert calls == [(limits.HEAP_TRIM_THRESHOLD, limits.HEAP_MMAP_THRESHOLD)]


@pytest.mark.parametrize("size,asked", [(1000, False), (6000, True)])
def test_scan_asks_only_for_big_scans(tmp_path, monkeypatch, size, asked):
    calls = []
    monkeypatch.setattr(scan_mod, "keep_freed_memory", lambda: calls.append(1))
    monkeypatch.setattr(limits, "SMALL_FILE", 5000)
    log = tmp_path / "error.log"
    line = b"2026/11/26 17:01:00 [error] 1#1: *1 open() \"/x\" failed (2: No such file or directory)\n"
    log.write_bytes(line * (size // len(line) + 1))
    scan_mod.scan([(str(log), "nginx")], lambda: EventCollector(max_events=10), workers=1)
    assert bool(calls) is asked
