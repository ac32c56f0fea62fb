# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Documentation of the options of the temporary PHP helper (where it is written, how long a
request may take).

The options themselves are HELPER_ARGS of plugins/module_utils/opcache/module_args.py
(opcache_status, opcache_reset, opcache_culprit): keep both in step.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  helper_dir:
    description:
      - Base directory of the temporary helper; outside every document root, not under /tmp.
      - It and each of its parents must be a real directory (a symlink is refused, not followed)
        owned by root (or the user running the module) and not writable by others (a sticky
        directory such as /tmp excepted for parents); missing ones are created (0711).
      - A O(helper_dir) inside a document root (given in O(document_roots) or reported by nginx) is refused.
      - Helpers older than 15 minutes that an earlier, killed run left here are removed at each start.
        A helper acts only for requests carrying its run's random token, and not at all once it is
        10 minutes old.
    type: path
    default: /var/lib/opcache-fleet
  document_roots:
    description: Document roots the helper must never be placed in (added to those nginx reports).
    type: list
    elements: path
    default: []
  max_answer_size:
    description:
      - Largest FastCGI answer accepted from a pool, bytes (stderr kept is at most 4 KiB of it). The
        status answer with the script list takes about 250 bytes per cached script (2.5 MB for 10,000).
      - At least 65536.
    type: int
    default: 16777216
  request_timeout:
    description: Total deadline of one FastCGI helper request, seconds.
    type: float
    default: 10.0
"""
