#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# opcache-fleet: read OPcache status, configuration and scripts of each php-fpm master.
from __future__ import absolute_import, division, print_function

DOCUMENTATION = r"""
---
module: opcache_status
short_description: OPcache status, configuration and stale scripts of each php-fpm master
description:
  - Runs a fixed PHP helper straight through a php-fpm pool socket (never through nginx) and
    returns C(opcache_get_status()), C(opcache_get_configuration()) and optionally the cached
    scripts with a staleness verdict, for every running php-fpm master (discovered from /proc)
    or for one given O(socket).
  - Also returns, per master, the state of APCu (C(masters[].apcu)) when it is loaded, with entries, hits,
    expunges, memory, free blocks and fragmentation, and a C(state) (not_loaded, disabled, unknown,
    near_full under 10 % free, fragmented when more than half of the free memory lies outside the
    largest free block, expunged when it wiped itself for lack of room since its start or last clear,
    ok) with C(findings) that say why.
  - Pools of one master share one cache, so ONE pool per master is queried, the easiest first
    (no chroot, no open_basedir, unix socket), the next one when it cannot be reached.
  - The helper file is written to a random directory under O(helper_dir) (0711, root) and
    removed in every case. Nothing else is written on the host.
options:
  scripts:
    description:
      - Return the cached scripts with C(stale) = C(certain) (cached timestamp differs from the mtime),
        C(possible) (modified since the cache's last restart while validate_timestamps=0 hides
        timestamps), C(fresh) or C(unknown). Can be large.
    type: bool
    default: false
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in diff mode) when in diff mode.
    support: none
extends_documentation_fragment:
  - phpfpm.opcache_fleet.opcache_target
  - phpfpm.opcache_fleet.opcache_target.discovery
  - phpfpm.opcache_fleet.opcache_helper
author:
  - opcache-fleet contributors (@opcache-fleet)
"""

EXAMPLES = r"""
- name: Read OPcache of every php-fpm master
  opcache_status:
  register: opcache

- name: Read one pool socket with the script list
  opcache_status:
    socket: /run/php/php8.2-fpm.sock
    scripts: true
"""

RETURN = r"""
masters:
  description: One entry per php-fpm master.
  returned: always
  type: list
  elements: dict
  sample:
    - master_pid: 812
      config: /etc/php/8.2/fpm/php-fpm.conf
      php_version: 8.2.36
      pools: [www]
      sockets: [/run/php/php8.2-fpm.sock]
      socket: /run/php/php8.2-fpm.sock
      pool: www
      round_trip: 0.0009
      helper_path: /var/lib/opcache-fleet/5f0c.../9a1e....php
      status:
        opcache_enabled: true
        cache_full: false
        restart_pending: false
        restart_in_progress: false
        memory_usage: {used_memory: 9184224, free_memory: 125033504, wasted_memory: 0,
                       current_wasted_percentage: 0}
        interned_strings_usage: {buffer_size: 8388608, used_memory: 2265064, free_memory: 6123544,
                                 number_of_strings: 3616}
        opcache_statistics: {num_cached_scripts: 13, hits: 40, misses: 13, opcache_hit_rate: 75.4,
                             start_time: 1795711360, last_restart_time: 0, oom_restarts: 0,
                             hash_restarts: 0, manual_restarts: 0}
      configuration:
        directives: {opcache.enable: true, opcache.validate_timestamps: false}
        blacklist: []
      scripts:
        - {full_path: /srv/app/releases/a/report.php, hits: 3, cached: true, mtime: 1795711440,
           last_used_timestamp: 1795711500, stale: possible, reason: "modified at ..."}
      stale_counts: {certain: 0, possible: 1, fresh: 12, unknown: 0}
      zend_extensions: [Zend OPcache]
      apcu:
        loaded: true
        enabled: true
        version: 5.1.22
        state: near_full
        entries: 1843
        hits: 5120
        misses: 1843
        inserts: 1843
        expunges: 0
        start_time: 1795711360
        slots: 4099
        ttl: 0
        memory_type: mmap
        memory: {total: 33554304, free: 2142528, used: 31411776, free_ratio: 0.0639}
        free_blocks: 1
        largest_free_block: 2142528
        fragmentation: 0.0
        settings: {apc.shm_size: 32M, apc.ttl: "0"}
        findings:
          - {code: apcu_near_full, text: "APCu is 94% full (2.0 MiB free of 32.0 MiB, apc.shm_size=32M): ..."}
failed_masters:
  description: Masters that could not be read, with the cause (the module fails when there is any).
  returned: when a master fails
  type: list
  elements: dict
  sample: [{master_pid: 812, socket: /run/php/php8.2-fpm.sock, cause: ECONNREFUSED, msg: "..."}]
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.control import master_status
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.errors import ControlError
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.module_args import COMMON_ARGS, check_helper_dir, select_targets


def main():
    spec = dict(COMMON_ARGS)
    spec["scripts"] = dict(type="bool", default=False)
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True,
                           required_by={"pool": "socket"})
    check_helper_dir(module)
    started = time.monotonic()
    targets, warnings = select_targets(module)
    masters, failed = [], []
    for target in targets:
        try:
            masters.append(master_status(target, scripts=module.params["scripts"],
                                         timeout=module.params["request_timeout"],
                                         helper_dir=module.params["helper_dir"],
                                         max_answer=module.params["max_answer_size"]))
        except ControlError as exc:
            failed.append({"master_pid": target.get("master_pid"), "config": target.get("config"),
                           "sockets": target.get("sockets"), "cause": exc.cause, "msg": str(exc),
                           "tried": exc.details.get("tried")})
    for w in warnings:
        module.warn(w)
    result = dict(changed=False, masters=masters, elapsed=round(time.monotonic() - started, 4))
    if failed:
        result["failed_masters"] = failed
        module.fail_json(msg="; ".join(f["msg"] for f in failed), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
