# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PHP version numbers as the directive table uses them: parse and compare.

Private to opcache-fleet. Standard library only, Python 3.8+.

A version is a tuple, ``(major, minor)`` or ``(major, minor, patch)``. A version
given without a patch level (``"8.2"``) means "some 8.2": it satisfies a patch-level
threshold of its own minor, so the comparisons below are not plain tuple comparisons.
"""

from __future__ import absolute_import, division, print_function

import re

__metaclass__ = type

_VERSION_RE = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


def parse_php_version(text):
    """``"8.2.7-1+deb12u1"``, ``"PHP 8.2.7 (fpm-fcgi)"``, ``"8.2"``, ``(8, 2)`` -> tuple.

    Returns (major, minor) or (major, minor, patch); raises ValueError when none found.
    """
    if isinstance(text, (tuple, list)):
        return tuple(int(p) for p in text)
    match = _VERSION_RE.search(str(text or ""))
    if not match:
        raise ValueError("php_version: no PHP version (like 8.2 or 8.2.7) found in %r" % (text,))
    parts = [int(match.group(1)), int(match.group(2))]
    if match.group(3) is not None:
        parts.append(int(match.group(3)))
    return tuple(parts)


def version_text(version):
    return ".".join(str(p) for p in version) if version else None


def version_ge(version, ref):
    """version >= ref. A version without patch level satisfies any patch of its minor."""
    v_major_minor, r_major_minor = tuple(version[:2]), tuple(ref[:2])
    if v_major_minor != r_major_minor:
        return v_major_minor > r_major_minor
    if len(version) < 3 or len(ref) < 3:
        return True
    return version[2] >= ref[2]


def version_lt(version, ref):
    """version < ref, comparing patch levels only when both have one."""
    if tuple(version[:2]) != tuple(ref[:2]):
        return tuple(version[:2]) < tuple(ref[:2])
    if len(version) < 3 or len(ref) < 3:
        return False
    return version[2] < ref[2]
