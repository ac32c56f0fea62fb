# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What /proc says about a process: argv, environment, parent, owner, binary, systemd
unit, mount namespace, children. The one set of /proc readers of opcache-fleet.

Private to opcache-fleet. Standard library only, Python 3.8+. Every reader takes the
/proc root (tests pass a fake one) and answers "unknown" (empty, None) for a process
that is gone or unreadable instead of raising.
"""
from __future__ import absolute_import, division, print_function

import os
import re

__metaclass__ = type


def read_bytes(path, mode="rb"):
    """The whole file (bytes by default); raises OSError like open()."""
    with open(path, mode) as handle:
        return handle.read()


def read_cmdline(proc_root, pid):
    try:
        raw = read_bytes(os.path.join(proc_root, str(pid), "cmdline"))
    except (IOError, OSError):
        return []
    parts = raw.decode("utf-8", "replace").split("\0")
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def read_environ(proc_root, pid):
    """Environment variables still readable in /proc/PID/environ (often wiped by php-fpm)."""
    try:
        raw = read_bytes(os.path.join(proc_root, str(pid), "environ"))
    except (IOError, OSError):
        return {}
    env = {}
    for item in raw.decode("utf-8", "replace").split("\0"):
        if "=" in item:
            key, value = item.split("=", 1)
            if re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
                env[key] = value
    return env


def read_ppid(proc_root, pid):
    try:
        stat = read_bytes(os.path.join(proc_root, str(pid), "stat")).decode("utf-8", "replace")
    except (IOError, OSError):
        return None
    tail = stat[stat.rfind(")") + 2:].split()
    try:
        return int(tail[1])
    except (IndexError, ValueError):
        return None


def read_uids(proc_root, pid):
    """``[real, effective, saved, fs]`` uids from the ``Uid:`` line of /proc/PID/status,
    or None when the process is gone or the line is missing or malformed."""
    try:
        text = read_bytes(os.path.join(proc_root, str(pid), "status")).decode("utf-8", "replace")
    except (IOError, OSError):
        return None
    for line in text.splitlines():
        if line.startswith("Uid:"):
            fields = line[len("Uid:"):].split()
            if len(fields) == 4 and all(f.isdigit() for f in fields):
                return [int(f) for f in fields]
            return None
    return None


def read_exe(proc_root, pid):
    try:
        target = os.readlink(os.path.join(proc_root, str(pid), "exe"))
    except (IOError, OSError):
        return None, False
    deleted = target.endswith(" (deleted)")
    if deleted:
        target = target[:-len(" (deleted)")]
    return target, deleted


def parse_cgroup_unit(text):
    """systemd service (``php8.2-fpm.service``) from /proc/PID/cgroup text, or None."""
    best = None
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        controllers, path = parts[1], parts[2]
        if controllers not in ("", "name=systemd"):
            continue
        for comp in reversed(path.split("/")):
            if comp.endswith(".service"):
                best = comp
                break
        if best:
            break
    return best


def read_cgroup_unit(proc_root, pid):
    try:
        text = read_bytes(os.path.join(proc_root, str(pid), "cgroup")).decode("utf-8", "replace")
    except (IOError, OSError):
        return None
    return parse_cgroup_unit(text)


def same_mount_namespace(proc_root, pid):
    """False when ``pid`` lives in another mount namespace (a container seen from its host)."""
    try:
        mine = os.readlink(os.path.join(proc_root, "self", "ns", "mnt"))
        theirs = os.readlink(os.path.join(proc_root, str(pid), "ns", "mnt"))
    except (IOError, OSError):
        return True
    return mine == theirs


def list_processes(proc_root="/proc"):
    """``[{pid, ppid, argv}]`` of every readable process."""
    procs = []
    try:
        names = os.listdir(proc_root)
    except OSError:
        return procs
    for name in names:
        if not name.isdigit():
            continue
        pid = int(name)
        argv = read_cmdline(proc_root, pid)
        if not argv:
            continue
        procs.append({"pid": pid, "ppid": read_ppid(proc_root, pid), "argv": argv})
    procs.sort(key=lambda p: p["pid"])
    return procs


def children_of(pid, proc_root="/proc"):
    """Pids whose parent is ``pid``, sorted."""
    kids = []
    try:
        names = os.listdir(proc_root)
    except OSError:
        return kids
    for name in names:
        if name.isdigit() and read_ppid(proc_root, name) == int(pid):
            kids.append(int(name))
    return sorted(kids)
