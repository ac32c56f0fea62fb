# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reload of a php-fpm master through systemd, verified (opcache_reset's fallback=reload).

Private to opcache-fleet. Standard library only, Python 3.8+. /proc is read through
discovery/procfs.py (the master's systemd unit, its workers).
"""
from __future__ import absolute_import, division, print_function

import os
import time

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.procfs import children_of, read_cgroup_unit
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.control import CONNECT_CAUSES, first_answer
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.errors import ControlError
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.helper import HelperError

__metaclass__ = type


def _start_time_verifies(info, start, asked):
    """Record an OPcache start_time read after a reload or restart; True (``verified_by:
    start_time``) when the cache started at or after the moment it was asked for."""
    if start is None:
        return False
    info["start_time"] = start
    if start < asked:
        return False
    info.update(verified=True, verified_by="start_time")
    info.pop("start_time_error", None)
    return True


def reload_master(target, run_command, timeout=30.0, proc="/proc", sleep=time.sleep,
                  read_start_time=None, wall_clock=time.time, clock=time.monotonic):
    """Graceful reload through systemd, verified.

    ``read_start_time()`` returns OPcache's ``start_time`` of this master read through one
    of its pools (or raises/returns None while it cannot be read). A reload re-executes the
    master (SIGUSR2) and creates a new OPcache, so the reload is verified when ``start_time``
    is at or after the moment the reload was asked for (and differs from ``before`` when
    known): ``verified_by: start_time``. When OPcache stays unreadable (the reason for the
    fallback may persist), the weaker proof is kept: the master is alive and every old worker
    was replaced (``verified_by: workers replaced``).
    """
    pid = target.get("master_pid")
    unit = target.get("systemd_unit")
    if pid and not os.path.exists(os.path.join(proc, str(pid))):
        raise ControlError("fallback=reload: master %s is not running (php-fpm stopped?): there is nothing "
                           "to reload; start php-fpm%s" % (pid, " (systemctl start %s)" % unit if unit else ""),
                           "not_running")
    if not unit and pid:
        unit = read_cgroup_unit(proc, pid)
    if not unit:
        raise ControlError("fallback=reload: no systemd unit known for master %s (give master_pid "
                           "of a systemd-managed php-fpm)" % pid, "systemd_unit")
    old = children_of(pid, proc) if pid else []
    asked = int(wall_clock())
    rc, out, err = run_command(["systemctl", "reload", unit])
    if rc != 0:
        raise ControlError("fallback=reload: systemctl reload %s failed (rc=%s): %s" % (unit, rc, err.strip()),
                           "systemctl")
    deadline = clock() + timeout
    info = {"unit": unit, "old_workers": old, "verified": False, "verified_by": None,
            "reload_asked_at": asked, "start_time": None}
    replaced = False
    while True:
        alive = pid and os.path.exists(os.path.join(proc, str(pid)))
        now = children_of(pid, proc) if alive else []
        replaced = bool(alive and now and not set(old) & set(now))
        if read_start_time is not None:
            try:
                start = read_start_time()
            except (ControlError, HelperError) as exc:
                start = None
                info["start_time_error"] = str(exc)
                if replaced and exc.cause not in CONNECT_CAUSES:
                    # A setting blocks the helper for good: the reload is proven as far as it can be.
                    break
            if _start_time_verifies(info, start, asked):
                break
        elif replaced:
            info.update(verified=True, verified_by="workers replaced")
            break
        if clock() >= deadline:
            break
        sleep(0.2)
    if not info["verified"] and replaced:
        info.update(verified=True, verified_by="workers replaced")
    info["workers_replaced"] = replaced
    return info


def raise_unverified_reload(target, info, timeout, result):
    """The error of a reload that ran but was not seen (``result`` is kept in its details)."""
    raise ControlError("master %s: systemctl reload %s ran but neither a new OPcache start_time nor replaced "
                       "workers were seen within %ss" % (target.get("master_pid"), info["unit"], timeout),
                       "verify_timeout", {"result": result})


def read_start_time(target, session_factory=None, timeout=5.0, helper_dir=None):
    """OPcache ``start_time`` of one master (one status request through its first usable pool)."""
    answer = first_answer(target, timeout, helper_dir, session_factory=session_factory)
    stats = (answer.get("status") or {}).get("opcache_statistics") or {}
    return stats.get("start_time")


def systemd_main_pid(run_command, unit):
    """The unit's MainPID from systemd (None when it has none: stopped)."""
    rc, out, dummy = run_command(["systemctl", "show", "-p", "MainPID", "--value", unit])
    try:
        pid = int(out.strip()) if rc == 0 else 0
    except ValueError:
        pid = 0
    return pid or None


def restart_master(target, run_command, timeout=30.0, proc="/proc", sleep=time.sleep, read_start_time=None,
                   while_stopped=None, wall_clock=time.time, clock=time.monotonic):
    """Restart of a php-fpm master through systemd, verified.

    ``while_stopped()`` runs between ``systemctl stop`` and ``start`` (the file cache is
    emptied there, when no worker can write to it); without it one ``systemctl restart``.
    Verified when systemd names a new, running MainPID and OPcache's ``start_time`` read
    through a pool of that new master (``read_start_time(new_pid)``) is at or after the
    moment of the restart: ``verified_by: start_time``; when OPcache cannot be read, the new
    master alone (``verified_by: new master``). Returns {unit, old_master_pid, master_pid,
    verified, verified_by, start_time}.
    """
    pid = target.get("master_pid")
    unit = target.get("systemd_unit") or (read_cgroup_unit(proc, pid) if pid else None)
    if not unit:
        raise ControlError("restart: no systemd unit known for master %s (give master_pid of a systemd-managed "
                           "php-fpm)" % pid, "systemd_unit")
    asked = int(wall_clock())
    info = {"unit": unit, "old_master_pid": pid, "master_pid": None, "verified": False, "verified_by": None,
            "restart_asked_at": asked, "start_time": None}
    commands = [["systemctl", "stop", unit], ["systemctl", "start", unit]] if while_stopped \
        else [["systemctl", "restart", unit]]
    for argv in commands:
        rc, dummy, err = run_command(argv)
        if rc != 0:
            stopped = argv[1] == "start"
            raise ControlError("restart: %s failed (rc=%s): %s%s" % (
                " ".join(argv), rc, (err or "").strip(),
                "; php-fpm is STOPPED: start it (systemctl start %s)" % unit if stopped else ""),
                "systemctl")
        if argv[1] == "stop":
            try:
                while_stopped()
            except (ControlError, OSError, ValueError) as exc:
                # php-fpm must not stay down because the work done meanwhile failed: start it anyway
                info["while_stopped_error"] = str(exc)
    deadline = clock() + timeout
    while True:
        new = systemd_main_pid(run_command, unit)
        if new and new != pid and os.path.exists(os.path.join(proc, str(new))):
            info["master_pid"] = new
            start = None
            if read_start_time is not None:
                try:
                    start = read_start_time(new)
                except (ControlError, HelperError) as exc:
                    info["start_time_error"] = str(exc)
            if _start_time_verifies(info, start, asked):
                break
        if clock() >= deadline:
            break
        sleep(0.2)
    if not info["verified"] and info["master_pid"]:
        info.update(verified=True, verified_by="new master")
    return info
