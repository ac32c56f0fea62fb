# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where each php-fpm master's crash lines are, and whether they were read (issue 10).

A master writes "child N exited on signal 11" wherever its ``error_log`` says:

* a file: scanned as before;
* ``syslog``: the journal. php-fpm's syslog lines carry no stamp, only ``[LEVEL] ``
  (zlog.c, zlog_buf_prefix); they are read with ``journalctl -o json`` for the
  master's systemd unit (else its ``syslog.ident``), and only the entries whose
  *trusted* ``_CMDLINE`` (journald reads it from /proc, a client cannot set it) is a
  php-fpm master's are kept: a PHP script calling syslog() with the same identifier,
  or ``logger -t php-fpm`` by any local user, cannot plant a crash;
* ``/proc/self/fd/2`` (containers, ``php-fpm -F``): wherever its standard error goes.
  A regular file is scanned; a pipe is followed to the process reading it (a
  supervisor, ``tee``, ``cat``) and to that reader's output file, or to the journal
  stream of its unit (``_TRANSPORT=stdout``).

Every master gets an entry (``fpm_sources``): what was read, or ``not_read`` with the
reason, so that a report never calls a host healthy on evidence it did not see.

Private to opcache-fleet. Standard library only.
"""

from __future__ import absolute_import, division, print_function

import json
import os
import stat

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.procfs import children_of, read_cgroup_unit, read_cmdline, read_uids
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.timestamps import format_ts

__metaclass__ = type

__all__ = ["plan_sources", "journal_args", "journal_lines", "MASTER_CMDLINE", "JOURNAL_MAX_ENTRIES"]

MASTER_CMDLINE = "php-fpm: master process"
STDERR_NAMES = ("/proc/self/fd/2", "/dev/stderr", "/dev/fd/2")
JOURNAL_MAX_ENTRIES = 100000      # the most recent entries of the window read from a unit (journalctl -n)


def _entry(master, **kw):
    e = {"master_pid": master.get("master_pid"), "config": master.get("config"),
         "error_log": master.get("error_log"), "error_log_kind": master.get("error_log_kind"),
         "source": None, "status": "not_read", "events": 0, "reason": None,
         "read": None, "path": None, "journal": None}
    e.update(kw)
    return e


def plan_sources(masters, proc_root="/proc", overridden=False):
    """One entry per master: how its crash lines are read (``read``: ``file`` with
    ``path``, ``journal`` with ``journal`` = {unit, ident, transport}) or why they are not
    (``status`` not_read, ``reason``). ``overridden``: the user named the php-fpm logs
    (fpm_error_logs): the masters' own are not looked for."""
    out = []
    for m in masters or ():
        kind = m.get("error_log_kind")
        if overridden:
            continue
        if m.get("in_container"):
            out.append(_entry(m, reason="the master runs in a container: its log is inside it "
                                        "(read it with the container runtime, or give fpm_error_logs)"))
        elif kind == "file" and m.get("error_log"):
            out.append(_entry(m, read="file", path=m["error_log"], source=m["error_log"]))
        elif kind == "syslog":
            unit = m.get("systemd_unit")
            ident = m.get("syslog_ident") or "php-fpm"
            label = "journalctl -u %s" % unit if unit else "journalctl -t %s" % ident
            uids = read_uids(proc_root, m.get("master_pid")) if m.get("master_pid") else None
            out.append(_entry(m, read="journal", source=label,
                              journal={"unit": unit, "ident": None if unit else ident, "transport": None,
                                       "uid": uids[0] if uids else None}))
        elif kind == "stderr":
            out.append(_stderr_entry(m, proc_root))
        else:
            out.append(_entry(m, reason="no error_log known (no php-fpm config found for this master)"))
    return out


def _fd_target(proc_root, pid, fd):
    try:
        return os.readlink(os.path.join(proc_root, str(pid), "fd", str(fd)))
    except (IOError, OSError):
        return None


def _fd_flags(proc_root, pid, fd):
    try:
        with open(os.path.join(proc_root, str(pid), "fdinfo", str(fd))) as f:
            for line in f:
                if line.startswith("flags:"):
                    return int(line.split()[1], 8)
    except (IOError, OSError, ValueError, IndexError):
        pass
    return None


def _regular_file(path):
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (IOError, OSError):
        return False


def _stderr_entry(m, proc_root):
    pid = m.get("master_pid")
    target = _fd_target(proc_root, pid, 2) if pid else None
    if target is None:
        return _entry(m, reason="error_log is standard error, and the master's fd 2 cannot be read "
                                "(/proc/%s/fd/2: not root?)" % pid)
    if target.startswith("/") and _regular_file(target):
        return _entry(m, read="file", path=target, source=target)
    if target.startswith("pipe:"):
        return _follow_pipe(m, proc_root, pid, target)
    if target.startswith("socket:"):
        unit = m.get("systemd_unit")
        if unit:
            return _entry(m, read="journal", source="journalctl -u %s (standard error)" % unit,
                          journal={"unit": unit, "ident": None, "transport": "stdout", "uid": None})
        return _entry(m, reason="standard error goes to %s, outside any systemd unit" % target)
    return _entry(m, reason="standard error goes to %s, which keeps nothing" % target)


def _readers_of(proc_root, inode, exclude):
    """Processes holding pipe ``inode`` open for reading (fdinfo flags O_RDONLY)."""
    found = []
    try:
        names = os.listdir(proc_root)
    except OSError:
        return found
    for name in sorted((n for n in names if n.isdigit()), key=int):
        if int(name) in exclude:
            continue
        fd_dir = os.path.join(proc_root, name, "fd")
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            if _fd_target(proc_root, name, fd) != inode:
                continue
            flags = _fd_flags(proc_root, name, fd)
            if flags is not None and flags & 3 == os.O_RDONLY:
                found.append(int(name))
                break
    return found


def _follow_pipe(m, proc_root, pid, inode):
    """The master's standard error is a pipe: whoever reads it, and where that goes."""
    exclude = set([pid])
    exclude.update(children_of(pid, proc_root))
    readers = _readers_of(proc_root, inode, exclude)
    if not readers:
        return _entry(m, reason="standard error is %s and no process reading it was found" % inode)
    for r in readers:
        for fd in (1, 2):
            out = _fd_target(proc_root, r, fd)
            if out and out.startswith("/") and _regular_file(out):
                flags = _fd_flags(proc_root, r, fd)
                if flags is not None and flags & 3 in (os.O_WRONLY, os.O_RDWR):
                    return _entry(m, read="file", path=out,
                                  source="%s (standard error, through %s)" % (out, _name(proc_root, r)))
            if out and out.startswith("socket:"):
                unit = read_cgroup_unit(proc_root, r)
                if unit:
                    return _entry(m, read="journal",
                                  source="journalctl -u %s (standard error, through %s)" % (unit, _name(proc_root, r)),
                                  journal={"unit": unit, "ident": None, "transport": "stdout", "uid": None})
    return _entry(m, reason="standard error is %s, read by %s, which writes it to no file or journal "
                            "found" % (inode, ", ".join(_name(proc_root, r) for r in readers)))


def _name(proc_root, pid):
    argv = read_cmdline(proc_root, pid) or []
    return "%s[%s]" % (os.path.basename(argv[0]) if argv else "?", pid)


def journal_args(jctl, journal, since, until, fields=True):
    """The journalctl argument list of a journal plan (no shell): at most JOURNAL_MAX_ENTRIES,
    the most recent of the window. ``fields``: only the fields read (--output-fields, systemd
    236 and later; without it every field comes)."""
    args = [jctl, "--no-pager", "-q", "-o", "json", "-n", str(JOURNAL_MAX_ENTRIES)]
    if fields:
        args += ["--output-fields", "MESSAGE,_CMDLINE,_PID,_UID,_TRANSPORT,SYSLOG_IDENTIFIER,_HOSTNAME"]
    if journal.get("unit"):
        args += ["-u", journal["unit"]]
    elif journal.get("ident"):
        args += ["SYSLOG_IDENTIFIER=%s" % journal["ident"]]
    if journal.get("transport"):
        args += ["_TRANSPORT=%s" % journal["transport"]]
    if since is not None:
        args += ["--since", "@%d" % int(since)]
    if until is not None:
        args += ["--until", "@%d" % (int(until) + 1)]
    return args


def journal_lines(out, journal):
    """journalctl -o json output -> (syslog-style lines as bytes, entries kept, entries
    refused). Syslog entries are kept only from a php-fpm master's process (trusted
    ``_CMDLINE``, and ``_UID`` when the plan knows the master's uid); standard-error
    entries (``transport`` stdout) only from that transport.
    Each kept entry becomes ``<ISO time> <host> <identifier>[<pid>]: <message>``."""
    if isinstance(out, bytes):
        out = out.decode("utf-8", "replace")
    lines = []
    kept = refused = 0
    for raw in out.splitlines():
        raw = raw.strip()
        if not raw.startswith("{"):
            continue
        try:
            e = json.loads(raw)
        except ValueError:
            refused += 1
            continue
        if not isinstance(e, dict):
            refused += 1
            continue
        msg = _field(e, "MESSAGE")
        if msg is None:
            continue
        if journal.get("transport"):
            ok = _field(e, "_TRANSPORT") == journal["transport"]
        else:
            ok = (_field(e, "_CMDLINE") or "").lstrip("\"'").startswith(MASTER_CMDLINE)
            if ok and journal.get("uid") is not None:
                ok = _field(e, "_UID") == str(journal["uid"])
        if not ok:
            refused += 1
            continue
        try:
            ts = int(_field(e, "__REALTIME_TIMESTAMP")) / 1e6
        except (TypeError, ValueError):
            ts = None
        stamp = format_ts(ts) if ts is not None else None
        ident = (_field(e, "SYSLOG_IDENTIFIER") or "php-fpm").replace(" ", "_")
        pid = _field(e, "_PID") or "0"
        host = (_field(e, "_HOSTNAME") or "localhost").replace(" ", "_")
        for part in msg.replace("\r", "").split("\n"):
            if not part:
                continue
            if stamp is not None and not journal.get("transport"):
                lines.append("%s %s %s[%s]: %s" % (stamp, host, ident, pid, part))
            else:
                lines.append(part)
        kept += 1
    return ("\n".join(lines) + "\n" if lines else "").encode("utf-8"), kept, refused


def _field(e, name):
    v = e.get(name)
    if isinstance(v, list):             # a field journald holds several times, or as bytes
        if v and all(isinstance(x, int) for x in v):
            try:
                return bytes(bytearray(v)).decode("utf-8", "replace")
            except ValueError:
                return None
        v = v[0] if v else None
    if v is None:
        return None
    return v if isinstance(v, str) else str(v)
