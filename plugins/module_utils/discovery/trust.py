# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which processes that look like php-fpm or nginx masters are root's own.

Private to opcache-fleet. Standard library only, Python 3.8+.

Any local user can give a process the title ``php-fpm: master process (CONFIG)``
(``exec -a``). Discovery runs as root: it runs the master's binary (``-v``, ``-i``,
``-T``) with the master's ``PHP_INI_SCAN_DIR``/``PHPRC`` and reads the config the title
names. So a title is only a candidate; a process is a master when all of these hold:

* /proc/PID/status ``Uid:`` is 0 for the real, effective, saved and fs uid (a set-uid
  program started by another user keeps that user as real uid);
* the binary it runs (``stat`` of /proc/PID/exe: the running inode, whatever its name
  is now) belongs to root and is not writable by group or others;
* the path /proc/PID/exe names is a regular file with the same properties, in
  directories up to ``/`` that root owns and nobody else can write (group-writable only
  for group 0), because that path is what discovery executes. A ``(deleted)`` binary
  (a package upgrade replaced it under the running master) passes when the path now
  holds such a file: the master is read, but the new file is not run (it may be
  another version). A binary whose path is gone (removed package, memfd) does not;
* its parent is root's (init, systemd, supervisord, s6, tini, containerd-shim, ...) or
  is pid 0 (the process is PID 1 of its namespace, started by the kernel).

A process failing one of them is neither run nor read; :class:`Vetting` keeps one
warning per rejected process, naming its pid, uid, binary and the first failed check.
A master in another mount namespace (a container) is checked the same way; its
binary's path is looked up through /proc/PID/root.

``stat`` is a parameter (``os.stat`` on a host) so tests can give fake owners.
"""
from __future__ import absolute_import, division, print_function

import os
import stat as statmod

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.procfs import (
    read_exe,
    read_ppid,
    read_uids,
    same_mount_namespace,
)

__metaclass__ = type

_KINDS = {"php-fpm": "a php-fpm", "nginx": "an nginx"}
WARN_UNTRUSTED = ("pid %s looks like %s master (uid %s, exe %s) but is not trusted: %s; "
                  "it was neither run nor read")


def _stat(stat_fn, path):
    """``(stat_result, None)`` or ``(None, reason)``."""
    try:
        return stat_fn(path), None
    except (IOError, OSError) as exc:
        return None, "cannot stat %s (%s)" % (path, exc.strerror or exc)


def _file_problem(st, label):
    """Why a file ``st`` is not root's alone, or None."""
    if not statmod.S_ISREG(st.st_mode):
        return "%s is not a regular file" % label
    if st.st_uid != 0:
        return "%s is owned by uid %d, not root" % (label, st.st_uid)
    if st.st_mode & (statmod.S_IWGRP | statmod.S_IWOTH):
        return "%s is writable by group or others (mode %04o)" % (label, statmod.S_IMODE(st.st_mode))
    return None


def _dir_problem(st, label):
    """Why a directory ``st`` lets someone other than root replace what it holds, or None."""
    if st.st_uid != 0:
        return "directory %s is owned by uid %d, not root" % (label, st.st_uid)
    if st.st_mode & statmod.S_IWOTH:
        return "directory %s is writable by others (mode %04o)" % (label, statmod.S_IMODE(st.st_mode))
    if st.st_mode & statmod.S_IWGRP and st.st_gid != 0:
        return "directory %s is writable by group %d (mode %04o)" % (
            label, st.st_gid, statmod.S_IMODE(st.st_mode))
    return None


def executable_problem(path, stat_fn=os.stat, root=""):
    """Why running ``path`` as root could run someone else's code, or None.

    ``root`` is prefixed to every looked-up path (``/proc/PID/root`` for a container);
    messages speak of ``path`` as the process sees it.
    """
    if not path or not path.startswith("/"):
        return "%r is not an absolute path" % (path,)
    st, problem = _stat(stat_fn, root + path)
    if problem:
        return "cannot stat %s" % path
    problem = _file_problem(st, path)
    if problem:
        return problem
    directory = os.path.dirname(path)
    while True:
        st, problem = _stat(stat_fn, (root + directory) if root else directory)
        if problem:
            return "cannot stat directory %s" % directory
        problem = _dir_problem(st, directory)
        if problem:
            return problem
        if directory == "/":
            return None
        directory = os.path.dirname(directory)


def _owner_problem(proc_root, pid):
    """``(real uid or None, reason or None)`` from /proc/PID/status."""
    uids = read_uids(proc_root, pid)
    if uids is None:
        return None, "cannot read /proc/%s/status" % pid
    if uids[0] != 0:
        return uids[0], "owned by uid %d, not root" % uids[0]
    if any(uids):
        return uids[0], ("uids (real, effective, saved, fs) are %s, not all root"
                         % ", ".join(str(u) for u in uids))
    return 0, None


def process_verdict(proc_root, pid, stat_fn=os.stat):
    """``{pid, uid, exe, deleted, reason}``; ``reason`` is None for a trusted process."""
    verdict = {"pid": pid, "uid": None, "exe": None, "deleted": False, "reason": None}
    verdict["uid"], reason = _owner_problem(proc_root, pid)
    exe, deleted = read_exe(proc_root, pid)
    verdict["exe"], verdict["deleted"] = exe, deleted
    if reason is None and exe is None:
        reason = "its binary is unknown (/proc/%s/exe unreadable)" % pid
    if reason is None:
        # the path is what discovery would execute ...
        root = "" if same_mount_namespace(proc_root, pid) else os.path.join(proc_root, str(pid), "root")
        problem = executable_problem(exe, stat_fn, root)
        if problem and deleted:
            gone = problem.startswith("cannot stat %s" % exe)
            problem = "binary %s was deleted and %s: %s" % (
                exe, "its path holds no file now" if gone else "the file now at its path is not root's",
                problem)
        reason = problem
    if reason is None:
        # ... and the inode the process runs, whatever name it has now, is what it does
        st, problem = _stat(stat_fn, os.path.join(proc_root, str(pid), "exe"))
        reason = problem and "cannot stat /proc/%s/exe" % pid
        reason = reason or _file_problem(st, "the running binary (/proc/%s/exe)" % pid)
    if reason is None:
        reason = _parent_problem(proc_root, pid)
    verdict["reason"] = reason
    return verdict


def _parent_problem(proc_root, pid):
    ppid = read_ppid(proc_root, pid)
    if ppid is None:
        return "its parent is unknown (/proc/%s/stat unreadable)" % pid
    if ppid == 0:
        return None  # PID 1 of its namespace: started by the kernel
    uids = read_uids(proc_root, ppid)
    if uids is None:
        return "its parent pid %s is gone or unreadable" % ppid
    if any(uids):
        return "its parent pid %s is owned by uid %d, not root" % (ppid, [u for u in uids if u][0])
    return None


class Vetting:
    """Checks candidate masters once each and collects the warnings of rejected ones."""

    def __init__(self, proc_root="/proc", stat_fn=None):
        self.proc_root = proc_root
        self.stat = stat_fn or os.stat
        self.warnings = []
        self._verdicts = {}

    def trusted(self, pid, kind):
        """True when ``pid`` is root's own ``kind`` (``php-fpm``, ``nginx``) master."""
        if pid not in self._verdicts:
            verdict = process_verdict(self.proc_root, pid, self.stat)
            self._verdicts[pid] = verdict
            if verdict["reason"] is not None:
                self.warnings.append(WARN_UNTRUSTED % (
                    pid, _KINDS[kind],
                    "?" if verdict["uid"] is None else verdict["uid"],
                    verdict["exe"] or "?", verdict["reason"]))
        return self._verdicts[pid]["reason"] is None

    def executable_problem(self, path):
        """Why an installed program (not a process) must not be run, or None."""
        return executable_problem(path, self.stat)
