# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Crash evidence that is not a log file: the kernel log (``journalctl -k``, else the
kernel log files, else ``dmesg``), ``journalctl -t systemd-coredump`` and
``coredumpctl list``.

Private to opcache-fleet. Standard library only. The commands run through the
AnsibleModule the caller passes (argument lists, no shell); their output is scanned
as a file would be (evidence/scan.py, scan_bytes).
"""

from __future__ import absolute_import, division, print_function

import os
import re

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.scan import scan_bytes
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.signature_table import SIGNAL_NAMES
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.timestamps import TimeContext, parse_iso

__metaclass__ = type

__all__ = ["collect_kernel", "coredumpctl_events", "KERNEL_FILES"]

KERNEL_FILES = ("/var/log/kern.log", "/var/log/messages", "/var/log/syslog")

_RE_COREDUMPCTL = re.compile(
    r"^\s*(?:[A-Z][a-z]{2} )?(?P<date>\d{4}-\d\d-\d\d) (?P<time>\d\d:\d\d:\d\d)(?: (?P<zone>[A-Za-z+\-0-9]+))?\s+"
    r"(?P<pid>\d+)\s+(?P<uid>\d+)\s+(?P<gid>\d+)\s+(?P<sig>\S+)\s+(?P<corefile>\S+)\s+(?P<exe>\S+)")


def coredumpctl_events(text, tctx=None):
    """Events (category coredump) from ``coredumpctl list --no-legend`` output:
    TIME PID UID GID SIG COREFILE EXE [SIZE]. Zone abbreviations other than UTC/GMT
    are taken as local time."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    tctx = tctx or TimeContext()
    names = dict((v[3:], k) for k, v in SIGNAL_NAMES.items())
    out = []
    for no, line in enumerate(text.splitlines(), 1):
        m = _RE_COREDUMPCTL.match(line)
        if not m:
            continue
        stamp = "%sT%s" % (m.group("date"), m.group("time"))
        if m.group("zone") in ("UTC", "GMT", "Z"):
            stamp += "Z"
        ts = parse_iso(stamp, tctx)
        sig = m.group("sig")
        num = int(sig) if sig.isdigit() else names.get(sig.replace("SIG", ""))
        exe = m.group("exe")
        proc = os.path.basename(exe)
        out.append({"file": "coredumpctl", "line_no": no, "source_kind": "coredump", "category": "coredump",
                    "_ts": ts, "level": None, "process": proc, "pid": int(m.group("pid")),
                    "uid": int(m.group("uid")), "signal_number": num,
                    "signal_name": SIGNAL_NAMES.get(num) if num else None,
                    "is_php": "php" in proc.lower(), "corefile": m.group("corefile")})
    return out


def _run(module, args):
    """run_command with an argument list; a command that cannot start is (127, '', why)."""
    try:
        return module.run_command(args, encoding=None, expand_user_and_vars=False, handle_exceptions=False)
    except (OSError, IOError) as e:
        return 127, b"", str(e).encode("utf-8", "replace")


def collect_kernel(module, sink, since, until, btime, files):
    """Kernel and crash-handler evidence. Returns the list of kernel_sources entries;
    may append kernel log files to ``files`` for the main scan."""
    sources = []
    jctl = module.get_bin_path("journalctl")
    journal_ok = False
    window = []
    if since is not None:
        window += ["--since", "@%d" % int(since)]
    if until is not None:
        window += ["--until", "@%d" % (int(until) + 1)]
    if jctl:
        for label, args in (("journalctl -k", ["-k"]),
                            ("journalctl -t systemd-coredump", ["-t", "systemd-coredump"])):
            rc, out, err = _run(module, [jctl, "--no-pager", "-q", "-o", "short-iso"] + args + window)
            if rc != 0:
                sources.append({"source": label, "status": "error", "error": _text(err).strip()[:300] or
                                "exit code %d" % rc})
                continue
            rep = scan_bytes(label, out, sink, since=since, until=until, boot_time=btime, hint="kernel")
            sources.append({"source": label, "status": "scanned", "events": rep.get("events", 0),
                            "lines": rep.get("lines", 0)})
            if label == "journalctl -k" and out.strip():
                journal_ok = True
    else:
        sources.append({"source": "journalctl", "status": "absent"})
    if not journal_ok:
        found = [p for p in KERNEL_FILES if os.path.exists(p)]
        for p in found:
            files.append((p, "kernel"))
            sources.append({"source": p, "status": "queued"})
        if not found:
            dmesg = module.get_bin_path("dmesg")
            if dmesg:
                rc, out, err = _run(module, [dmesg])
                if rc == 0:
                    rep = scan_bytes("dmesg", out, sink, since=since, until=until, boot_time=btime, hint="kernel")
                    sources.append({"source": "dmesg", "status": "scanned", "events": rep.get("events", 0),
                                    "lines": rep.get("lines", 0)})
                else:
                    sources.append({"source": "dmesg", "status": "error",
                                    "error": _text(err).strip()[:300] or "exit code %d" % rc})
            else:
                sources.append({"source": "dmesg", "status": "absent"})
    cdctl = module.get_bin_path("coredumpctl")
    if cdctl:
        args = [cdctl, "list", "--no-pager", "--no-legend"]
        if since is not None:
            args += ["--since", "@%d" % int(since)]
        if until is not None:
            args += ["--until", "@%d" % (int(until) + 1)]
        rc, out, err = _run(module, args)
        if rc == 0:
            n = 0
            for ev in coredumpctl_events(out, TimeContext(boot_time=btime)):
                if (since is None or ev["_ts"] is None or ev["_ts"] >= since) and \
                        (until is None or ev["_ts"] is None or ev["_ts"] <= until):
                    sink.add(ev)
                    n += 1
            sources.append({"source": "coredumpctl", "status": "scanned", "events": n})
        else:
            # "No coredumps found." exits 1
            sources.append({"source": "coredumpctl", "status": "empty" if rc == 1 else "error",
                            "error": _text(err).strip()[:300] or None})
    else:
        sources.append({"source": "coredumpctl", "status": "absent"})
    return sources


def _text(b):
    if isinstance(b, bytes):
        return b.decode("utf-8", "replace")
    return b or ""
