#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""diagnose_host: everything diagnose.yml reads from one host, in one round trip."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: diagnose_host
short_description: Everything the fleet diagnosis reads from one host, in one module call
description:
  - Runs, in one module call, the read-only steps of P(phpfpm.opcache_fleet.diagnose#role),
    that is discovery as M(phpfpm.opcache_fleet.fpm_discover), crash evidence as
    M(phpfpm.opcache_fleet.fpm_evidence) over the discovered nginx and php-fpm logs, slowlogs
    and kernel sources, OPcache status with the stale scripts as
    M(phpfpm.opcache_fleet.opcache_status), the record of files opcache_reset and the culprit
    hunt invalidated, the release folders, and the class-name scan as
    M(phpfpm.opcache_fleet.php_class_collisions). Each step runs the same code as its module.
  - One call instead of one per step. On a fleet, each task is a round trip to every host, and
    the diagnosis of one host used to take about twenty. The small modules stay usable alone.
  - Discovery runs once and feeds the other steps. When discovery itself fails the module
    fails; a later step that fails is recorded as that step's C(failed) and C(msg), and the
    other steps still run.
  - The OPcache step writes a temporary PHP helper under O(helper_dir) and removes it, as
    M(phpfpm.opcache_fleet.opcache_status) does. Nothing else is written; C(changed) is
    always false.
version_added: "0.2.0"
author:
  - opcache-fleet contributors (@opcache-fleet)
options:
  fpm_error_logs:
    description: Use these php-fpm error logs instead of the discovered ones.
    type: list
    elements: path
  nginx_error_logs:
    description: Use these nginx error logs instead of the discovered ones.
    type: list
    elements: path
  since:
    description: Evidence window start (C(30m), C(2h), C(3d), C(all), or an ISO time).
    type: str
    default: 24h
  until:
    description: Evidence window end, same forms; unset means now.
    type: str
  correlation_window:
    description: Seconds between an nginx 502 and a worker crash for them to be tied together.
    type: float
    default: 2.0
  kernel:
    description: Also read the kernel log, the journal and coredumpctl.
    type: bool
    default: true
  max_events:
    description: Most evidence events returned (counts and incidents do not depend on it).
    type: int
    default: 3000
  stale_cap:
    description: Most stale cached scripts returned per php-fpm master.
    type: int
    default: 50
  release_dir_pattern:
    description:
      - A Python regular expression; a document root that matches it is a releases directory,
        and each of its sub-directories (not symlinks such as C(current)) is scanned as its own
        code root and reported as a release folder.
    type: str
    default: '/(releases?|deploys?|deployments|versions?|builds?)/*$'
  extra_code_roots:
    description: More directories to scan for class collisions.
    type: list
    elements: path
    default: []
  collision_max_files:
    description:
      - Most PHP files the class collision scan reads per host. A scan cut short says so
        (C(collisions.truncated), C(collisions.truncated_by)). C(0) means no limit.
    type: int
    default: 50000
  collision_max_seconds:
    description:
      - Time budget in seconds of the class collision scan. When it runs out, the result is partial and
        says so. A document root that is a front controller's web directory (C(public/), C(web/) ...)
        is scanned from the application above it (C(src/), C(vendor/)). Directories such as C(/) or
        C(/usr) are never scanned, even when a pool has C(chdir = /) (C(collisions.roots_refused)).
        C(0) means no limit.
    type: float
    default: 60
  helper_dir:
    description:
      - Where the temporary OPcache helper is written, and where opcache_reset and the culprit
        hunt keep C(invalidated.json). Same default as those modules.
    type: path
    default: /var/lib/opcache-fleet
  request_timeout:
    description: Seconds to wait for each FastCGI answer.
    type: float
    default: 10.0
  skip:
    description: Steps not to run.
    type: list
    elements: str
    choices: [opcache, collisions]
    default: []
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in diff mode) when in diff mode.
    support: none
seealso:
  - module: phpfpm.opcache_fleet.fpm_discover
  - module: phpfpm.opcache_fleet.fpm_evidence
  - module: phpfpm.opcache_fleet.opcache_status
  - module: phpfpm.opcache_fleet.php_class_collisions
"""

EXAMPLES = r"""
- name: Read everything the fleet report needs from this host
  phpfpm.opcache_fleet.diagnose_host:
    since: 2h
  register: diagnosis

- name: Evidence and discovery only
  phpfpm.opcache_fleet.diagnose_host:
    since: all
    skip: [opcache, collisions]
"""

RETURN = r"""
status:
  description: C(ok) when discovery ran (later steps may still have failed, see each step).
  returned: success
  type: str
  sample: ok
discovery:
  description: What M(phpfpm.opcache_fleet.fpm_discover) returns (C(masters), C(nginx), C(fpm_error_logs), C(warnings_found)).
  returned: success
  type: dict
evidence:
  description:
    - What M(phpfpm.opcache_fleet.fpm_evidence) returns with C(include_events=true), or
      C(failed) and C(msg) when the scan could not run.
    - It also has C(fpm_sources), one entry per php-fpm master, saying where its crash lines were
      read and whether they were. A master's C(error_log) may be a file, C(syslog) or its standard
      error. For C(syslog), the journal is read with C(journalctl -o json) for its systemd unit (else
      its C(syslog.ident)). Only the entries whose trusted C(_CMDLINE) is a php-fpm master's are kept,
      so a PHP script's C(syslog()) or a local user's C(logger) cannot plant a crash. For its standard
      error, fd 2 is followed. A regular file is read. A pipe is followed to the process reading it and
      to that process's output file, or to the journal stream of its unit.
    - Each entry has C(master_pid), C(config), C(error_log), C(error_log_kind), C(source) (what was
      read), C(status) (C(scanned) or C(not_read)), C(events) and C(reason) (why it was not read).
      A master in a container, a journal without C(journalctl), a missing or unreadable file, or a
      standard error that goes nowhere kept are C(not_read), never skipped silently.
      C(fleet_report) then does not call the host healthy.
  returned: success
  type: dict
upstream_pools:
  description: The nginx C(fastcgi_pass) targets that discovery tied to a pool, and the pool's name.
  returned: success
  type: dict
  sample: {"unix:/run/php/php8.2-fpm.sock": "www"}
upstream_masters:
  description:
    - The same targets, and the configuration of the master whose pool listens there (a master
      without a known configuration is C(pid N)). A pool is its master and its name (two masters
      may both have C([www])), so crashes are tied to 502s, pools judged and resets suggested per master.
  returned: success
  type: dict
  sample: {"unix:/run/php/php8.2-fpm.sock": "/etc/php/8.2/fpm/php-fpm.conf"}
upstream_probes:
  description:
    - One entry per nginx C(fastcgi_pass) target on this host (a unix socket, loopback or a local
      address) that no discovered php-fpm pool listens on, after one C(connect()) (closed at once,
      nothing sent). C(state) is C(listening), C(refused) (nothing listens), C(missing) (no such
      socket file), C(timeout) or C(error); C(uses) lists the nginx server, location and root.
    - C(refused) and C(missing) mean php-fpm is stopped or listens elsewhere while nginx routes to it.
  returned: success
  type: list
  elements: dict
  sample: [{"target": "unix:/run/php/php8.2-fpm.sock", "state": "missing", "detail": "no such socket file",
            "uses": [{"server_name": "_", "location": "~ \\.php$", "root": "/srv/app/releases"}]}]
opcache:
  description:
    - C(masters) as M(phpfpm.opcache_fleet.opcache_status) returns them, each with its stale
      scripts only (at most O(stale_cap)) and its APCu state (C(apcu)); C(failed_masters) for
      masters that could not be read;
      C(msg) names what failed (C(skipped) when O(skip) holds C(opcache)).
  returned: success
  type: dict
opcache_invalidations:
  description:
    - C(invalidated.json) of O(helper_dir) as C(content) (base64), or C(failed) and C(msg) when
      it is absent (nothing was invalidated) or cannot be read.
  returned: success
  type: dict
releases:
  description: Each document root named like a releases directory, with its release folders.
  returned: success
  type: dict
  sample: {"/srv/app/releases": ["/srv/app/releases/a", "/srv/app/releases/b"]}
deploys:
  description:
    - Deploy sites (Deployer, Capistrano, Envoyer) read from the disk, never from URLs, for the nginx
      roots and pools' chdir that go through C(<site>/current) or lie in C(<site>/releases/<name>).
    - Each has C(site), C(live_link), C(live_release) (its resolved target), C(switched_at) (the
      link's mtime), C(roots), C(releases_total), C(error) (the releases directory could not be listed)
      and C(releases), the 30 most recent, oldest first.
    - Each release has C(name), C(path), C(resolved), C(live) and C(served_by) (the roots that resolve
      into it). C(opcache.masters[].release_scripts) counts the cached scripts per release.
  returned: success
  type: list
  elements: dict
  sample: [{"site": "/srv/deploy", "live_link": "/srv/deploy/current",
            "live_release": "/srv/deploy/releases/20261206120000", "switched_at": 1796558400,
            "roots": ["/srv/deploy/current/public"], "releases_total": 2, "error": null,
            "releases": [{"name": "20261206120000", "path": "/srv/deploy/releases/20261206120000",
                          "resolved": "/srv/deploy/releases/20261206120000", "live": true,
                          "served_by": ["/srv/deploy/current/public"]}]}]
collision_roots:
  description: The code roots scanned for class collisions.
  returned: success
  type: list
  elements: str
collisions:
  description:
    - What M(phpfpm.opcache_fleet.php_class_collisions) returns (its warnings in
      C(warnings_found)), C(skipped) with C(skip_reason), or C(failed) and C(msg).
  returned: success
  type: dict
timings:
  description: Seconds each step took on the host, and in all.
  returned: success
  type: dict
  sample: {"discovery": 0.41, "evidence": 0.05, "opcache": 0.12, "collisions": 0.03, "total": 0.61}
"""

import re

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.runner import make_runner
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.diagnose.host import DIAGNOSE_ARGS, StepError, diagnose
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.module_args import check_helper_dir


def main():
    module = AnsibleModule(argument_spec=dict(DIAGNOSE_ARGS), supports_check_mode=True)
    p = module.params
    check_helper_dir(module)
    if p["collision_max_files"] < 0 or p["collision_max_seconds"] < 0:
        module.fail_json(msg="collision_max_files and collision_max_seconds must be 0 (no limit) or more; got %s and %s"
                         % (p["collision_max_files"], p["collision_max_seconds"]))
    if p["stale_cap"] < 0:
        module.fail_json(msg="stale_cap must be 0 or more; got %d" % p["stale_cap"])
    if p["request_timeout"] <= 0:
        module.fail_json(msg="request_timeout must be more than 0 seconds; got %s" % p["request_timeout"])
    try:
        re.compile(p["release_dir_pattern"])
    except re.error as exc:
        module.fail_json(msg="release_dir_pattern is not a regular expression: %s" % exc)
    for root in p["extra_code_roots"]:
        if not root.startswith("/"):
            module.fail_json(msg="extra_code_roots: %r is not an absolute path" % root)
    try:
        record = diagnose(module, make_runner(module), p)
    except StepError as exc:
        module.fail_json(msg=str(exc))
    for text in record["discovery"]["warnings_found"]:
        module.warn(text)
    module.exit_json(changed=False, **record)


if __name__ == "__main__":
    main()
