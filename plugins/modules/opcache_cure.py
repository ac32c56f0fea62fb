#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# opcache-fleet: cure crashing pages with the least disruptive step that works, watched.
from __future__ import absolute_import, division, print_function

DOCUMENTATION = r"""
---
module: opcache_cure
short_description: Cure crashing PHP pages with the least disruptive step that works, watching after each
description:
  - For each php-fpm master that serves one of the failing O(urls) (found through nginx's routing, as
    M(phpfpm.opcache_fleet.opcache_culprit) does), climbs the ladder stale invalidation, full
    C(opcache_reset()), graceful reload, restart, and stops at the first step after which the watch passes.
  - The watch probes the master's failing pages through the local nginx for O(watch_seconds), stopping at the
    first answer other than O(expected_status). One second later it reads the master's php-fpm log where
    M(phpfpm.opcache_fleet.diagnose_host) reads it (its error_log file, where its standard error goes, or the
    journal for syslog) for workers that died on a crash signal (SIGSEGV, SIGBUS, SIGABRT...; not the
    SIGQUIT/SIGTERM of a reload or restart). Journal entries count only from the master's own process, so PHP
    code or a local user writing php-fpm-like lines cannot forge a crash. The watch passes when every probe
    answered and no worker crashed. When the log cannot be read, the pages alone decide and C(watched_by) says
    so.
  - A watch runs first. When it passes, nothing is done (C(outcome=healthy)), so a second run changes nothing.
  - The master's OPcache settings, read before any step, decide the path. With C(opcache.preload), the full
    reset is skipped, because a reset puts preloaded scripts back. With C(opcache.file_cache), the full reset,
    the reload and the restart empty the file cache first, because it survives them all; the restart empties it
    while php-fpm is stopped. With C(opcache.file_cache_only=1), the full reset is skipped. With OPcache
    disabled, stale and full are skipped. With the JIT on, the advice of a ladder that did not cure names it.
  - Each step is verified as in M(phpfpm.opcache_fleet.opcache_reset). A step whose request met a worker that
    went away is tried again with backoff (O(retries)). A step that cannot run or is not verified is no cure,
    so the next one is tried, and the error is kept in the step.
  - Workers that died while a step ran are reported in C(crashes_during_step), because a reset or a reload
    under load can itself crash workers (php-src #14471, #8143).
  - Fails when a master is not cured after the last allowed step. C(advice) says what to do next.
options:
  urls:
    description:
      - The failing pages, as absolute C(http://) or C(https://) URLs. Each is requested from the host itself at
        O(connect_address), with the URL's host as C(Host) header and TLS server name.
      - Each master is watched through the pages it serves.
    type: list
    elements: str
    required: true
  expected_status:
    description: The HTTP status a cured page answers.
    type: int
    default: 200
  connect_address:
    description: The address of the local nginx that the probes connect to.
    type: str
    default: 127.0.0.1
  validate_certs:
    description: Check the TLS certificate of C(https://) pages. Set C(false) to accept a self-signed one.
    type: bool
    default: true
  steps:
    description:
      - The steps the ladder may use, always climbed in the order stale, full, reload, restart.
      - Leave C(restart) out where a restart must be left to people.
    type: list
    elements: str
    choices: [stale, full, reload, restart]
    default: [stale, full, reload, restart]
  watch_seconds:
    description:
      - How long the watch after a step (and the first watch) probes the pages. The first failing answer ends
        a watch at once.
    type: float
    default: 10
  watch_interval:
    description: Seconds between two rounds of probes during a watch.
    type: float
    default: 1
  retries:
    description: How many times a step is tried again when its request met a worker that went away (0 to 10).
    type: int
    default: 3
  timeout:
    description: Seconds to wait for the verification of one step.
    type: float
    default: 30
  probe_timeout:
    description: Seconds one probe request may take.
    type: float
    default: 10
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - Runs the first watch as one round of probes (each GET of a crashing page crashes one worker, as any
        user request does), reads the settings and reports the path. No step runs.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in diff mode) when in diff mode.
    support: none
notes:
  - The reload and the restart need php-fpm under systemd (the unit comes from discovery or the master's
    cgroup).
  - docs/cure.md has the cost of each step measured on the lab under load.
extends_documentation_fragment:
  - phpfpm.opcache_fleet.opcache_target
  - phpfpm.opcache_fleet.opcache_helper
seealso:
  - module: phpfpm.opcache_fleet.opcache_reset
  - module: phpfpm.opcache_fleet.opcache_culprit
author:
  - opcache-fleet contributors (@opcache-fleet)
"""

EXAMPLES = r"""
- name: Cure the page that answers 502, least disruptive step first
  opcache_cure:
    urls: [http://shop.example.com/report.php]

- name: Never restart, watch 30 s after each step
  opcache_cure:
    urls: [https://shop.example.com/checkout/]
    steps: [stale, full, reload]
    watch_seconds: 30
"""

RETURN = r"""
masters:
  description: One entry per master that serves a failing page.
  returned: always
  type: list
  elements: dict
  sample:
    - master_pid: 812
      config: /etc/php/8.2/fpm/php-fpm.conf
      urls: [http://127.0.0.1/b/report.php]
      settings: {enabled: true, preload: null, file_cache: null, file_cache_only: false, jit: tracing,
                 jit_active: false}
      outcome: cured
      cured_by: full
      changed: true
      before: {passed: false, probes: 1, answers: {crash: 1}, crashes: 1, watched_by: pages and php-fpm log}
      path:
        - {step: stale, outcome: nothing_to_do, result: {changed: false, note: "nothing to invalidate"}}
        - {step: full, outcome: cured, result: {changed: true, verified: true},
           watch: {passed: true, probes: 10, answers: {pass: 10}, crashes: 0}}
        - {step: reload, outcome: not_needed}
        - {step: restart, outcome: not_needed}
cured:
  description: Whether every master serving a failing page is healthy now (healthy before, or cured).
  returned: always
  type: bool
outcomes:
  description: How many masters ended in each outcome (healthy, cured, not_cured, would_cure).
  returned: always
  type: dict
  sample: {cured: 1}
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.culprit.errors import HuntError
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.culprit.probe import parse_probe_url
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.culprit.routing import serving_target
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.cure.ladder import cure_master
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.cure.path import STEPS, advice, cure_settings, plan_path
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.cure.steps import Steps
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.cure.watch import CrashLog, crash_source, watch_pages
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.control import first_answer
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.errors import ControlError
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.helper import HelperError
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.module_args import HELPER_ARGS, SOCKET_ARGS, check_helper_dir
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.targets import explicit_target


def validate(module):
    p = module.params
    check_helper_dir(module)
    if not p["urls"]:
        module.fail_json(msg="urls must name at least one failing page")
    if not p["steps"]:
        module.fail_json(msg="steps must allow at least one of %s" % ", ".join(STEPS))
    if not 100 <= p["expected_status"] <= 599 or p["expected_status"] == 502:
        module.fail_json(msg="expected_status must be an HTTP status other than 502, got %d" % p["expected_status"])
    for name in ("timeout", "probe_timeout", "watch_interval"):
        if p[name] <= 0:
            module.fail_json(msg="%s must be positive, got %s" % (name, p[name]))
    if p["watch_seconds"] < 0:
        module.fail_json(msg="watch_seconds must be 0 or more, got %s" % p["watch_seconds"])
    if not 0 <= p["retries"] <= 10:
        module.fail_json(msg="retries must be between 0 and 10, got %d" % p["retries"])
    requests = []
    for url in p["urls"]:
        try:
            requests.append(parse_probe_url(url, p["connect_address"], p["validate_certs"]))
        except HuntError as exc:
            module.fail_json(msg=str(exc), cause=exc.cause, changed=False)
    return requests


def masters_for(module, requests):
    """[(target, [requests it serves])]: the masters nginx passes the pages to."""
    p = module.params
    if p["socket"]:
        return [(explicit_target(p["socket"], master_pid=p["master_pid"], pool=p["pool"],
                                 document_roots_=p["document_roots"]), requests)]
    from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery import masters as proc_masters

    def run(argv, environ_update=None):
        return module.run_command(argv, environ_update=environ_update or {})

    discovered = proc_masters.discover(run_command=run)
    out = {}
    order = []
    for req in requests:
        try:
            target, mapping = serving_target(discovered, req, p["document_roots"])
        except HuntError as exc:
            module.fail_json(msg="%s: %s" % (req["url"], exc), cause=exc.cause, changed=False)
        for w in mapping.get("warnings") or []:
            module.warn(w)
        pid = mapping["master_pid"]
        if pid not in out:
            out[pid] = (target, [])
            order.append(pid)
        out[pid][1].append(req)
    return [out[pid] for pid in order]


def read_settings(module, target):
    """The settings that decide the path, read through the pool; None and why when unreadable."""
    p = module.params
    try:
        answer = first_answer(target, p["request_timeout"], p["helper_dir"], p["max_answer_size"])
    except (ControlError, HelperError) as exc:
        return None, str(exc)
    return cure_settings((answer.get("configuration") or {}).get("directives"), answer.get("status")), None


def cure_one(module, target, requests, journal):
    p = module.params
    settings, why = read_settings(module, target)
    entry = {"master_pid": target.get("master_pid"), "config": target.get("config"),
             "php_version": target.get("php_version"), "systemd_unit": target.get("systemd_unit"),
             "urls": [r["url"] for r in requests], "settings": settings}
    if settings is None:
        # FastCGI cannot be used: the OPcache steps will fail and the ladder goes on to the reload
        entry["settings_error"] = why
        settings = {"enabled": True, "preload": None, "file_cache": None, "file_cache_only": False, "jit": None,
                    "jit_active": False}
    plan = plan_path(settings, p["steps"])
    crash_log = CrashLog(crash_source(target, journal), run_command=module.run_command)
    seconds = 0 if module.check_mode else p["watch_seconds"]

    def watch():
        return watch_pages(requests, crash_log, seconds, p["watch_interval"], p["expected_status"],
                           probe_timeout=p["probe_timeout"])

    steps = Steps(target, module.run_command, timeout=p["timeout"], request_timeout=p["request_timeout"],
                  helper_dir=p["helper_dir"], max_answer=p["max_answer_size"])
    entry.update(cure_master(plan, steps, watch, crash_log, check_mode=module.check_mode, retries=p["retries"]))
    entry["crash_log"] = dict((k, crash_log.source.get(k)) for k in ("kind", "source", "reason"))
    if target.get("master_pid") != entry["master_pid"]:
        entry["new_master_pid"] = target.get("master_pid")
    if entry["outcome"] == "not_cured":
        entry["advice"] = advice(settings, plan)
    return entry


def main():
    module = AnsibleModule(
        argument_spec=dict(
            urls=dict(type="list", elements="str", required=True),
            expected_status=dict(type="int", default=200),
            connect_address=dict(type="str", default="127.0.0.1"),
            validate_certs=dict(type="bool", default=True),
            steps=dict(type="list", elements="str", choices=list(STEPS), default=list(STEPS)),
            watch_seconds=dict(type="float", default=10.0),
            watch_interval=dict(type="float", default=1.0),
            retries=dict(type="int", default=3),
            timeout=dict(type="float", default=30.0),
            probe_timeout=dict(type="float", default=10.0),
            **dict(SOCKET_ARGS, **HELPER_ARGS)
        ),
        required_by={"pool": "socket", "master_pid": "socket"},
        supports_check_mode=True,
    )
    requests = validate(module)
    started = time.monotonic()
    journal = module.get_bin_path("journalctl")
    results = [cure_one(module, target, reqs, journal) for target, reqs in masters_for(module, requests)]
    outcomes = {}
    for r in results:
        outcomes[r["outcome"]] = outcomes.get(r["outcome"], 0) + 1
        if r.get("before", {}).get("watched_by") == "pages only":
            module.warn("master %s: its php-fpm log could not be read (%s): the watch used the pages alone"
                        % (r["master_pid"], r["crash_log"].get("reason")))
    result = dict(
        changed=any(r["changed"] or r["outcome"] == "would_cure" for r in results),
        masters=results,
        cured=all(r["outcome"] in ("healthy", "cured") for r in results),
        outcomes=outcomes,
        elapsed=round(time.monotonic() - started, 3),
    )
    bad = [r for r in results if r["outcome"] == "not_cured"]
    if bad:
        module.fail_json(msg="; ".join(
            "master %s: %s still failing after %s" % (
                r["master_pid"], ", ".join(r["urls"]),
                ", ".join("%s (%s)" % (e["step"], e.get("outcome")) for e in r["path"]) or "no allowed step")
            for r in bad), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
