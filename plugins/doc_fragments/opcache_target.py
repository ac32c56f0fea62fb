# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Documentation of the options that choose which php-fpm master/pool the helper runs in.

The options themselves are SOCKET_ARGS and COMMON_ARGS of
plugins/module_utils/opcache/module_args.py (opcache_status, opcache_reset, opcache_culprit):
keep both in step. ``DOCUMENTATION`` holds the socket options of all three modules;
``DISCOVERY`` (phpfpm.opcache_fleet.opcache_target.discovery) the selection among
discovered masters, which opcache_culprit does not have (nginx picks its pool).
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  socket:
    description:
      - A pool socket as php-fpm's C(listen) writes it (C(/run/php/php8.2-fpm.sock),
        C(127.0.0.1:9001), C(9001), C([::1]:9001)).
      - Without it the masters are discovered from /proc (M(phpfpm.opcache_fleet.opcache_status) and
        M(phpfpm.opcache_fleet.opcache_reset) act on every discovered master, or those of their C(masters) option;
        M(phpfpm.opcache_fleet.opcache_culprit) uses the pool nginx passes the URL to).
    type: str
  master_pid:
    description:
      - With O(socket), the master's pid (reported; M(phpfpm.opcache_fleet.opcache_reset) needs it
        for its C(fallback=reload)).
      - Without O(socket), select that discovered master (opcache_status, opcache_reset; opcache_culprit
        requires O(socket) with it).
    type: int
  pool:
    description:
      - With O(socket), facts about that pool the helper must respect
        (C(chroot), C(group), C(open_basedir), C(opcache.restrict_api), C(security.limit_extensions)).
    type: dict
"""

    DISCOVERY = r"""
options:
  masters:
    description: Discovered masters to act on, by pid or config path. Default all.
    type: list
    elements: str
"""
