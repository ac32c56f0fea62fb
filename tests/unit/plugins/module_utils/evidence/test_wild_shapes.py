# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Each class of real log shapes that issue 12 lists keeps sample lines that match, near-misses
that must not, and the sources they come from (tests/unit/wild_shapes.py tells the classes;
test_signatures.py checks what every sample yields). Each shape the issue names within a
class has a sample of its own here, so dropping one from the fixtures fails."""
import re

import pytest

import wild_shapes


@pytest.mark.parametrize("name", list(wild_shapes.CLASSES))
def test_each_class_of_real_shapes_has_samples_near_misses_and_sources(name):
    row = wild_shapes.coverage()[name]
    assert row["match"] >= 10, row
    assert row["near_miss"] >= 3, row
    assert len(row["sources"]) >= 5, row


SHAPES = [
    # (category, what the issue names, a test of the sample line)
    ("child_signal", "no stamp at all", lambda l: l.startswith("WARNING: ")),
    ("child_signal", "pasted with leading blanks", lambda l: l.startswith(" ")),
    ("child_signal", "syslog with the level in brackets", lambda l: re.search(r"php-fpm\[\d+\]: \[WARNING\]", l)),
    ("child_signal", "PHP 5.3 stamp without a year", lambda l: re.match(r"[A-Z][a-z]{2} +\d+ [\d:]+\.\d+ \[", l)),
    ("child_signal", "debug decoration", lambda l: re.search(r"\w\(\), line \d+: ", l)),
    ("child_signal", "a signal other than SIGSEGV", lambda l: re.search(r"SIG(?:BUS|ABRT|KILL|TERM)", l)),
    ("child_signal", "- core dumped", lambda l: "core dumped" in l),
    ("lifecycle", "config test passed", lambda l: "test is successful" in l),
    ("lifecycle", "unknown entry at file:line", lambda l: re.search(r"\[\S+:\d+\] unknown entry", l)),
    ("lifecycle", "incompatible timeouts", lambda l: "can't be greater" in l),
    ("lifecycle", "initialization failed", lambda l: "FPM initialization failed" in l),
    ("lifecycle", "glibc bind wording", lambda l: "Address already in use (98)" in l),
    ("lifecycle", "musl bind wording", lambda l: "Address in use (98)" in l),
    ("lifecycle", "another instance listening", lambda l: "FPM instance seems to already listen" in l),
    ("lifecycle", "a failed reload", lambda l: "failed to reload" in l),
    ("lifecycle", "directive ignored when not root", lambda l: "ignored when FPM is not running as root" in l),
    ("lifecycle", "IPv6 bind fallback", lambda l: "implicitly binding" in l),
    ("kernel_segfault", "no kernel: tag", lambda l: re.match(r"\[\s*\d+\.\d+\] php", l)),
    ("kernel_segfault", "journald blank host", lambda l: "  kernel: " in l),
    ("kernel_segfault", "dmesg -T", lambda l: re.match(r"\[[A-Z][a-z]{2} ", l)),
    ("kernel_segfault", "no stamp", lambda l: re.match(r"\s*php-fpm\[\d+\]: segfault", l)),
    ("kernel_trap", "trap other than segfault and GP", lambda l: re.search(r"trap (?:int3|divide error|stack segment|invalid opcode)", l)),
    ("oom_kill", "older OOM form", lambda l: "or sacrifice child" in l),
    ("oom_kill", "the allocating side", lambda l: "invoked oom-killer" in l),
    ("coredump", "older ABRT wording", lambda l: "dumping core" in l),
    ("coredump", "pid and uid masked", lambda l: "Process xxx" in l),
    ("coredump", "PID 1's own core dump", lambda l: "systemd[1]: Caught <" in l),
    ("upstream_reset", "Windows WSA errno", lambda l: "(10054: " in l),
    ("upstream_reset", "cut after its errno", lambda l: l.rstrip().endswith(")") and ", client: " not in l),
]


def _lines_of(category):
    return [(kind, line) for cat, kind, exp, line, source in wild_shapes.samples() if cat == category]


def test_localized_month_names_are_in_the_kernel_samples():
    lines = [l for cat, kind, exp, l, src in wild_shapes.samples() if cat in wild_shapes._KERNEL_CATS]
    assert any(re.match(r"^[^\x00-\x7f]", l) for l in lines)


@pytest.mark.parametrize("category, shape, test", SHAPES, ids=[s[1] for s in SHAPES])
def test_each_shape_the_issue_names_has_a_sample(category, shape, test):
    assert any(kind == "match" and test(line) for kind, line in _lines_of(category)), shape
