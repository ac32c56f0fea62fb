# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Core dumps of PHP held by systemd-coredump, and a gdb backtrace of them where gdb can.

Private to opcache-fleet. Standard library only, Python 3.8+. Read-only: ``coredumpctl list``
and ``info`` read the journal; ``coredumpctl debug`` hands the stored core to ``gdb -batch``,
which writes nothing. Each function says why when it could not do its part: the bundle names
what is missing instead of leaving it out silently.
"""
from __future__ import absolute_import, division, print_function

import json
import os
import re

__metaclass__ = type

PHP_EXE = re.compile(r"(^|/)(php[\w.-]*|php-fpm[\w.-]*|lsphp[\w.-]*)$")
# php-src's .gdbinit defines zbacktrace; distributions rarely ship it.
GDBINIT_PLACES = ("/usr/share/php/gdbinit", "/usr/share/doc/php/gdbinit", "/usr/src/php/.gdbinit",
                  "/usr/local/src/php/.gdbinit")
GDB_SECONDS = 60


def list_cores(run, which, max_cores=5):
    """``{available, why?, entries: [...php cores, newest last], info: {pid: text}, error?}``."""
    if not which("coredumpctl"):
        return {"available": False, "why": "coredumpctl is not installed: systemd-coredump holds no cores here "
                "(see kernel.core_pattern for where cores go)", "entries": [], "info": {}}
    rc, out, err = run(["coredumpctl", "--json=short", "--no-pager", "list"])
    if rc != 0 and "no coredumps found" in (out + err).lower():
        return {"available": True, "entries": [], "info": {}, "why": "systemd-coredump holds no core dump"}
    if rc != 0:
        return {"available": True, "entries": [], "info": {},
                "error": "coredumpctl --json=short list: rc %s: %s" % (rc, (err or out).strip()[:500])}
    try:
        entries = json.loads(out)
    except ValueError as exc:
        return {"available": True, "entries": [], "info": {}, "error": "coredumpctl gave no JSON: %s" % exc}
    php = [e for e in entries if isinstance(e, dict) and PHP_EXE.search(str(e.get("exe") or ""))]
    php = php[-max_cores:] if max_cores else []
    info = {}
    for e in php:
        rc, out, err = run(["coredumpctl", "info", "--no-pager", str(e.get("pid"))])
        info[str(e.get("pid"))] = out if rc == 0 else "coredumpctl info: rc %s: %s" % (rc, (err or out).strip()[:500])
    return {"available": True, "entries": php, "info": info}


def find_gdbinit(places=GDBINIT_PLACES, exists=os.path.isfile):
    return next((p for p in places if exists(p)), None)


def backtraces(run, which, cores, gdbinit=None):
    """``{available, why?, traces: {pid: text}, zbacktrace}``: gdb on each core still present."""
    if not which("gdb"):
        return {"available": False, "why": "gdb is not installed (apt install gdb php8.x-dbgsym for symbols)",
                "traces": {}, "zbacktrace": False}
    present = [e for e in cores.get("entries") or [] if str(e.get("corefile") or e.get("storage") or "") == "present"]
    if not present:
        return {"available": True, "why": "no PHP core file is present to debug (%s)"
                % (cores.get("why") or cores.get("error") or "coredumpctl lists none present"),
                "traces": {}, "zbacktrace": False}
    args = "-batch -ex bt"
    if gdbinit:
        args += " -ex 'source %s' -ex zbacktrace" % gdbinit
    traces = {}
    for e in present:
        argv = ["coredumpctl", "debug", "--no-pager", "--debugger=gdb", "--debugger-arguments=" + args,
                str(e.get("pid"))]
        if which("timeout"):
            argv = ["timeout", str(GDB_SECONDS)] + argv
        rc, out, err = run(argv)
        traces[str(e.get("pid"))] = (out + ("\n" + err if err else "")) if rc == 0 else \
            "gdb: rc %s: %s" % (rc, (err or out).strip()[:2000])
    out = {"available": True, "traces": traces, "zbacktrace": bool(gdbinit)}
    if not gdbinit:
        out["why"] = "zbacktrace needs php-src's .gdbinit, found in none of %s: plain bt only" % ", ".join(GDBINIT_PLACES)
    return out
