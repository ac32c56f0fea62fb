# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which files a scan reads: glob patterns expanded, with their rotated
siblings (name.1, name.2.gz, ...) oldest first.

Private to opcache-fleet. Standard library only.
"""

from __future__ import absolute_import, division, print_function

import glob
import os
import re

__metaclass__ = type

__all__ = ["expand_paths"]

_RE_ROTATED = re.compile(r"^(?P<base>.*?)(?:[.-](?P<n>\d+))?(?P<z>\.(?:gz|bz2|xz|zst))?$")


def expand_paths(patterns, include_rotated=True, hint=None):
    """Expand files and globs. Returns (files, missing) where files is a list of
    (path, hint) without duplicates (by real path), rotated siblings of plain paths
    (x.log.1, x.log.2.gz, x.log-20240131.gz) included when ``include_rotated``."""
    seen = set()
    files = []
    missing = []
    for pat in patterns or ():
        if isinstance(pat, (tuple, list)):
            pat, h = pat[0], pat[1]
        else:
            h = hint
        pat = os.path.expanduser(str(pat))
        if glob.has_magic(pat):
            found = sorted(glob.glob(pat))
        else:
            found = [pat] if os.path.lexists(pat) else []
            if include_rotated:
                found += sorted(glob.glob(glob.escape(pat) + ".[0-9]*") + glob.glob(glob.escape(pat) + "-[0-9]*"))
        if not found:
            missing.append(pat)
            continue
        group = []
        for p in found:
            try:
                key = os.path.realpath(p)
            except OSError:  # pragma: no cover
                key = p
            if key in seen:
                continue
            seen.add(key)
            group.append(p)
        group.sort(key=_rotation_order)
        files.extend((p, h) for p in group)
    return files, missing


def _rotation_order(path):
    """Oldest first: x.log.3.gz, x.log.2.gz, x.log.1, x.log (dateext by date)."""
    m = _RE_ROTATED.match(os.path.basename(path))
    n = m.group("n") if m else None
    base = m.group("base") if m else path
    if n is None:
        return (os.path.dirname(path), base, 1, 0)
    n = int(n)
    if n > 10000000:      # dateext: larger is newer
        return (os.path.dirname(path), base, 0, n)
    return (os.path.dirname(path), base, 0, -n)
