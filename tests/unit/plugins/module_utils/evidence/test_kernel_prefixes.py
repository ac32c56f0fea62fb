# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Transport prefixes of kernel records (issue 12): journald's blank host, a journalctl
locale's month, the printk caller of CONFIG_PRINTK_CALLER. Lines from the fixtures' sources."""

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.parse import parse_record
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.timestamps import (
    TimeContext, format_ts, parse_iso,
)

pytestmark = pytest.mark.usefixtures("utc")

REF = parse_iso("2026-12-31T00:00:00Z")


def rec(line):
    return parse_record(line, TimeContext(ref_epoch=REF))


def test_a_blank_host_leaves_kernel_the_tag():
    # php/php-src #8149: "kernel:" is no host name (none ends in a colon)
    r = rec("Apr 01 13:37:30  kernel: php-fpm[63712]: segfault at 3a8c ip 00007f94479dd1ca sp 00007ffdebe9a140 "
            "error 4 in ld-2.28.so[7f94479d0000+2e000]")
    assert r.tag == "kernel" and r.tag_pid is None
    assert r.message.startswith("php-fpm[63712]: segfault at 3a8c")
    assert format_ts(r.ts) == "2026-04-01T13:37:30+00:00"


def test_a_host_name_is_still_a_host_name():
    r = rec("May  8 16:21:14 server  kernel: [817145.478932] php-fpm8.0[3482145]: segfault at 105")
    assert r.tag == "kernel" and r.message.startswith("php-fpm8.0[3482145]: segfault")


def test_a_journalctl_locale_month():
    # ask.fedoraproject.org "Laptop freezes after kernel bug": journalctl under a Russian locale
    r = rec("июл 27 14:08:04 laptop kernel: invalid opcode: 0000 [#1] SMP PTI")
    assert r.tag == "kernel" and r.message == "invalid opcode: 0000 [#1] SMP PTI"
    assert format_ts(r.ts) == "2026-07-27T14:08:04+00:00" and r.ts_source == "syslog"


def test_the_printk_caller_after_the_dmesg_stamp():
    # LKML, 2025-06-12 (linux-next-20250612): "[T3327]" is the caller, not the record
    r = rec("[  305.600587] [      T3327] traps: evolution[3327] trap int3 ip:7f64442d3ab7 sp:7ffc9f4e94d0 "
            "error:0 in libglib-2.0.so.0.8400.2[66ab7,7f644428c000+a1000]")
    assert r.tag == "kernel" and r.message.startswith("traps: evolution[3327] trap int3")
    r = rec("[    0.234399] [         T1] sysctl duplicate entry: /kernel/max_lock_depth")
    assert r.message == "sysctl duplicate entry: /kernel/max_lock_depth"


def test_the_outermost_syslog_tag_is_the_records():
    # a stamp and tag inside another program's message (a PHP script's syslog()) are its text
    r = rec("Apr 12 14:54:39 web1 php[374]: Jan 02 03:04:05 web1 kernel: php-fpm[1]: segfault at 0")
    assert r.tag == "php" and r.tag_pid == "374"
    r = rec("Apr 12 14:54:39 web1 php[374]: kernel: php-fpm[1]: segfault at 0")
    assert r.tag == "php" and r.message == "kernel: php-fpm[1]: segfault at 0"
    # the syslog time of the record is the outer one too
    assert format_ts(r.ts) == "2026-04-12T14:54:39+00:00"
    # a dmesg stamp and a bare "kernel: " still make an untagged record the kernel's
    assert rec("kernel: [269065.088395] php-fpm8.2[2107797]: segfault at 7f377e872428").tag == "kernel"
    assert rec("Jun 10 13:50:42 kernel: [4417665.769934] php-fpm[2226658]: segfault at 0").tag == "kernel"
