#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# opcache-fleet: gather a host's crash evidence in the form php-src maintainers ask for.
from __future__ import absolute_import, division, print_function

DOCUMENTATION = r"""
---
module: evidence_bundle
short_description: Gather the crash evidence of one host for a php-src bug report, redacted
description:
  - Reads, in one call, what a php-src bug report about a php-fpm crash needs, and returns it as
    named text files with a manifest that says what each holds and why, and what could not be
    gathered and why. The playbook C(evidence_bundle.yml) writes them into
    C(bundles/<host>-<UTC time>.tar.gz) on the controller.
  - The files are C(php-v.txt) (each master's binary with C(-v)); C(zend_extensions.txt) (per master,
    in load order, as the running pool reports them); C(opcache-<master pid>.json) (OPcache status and
    configuration, read before anything is reset, and the master's APCu state); C(file_cache.txt) (the
    listing of each configured C(opcache.file_cache)); C(crash_lines.txt) (every crash line with
    O(context) lines around it, from every log file the evidence came from); C(kernel_offsets.json)
    (for each kernel fault line, the offset of the faulting instruction inside its object);
    C(coredumps.json) and C(coredump-info-<pid>.txt) (what systemd-coredump holds of PHP);
    C(gdb-<pid>.txt) (a C(gdb -batch) backtrace with php-src's C(zbacktrace) where gdb and its
    C(.gdbinit) are present); C(evidence.json) (the classified events and incidents).
  - Client addresses, every IP address that is not loopback, cookies and session or token values are
    replaced in every text file; the manifest counts the replacements.
  - Read-only. As in C(diagnose.yml), the OPcache helper is written to a
    random directory under O(helper_dir) and removed in every case; nothing else is written.
options:
  since:
    description: Start of the evidence window (as M(phpfpm.opcache_fleet.fpm_evidence) takes it).
    type: str
    default: 24h
  context:
    description: Lines kept before and after each crash line.
    type: int
    default: 3
  max_crash_lines:
    description: Crash lines shown with their neighbours, the newest kept per file.
    type: int
    default: 200
  max_cores:
    description: PHP core dumps described (and debugged with gdb), the newest.
    type: int
    default: 5
  helper_dir:
    description: Where the temporary OPcache helper is written (and removed).
    type: path
    default: /var/lib/opcache-fleet
  request_timeout:
    description: Seconds per FastCGI request to a pool.
    type: float
    default: 10
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: The module changes nothing in any mode.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in diff mode) when in diff mode.
    support: none
author:
  - opcache-fleet contributors (@opcache-fleet)
"""

EXAMPLES = r"""
- name: Gather the evidence of the last 6 hours
  phpfpm.opcache_fleet.evidence_bundle:
    since: 6h
  register: bundle

- name: Show what is in it
  ansible.builtin.debug:
    msg: "{{ bundle.manifest.files | map(attribute='name') | list }}"
"""

RETURN = r"""
files:
  description: The bundle's files, each with its name, its text and why it is there.
  returned: success
  type: list
  elements: dict
  sample: [{name: php-v.txt, why: "the PHP build of each master", content: "== /usr/sbin/php-fpm8.2 ..."}]
manifest:
  description:
    - C(host), C(generated_at) (UTC), C(window); C(files) (name, why, bytes, redactions); C(not_included)
      (what could not be gathered, and why); C(redaction) (what is replaced).
  returned: success
  type: dict
  sample:
    host: web-01
    files: [{name: crash_lines.txt, why: "...", bytes: 5120, redactions: 12}]
    not_included: [{what: gdb backtrace, why: gdb is not installed}]
"""

import datetime
import os
import shutil

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.bundle.collect import gather
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.diagnose.host import StepError
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.runner import make_runner
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.module_args import check_helper_dir


def main():
    module = AnsibleModule(
        argument_spec=dict(
            since=dict(type="str", default="24h"),
            context=dict(type="int", default=3),
            max_crash_lines=dict(type="int", default=200),
            max_cores=dict(type="int", default=5),
            helper_dir=dict(type="path", default="/var/lib/opcache-fleet"),
            request_timeout=dict(type="float", default=10.0),
        ),
        supports_check_mode=True,
    )
    p = module.params
    check_helper_dir(module)
    for name in ("context", "max_crash_lines", "max_cores"):
        if p[name] < 0:
            module.fail_json(msg="%s must be 0 or more; got %d" % (name, p[name]))
    if p["request_timeout"] <= 0:
        module.fail_json(msg="request_timeout must be more than 0 seconds; got %s" % p["request_timeout"])
    try:
        files, manifest = gather(module, make_runner(module), p, which=shutil.which)
    except StepError as exc:
        module.fail_json(msg=str(exc))
    manifest["host"] = os.uname()[1]
    manifest["generated_at"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    module.exit_json(changed=False, files=files, manifest=manifest)


if __name__ == "__main__":
    main()
