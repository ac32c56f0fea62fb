#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# opcache-fleet: find the cached PHP file that crashes php-fpm workers.
from __future__ import absolute_import, division, print_function

DOCUMENTATION = r"""
---
module: opcache_culprit
short_description: Find the cached PHP file whose OPcache entry crashes php-fpm workers
description:
  - On one host, given a probe (O(url) requested through the LOCAL nginx, or the request of an
    O(incident) from fpm_evidence), confirms that the probe fails like a crash (HTTP 502 with an
    nginx C(upstream_reset) line, or a connection reset) and not a 404, a timeout or a connect
    error; otherwise it fails and changes nothing.
  - Finds the php-fpm master and pool nginx passes the URL to (server and location selection over
    fpm_discover's nginx report), or uses the given O(socket).
  - Ranks the cached scripts BEFORE touching anything. O(ranking_probes) failing probes are made in
    different seconds; after each, the scripts whose C(last_used_timestamp) equals the probe's
    second form that request's include set, and the sets are intersected (the helper's own file is
    never a candidate). Within it, scripts cached at another size than their twins (the same file,
    with the same bytes on disk, in another folder such as another release) come first, which needs
    no mtime. Scripts seen used in a second with no probe are used by other requests
    and come after the rest of the include set. Then stale scripts (C(certain), C(possible)),
    files declaring a class another file of the code root declares, most recently modified.
  - Then invalidates the candidates in that order, one (or O(group_size)) at a time, probing after
    each, and stops at the first probe that passes. The culprit is the file (or group) whose
    invalidation cured the probe. When no candidate cures it, no culprit is claimed.
  - Each probe of a crashing URL crashes one php-fpm worker (php-fpm starts another), as every
    user request to that URL does. If the master has C(emergency_restart_threshold) set, crashes
    count towards it and php-fpm may reload itself, which empties the cache; the hunt then stops
    with C(cache_restarted).
options:
  url:
    description:
      - The failing page, C(http://HOST[:PORT]/path) or C(https://HOST[:PORT]/path). The request is always sent
        to O(connect_address) (the local nginx); HOST becomes the C(Host) header (virtual host) and, with https,
        the TLS server name (see O(validate_certs)), PORT the port.
    type: str
  incident:
    description:
      - One entry of fpm_evidence's C(incidents); its first GET/HEAD request (C(requests[].path),
        else C(request_paths)) is replayed through the local nginx. Other methods are never replayed.
    type: dict
  expected_status:
    description: HTTP status of a healthy probe.
    type: int
    default: 200
  connect_address:
    description: Address the probe connects to; the local nginx.
    type: str
    default: 127.0.0.1
  validate_certs:
    description:
      - With an C(https://) URL, the probe sends the URL's host as the TLS server name (SNI), so nginx
        answers with that virtual host's certificate, and checks the certificate against that name and the
        host's trusted CAs.
      - Set C(false) to accept a self-signed certificate. Only the probe's own requests to O(connect_address)
        are concerned.
    type: bool
    default: true
  nginx_error_logs:
    description:
      - nginx error logs read to tell a crash (C(upstream_reset)) from a connect error behind a 502.
        Default those discovery reports, or C(/var/log/nginx/error.log) with O(socket).
    type: list
    elements: path
  ranking_probes:
    description:
      - Failing probes made before any invalidation, in different seconds, to compute the include
        set. 0 ranks without probing (stale, collisions, mtime only).
    type: int
    default: 2
  group_size:
    description: Candidates invalidated per step; with more than 1 the culprit is the whole group.
    type: int
    default: 1
  max_probes:
    description: Stop after this many probe requests (ranking probes included).
    type: int
    default: 50
  check_mode_probes:
    description:
      - In check mode, still make the O(ranking_probes) read-only GET requests of the failing URL
        (each crashes one worker, as any user request does) so that the ranking has its include set.
        false ranks without probing. Check mode never invalidates anything.
    type: bool
    default: true
  collisions:
    description: Rank files declaring a class that another file of the code root declares.
    type: bool
    default: true
  collision_roots:
    description:
      - Code roots scanned for class collisions. Default the deepest common directory of the include
        set, else the release folder of the page script.
    type: list
    elements: path
  ranking_limit:
    description: How many ranking entries to return (0 all).
    type: int
    default: 50
  probe_timeout:
    description: Seconds one probe request may take.
    type: float
    default: 10.0
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Ranking only; probes are made unless O(check_mode_probes=false); nothing is invalidated.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in diff mode) when in diff mode.
    support: none
extends_documentation_fragment:
  - phpfpm.opcache_fleet.opcache_target
  - phpfpm.opcache_fleet.opcache_helper
author:
  - opcache-fleet contributors (@opcache-fleet)
"""

EXAMPLES = r"""
- name: Find the file that makes /a/report.php crash
  opcache_culprit:
    url: http://127.0.0.1/a/report.php
  register: hunt

- name: Rank only, change nothing
  opcache_culprit:
    url: https://shop.example.com/checkout.php
  check_mode: true

- name: Replay the request of an fpm_evidence incident, three files per step
  opcache_culprit:
    incident: "{{ evidence.incidents | first }}"
    group_size: 3
"""

RETURN = r"""
culprit:
  description: Absolute path of the file whose invalidation cured the probe (a list with O(group_size) > 1); null when none.
  returned: always
  type: raw
  sample: /srv/app/releases/a/src/Report/CsvExporter.php
found:
  description: True when a culprit was found.
  returned: always
  type: bool
  sample: true
crashing:
  description: Whether the probe crashed before the hunt (false - nothing to hunt; null - not probed).
  returned: always
  type: bool
  sample: true
probes:
  description: Probe requests made, failing ones included.
  returned: always
  type: int
  sample: 3
steps:
  description: Each invalidation (files, seconds) and the probe after it (status, outcome, seconds, at).
  returned: always
  type: list
  elements: dict
  sample:
    - {step: 1, invalidated: [/srv/app/releases/a/src/Report/CsvExporter.php], invalidate_seconds: 0.0012,
       not_invalidated: [], passed: true,
       probe: {status: 200, outcome: pass, seconds: 0.011, at: 2.05, second: 1795713117}}
candidates_considered:
  description: Number of cached scripts ranked.
  returned: always
  type: int
  sample: 45
ranking:
  description: Candidates in invalidation order (the first O(ranking_limit)).
  returned: always
  type: list
  elements: dict
  sample:
    - {rank: 1, path: /srv/app/releases/a/src/Report/CsvExporter.php, in_include_set: true, twin_differs: true,
       used_elsewhere: false, stale: fresh, collision: false, mtime: 1795713111,
       last_used_timestamp: 1795713117, reasons: ["in the crashing request's include set",
       "cached copy takes 4008 bytes; 2 twin(s) with the same bytes on disk take 3736"]}
twin_suspects:
  description:
    - Cached scripts whose compiled size (C(memory_consumption)) differs from twins with the same bytes on
      disk, the same file in another folder (another release). They rank right after the include set, so
      the hunt needs no stale hint (a deploy that kept the mtime, memory damaged with nothing changed on disk).
  returned: when ranked
  type: list
  elements: str
include_set:
  description: Scripts in every failing probe's include set (null without probes).
  returned: always
  type: list
  elements: str
used_elsewhere:
  description: Scripts seen used by other requests during the ranking.
  returned: when probed
  type: list
  elements: str
probe_log:
  description: Every probe (status, outcome, seconds, at, second; C(log) - what the nginx error log said).
  returned: always
  type: list
  elements: dict
target:
  description: How the URL maps to php-fpm (nginx server, location, pool, master, socket used, script).
  returned: always
  type: dict
  sample: {master_pid: 812, config: /etc/php/8.2/fpm/php-fpm.conf, pool: www,
           location: "~ \\.php$", socket: /run/php/php8.2-fpm.sock,
           script_filename: /srv/app/releases/a/report.php}
cached_scripts:
  description: Scripts cached when the hunt started.
  returned: always
  type: int
  sample: 45
seconds:
  description: Duration of the hunt.
  returned: always
  type: float
  sample: 2.3
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.culprit.errors import HuntError
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.culprit.hunt import Hunt
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.culprit.probe import LogWatch, http_probe, incident_probe, parse_probe_url
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.culprit.routing import serving_target
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.control import open_master
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.errors import ControlError
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.state import save_state, state_key
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.targets import explicit_target
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.helper import HelperError
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.module_args import HELPER_ARGS, SOCKET_ARGS, check_helper_dir

DEFAULT_NGINX_LOG = "/var/log/nginx/error.log"


def build_target(module, request):
    """(target, mapping, nginx error logs, warnings) for the probe request."""
    p = module.params
    if p["socket"]:
        target = explicit_target(p["socket"], master_pid=p["master_pid"], pool=p["pool"],
                                 document_roots_=p["document_roots"])
        logs = p["nginx_error_logs"] or [DEFAULT_NGINX_LOG]
        return target, {"socket_given": p["socket"]}, logs, []
    from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery import masters as proc_masters

    def run(argv, environ_update=None):
        return module.run_command(argv, environ_update=environ_update or {})

    discovered = proc_masters.discover(run_command=run)
    try:
        target, mapping = serving_target(discovered, request, p["document_roots"])
    except HuntError as exc:
        module.fail_json(msg="%s: %s" % (request["url"], exc), cause=exc.cause, changed=False)
    warnings = list(mapping.pop("warnings", []))
    for master in discovered.get("masters") or []:
        if master.get("master_pid") == mapping["master_pid"] and master.get("emergency_restart_threshold"):
            warnings.append("master %s has emergency_restart_threshold=%s: each crashing probe counts towards "
                            "it; a reload empties the cache and ends the hunt"
                            % (mapping["master_pid"], master.get("emergency_restart_threshold")))
    logs = p["nginx_error_logs"] or (discovered.get("nginx") or {}).get("error_logs") or [DEFAULT_NGINX_LOG]
    return target, mapping, logs, warnings


def main():
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type="str"),
            incident=dict(type="dict"),
            expected_status=dict(type="int", default=200),
            connect_address=dict(type="str", default="127.0.0.1"),
            validate_certs=dict(type="bool", default=True),
            **SOCKET_ARGS,
            nginx_error_logs=dict(type="list", elements="path"),
            ranking_probes=dict(type="int", default=2),
            group_size=dict(type="int", default=1),
            max_probes=dict(type="int", default=50),
            check_mode_probes=dict(type="bool", default=True),
            collisions=dict(type="bool", default=True),
            collision_roots=dict(type="list", elements="path"),
            ranking_limit=dict(type="int", default=50),
            probe_timeout=dict(type="float", default=10.0),
            **HELPER_ARGS,
        ),
        mutually_exclusive=[("url", "incident")],
        required_one_of=[("url", "incident")],
        required_by={"pool": "socket", "master_pid": "socket"},
        supports_check_mode=True,
    )
    p = module.params
    check_helper_dir(module)
    if not 0 <= p["ranking_probes"] <= 5:
        module.fail_json(msg="ranking_probes must be between 0 and 5, got %d" % p["ranking_probes"])
    if p["group_size"] < 1:
        module.fail_json(msg="group_size must be 1 or more, got %d" % p["group_size"])
    if p["max_probes"] < max(1, p["ranking_probes"]) + 1:
        module.fail_json(msg="max_probes must exceed ranking_probes (at least %d), got %d"
                         % (max(1, p["ranking_probes"]) + 1, p["max_probes"]))
    if not 100 <= p["expected_status"] <= 599 or p["expected_status"] == 502:
        module.fail_json(msg="expected_status must be an HTTP status other than 502, got %d" % p["expected_status"])
    if p["probe_timeout"] <= 0:
        module.fail_json(msg="probe_timeout must be positive, got %s" % p["probe_timeout"])
    for root in p["collision_roots"] or []:
        if not os.path.isabs(root):
            module.fail_json(msg="collision_roots: %r is not an absolute path" % root)
    try:
        if p["incident"] is not None:
            url, _upstream = incident_probe(p["incident"], p["connect_address"])
        else:
            url = p["url"]
        request = parse_probe_url(url, p["connect_address"], p["validate_certs"])
    except HuntError as exc:
        module.fail_json(msg=str(exc), cause=exc.cause, changed=False)

    target, mapping, logs, warnings = build_target(module, request)
    try:
        session, _first, tried = open_master(target, timeout=p["request_timeout"], helper_dir=p["helper_dir"],
                                             max_answer=p["max_answer_size"])
    except ControlError as exc:
        module.fail_json(msg="%s: cannot reach the php-fpm master serving it: %s" % (url, exc),
                         cause=exc.cause, tried=exc.details.get("tried"), target=mapping, changed=False)

    find = None
    if p["collisions"]:
        from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.php.class_collisions import find_collisions

        def find_in(roots):
            return find_collisions(roots, max_files=20000, workers=1)
        find = find_in

    helper_dir = p["helper_dir"]

    def record(answer, files):
        save_state(helper_dir, state_key(answer), answer.get("status"), files)

    result = {"url": url, "changed": False}
    job = Hunt(
        lambda: http_probe(request, timeout=p["probe_timeout"]), session,
        expected_status=p["expected_status"], ranking_probes=p["ranking_probes"],
        group_size=p["group_size"], max_probes=p["max_probes"], check_mode=module.check_mode,
        check_mode_probes=p["check_mode_probes"], log_watch=LogWatch(logs), find_collisions=find,
        collision_roots=p["collision_roots"], script_filename=mapping.get("script_filename"),
        uri=request["uri"], ranking_limit=p["ranking_limit"], on_invalidated=record)
    try:
        try:
            result.update(job.run())
        finally:
            session.close()
    except (HuntError, ControlError) as exc:
        module.fail_json(msg="%s: %s" % (url, exc), cause=exc.cause, target=mapping,
                         changed=bool(job.invalidated), invalidated=sorted(job.invalidated), probes=job.probes)
    except HelperError as exc:
        module.fail_json(msg="%s: the helper failed during the hunt: %s" % (url, exc), cause=exc.cause,
                         target=mapping, changed=bool(job.invalidated), invalidated=sorted(job.invalidated),
                         probes=job.probes)
    mapping = dict(mapping)
    mapping["socket"] = result.pop("socket", None)
    mapping["pool_used"] = result.pop("pool", None)
    mapping["master_pid"] = mapping.get("master_pid") or result.get("master_pid")
    result.pop("master_pid", None)
    result["target"] = mapping
    if tried:
        result["unusable_sockets"] = tried
    for w in warnings + result.pop("warnings", []) + list(getattr(session, "warnings", [])):
        module.warn(w)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
