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
    description: Base directory of the temporary helper; outside every document root, not under /tmp.
    type: path
    default: /var/lib/opcache-fleet
  document_roots:
    description: Document roots the helper must never be placed in (added to those nginx reports).
    type: list
    elements: path
    default: []
  request_timeout:
    description: Total deadline of one FastCGI helper request, seconds.
    type: float
    default: 10.0
"""
