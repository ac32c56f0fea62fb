# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The evidence bundle of one host: its files and its manifest (logic of evidence_bundle).

Private to opcache-fleet. Standard library only, Python 3.8+. :func:`gather` runs the
read-only steps of diagnose (discovery, evidence, OPcache and APCu through the helper; no
class scan), then adds what a php-src report needs: the PHP build, zend_extensions in load
order, the file cache listing, crash lines with neighbours, kernel offsets, core dumps and
backtraces. Every file is redacted (bundle/redact.py); whatever could not be gathered is
named in ``not_included`` with the reason.
"""
from __future__ import absolute_import, division, print_function

import json
import os

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.bundle.coredumps import (
    backtraces, find_gdbinit, list_cores,
)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.bundle.crash_lines import crash_neighbours
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.bundle.kernel_offsets import object_offset
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.bundle.redact import CLIENT, redact
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.diagnose.host import DIAGNOSE_ARGS, diagnose
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.categories import KERNEL_CRASH

__metaclass__ = type

MAX_FILE_CACHE_ENTRIES = 2000
REDACTION = ("nginx's client: field, every IP address that is not loopback or unspecified, cookie headers, "
             "and the values of session, token, auth, password and secret parameters")


# Fields of the evidence's events that hold a client's address (the text rule sees "client: ").
CLIENT_KEYS = ("client", "remote_addr", "x_forwarded_for")


def redact_value(value):
    """A JSON value with every string redacted, and the client fields replaced whatever they
    hold: ``(value, replacements)``."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        out, n = {}, 0
        for k, v in value.items():
            if k in CLIENT_KEYS and isinstance(v, str) and v:
                out[k], c = CLIENT, 1
            else:
                out[k], c = redact_value(v)
            n += c
        return out, n
    if isinstance(value, list):
        out, n = [], 0
        for v in value:
            r, c = redact_value(v)
            out.append(r)
            n += c
        return out, n
    return value, 0


class Bundle(object):
    def __init__(self):
        self.files, self.entries, self.not_included = [], [], []

    def text(self, name, why, content):
        safe, n = redact(content)
        self._add(name, why, safe, n)

    def redacted(self, name, why, content, redactions):
        """A text already redacted line by line (crash_lines.py): redacting it again would count
        its own placeholders (``client: <client>``) as new replacements."""
        self._add(name, why, content, redactions)

    def json(self, name, why, value):
        safe, n = redact_value(value)
        self._add(name, why, json.dumps(safe, indent=1, sort_keys=True, default=str) + "\n", n)

    def _add(self, name, why, content, redactions):
        self.files.append({"name": name, "why": why, "content": content})
        self.entries.append({"name": name, "why": why, "bytes": len(content.encode("utf-8")),
                             "redactions": redactions})

    def missing(self, what, why):
        self.not_included.append({"what": what, "why": why})


def _opts(p):
    """diagnose_host's defaults, with the bundle's window and helper options; no class scan."""
    opts = dict((k, v.get("default")) for k, v in DIAGNOSE_ARGS.items())
    opts.update(since=p["since"], helper_dir=p["helper_dir"], request_timeout=p["request_timeout"],
                skip=["collisions"])
    return opts


def _binary(master):
    pid = master.get("master_pid")
    if master.get("binary_deleted") or not master.get("binary"):
        return "/proc/%s/exe" % pid
    return master["binary"]


def php_builds(run, masters):
    out = []
    for m in masters:
        binary = _binary(m)
        rc, so, se = run([binary, "-v"])
        out.append("== master %s (%s): %s -v\n%s" % (m.get("master_pid"), m.get("config"), binary,
                                                     so if rc == 0 else "rc %s: %s" % (rc, (se or so).strip())))
    return "\n".join(out) + "\n"


def file_cache_listing(masters, limit=MAX_FILE_CACHE_ENTRIES):
    """``(text, [(master pid, why)])`` for each master's opcache.file_cache."""
    out, missing = [], []
    for m in masters:
        where = str((m.get("opcache") or {}).get("opcache.file_cache") or "").strip()
        head = "== master %s (%s): opcache.file_cache=%s" % (m.get("master_pid"), m.get("config"), where or "(not set)")
        out.append(head)
        if not where:
            continue
        root = "/proc/%s/root" % m.get("master_pid")
        path = root + where if os.path.isdir(root + where) else where
        if not os.path.isdir(path):
            missing.append((m.get("master_pid"), "%s is not a directory" % where))
            out.append("  (not a directory)")
            continue
        n = 0
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames.sort()
            for name in sorted(filenames):
                full = os.path.join(dirpath, name)
                try:
                    st = os.lstat(full)
                except OSError as exc:
                    out.append("  ? %s (%s)" % (full[len(path) - len(where):], exc))
                    continue
                n += 1
                if n <= limit:
                    out.append("  %10d %d %s" % (st.st_size, int(st.st_mtime), where + full[len(path):]))
        if n > limit:
            out.append("  ... %d more files" % (n - limit))
        out.append("  %d files" % n)
    return "\n".join(out) + "\n", missing


def kernel_offsets(events, raw_lines):
    found, unknown = [], 0
    for e in events or []:
        if e.get("category") not in KERNEL_CRASH:
            continue
        line = raw_lines.get((e.get("file"), e.get("line_no")))
        off = object_offset(line) if line else None
        if off is None:
            unknown += 1
            continue
        off.update(pid=e.get("pid"), process=e.get("process"), timestamp=e.get("timestamp"), file=e.get("file"),
                   line_no=e.get("line_no"))
        found.append(off)
    return found, unknown


def gather(module, run, p, which):
    """``(files, manifest)`` for evidence_bundle; raises StepError when discovery fails."""
    record = diagnose(module, run, _opts(p))
    b = Bundle()
    masters = record["discovery"].get("masters") or []
    evidence = record.get("evidence") or {}
    events = evidence.get("events") or []

    b.text("php-v.txt", "the PHP build of each master (version, build, Zend extensions)", php_builds(run, masters))

    opc = record.get("opcache") or {}
    zlines = []
    for m in opc.get("masters") or []:
        b.json("opcache-%s.json" % m.get("master_pid"), "OPcache status and configuration of master %s, read before "
               "any reset, with its APCu state" % m.get("master_pid"),
               dict((k, m.get(k)) for k in ("master_pid", "config", "php_version", "pool", "pools", "status",
                                            "configuration", "apcu", "stale_counts", "scripts", "zend_extensions")))
        zlines.append("master %s (%s): %s" % (m.get("master_pid"), m.get("config"),
                                              ", ".join(m.get("zend_extensions") or []) or "(not reported)"))
    for f in opc.get("failed_masters") or []:
        b.missing("OPcache status of master %s" % f.get("master_pid"), f.get("msg"))
    if opc.get("msg") and not opc.get("masters"):
        b.missing("OPcache status", opc.get("msg"))
    if zlines:
        b.text("zend_extensions.txt", "the zend_extensions each master loaded, in load order", "\n".join(zlines) + "\n")

    listing, missing = file_cache_listing(masters)
    b.text("file_cache.txt", "the files of each configured opcache.file_cache (it survives opcache_reset)", listing)
    for pid, why in missing:
        b.missing("file cache of master %s" % pid, why)

    text, info = crash_neighbours(events, p["context"], p["max_crash_lines"], keep_raw=True)
    raw = info.pop("raw")
    b.redacted("crash_lines.txt", "every crash line (worker signals, kernel faults, core dumps, the 502s of a dead "
               "worker) with %d lines around it, from the files the evidence came from" % p["context"], text,
               info["redactions"])
    for nr in info["not_read"]:
        b.missing("neighbours in %s" % nr["file"], nr["why"])

    offsets, unknown = kernel_offsets(events, raw)
    b.json("kernel_offsets.json", "for each kernel fault line, the offset of the faulting instruction inside its "
           "object (give it to addr2line -e <object>)", offsets)
    if unknown:
        b.missing("offsets of %d kernel fault line(s)" % unknown, "the line names no mapping [base+size], its ip lies "
                  "outside it, or it came from the journal (no raw line kept)")

    cores = list_cores(run, which, p["max_cores"])
    b.json("coredumps.json", "the PHP core dumps systemd-coredump holds (coredumpctl --json=short list)",
           {k: cores.get(k) for k in ("available", "why", "error", "entries")})
    for pid, text in sorted(cores.get("info", {}).items()):
        b.text("coredump-info-%s.txt" % pid, "coredumpctl info %s: the stack trace systemd-coredump took" % pid, text)
    if not cores.get("entries"):
        b.missing("core dumps", cores.get("why") or cores.get("error") or "none of PHP")
    traces = backtraces(run, which, cores, find_gdbinit())
    for pid, text in sorted(traces.get("traces", {}).items()):
        b.text("gdb-%s.txt" % pid, "gdb -batch backtrace of core %s%s" % (pid, " with zbacktrace" if traces.get(
            "zbacktrace") else ""), text)
    if traces.get("why"):
        b.missing("gdb backtrace" + (" (zbacktrace)" if traces.get("traces") else ""), traces["why"])

    b.json("evidence.json", "the classified crash evidence of the window: counts, incidents, sources read",
           dict((k, evidence.get(k)) for k in ("window", "counts", "correlation", "incidents", "incidents_total",
                                               "files", "missing", "kernel_sources", "fpm_sources", "first_seen",
                                               "last_seen", "top_crash_paths", "msg")))
    manifest = {"window": evidence.get("window"), "files": b.entries, "not_included": b.not_included,
                "redaction": REDACTION, "crash_lines": info["crash_lines"],
                "discovery_warnings": record["discovery"].get("warnings_found") or []}
    return b.files, manifest
