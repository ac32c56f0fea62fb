# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Who may answer on a pool socket: the check of the peer's SO_PEERCRED credentials.

Private to opcache-fleet. Standard library only, Python 3.8+.

Why: the helper's request carries a per-run token and its answer drives resets and file-cache
purges. A socket path can be taken over by any process that can create it (a stale socket in
a directory the pool user owns, a pool stopped while another process binds its path). The
kernel tells, for a unix socket, which process called listen(). php-fpm's master creates
every pool socket itself before forking workers (and keeps it across a SIGUSR2 re-exec, same
pid), so the listening pid is the master's: that is what is checked when the master's pid is
known (its descendants are admitted too, in case a build hands sockets down). Without a
master pid (an explicit ``socket`` without ``master_pid``) only the owner is checkable: root,
our own user, or the pool's user when discovery names it. TCP peers cannot be identified this
way and are not checked.
"""
from __future__ import absolute_import, division, print_function

import os
import pwd

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.fastcgi import FastCGIPeerError

__metaclass__ = type

MAX_ANCESTRY = 32


def parent_pid(pid, proc="/proc"):
    """The parent pid of ``pid`` from /proc/<pid>/stat (None when it cannot be read)."""
    try:
        with open(os.path.join(proc, str(pid), "stat"), "rb") as fh:
            data = fh.read()
    except (IOError, OSError):
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'
    fields = data[data.rfind(b")") + 2:].split()
    try:
        return int(fields[1])
    except (IndexError, ValueError):
        return None


def descends_from(pid, ancestor, proc="/proc"):
    """True when ``pid`` is ``ancestor`` or one of its descendants."""
    cur = pid
    for dummy in range(MAX_ANCESTRY):
        if cur == ancestor:
            return True
        if not cur or cur == 1:
            return False
        cur = parent_pid(cur, proc)
    return False


def _uid_of(user):
    if user is None or user == "":
        return None
    if isinstance(user, int) or str(user).isdigit():
        return int(user)
    try:
        return pwd.getpwnam(str(user)).pw_uid
    except KeyError:
        return None


class PeerPolicy(object):
    """``check((pid, uid, gid))`` raises :class:`FastCGIPeerError` for an unexpected peer."""

    def __init__(self, socket, master_pid=None, pool_user=None, proc="/proc"):
        self.socket = socket
        self.master_pid = int(master_pid) if master_pid else None
        self.proc = proc
        uids = set([0, os.geteuid()])
        pool_uid = _uid_of(pool_user)
        if pool_uid is not None:
            uids.add(pool_uid)
        self.uids = uids

    def check(self, cred):
        pid, uid, dummy = cred
        if self.master_pid and pid:
            if descends_from(pid, self.master_pid, self.proc):
                return
            raise FastCGIPeerError(
                self.socket, "peer",
                "the socket is held by pid %s (uid %s), not by php-fpm master %s or its children: "
                "refusing to send the helper request to it" % (pid, uid, self.master_pid))
        if uid in self.uids:
            return
        raise FastCGIPeerError(
            self.socket, "peer",
            "the socket is held by pid %s uid %s, not by root, us or the pool user (uids %s): refusing "
            "to send the helper request to it; give master_pid to check the master instead"
            % (pid, uid, ", ".join(str(u) for u in sorted(self.uids))))

    __call__ = check
