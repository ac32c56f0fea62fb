# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""fleet_report: judge every host's diagnose results and write the report, on the controller.

An action plugin, not a module: the work is the controller's (its files, its current
directory, its inventory), so it needs no ``delegate_to: localhost`` and its check mode
can be honest: under ``--check`` nothing is written, ``changed`` says that the report would
be, and the verdicts and summary are returned all the same. The documentation is in
plugins/modules/fleet_report.py.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os

from ansible import constants as C
from ansible import context
from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.assembly import CommandContext, build_report, summary_lines
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.render import render_html, render_json, render_markdown

ARGUMENT_SPEC = dict(
    hosts=dict(type="list", elements="dict", required=True),
    output_dir=dict(type="path", default="reports"),
    window=dict(type="dict", default={}),
    inventory_args=dict(type="list", elements="str"),
    target=dict(type="str"),
    playbooks=dict(type="dict"),
    thresholds=dict(type="dict", default={}),
    stale_cap=dict(type="int", default=50),
    timestamp=dict(type="str"),
    keep_raw=dict(type="bool", default=False),
)

# The playbooks next steps name, by the key next_steps uses.
PLAYBOOK_FILES = {"reset": "emergency_reset", "hunt": "culprit_hunt", "diagnose": "diagnose"}


def _below(path, directory):
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


def _shown_path(path, cwd):
    """``path`` relative to ``cwd`` when it lies under it, else absolute: what to paste there."""
    path = os.path.abspath(path)
    return os.path.relpath(path, cwd) if _below(path, cwd) else path


def _collection_name():
    """ns.name of the collection this plugin was loaded from (ansible_collections.<ns>.<name>...)."""
    parts = __name__.split(".")
    return "%s.%s" % (parts[1], parts[2]) if len(parts) > 3 and parts[0] == "ansible_collections" else None


def suggested_playbooks(playbook_dir, cwd, collection=None):
    """How next steps name the reset, hunt and diagnose playbooks.

    The copies beside the running playbook when it is a checkout's (by path, relative to the
    current directory when below it), so a command pasted there runs the same code; else,
    from an installed collection or a user's own playbook, by FQCN of ``collection``
    (default: the collection this plugin came from), which resolves wherever it is installed.
    """
    collection = collection or _collection_name()
    parts = os.path.normpath(playbook_dir or "").split(os.sep)
    installed = len(parts) >= 4 and parts[-4] == "ansible_collections"
    if installed:
        collection = "%s.%s" % (parts[-3], parts[-2])
    out = {}
    for key, name in PLAYBOOK_FILES.items():
        path = os.path.join(playbook_dir or "", name + ".yml")
        if playbook_dir and not installed and os.path.isfile(path):
            out[key] = _shown_path(path, cwd)
        elif collection:
            out[key] = "%s.%s" % (collection, name)
    return out


def suggested_inventory(sources, default_sources, cwd):
    """``-i`` words for the suggested commands: none when the play used the configured default
    inventory (the command then finds it the same way), else each source the play used."""
    sources = [s for s in (sources or []) if s]
    real = [os.path.realpath(s) for s in sources]
    if real == [os.path.realpath(s) for s in (default_sources or []) if s]:
        return []
    words = []
    for s in sources:
        words += ["-i", _shown_path(s, cwd) if os.path.exists(s) else s]
    return words


def check_arguments(params):
    """The errors of arguments the spec cannot express (a list of messages, empty when fine)."""
    errors = []
    stamp = params.get("timestamp")
    if stamp is not None and (not stamp or os.sep in stamp or stamp.startswith(".")):
        errors.append("timestamp must be a plain name such as 20261126T171500Z, got %r" % stamp)
    bad = [k for k, v in params["thresholds"].items() if k not in ("misconfig", "capacity", "timeouts")
           or not isinstance(v, int) or isinstance(v, bool) or v < 1]
    if bad:
        errors.append("thresholds: keys must be misconfig, capacity or timeouts with an integer >= 1; "
                      "bad: %s" % ", ".join(sorted(bad)))
    for i, h in enumerate(params["hosts"]):
        if not h.get("host"):
            errors.append("hosts[%d] has no host name" % i)
    bad = sorted(k for k in (params.get("playbooks") or {}) if k not in PLAYBOOK_FILES)
    if bad:
        errors.append("playbooks: keys must be %s; bad: %s" % (", ".join(sorted(PLAYBOOK_FILES)), ", ".join(bad)))
    return errors


def report_directory(base_dir, stamp):
    """base_dir/stamp, or stamp-2, -3 ... when taken (two runs in the same second)."""
    directory = os.path.join(base_dir, stamp)
    n = 1
    while os.path.exists(directory):
        n += 1
        directory = os.path.join(base_dir, "%s-%d" % (stamp, n))
    return directory


def write_report(report, directory, raw=None):
    """Create ``directory`` (mode 0700) and write the three files (and raw-hosts.json), mode 0600:
    they hold client addresses, request lines and paths from the hosts' logs, which are not for
    every local user of the controller. Each file appears whole or not at all (written beside,
    then renamed); an existing directory or file is never written into."""
    parent = os.path.dirname(directory)
    if not os.path.isdir(parent):
        os.makedirs(parent)
    os.mkdir(directory, 0o700)
    os.chmod(directory, 0o700)  # mkdir's mode is masked by the umask; this one is meant
    files = {}
    renders = [("json", "report.json", render_json), ("md", "report.md", render_markdown),
               ("html", "report.html", render_html)]
    if raw is not None:
        renders.append(("raw", "raw-hosts.json",
                        lambda _r: json.dumps(raw, indent=1, sort_keys=True, default=str)))
    for key, name, render in renders:
        path = os.path.join(directory, name)
        fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(render(report))
        os.rename(path + ".tmp", path)
        files[key] = path
    return files


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        dummy, p = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        errors = check_arguments(p)
        if errors:
            raise AnsibleActionFail("; ".join(errors))

        cwd = os.getcwd()
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        stamp = p["timestamp"] or now.strftime("%Y%m%dT%H%M%SZ")
        playbooks = suggested_playbooks(task_vars.get("playbook_dir"), cwd)
        playbooks.update(p["playbooks"] or {})
        inventory = p["inventory_args"]
        if inventory is None:
            inventory = suggested_inventory(task_vars.get("ansible_inventory_sources"), C.DEFAULT_HOST_LIST, cwd)
        ctx = CommandContext(inventory_args=inventory, target=p["target"], playbooks=playbooks)
        try:
            report = build_report(p["hosts"], generated_at=now.strftime("%Y-%m-%dT%H:%M:%SZ"), window=p["window"],
                                  ctx=ctx, thresholds=p["thresholds"],
                                  check_mode=bool(context.CLIARGS.get("check")) or self._task.check_mode,
                                  stale_cap=p["stale_cap"])
        except ValueError as exc:  # a next step that would carry a template (report/next_steps.py)
            raise AnsibleActionFail("cannot write the report: %s" % exc)
        directory = report_directory(os.path.abspath(p["output_dir"]), stamp)
        summary = summary_lines(report)
        result.update(changed=True, report_dir=directory, summary=summary,
                      verdicts=dict((h["name"], h["verdict"]) for h in report["hosts"]),
                      resolved_by_reset=report["fleet"]["resolved_by_reset"],
                      crashes_after_reset=report["fleet"]["crashes_after_reset"],
                      schema_version=report["schema_version"])
        if self._task.check_mode:
            result.update(written=False, files={},
                          msg="check mode: the report was not written; it would go to %s" % directory)
            return result
        try:
            files = write_report(report, directory, raw=p["hosts"] if p["keep_raw"] else None)
        except (IOError, OSError) as exc:
            raise AnsibleActionFail("output_dir %s: cannot write the report: %s" % (p["output_dir"], exc))
        result.update(written=True, files=files, msg="report written to %s" % directory)
        return result
