#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# opcache-fleet: reset OPcache of php-fpm masters, fully or per file, and verify it.
from __future__ import absolute_import, division, print_function

DOCUMENTATION = r"""
---
module: opcache_reset
short_description: Reset OPcache of php-fpm masters (full, files, glob, stale) and verify it
description:
  - Resets each selected php-fpm master ONCE (pools of one master share one cache) through a
    fixed PHP helper run straight through a pool socket, then verifies in later requests.
  - C(full) calls C(opcache_reset()), then polls until C(restart_pending) is false and
    C(manual_restarts) went up (or C(last_restart_time)/C(start_time) changed), waiting out
    in-flight requests up to O(timeout).
  - C(files), C(glob), C(stale) call C(opcache_invalidate(file, true)) for the cached targets, then
    check with C(opcache_is_script_cached()) in later requests. C(stale) targets scripts marked
    C(certain) or C(possible) stale (see M(phpfpm.opcache_fleet.opcache_status)); its invalidation times are kept in
    O(helper_dir)/invalidated.json so a second run finds nothing stale.
  - C(stale) also finds cached scripts of a superseded release - in C(<site>/releases/<x>/) while
    C(<site>/current) points to another release (Deployer, Capistrano, Envoyer). Their files did not change, so
    no staleness test sees them, but OPcache keeps serving them through the C(current/) spelling it was reached
    by, and each worker's realpath cache resolves C(current) to the old release for up to C(realpath_cache_ttl).
    On such a master the cure is escalated to a full C(opcache_reset()) (verified as in C(full)), the one
    cure that clears both (each worker cleans its realpath cache when it sees the restart). Invalidating the old
    entries would let the workers compile the old release again. C(masters[].escalated) says why,
    C(masters[].superseded_releases) lists what was found. Once reset, the old entries are gone and a second run
    changes nothing.
  - Fails when verification does not succeed within O(timeout).
options:
  mode:
    description: What to reset.
    type: str
    choices: [full, files, glob, stale]
    default: stale
  files:
    description:
      - Absolute script paths for O(mode=files).
      - A file is found under the path given or its resolved path, because OPcache keys a script by its
        resolved path. A file reached through a deploy's C(current) symlink is cached as C(releases/<x>/...).
        A cached key whose resolved path is the same file also matches. C(masters[].cached_as) says which key
        each file was found under.
      - A file that no master caches under either name is listed in RV(not_cached). It is not verified, and
        nothing is invalidated for it.
    type: list
    elements: str
    default: []
  patterns:
    description:
      - Shell patterns matched against cached script paths for O(mode=glob) (C(*) also crosses C(/)).
      - Each pattern is also tried with its directory part, up to the first wildcard, resolved. So
        C(/var/www/site/current/src/*) also matches the scripts of the release that C(current) points to.
    type: list
    elements: str
    default: []
  timeout:
    description: Seconds to wait for verification per master.
    type: float
    default: 30
  purge_file_cache:
    description:
      - With O(mode=full), also empty the configured C(opcache.file_cache) directory first (it survives
        C(opcache_reset())). Only its C(<system id>/**.bin) regular files are removed; the module refuses
        system directories and directories holding anything else.
      - The directory is the one the master's configuration names (read by discovery), and the pool must
        report the same one; the module refuses when they differ or when only the pool names one (an
        explicit O(socket) gives no configuration). The tree is walked without following symlinks.
    type: bool
    default: false
  clear_apcu:
    description:
      - After the OPcache reset of a master is verified, also clear its APCu user cache with
        C(apcu_clear_cache()) (all pools of a master share one), verified in later requests where APCu's
        C(start_time) must differ from the one read just before the clear (APCu 5.1 sets it from the
        monotonic clock, not the time of day, so it is compared with nothing else). C(masters[].apcu) says what was done.
      - A master without APCu, with C(apc.enabled=0) or with an empty APCu is left alone, and
        C(masters[].apcu.skipped) says why (nothing cleared is nothing verified). Applications
        lose what they stored there (sessions or locks kept in APCu, for one), hence off by default.
    type: bool
    default: false
  fallback:
    description:
      - C(reload) does a graceful C(systemctl reload <unit>) of a master when FastCGI cannot be used
        (unit from discovery or /proc/<master_pid>/cgroup), verified by OPcache C(start_time) read
        through a pool afterwards (at or after the reload); when OPcache stays unreadable, by the master
        being alive with every old worker replaced (C(reload.verified_by) says which, with a warning).
        Only with O(mode=full).
    type: str
    choices: [none, reload]
    default: none
  retries:
    description:
      - How many times a master's reset is tried again when a request met a worker that went away
        (C(truncated), C(ECONNRESET)) or a pool that answered FastCGI's overloaded status, after
        0.25 s, 0.5 s, 1 s... (0 to 10). A C(timeout) is not retried, because the request may still run
        in a saturated pool. C(masters[].retries) lists them. Running a reset again is safe, because each is verified by
        the cache's figures, not by the lost answer.
    type: int
    default: 3
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Reads status (the temporary helper is written and removed) and reports what would be reset.
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
- name: Invalidate only stale scripts on every master
  opcache_reset:
    mode: stale

- name: Full reset of every master, verified
  opcache_reset:
    mode: full
    timeout: 60

- name: Invalidate two files through one pool socket
  opcache_reset:
    mode: files
    socket: /run/php/php8.2-fpm.sock
    files:
      - /srv/app/releases/a/report.php
      - /srv/app/releases/b/report.php

- name: Invalidate one release's cached scripts
  opcache_reset:
    mode: glob
    patterns: ['/srv/app/releases/a/*']

- name: Full reset of OPcache, then clear APCu too, both verified
  opcache_reset:
    mode: full
    clear_apcu: true
"""

RETURN = r"""
masters:
  description: One entry per master, in the order reset.
  returned: always
  type: list
  elements: dict
  sample:
    - master_pid: 812
      config: /etc/php/8.2/fpm/php-fpm.conf
      php_version: 8.2.36
      pools: [www]
      socket: /run/php/php8.2-fpm.sock
      mode: stale
      changed: true
      verified: true
      files:
        - {path: /srv/app/releases/a/report.php, stale: possible, reason: "modified at ...", verdict: not cached}
      stale_counts: {certain: 0, possible: 1, fresh: 40, unknown: 0}
      before: {opcache_enabled: true, restart_pending: false, num_cached_scripts: 41, hits: 120, misses: 41,
               manual_restarts: 0, start_time: 1795711360, last_restart_time: 0, used_memory: 9184224,
               wasted_memory: 0}
      after: {num_cached_scripts: 41, manual_restarts: 0}
      polls: 1
      verify_seconds: 0.002
    - master_pid: 907
      mode: stale
      changed: true
      verified: true
      files: []
      superseded_releases:
        - site: /var/www/shop
          live_link: /var/www/shop/current
          live_release: /var/www/shop/releases/3
          release: /var/www/shop/releases/2
          switched_at: 1796380000
          count: 14
          used_since_switch: 3
          scripts: [/var/www/shop/releases/2/public/index.php]
      escalated: {to: full, stale_files: 0, reason: "14 cached script(s) of /var/www/shop/releases/2, which ..."}
    - master_pid: 1210
      mode: full
      changed: true
      verified: true
      apcu:
        cleared: true
        verified: true
        before: {loaded: true, enabled: true, state: near_full, entries: 1843, inserts: 1843, expunges: 0,
                 start_time: 1796380000, used_memory: 30411776}
        after: {loaded: true, enabled: true, state: ok, entries: 0, inserts: 0, expunges: 0,
                start_time: 1796380412, used_memory: 34176}
apcu_cleared:
  description: With O(clear_apcu), the number of masters whose APCu was (or in check mode would be) cleared.
  returned: always
  type: int
  sample: 1
apcu_verified:
  description: With O(clear_apcu), the number of masters whose APCu clear was verified in a later request.
  returned: always
  type: int
  sample: 1
not_cached:
  description:
    - With O(mode=files), the requested files that no master caches, under the path given or its resolved
      path. Nothing was invalidated for them, and they are not verified.
    - Per master, C(masters[].not_cached) lists the files that master does not cache, and C(masters[].cached_as)
      maps a requested spelling to the key it was found under. C(masters[].verified) is false, with a C(note),
      when nothing was invalidated.
  returned: with mode=files
  type: list
  elements: str
  sample: ["/var/www/shop/current/src/Legacy.php"]
masters_reset:
  description: Number of masters where something was (or in check mode would be) reset.
  returned: always
  type: int
  sample: 2
masters_verified:
  description: Number of masters whose reset was verified.
  returned: always
  type: int
  sample: 2
failed_masters:
  description: Masters that could not be reset or verified, with the cause.
  returned: when a master fails
  type: list
  elements: dict
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.cure.backoff import with_backoff
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.control import reset_master
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.errors import ControlError
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.reload import raise_unverified_reload, read_start_time, reload_master
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.helper import HelperError
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.module_args import COMMON_ARGS, check_helper_dir, select_targets

FALLBACK_CAUSES = ("ENOENT", "ECONNREFUSED", "EACCES", "timeout", "truncated", "overloaded",
                   "open_basedir", "opcache.restrict_api", "security.limit_extensions",
                   "chroot/PrivateTmp", "permissions", "bad_answer")


def validate(module):
    p = module.params
    if p["mode"] == "files":
        if not p["files"]:
            module.fail_json(msg="files is required with mode=files")
        bad = [f for f in p["files"] if not f.startswith("/")]
        if bad:
            module.fail_json(msg="files must be absolute paths, got %s" % ", ".join(repr(b) for b in bad))
    if p["mode"] == "glob" and not p["patterns"]:
        module.fail_json(msg="patterns is required with mode=glob")
    if p["mode"] != "files" and p["files"]:
        module.fail_json(msg="files is only used with mode=files, got mode=%s" % p["mode"])
    if p["mode"] != "glob" and p["patterns"]:
        module.fail_json(msg="patterns is only used with mode=glob, got mode=%s" % p["mode"])
    if p["purge_file_cache"] and p["mode"] != "full":
        module.fail_json(msg="purge_file_cache=true requires mode=full, got mode=%s" % p["mode"])
    if p["fallback"] == "reload" and p["mode"] != "full":
        module.fail_json(msg="fallback=reload requires mode=full, got mode=%s" % p["mode"])
    if not 0 <= p["retries"] <= 10:
        module.fail_json(msg="retries must be between 0 and 10, got %d" % p["retries"])
    if p["timeout"] <= 0 or p["request_timeout"] <= 0:
        module.fail_json(msg="timeout and request_timeout must be positive, got %s and %s"
                         % (p["timeout"], p["request_timeout"]))
    check_helper_dir(module)


def reset_one(module, target):
    p = module.params
    retried = []

    def reset():
        return reset_master(target, p["mode"], files=p["files"], patterns=p["patterns"],
                            check_mode=module.check_mode, timeout=p["timeout"],
                            request_timeout=p["request_timeout"], purge=p["purge_file_cache"],
                            helper_dir=p["helper_dir"], max_answer=p["max_answer_size"], apcu=p["clear_apcu"])
    try:
        # a worker that recycles mid-request is no reason to give up on a master (cure/backoff.py)
        result = with_backoff(reset, retries=p["retries"], record=retried)
        if retried:
            result["retries"] = retried
        return result
    except (ControlError, HelperError) as exc:
        if p["fallback"] != "reload" or exc.cause not in FALLBACK_CAUSES:
            raise
        entry = {"master_pid": target.get("master_pid"), "config": target.get("config"),
                 "pools": target.get("pool_names"), "sockets": target.get("sockets"), "mode": "full",
                 "fastcgi_error": str(exc), "files": []}
        if module.check_mode:
            entry.update(changed=True, verified=None, fallback="reload (check mode: not run)")
            return entry

        def run(argv):
            return module.run_command(argv)

        def start_time():
            return read_start_time(target, timeout=min(p["request_timeout"], 5.0), helper_dir=p["helper_dir"])

        info = reload_master(target, run, timeout=p["timeout"], read_start_time=start_time)
        entry.update(changed=True, verified=info["verified"], fallback="reload", reload=info)
        if info.get("verified_by") == "workers replaced":
            module.warn("master %s: reload verified by replaced workers only; OPcache start_time could not "
                        "be read (%s)" % (target.get("master_pid"), info.get("start_time_error")))
        if not info["verified"]:
            raise_unverified_reload(target, info, p["timeout"], entry)
        return entry


def main():
    spec = dict(COMMON_ARGS)
    spec.update(
        mode=dict(type="str", default="stale", choices=["full", "files", "glob", "stale"]),
        files=dict(type="list", elements="str", default=[]),
        patterns=dict(type="list", elements="str", default=[]),
        timeout=dict(type="float", default=30.0),
        purge_file_cache=dict(type="bool", default=False),
        clear_apcu=dict(type="bool", default=False),
        fallback=dict(type="str", default="none", choices=["none", "reload"]),
        retries=dict(type="int", default=3),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True, required_by={"pool": "socket"})
    validate(module)
    started = time.monotonic()
    targets, warnings = select_targets(module)
    results, failed = [], []
    for target in targets:
        try:
            results.append(reset_one(module, target))
        except (ControlError, HelperError) as exc:
            partial = getattr(exc, "details", {}).get("result") if hasattr(exc, "details") else None
            failed.append({"master_pid": target.get("master_pid"), "config": target.get("config"),
                           "sockets": target.get("sockets"), "cause": exc.cause, "msg": str(exc),
                           "result": partial})
    for w in warnings:
        module.warn(w)
    for r in results:
        for w in r.get("warnings", []):
            module.warn(w)
    result = dict(
        changed=any(r.get("changed") for r in results) or any(
            (f.get("result") or {}).get("changed") for f in failed),
        masters=results,
        masters_reset=sum(1 for r in results if r.get("changed")),
        masters_verified=sum(1 for r in results if r.get("changed") and r.get("verified")),
        apcu_cleared=sum(1 for r in results if (r.get("apcu") or {}).get("cleared")
                         or (r.get("apcu") or {}).get("would")),
        apcu_verified=sum(1 for r in results if (r.get("apcu") or {}).get("verified")),
        elapsed=round(time.monotonic() - started, 4),
    )
    if module.params["mode"] == "files" and results:
        result["not_cached"] = [f for f in module.params["files"]
                                if all(f in (r.get("not_cached") or ()) for r in results)]
        if result["not_cached"]:
            module.warn("cached by no master under the path given or its resolved path, nothing invalidated: %s"
                        % ", ".join(result["not_cached"]))
    if failed:
        result["failed_masters"] = failed
        module.fail_json(msg="; ".join(f["msg"] for f in failed), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
