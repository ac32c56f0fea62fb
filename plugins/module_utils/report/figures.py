# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Small number and text helpers shared by the report modules.

Private to opcache-fleet. Standard library only. Raw results come from hosts and may hold
None, strings or garbage where a count is expected: as_int reads them all as an int.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type


def as_int(value):
    """A count from a raw result: 0 for None, "", or anything that is not a number."""
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def plural(n, word, many=None):
    """``1 crash``, ``2 crashes`` (``many`` when the plural is not word + s)."""
    return "%d %s" % (n, word if n == 1 else (many or word + "s"))


def top_paths(d, limit=10):
    """{path: count} -> [{path, count}], most first (ties by path: the report is stable)."""
    return [{"path": k, "count": v} for k, v in sorted(d.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]
