# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Next steps of the report: the commands a human runs after reading a verdict.

Private to opcache-fleet. Standard library only. Every word that can come from a host (a
crash path, a Host header) is shell-quoted: the commands are meant to be pasted.
"""
from __future__ import absolute_import, division, print_function

import json
from shlex import quote as _shell_quote

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.figures import top_paths

__metaclass__ = type

DEFAULT_PLAYBOOKS = {
    "reset": "playbooks/emergency_reset.yml",
    "hunt": "playbooks/culprit_hunt.yml",
    "diagnose": "playbooks/diagnose.yml",
}


def shell_join(words):
    return " ".join(_shell_quote(str(w)) for w in words)


class CommandContext(object):
    """How the commands in next steps are written (inventory, target, playbook paths)."""

    def __init__(self, inventory_args=None, target=None, playbooks=None):
        self.inventory_args = list(inventory_args or [])
        self.target = target
        self.playbooks = dict(DEFAULT_PLAYBOOKS)
        self.playbooks.update(playbooks or {})

    def playbook(self, kind, host, extra):
        words = ["ansible-playbook", self.playbooks[kind]] + self.inventory_args + ["-l", host]
        if self.target and self.target != "webservers":
            words += ["-e", "target=" + self.target]
        for e in extra:
            words += ["-e", e]
        return shell_join(words)


def _crash_url(stats, path):
    hh = (stats.get("hosts_headers") or {}).get(path) or "127.0.0.1"
    return "http://%s%s" % (hh, path)


def _verify_command(host, ctx, stats, path):
    """``ansible HOST -m ansible.builtin.uri`` of the page through the host's own nginx (fails unless 200)."""
    hh = (stats.get("hosts_headers") or {}).get(path)
    args = {"url": "http://127.0.0.1%s" % path}
    if hh and hh not in ("127.0.0.1", "localhost"):
        args["headers"] = {"Host": hh}
    return shell_join(["ansible", host] + ctx.inventory_args + ["-m", "ansible.builtin.uri", "-a",
                                                                json.dumps(args, sort_keys=True)])


def _reset_step(host, model, ctx, suspect_masters, force_full=False):
    pids = set(m.get("master_pid") for m in (suspect_masters or []))
    stale = 0 if force_full else model.stale_total(pids or None)
    extra = ["mode=" + ("stale" if stale else "full")]
    if suspect_masters and len(model.masters) > 1:
        cfgs = sorted(set(m.get("config") for m in suspect_masters if m.get("config")))
        if cfgs:
            extra.append("masters=" + ",".join(cfgs))
    if force_full:
        why = ("invalidating files did not stop the crashes: a full reset of the OPcache of the master(s) behind "
               "them, verified (after the hunt: it needs the failing page)")
    elif stale:
        why = "invalidates the %s stale cached script(s) and verifies it (stops the 502s now)" % stale
    else:
        why = "nothing looks stale: a full reset of the OPcache of the master(s) behind the crashes, verified"
    return {"kind": "reset", "command": ctx.playbook("reset", host, extra), "why": why}


def next_steps(host, verdict, stats, model, ctx, suspect_masters=None, check=None):
    steps = []
    if verdict == "opcache_suspect" and check and check.get("state") == "resolved_by_reset":
        top = top_paths(stats.get("crash_paths") or {}, 1)
        path = top[0]["path"] if top else None
        if path:
            steps.append({"kind": "inspect", "command": _verify_command(host, ctx, stats, path),
                          "why": "the crashes stopped after the OPcache reset at %s: request %s through the host's "
                                 "nginx (the command fails unless it answers 200); no crash logged can also mean "
                                 "no request" % (check["reset_at"], path)})
            steps.append({"kind": "hunt", "command": ctx.playbook("hunt", host, ["url=" + _crash_url(stats, path),
                                                                                 "blacklist=true"]),
                          "why": "so it does not come back: if %s fails again, run this at once instead of another "
                                 "reset; it finds the cached file that crashes and blacklists it (on a page that "
                                 "answers 200 it finds nothing and changes nothing)%s" % (path, (
                                     "; the reset invalidated %s: changed on disk after being cached, so deploys "
                                     "need a reset (emergency_reset.yml mode=stale) while validate_timestamps=0"
                                     % ", ".join(check["invalidated_files"][:3]))
                                     if check.get("reset_kind") == "invalidate" and check.get("invalidated_files")
                                     else "")})
        else:
            steps.append({"kind": "inspect", "command": ctx.playbook("diagnose", host, ["since=1h"]),
                          "why": "the crashes stopped after the OPcache reset at %s; re-run diagnose later to "
                                 "confirm none come back" % check["reset_at"]})
        return steps
    if verdict == "opcache_suspect" and check and check.get("state") == "crashes_after_reset":
        paths = check.get("paths_since") or top_paths(stats.get("crash_paths") or {}, 1)
        if paths:
            path = paths[0]["path"]
            steps.append({"kind": "hunt", "command": ctx.playbook("hunt", host, ["url=" + _crash_url(stats, path)]),
                          "why": "%s still crashes after the reset: finds the cached file that crashes it now, while "
                                 "it fails (add -e blacklist=true to keep it out of OPcache); 'no candidate cured the "
                                 "probe' means the code on disk crashes, not the cache" % path})
        if check.get("reset_kind") == "invalidate":
            steps.append(_reset_step(host, model, ctx, suspect_masters, force_full=True))
        else:
            steps.append({"kind": "inspect", "command": ctx.playbook("diagnose", host, ["since=1h"]),
                          "why": "an emptied cache did not help: read the php-fpm log of the pool, the kernel and "
                                 "core dump lines (which module crashed), the page's code on disk and "
                                 "opcache.file_cache; another reset will not cure it"})
        return steps
    if verdict == "opcache_suspect":
        steps.append(_reset_step(host, model, ctx, suspect_masters))
        top = top_paths(stats.get("crash_paths") or {}, 1)
        if top:
            path = top[0]["path"]
            steps.append({"kind": "hunt", "command": ctx.playbook("hunt", host, ["url=" + _crash_url(stats, path)]),
                          "why": "finds the cached file that crashes %s and can blacklist it; run it while the page "
                                 "still fails (before the reset) to keep the evidence" % path})
    elif verdict == "misconfig":
        steps.append({"kind": "inspect", "command": shell_join(
            ["ansible", host] + ctx.inventory_args + ["-m", "fpm_discover"]),
            "why": "compare nginx fastcgi_pass targets with the pools' listen, listen.owner/group/mode and the "
                   "document roots; fix the socket permissions, the missing socket or SCRIPT_FILENAME"})
    elif verdict == "capacity":
        steps.append({"kind": "inspect", "command": ctx.playbook("diagnose", host, ["since=1h"]),
                      "why": "raise pm.max_children (or fix slow requests holding workers) in the pool named in "
                             "the reasons, then reload php-fpm; re-run diagnose to confirm"})
    elif verdict == "timeouts":
        steps.append({"kind": "inspect", "command": ctx.playbook("diagnose", host, ["since=1h"]),
                      "why": "read the pool slowlog for the scripts that run too long; align "
                             "request_terminate_timeout with nginx fastcgi_read_timeout"})
    return steps
