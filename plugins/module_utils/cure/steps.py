# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The four steps of the cure ladder on one master, each verified as opcache_reset verifies
its resets (opcache/control.py) and reloads (opcache/reload.py).

Private to opcache-fleet. Standard library only, Python 3.8+.

:class:`Steps` is called with one plan entry (cure/path.py) and returns the step's result:
``{changed, verified, nothing_to_do?, ...}``; it raises ControlError/HelperError when the
step cannot run or is not verified. A restart gives the master a new pid: the target is
updated, so the watch and any later request reach the new master.
"""
from __future__ import absolute_import, division, print_function

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.control import configured_file_cache, first_answer, reset_master
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.errors import ControlError
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.reload import raise_unverified_reload, read_start_time, reload_master, restart_master
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.state import master_root, purge_file_cache

__metaclass__ = type


# what a step's result keeps of reset_master's answer
KEPT = ("changed", "verified", "mode", "escalated", "note", "polls", "verify_seconds", "file_cache", "before", "after")


class Steps(object):
    def __init__(self, target, run_command, timeout=30.0, request_timeout=10.0, helper_dir=None, max_answer=None):
        self.target = target
        self.run_command = run_command
        self.timeout = timeout
        self.request_timeout = request_timeout
        self.helper_dir = helper_dir
        self.max_answer = max_answer

    def __call__(self, entry):
        return getattr(self, "_" + entry["step"])(entry)

    def _reset(self, mode, purge):
        r = reset_master(self.target, mode, timeout=self.timeout, request_timeout=self.request_timeout,
                         purge=purge, helper_dir=self.helper_dir, max_answer=self.max_answer)
        out = dict((k, r[k]) for k in KEPT if k in r)
        out["files"] = [f.get("path") for f in r.get("files") or []][:20]
        out["invalidated"] = len(r.get("files") or [])
        return out

    def _stale(self, entry):
        out = self._reset("stale", False)
        if not out.get("changed"):
            # nothing stale: nothing was invalidated, so nothing can have been cured
            out["nothing_to_do"] = True
        return out

    def _full(self, entry):
        return self._reset("full", entry.get("purge_file_cache"))

    def _purge(self):
        """(purge, lasting): a function that empties the file cache the master's configuration
        names (the pool must agree), and whether it still works once the master is gone."""
        answer = first_answer(self.target, self.request_timeout, self.helper_dir, self.max_answer)
        directory = configured_file_cache(self.target, answer)
        root, lasting = master_root(self.target.get("master_pid"))
        return (lambda: purge_file_cache(directory, root, False) if directory else None), lasting

    def _start_time(self, pid=None):
        target = dict(self.target, master_pid=pid) if pid else self.target
        return read_start_time(target, timeout=min(self.request_timeout, 5.0), helper_dir=self.helper_dir)

    def _reload(self, entry):
        purged = None
        if entry.get("purge_file_cache"):
            purged = self._purge()[0]()
        info = reload_master(self.target, self.run_command, timeout=self.timeout, read_start_time=self._start_time)
        out = {"changed": True, "verified": info["verified"], "reload": info, "file_cache": purged}
        if not info["verified"]:
            raise_unverified_reload(self.target, info, self.timeout, out)
        return out

    def _restart(self, entry):
        purge, lasting = self._purge() if entry.get("purge_file_cache") else (None, False)
        purged = {}
        if purge and not lasting:
            # the master's files are reached through /proc/<pid>/root, gone once it stops: empty the
            # file cache just before the restart instead (its workers may write a few entries again)
            purged["file_cache"] = dict(purge(), when="before the restart (the master runs in another root)")
            purge = None

        def while_stopped():
            purged["file_cache"] = purge()

        info = restart_master(self.target, self.run_command, timeout=self.timeout,
                              read_start_time=self._start_time, while_stopped=while_stopped if purge else None)
        out = {"changed": True, "verified": info["verified"], "restart": info, "file_cache": purged.get("file_cache")}
        if info.get("while_stopped_error"):
            # php-fpm was started again, but the file cache it loads from may still be the corrupt one
            out["file_cache_error"] = info["while_stopped_error"]
        if not info["verified"]:
            raise ControlError("master %s: systemctl restart %s ran but no new master was seen within %ss"
                               % (self.target.get("master_pid"), info["unit"], self.timeout),
                               "verify_timeout", {"result": out})
        self.target["master_pid"] = info["master_pid"]
        return out
