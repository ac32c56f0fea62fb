# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Twins: the same source in several folders, cached differently. A signal for the culprit
hunt that needs no stale hint.

Private to opcache-fleet. Standard library only, Python 3.8+.

The seed's situation: the same code runs in several folders (release folders, one site per
folder) and only one of them crashes. OPcache reports, per cached script, the shared memory
its compiled form takes (``memory_consumption``). Two files whose bytes are identical on disk
compile to the same size; a cached entry whose size differs from its twins' was compiled from
other bytes (a version since replaced on disk with its mtime kept: ``rsync -a``, ``tar``,
image layers) or was damaged in memory. Measured on the lab (php-fpm 8.2, 94 cached scripts,
34 twin groups across releases a, b, c): the one poisoned file was the one group whose sizes
differed (4008 bytes cached against 3736 for both twins), with the file restored on disk.

Twins are found by the path with ONE folder name left out: ``/srv/app/releases/<x>/src/A.php``
groups the A.php of every release. Groups whose files differ on disk are a real difference
(a release changed the file), not a suspect, and are left out.
"""
from __future__ import absolute_import, division, print_function

import hashlib
from collections import Counter

__metaclass__ = type

MAX_READ = 8 << 20  # a PHP source larger than this is not hashed (and its group not judged)


def file_digest(path):
    """SHA-256 of a file's bytes, or None when it cannot be read (or is too large)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_READ + 1)
    except (IOError, OSError):
        return None
    return None if len(data) > MAX_READ else hashlib.sha256(data).hexdigest()


def twin_groups(paths):
    """{(prefix, suffix): [paths]} for every way of leaving one folder name out that two or
    more of ``paths`` share (a folder name: neither the first part nor the file name)."""
    out = {}
    for path in paths:
        parts = path.split("/")
        for i in range(1, len(parts) - 1):
            out.setdefault(("/".join(parts[:i]), "/".join(parts[i + 1:])), []).append(path)
    return dict((k, v) for k, v in out.items() if len(v) > 1)


def divergent_twins(classified, digest=file_digest):
    """{path: reason} of the cached scripts whose size differs from twins with the same bytes
    on disk: the odd one out when most twins agree, every one of them when none is the majority."""
    sizes = dict((e["full_path"], e.get("memory_consumption")) for e in classified
                 if isinstance(e.get("memory_consumption"), int) and not isinstance(e.get("memory_consumption"), bool))
    found, digests = {}, {}
    for members in twin_groups(sorted(sizes)).values():
        counts = Counter(sizes[p] for p in members)
        if len(counts) < 2:
            continue
        for p in members:
            if p not in digests:
                digests[p] = digest(p)
        if None in (digests[p] for p in members) or len(set(digests[p] for p in members)) != 1:
            continue
        (common, n), = counts.most_common(1)
        tie = list(counts.values()).count(n) > 1
        for p in members:
            if tie or sizes[p] != common:
                others = [sizes[q] for q in members if q != p]
                found[p] = ("cached copy takes %d bytes; %d twin(s) with the same bytes on disk take %s"
                            % (sizes[p], len(others), ", ".join(str(s) for s in sorted(set(others)))))
    return found
