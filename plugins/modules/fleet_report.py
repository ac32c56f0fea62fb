#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# opcache-fleet: judge every host's diagnose results and write the fleet report on the controller.
# Documentation only: the work is done by the action plugin plugins/action/fleet_report.py.
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: fleet_report
short_description: Verdicts per host, pool and release folder, written as the fleet report
description:
  - Takes the raw results the C(diagnose) role collected on every host (discovery, evidence,
    OPcache status, class collisions, release folders), gives each host, pool and release folder
    a verdict (C(down), C(opcache_suspect), C(misconfig), C(capacity), C(timeouts), C(unexplained),
    C(healthy)) with its reasons and the next step as a command line, and writes C(report.json),
    C(report.md) and C(report.html) into a new directory C(<output_dir>/<UTC timestamp>/).
  - C(down) is a php-fpm master that nginx routes to and that is not running (first, before any
    other verdict). C(unexplained) is a scope that cannot be called healthy on its evidence, with
    nginx 502s of a crash's kind (connection reset or closed by php-fpm) that no crash explains, or
    a php-fpm master whose crash log was not read. C(healthy) needs every crash log read and every
    such 502 tied to a crash.
  - Hosts without results are listed as C(unreachable), C(failed) or C(no_result); the report is
    written for the others.
  - An action plugin, run on the controller (no C(delegate_to) needed); it reads no managed
    host. Run it once per play (C(run_once)) with the records of every host.
  - The next steps name the reset, hunt and diagnose playbooks beside the playbook that runs this
    task when it runs from a checkout (by path), else by FQCN (C(phpfpm.opcache_fleet.emergency_reset)).
  - The schema of C(report.json) is documented in C(docs/report-schema.md).
version_added: "0.1.0"
author:
  - opcache-fleet contributors (@opcache-fleet)
options:
  hosts:
    description:
      - One raw record per host, in the order the report lists them. Each has C(host) and C(status)
        (C(ok), C(unreachable), C(failed), C(no_result)); C(ok) records carry C(discovery),
        C(evidence), C(opcache), C(collisions), C(releases) (document root -> sub-directories),
        C(collision_roots), C(errors) and C(opcache_invalidations) (the slurped
        C(/var/lib/opcache-fleet/invalidated.json) of M(phpfpm.opcache_fleet.opcache_reset), C(content) in base64, or C(msg) when absent).
    type: list
    elements: dict
    required: true
  output_dir:
    description:
      - Directory under which the timestamped report directory is created; created when missing.
      - A relative path is relative to the current directory of C(ansible-playbook).
    type: path
    default: reports
  window:
    description: The evidence window asked for, reported as is (C({since, until})).
    type: dict
    default: {}
  inventory_args:
    description:
      - Words added to every suggested command (for example C([-i, inventories/prod])).
      - Default, the inventory sources of the play as C(-i) words (relative to the current directory
        when below it), or none when the play used the configured default inventory.
    type: list
    elements: str
  playbooks:
    description:
      - How suggested commands name the playbooks, by key C(reset), C(hunt), C(diagnose)
        (for example C(reset=site/emergency_reset.yml)); keys not given keep the default.
    type: dict
  target:
    description: The C(target) the play ran with; added as C(-e target=...) to the suggested commands unless C(webservers).
    type: str
  thresholds:
    description: Events needed for C(misconfig), C(capacity), C(timeouts) (default 1 each).
    type: dict
    default: {}
  stale_cap:
    description: Most stale scripts listed per master.
    type: int
    default: 50
  keep_raw:
    description: Also write C(raw-hosts.json), the input records as received (for bug reports and test fixtures).
    type: bool
    default: false
  timestamp:
    description: Name the directory after this UTC time (C(YYYYmmddTHHMMSSZ)) instead of now; tests use it.
    type: str
attributes:
  action:
    support: full
    description: Runs on the controller as an action plugin.
  check_mode:
    support: full
    description:
      - In check mode nothing is written; C(changed) is true (the report would be written),
        C(report_dir) names the directory it would be, and the verdicts and summary are returned.
  async:
    support: none
    description: Not async.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in diff mode) when in diff mode.
    support: none
notes:
  - Every string that comes from a host is escaped in the HTML and put in code spans in the Markdown.
"""

EXAMPLES = r"""
- name: Write the fleet report
  phpfpm.opcache_fleet.fleet_report:
    hosts: "{{ diagnose_hosts }}"
    output_dir: /var/tmp/opcache-reports
    window: {since: 24h}
  run_once: true
  register: fleet
"""

RETURN = r"""
report_dir:
  description: The directory written (in check mode, the one that would be).
  returned: success
  type: str
  sample: /work/opcache-fleet/reports/20261126T171500Z
written:
  description: Whether the report files were written (false in check mode).
  returned: success
  type: bool
  sample: true
files:
  description: Paths of report.json, report.md and report.html (and raw-hosts.json with O(keep_raw)); empty in check mode.
  returned: success
  type: dict
  sample: {json: .../report.json, md: .../report.md, html: .../report.html}
summary:
  description: The short summary (one line for the fleet, one per host, its non-healthy release folders and next steps).
  returned: success
  type: list
  elements: str
  sample: ["fleet: 3 host(s): healthy 2, opcache_suspect 1", "lab-web2: opcache_suspect (high) - 5 nginx 502s tied to ..."]
verdicts:
  description: Host name -> verdict (C(down), C(opcache_suspect), C(misconfig), C(capacity), C(timeouts),
    C(unexplained), C(healthy); C(unreachable), C(failed), C(no_result) for a host without result).
  returned: success
  type: dict
  sample: {lab-web1: healthy, lab-web2: opcache_suspect}
resolved_by_reset:
  description:
    - Hosts whose crashes stopped after OPcache was reset, restarted or the files invalidated (their verdict
      stays C(opcache_suspect) with the evidence; priority low, next step verify the page).
  returned: success
  type: list
  elements: str
  sample: [lab-web2]
crashes_after_reset:
  description: Hosts where a crash or crash 502 was logged after such a reset (the reset did not cure it).
  returned: success
  type: list
  elements: str
  sample: []
schema_version:
  description: Schema version of report.json.
  returned: success
  type: int
  sample: 2
"""
