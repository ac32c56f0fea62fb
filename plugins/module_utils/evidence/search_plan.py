# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a file is searched for: its kinds (from its hint and a sniff of its
head) and, per set of kinds, the coarse literals and the compiled gate (a _Plan).

Private to opcache-fleet. Standard library only. The choice of literals never changes
what a scan finds, only how fast (see evidence/signature_table.py, SCAN_LITERALS).
"""

from __future__ import absolute_import, division, print_function

import re

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.signature_table import (
    GATE_LITERALS, GREP_LITERALS, SCAN_LITERALS, SCAN_LITERALS_EXTRA, SOURCE_KINDS,
)

__metaclass__ = type

__all__ = ["ALL_KINDS", "plan_for"]

ALL_KINDS = frozenset(SOURCE_KINDS)


class _Plan(object):
    """What one file is searched for: its evidence ``kinds`` (from the hint and the
    head), the ``literals`` located with ``bytes.find`` (every line that can yield an
    event of those kinds holds one of them) and the ``gate`` (the signature
    prefilters of those kinds, checked on each candidate line before decoding)."""

    __slots__ = ("kinds", "literals", "gate", "gate_search", "gate_in_grep", "grep_literals", "grep_gate")

    def __init__(self, kinds):
        self.kinds = frozenset(kinds)
        lits = set()
        glits = set()
        gate = set()
        for k in self.kinds:
            lits.update(SCAN_LITERALS.get(k, ()))
            lits.update(SCAN_LITERALS_EXTRA.get(k, ()))
            glits.update(GREP_LITERALS.get(k, SCAN_LITERALS.get(k, ())))
            glits.update(SCAN_LITERALS_EXTRA.get(k, ()))
            gate.update(GATE_LITERALS.get(k, ()))
        self.literals = _minimal_literals(lits)
        self.grep_literals = _minimal_literals(glits)
        self.gate = tuple(sorted(gate))
        # one C-level search instead of a Python loop over the literals
        self.gate_search = re.compile(b"|".join(re.escape(g) for g in self.gate)).search
        # the grep prefilter gates its output lines ("offset:line") with the same literals:
        # exact for a line not cut at MAX_LINE when no literal can match the offset
        self.gate_in_grep = bool(self.gate) and all(g.strip(b"0123456789:") for g in self.gate)
        # the literals given to the second grep: none when every grep literal holds a gate literal
        # (then each line the first grep reports passes the gate; one process and one pipe of
        # candidate text less, which is most of the grep side's cost on a notice-heavy log)
        self.grep_gate = self.gate
        if self.gate and all(any(g in lit for g in self.gate) for lit in self.grep_literals):
            self.grep_gate = ()
            self.gate_in_grep = True


def _minimal_literals(lits):
    """Drop literals that contain another one (the shorter finds their lines too)."""
    lits = sorted(set(lits), key=len)
    out = []
    for l in lits:
        if not any(o in l for o in out):
            out.append(l)
    return tuple(sorted(out))


_PLANS = {}


def plan_for(kinds):
    key = frozenset(kinds)
    p = _PLANS.get(key)
    if p is None:
        p = _PLANS[key] = _Plan(key)
    return p


# What each source writes, and so all a file of it is searched for (Scanner.choose_kinds).
# nginx copies the client's request line, Host and Referer raw into its error log, and
# a child's stderr reaches the php-fpm log: a kind its source cannot write is never
# evidence, whatever the line looks like. The kernel hint covers kern.log, messages,
# syslog and journalctl/dmesg output; php-fpm can log to syslog (error_log = syslog).
_HINT_KINDS = {
    "nginx": ("nginx",),
    "php-fpm": ("php-fpm",),
    "slowlog": ("php-fpm",),
    "kernel": ("kernel", "coredump", "php-fpm"),
    "coredump": ("coredump", "kernel"),
}


_RE_SNIFF_NGINX = re.compile(rb"^(?:.{0,120}?[ |])?\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[[a-z]+\] \d+#\d+: ", re.M)
_RE_SNIFF_FPM = re.compile(
    rb"^(?:.{0,120}?[ |])?(?:\[\d\d-[A-Z][a-z]{2}-\d{4} \d\d:\d\d:\d\d(?:\.\d+)?\]"
    rb"|[A-Z][a-z]{2} +\d\d? \d\d:\d\d:\d\d\.\d+ \[[A-Z]+\]|\[pool )", re.M)
_RE_SNIFF_SYSLOG = re.compile(
    rb"^(?:<\d+>)?(?:[A-Z][a-z]{2} +\d\d? \d\d:\d\d:\d\d(?:\.\d+)? +\S+ \S+?(?:\[\d+\])?: "
    rb"|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\S* \S+ \S+?(?:\[\d+\])?: |\[\s*\d+\.\d+\] )", re.M)
# a container's output stream: docker compose "svc_1  | ", CRI "<iso> stdout F "
_RE_SNIFF_CONTAINER = re.compile(
    rb"^(?:[A-Za-z0-9][\w.\-]{0,80}?\s*\| |\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\S* (?:stdout|stderr) (?:[FP] )?)", re.M)


def _sniff_kinds(head):
    kinds = set()
    if not head:
        return kinds
    lines = head.count(b"\n") + 1
    n_ng = len(_RE_SNIFF_NGINX.findall(head))
    n_fpm = len(_RE_SNIFF_FPM.findall(head))
    n_sys = len(_RE_SNIFF_SYSLOG.findall(head))
    if n_ng:
        kinds.add("nginx")
    if n_fpm:
        kinds.add("php-fpm")
    if n_sys:
        kinds.update(("kernel", "coredump", "php-fpm", "nginx"))
    if n_ng + n_fpm + n_sys < 0.5 * lines:
        # a container stream (its other lines are access logs, application output):
        # nginx and php-fpm run in containers, the kernel and crash handlers do not
        n_cont = len(_RE_SNIFF_CONTAINER.findall(head))
        if n_ng + n_fpm + n_sys + n_cont >= 0.5 * lines:
            kinds.update(("nginx", "php-fpm"))
        else:
            kinds.add("other")
    return kinds
