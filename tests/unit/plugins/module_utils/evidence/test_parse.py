# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""evidence/parse.py: prefixes, record stamps (local time), one record per line, nginx context."""

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.parse import nginx_message_text, parse_nginx_context, parse_record
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.timestamps import TimeContext, format_ts, parse_iso

REF = 1798675200.0  # 2026-12-31T00:00:00Z


pytestmark = pytest.mark.usefixtures("utc")   # TZ=UTC for every test (conftest.py)


def rec(line, boot_time=None, ref=REF):
    return parse_record(line, TimeContext(ref_epoch=ref, boot_time=boot_time))


# ------------------------------------------------------------------ prefixes

@pytest.mark.parametrize("line,container", [
    ("php74_1        | [13-Dec-2019 01:00:20] WARNING: [pool www] child 8 exited with code 11", "php74_1"),
    ("php-fpm-mailcow_1    | [05-Mar-2018 12:01:52] WARNING: [pool www] child 43 said into stderr: \"x\"",
     "php-fpm-mailcow_1"),
    ("web-1  | 2023/02/01 08:00:00 [error] 29#29: *41 upstream sent too big header", "web-1"),
])
def test_compose_prefix(line, container):
    r = rec(line)
    assert r.container == container
    assert r.kind in ("nginx", "php-fpm")
    assert r.ts is not None


def test_cri_prefix_zone_aware_stamp_wins():
    r = rec("2022-06-07T20:00:55.123456789Z stderr F [07-Jun-2022 22:00:55] NOTICE: ready to handle connections")
    assert r.kind == "php-fpm"
    assert r.message == "ready to handle connections"
    assert r.ts == pytest.approx(parse_iso("2022-06-07T20:00:55.123456Z"), abs=1e-5)
    assert r.ts_source == "prefix-zoned"


def test_cri_prefix_without_partial_flag_and_docker_t():
    r = rec("2022-06-07T20:00:55Z stdout [07-Jun-2022 20:00:55] NOTICE: fpm is running, pid 1")
    assert r.kind == "php-fpm" and r.message.startswith("fpm is running")
    r = rec("2024-04-10T14:39:26.708084488Z [10-Apr-2024 14:39:26] WARNING: [pool www] server reached "
            "pm.max_children setting (5), consider raising it")
    assert r.kind == "php-fpm" and r.message.startswith("[pool www]")


def test_bsd_syslog_prefix_and_tag():
    r = rec("Apr 12 14:54:39 host php-fpm[812]: [WARNING] [pool www] child 4074 exited on signal 11 (SIGSEGV)")
    assert r.tag == "php-fpm" and r.tag_pid == "812"
    assert r.kind == "php-fpm" and r.level == "WARNING"
    assert format_ts(r.ts) == "2026-04-12T14:54:39+00:00"


def test_syslog_year_is_inferred_from_the_reference():
    # a December stamp read in January belongs to the previous year
    jan = parse_iso("2027-01-02T00:00:00Z")
    r = rec("Dec 31 23:59:59 host kernel: x", ref=jan)
    assert format_ts(r.ts).startswith("2026-12-31T23:59:59")


def test_journald_short_iso_and_rfc5424():
    r = rec("2024-01-31T12:00:00+0100 web1 kernel: php-fpm[1]: segfault at 0 ip 1 sp 2 error 4")
    assert r.tag == "kernel" and r.message.startswith("php-fpm[1]: segfault")
    assert r.ts == parse_iso("2024-01-31T11:00:00Z")
    r = rec("<165>1 2024-01-31T12:00:00.5Z web1 php-fpm 812 - - [WARNING] [pool www] child 1 exited on signal 11")
    assert r.tag == "php-fpm" and r.kind == "php-fpm"
    assert r.ts == pytest.approx(parse_iso("2024-01-31T12:00:00.5Z"))


def test_dmesg_uptime_needs_the_boot_time():
    line = "[12345.678901] php-fpm[7]: segfault at 0 ip 1 sp 2 error 4 in opcache.so[1+2]"
    assert rec(line).ts is None
    r = rec(line, boot_time=1000000.0)
    assert r.ts == pytest.approx(1000000.0 + 12345.678901)
    assert r.tag == "kernel"


def test_dmesg_human_stamp():
    r = rec("[Wed Jan 31 12:00:00 2024] php-fpm[7]: segfault at 0 ip 1 sp 2 error 4")
    assert format_ts(r.ts) == "2024-01-31T12:00:00+00:00"


# ------------------------------------------------------------------ stamps and local time

def test_nginx_stamp_is_local_time(tz):
    tz("Europe/Paris")
    r = rec("2024/07/01 12:00:00 [error] 1#1: *2 upstream timed out")
    assert r.ts == parse_iso("2024-07-01T10:00:00Z")          # CEST, UTC+2
    assert format_ts(r.ts) == "2024-07-01T12:00:00+02:00"
    r = rec("2024/01/15 12:00:00 [error] 1#1: *2 upstream timed out")
    assert format_ts(r.ts) == "2024-01-15T12:00:00+01:00"    # CET in winter


def test_fpm_microsecond_stamp(tz):
    tz("America/New_York")
    r = rec("[12-Apr-2016 14:54:39.123456] WARNING: [pool www] child 1 exited on signal 11 (SIGSEGV)")
    assert format_ts(r.ts) == "2016-04-12T14:54:39.123456-04:00"


def test_php53_stamp_without_year():
    r = rec("Apr 12 14:54:39.045725 [WARNING] [pool www] child 4074 exited on signal 15 SIGTERM after 1.5 "
            "seconds from start")
    assert r.kind == "php-fpm" and r.level == "WARNING"
    assert format_ts(r.ts) == "2026-04-12T14:54:39.045725+00:00"


def test_fpm_debug_decoration_is_removed():
    r = rec("[04-Jan-2016 20:49:43.599789] WARNING: pid 23055, fpm_children_bury(), line 252: [pool www] child "
            "23173 exited on signal 11 (SIGSEGV) after 363.538588 seconds from start")
    assert r.message.startswith("[pool www] child 23173")


# ------------------------------------------------------------------ one record per physical line

NGX1 = ('2026/11/26 17:01:02 [error] 2481#2481: *18 recv() failed (104: Connection reset by peer) while '
        'reading response header from upstream, client: 127.0.0.1, server: _, request: "GET /a HTTP/1.1", '
        'upstream: "fastcgi://unix:/run/php/x.sock:", host: "h"')
FPM1 = "[26-Nov-2026 17:01:02] WARNING: [pool www] child 1 exited on signal 11 (SIGSEGV) after 1.0 seconds from start"
FPM2 = "[26-Nov-2026 17:01:02] NOTICE: [pool www] child 2 started"


def test_a_header_inside_a_line_is_text_of_the_first_record():
    # issue 11: nginx writes the client's Referer raw; a "second record" in a line
    # is what a stranger forges, so only the start of a physical line holds a header
    r = rec(NGX1 + NGX1.replace("*18", "*19"))
    assert r.kind == "nginx" and r.fields["connection"] == 18
    assert r.message.endswith(NGX1.replace("*18", "*19"))
    r = rec(FPM1 + FPM2)
    assert r.kind == "php-fpm" and r.message.endswith("seconds from start" + FPM2)
    r = rec(NGX1 + "\x00\x00" + FPM1)
    assert r.kind == "nginx" and r.message.endswith(FPM1)


def test_the_client_fields_are_not_nginx_text():
    msg = rec(NGX1 + ', referrer: "recv() failed (104: x) while reading upstream"').message
    assert nginx_message_text(msg) == ("recv() failed (104: Connection reset by peer) while reading response "
                                       "header from upstream")
    assert nginx_message_text("no context here") == "no context here"


# ------------------------------------------------------------------ nginx context

def test_nginx_context_fields_ipv6_and_referrer():
    text, f = parse_nginx_context(
        'recv() failed (104: Connection reset by peer) while reading response header from upstream, client: '
        '2001:db8::17, server: _, request: "POST /x.php?a=1 HTTP/2.0", upstream: '
        '"fastcgi://[::1]:9000", host: "[2001:db8::1]", referrer: "https://e/"')
    assert f["client"] == "2001:db8::17"
    assert f["method"] == "POST" and f["path"] == "/x.php" and f["uri"] == "/x.php?a=1"
    assert f["upstream"] == "fastcgi://[::1]:9000" and f["host"] == "[2001:db8::1]"
    assert text.endswith("from upstream")


def test_nginx_context_truncated_request():
    text, f = parse_nginx_context('x, client: 1.2.3.4, server: s, request: "GET /' + "a" * 3000)
    assert f["client"] == "1.2.3.4" and f["method"] == "GET" and "upstream" not in f
