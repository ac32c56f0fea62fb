# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""php-fpm process titles: ``php-fpm: master process (CONFIG)`` and ``php-fpm: pool NAME``.

Private to opcache-fleet. Standard library only, Python 3.8+. php-fpm overwrites its
argv with these titles, so they are how its processes are recognised in /proc. The
kernel limits the title to the original argv area: a long CONFIG may lose its closing
parenthesis (``truncated``).
"""
from __future__ import absolute_import, division, print_function

import re

__metaclass__ = type

MASTER_TITLE_RE = re.compile(r"^php-fpm[^:]*:\s*master process\s*\((.*?)(\))?\s*$")
POOL_TITLE_RE = re.compile(r"^php-fpm[^:]*:\s*pool\s+(\S+)")


def master_title(argv):
    """``{config, truncated}`` when ``argv`` (a /proc cmdline list) is a php-fpm master
    title, else None. ``config`` is None for an empty ``()``."""
    m = MASTER_TITLE_RE.match(" ".join(argv))
    if not m:
        return None
    return {"config": m.group(1) or None, "truncated": m.group(2) is None}


def pool_name(argv):
    """The pool of a ``php-fpm: pool NAME`` worker title, else None."""
    m = POOL_TITLE_RE.match(" ".join(argv))
    return m.group(1) if m else None
