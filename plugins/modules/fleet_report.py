#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# opcache-fleet: judge every host's diagnose results and write the fleet report on the controller.
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: fleet_report
short_description: Verdicts per host, pool and release folder, written as the fleet report
description:
  - Takes the raw results the C(diagnose) role collected on every host (discovery, evidence,
    OPcache status, class collisions, release folders), gives each host, pool and release folder
    a verdict (C(opcache_suspect), C(misconfig), C(capacity), C(timeouts), C(healthy)) with its
    reasons and the next step as a command line, and writes C(report.json), C(report.md) and
    C(report.html) into a new directory C(<output_dir>/<UTC timestamp>/).
  - Hosts without results are listed as C(unreachable), C(failed) or C(no_result); the report is
    written for the others.
  - "Meant to run once on the controller (C(delegate_to: localhost) and C(run_once))."
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
    description: Directory under which the timestamped report directory is created.
    type: path
    required: true
  window:
    description: The evidence window asked for, reported as is (C({since, until})).
    type: dict
    default: {}
  inventory_args:
    description: Words added to every suggested command (for example C([-i, inventories/prod])).
    type: list
    elements: str
    default: []
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
  check_mode:
    support: full
    description:
      - The report is the play's output on the controller, not a change to a managed host, so it is
        written in check mode too, and C(changed) is always false.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in diff mode) when in diff mode.
    support: none
notes:
  - Every string that comes from a host is escaped in the HTML and put in code spans in the Markdown.
"""

EXAMPLES = r"""
- name: Write the fleet report
  fleet_report:
    hosts: "{{ diagnose_hosts }}"
    output_dir: "{{ playbook_dir }}/../reports"
    window: {since: 24h}
  delegate_to: localhost
  run_once: true
  register: fleet
"""

RETURN = r"""
report_dir:
  description: The directory written.
  returned: success
  type: str
  sample: /work/opcache-fleet/reports/20261126T171500Z
files:
  description: Paths of report.json, report.md and report.html.
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
  description: Host name -> verdict.
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
  sample: 1
"""

import datetime
import json
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.assembly import CommandContext, build_report, summary_lines
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.render import render_html, render_json, render_markdown


def write_report(report, base_dir, stamp, raw=None):
    """Create base_dir/stamp (suffix -2, -3 ... when taken) and write the three files."""
    directory = os.path.join(base_dir, stamp)
    n = 1
    while os.path.exists(directory):
        n += 1
        directory = os.path.join(base_dir, "%s-%d" % (stamp, n))
    os.makedirs(directory)
    files = {}
    for ext, render in (("json", render_json), ("md", render_markdown), ("html", render_html)):
        path = os.path.join(directory, "report." + ext)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(render(report))
        os.rename(tmp, path)
        files[ext] = path
    if raw is not None:
        path = os.path.join(directory, "raw-hosts.json")
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(raw, fh, indent=1, sort_keys=True, default=str)
        files["raw"] = path
    return directory, files


def main():
    module = AnsibleModule(
        argument_spec=dict(
            hosts=dict(type="list", elements="dict", required=True),
            output_dir=dict(type="path", required=True),
            window=dict(type="dict", default={}),
            inventory_args=dict(type="list", elements="str", default=[]),
            target=dict(type="str"),
            thresholds=dict(type="dict", default={}),
            stale_cap=dict(type="int", default=50),
            timestamp=dict(type="str"),
            keep_raw=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    p = module.params
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    stamp = p["timestamp"] or now.strftime("%Y%m%dT%H%M%SZ")
    if os.sep in stamp or stamp.startswith("."):
        module.fail_json(msg="timestamp must be a plain name such as 20261126T171500Z, got %r" % stamp)
    bad = [k for k, v in p["thresholds"].items() if k not in ("misconfig", "capacity", "timeouts")
           or not isinstance(v, int) or v < 1]
    if bad:
        module.fail_json(msg="thresholds: keys must be misconfig, capacity or timeouts with an integer >= 1; "
                             "bad: %s" % ", ".join(sorted(bad)))
    for i, h in enumerate(p["hosts"]):
        if not h.get("host"):
            module.fail_json(msg="hosts[%d] has no host name" % i)
    ctx = CommandContext(inventory_args=p["inventory_args"], target=p["target"])
    report = build_report(p["hosts"], generated_at=now.strftime("%Y-%m-%dT%H:%M:%SZ"), window=p["window"],
                          ctx=ctx, thresholds=p["thresholds"], check_mode=module.check_mode,
                          stale_cap=p["stale_cap"])
    try:
        directory, files = write_report(report, p["output_dir"], stamp,
                                        raw=p["hosts"] if p["keep_raw"] else None)
    except (IOError, OSError) as exc:
        module.fail_json(msg="output_dir %s: cannot write the report: %s" % (p["output_dir"], exc))
    module.exit_json(changed=False, report_dir=directory, files=files, summary=summary_lines(report),
                     verdicts=dict((h["name"], h["verdict"]) for h in report["hosts"]),
                     resolved_by_reset=report["fleet"]["resolved_by_reset"],
                     crashes_after_reset=report["fleet"]["crashes_after_reset"],
                     schema_version=report["schema_version"])


if __name__ == "__main__":
    main()
