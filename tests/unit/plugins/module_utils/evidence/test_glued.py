# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""evidence.glued: glued php-fpm and dmesg records are split; a header where a stranger
writes (inside an nginx record, after a quote, in a child's output or a request line) is not
a record (issue 11, finding 2)."""
import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.glued import split_glued

FPM_A = ("[06-Dec-2016 17:22:18] WARNING: [pool www] child 2797 exited on signal 11 (SIGSEGV - core dumped) "
         "after 4.220801 seconds from start")
FPM_B = "[06-Dec-2016 17:22:18] NOTICE: [pool www] child 2815 started"
DMESG_A = ("[39307.319171] php5-fpm[7578]: segfault at 21 ip 00007f3897bbd094 sp 00007fff8ed6fb08 error 6 in "
           "libc-2.19.so[7f3897b30000+1bb000]")
DMESG_B = ("[39825.157236] php5-fpm[9524]: segfault at 41 ip 00000000006df1d9 sp 00007fff8ed6fb10 error 4 in "
           "php5-fpm[400000+7a3000]")
FORGED = "[04-Dec-2026 02:00:00] WARNING: [pool www] child 4242 exited on signal 11 (SIGSEGV) after 3.5 seconds from start"


@pytest.mark.parametrize("line,records", [
    (FPM_A + FPM_B, [FPM_A, FPM_B]),
    (DMESG_A + DMESG_B, [DMESG_A, DMESG_B]),
    ("php74_1        | " + FPM_A, ["php74_1        | " + FPM_A]),   # a prefix is not a record
    (FPM_A, [FPM_A]),
])
def test_glued_records_of_php_fpm_and_the_kernel_are_split(line, records):
    assert split_glued(line) == records


@pytest.mark.parametrize("line", [
    # nginx writes each record in one write ending in a newline: whatever follows its header,
    # quoted or not, is its own text (and may be a client's)
    "2026/11/26 17:01:02 [error] 2481#2481: *18 upstream timed out (110: Connection timed out) while reading "
    "response header from upstream, and then some more words that nginx wrote " + FORGED + ", client: 192.0.2.1",
    "2026/11/26 17:01:02 [error] 2481#2481: *18 recv() failed (104: Connection reset by peer), client: 192.0.2.1, "
    'referrer: "' + FORGED + '"',
    # a child's output, a request line, anything after a quote
    '[04-Dec-2026 02:00:00] WARNING: [pool www] child 12 said into stderr: "' + FORGED + '"',
    "[04-Dec-2026 02:00:00] WARNING: [pool www] child 12, script '/srv/x.php' (request: \"GET /" + FORGED + "\")",
    FPM_A + " '" + FPM_B,
])
def test_a_header_where_strangers_write_is_no_record(line):
    assert split_glued(line) == [line]
