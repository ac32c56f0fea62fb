# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The watch after a cure step: the failing pages must answer as expected and no php-fpm
worker of the master may die by a signal meanwhile.

Private to opcache-fleet. Standard library only, Python 3.8+.

* :class:`CrashLog`: new ``child N exited on signal`` lines of one master since
  :meth:`CrashLog.mark`, read where diagnose reads them (evidence/fpm_sources.py): its
  error_log file, or where its standard error goes (a file, a pipe's reader, the journal), or
  the journal for ``syslog``. Journal entries count only from a php-fpm master's process
  (trusted ``_CMDLINE`` and ``_UID``): a local user's ``logger -t php-fpm`` cannot forge a crash
  and push the ladder to a restart. The lines are matched by the project's signature table
  (child_signal with a crash signal, and heap_corruption), so every php-fpm wording it knows
  counts, and the SIGQUIT/SIGTERM of a reload or restart does not.
* :func:`watch_pages`: probe rounds for a number of seconds, then the crash lines.
"""
from __future__ import absolute_import, division, print_function

import json
import os
import time

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.culprit.probe import classify_response, http_probe
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.categories import CRASH_SIGNALS, WORKER_CRASH
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.fpm_sources import journal_args, journal_lines, plan_sources
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.parse import parse_record
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.signatures import Matcher

__metaclass__ = type

MAX_READ = 4 * 1024 * 1024
MAX_KEPT = 20
# php-fpm's master writes "child N exited on signal" after it reaps the child, which is after
# nginx already saw the connection reset; through a pipe and its reader (a supervisor, `cat`)
# or the journal, later still. Seen on the lab: a log read right after the failing probe
# missed the crash of the piped-stderr master. The log is read this long after the last probe.
LOG_SETTLE = 1.0


def crash_source(target, journalctl, proc_root="/proc"):
    """Where one master's worker crashes are written: fpm_sources' plan for it, with
    ``kind`` file | journal | None (and ``reason``)."""
    entry = plan_sources([target], proc_root)[0]
    kind = entry.get("read")
    if kind == "journal" and not journalctl:
        return dict(entry, kind=None, reason="php-fpm logs to the journal (%s) and journalctl is not available"
                    % entry.get("source"))
    return dict(entry, kind=kind, journalctl=journalctl)


class CrashLog(object):
    """New worker crashes of one master since :meth:`mark` (``source`` from :func:`crash_source`).
    When the log cannot be read, :meth:`new_crashes` returns None: unknown, never 0."""

    def __init__(self, source, run_command=None, clock=time.time):
        self.source = dict(source or {"kind": None, "reason": "no log known"})
        self.run_command = run_command
        self.clock = clock
        self.matcher = Matcher()
        self.offset = None
        self.inode = None
        self.since = None

    def mark(self):
        if self.source.get("kind") == "file":
            try:
                st = os.stat(self.source["path"])
                self.offset, self.inode = st.st_size, st.st_ino
            except OSError as exc:
                self.source = dict(self.source, kind=None,
                                   reason="%s cannot be read: %s" % (self.source["path"], exc.strerror))
        self.since = self.clock()

    def _file_lines(self):
        path = self.source["path"]
        try:
            st = os.stat(path)
            start = self.offset or 0
            if st.st_ino != (self.inode or st.st_ino) or st.st_size < start:
                start = 0  # rotated or truncated since the mark: the new file from its start
            with open(path, "rb") as f:
                f.seek(max(start, st.st_size - MAX_READ))
                data = f.read(MAX_READ)
        except (IOError, OSError) as exc:
            raise IOError("%s cannot be read: %s" % (path, exc))
        return data.decode("utf-8", "replace").splitlines()

    def _journal_lines(self):
        journal = self.source["journal"]
        rc, out, err = self.run_command(journal_args(self.source["journalctl"], journal, self.since, None))
        if rc != 0 and "output-fields" in (err or ""):
            # systemd older than 236: every field comes
            rc, out, err = self.run_command(journal_args(self.source["journalctl"], journal, self.since, None,
                                                         fields=False))
        if rc != 0:
            raise IOError("journalctl failed (rc=%s): %s" % (rc, (err or "").strip()[:200]))
        since_us = int(self.since * 1000000)
        fresh = []
        for raw in out.splitlines():
            try:
                stamp = int(json.loads(raw).get("__REALTIME_TIMESTAMP") or 0)
            except (ValueError, TypeError, AttributeError):
                continue
            # --since has whole seconds: the entries of the mark's own second before it are not new
            if stamp >= since_us:
                fresh.append(raw)
        data, dummy, dummy = journal_lines("\n".join(fresh), journal)
        return data.decode("utf-8", "replace").splitlines()

    def new_crashes(self):
        """[{category, pid, signal, line}] of the crash lines since the mark; None when unknown."""
        kind = self.source.get("kind")
        if kind is None:
            return None
        try:
            lines = self._file_lines() if kind == "file" else self._journal_lines()
        except (IOError, OSError) as exc:
            self.source["reason"] = str(exc)
            return None
        crashes = []
        for line in lines:
            rec = parse_record(line)
            hit = self.matcher.match(rec.kind, rec.message, rec.tag)
            if not hit or hit[0] not in WORKER_CRASH:
                continue
            fields = hit[2] if len(hit) > 2 and isinstance(hit[2], dict) else {}
            # a reload or restart ends workers with SIGQUIT/SIGTERM: not a crash
            if hit[0] == "heap_corruption" or fields.get("signal_number") in CRASH_SIGNALS:
                crashes.append({"category": hit[0], "pid": fields.get("pid"),
                                "signal": fields.get("signal_name"), "line": line[:300]})
        return crashes


def watch_pages(requests, crash_log, seconds, interval=1.0, expected_status=200, probe=http_probe,
                probe_timeout=10.0, sleep=time.sleep, clock=time.monotonic):
    """Probe each page in rounds for ``seconds`` (at least one round), stopping at the first
    failing answer, then read the new crash lines.

    Returns {passed, probes (how many were sent), answers ({outcome: count}), failed_probe
    ({url, status, outcome, seconds, detail} or None), crashes (how many, or None when the log
    could not be read), crash_lines, watched_by, seconds}. ``passed`` needs every probe to
    answer ``expected_status`` and no new crash line; when the log cannot be read the pages
    alone decide and ``crash_log`` says why.
    """
    started = clock()
    probes = []
    failed = None
    while failed is None:
        for req in requests:
            r = probe(req, timeout=probe_timeout)
            outcome = classify_response(r.get("status"), r.get("error"), expected_status)
            probes.append({"url": req["url"], "status": r.get("status"), "outcome": outcome,
                           "seconds": r.get("seconds"), "detail": r.get("detail")})
            if outcome != "pass":
                failed = probes[-1]
                break
        if failed is not None or clock() - started >= seconds:
            break
        sleep(interval)
    sleep(LOG_SETTLE)
    crashes = crash_log.new_crashes()
    result = {
        "passed": failed is None and crashes is not None and not crashes,
        "probes": len(probes),
        "answers": _count(p["outcome"] for p in probes),
        "failed_probe": failed,
        "crashes": None if crashes is None else len(crashes),
        "crash_lines": (crashes or [])[:MAX_KEPT],
        "seconds": round(clock() - started, 3),
    }
    if crashes is None:
        result["crash_log"] = crash_log.source.get("reason")
        # the pages alone decide: said, never hidden
        result["passed"] = failed is None
        result["watched_by"] = "pages only"
    else:
        result["watched_by"] = "pages and php-fpm log"
    return result


def _count(items):
    out = {}
    for i in items:
        out[i] = out.get(i, 0) + 1
    return out
