# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""nginx records cut short (issue 12): a mail client's wrap, a paste, nginx's own 2 KiB cut.

Every cut here is a prefix of a real published record (the fixtures' sources), taken at
each position from the errno on: a cut record still classifies where its header rules
out a client's reset or a health check (line_events._cut_ok), never where it does not,
and the scanner's coarse literals still find it."""

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.line_events import events_from_line, public_event
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.scan import scan
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.signature_table import (
    GREP_LITERALS, SCAN_LITERALS,
)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.sinks import CompositeSink, EventCollector
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.correlate import Correlator
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.timestamps import TimeContext

pytestmark = pytest.mark.usefixtures("utc")

# (category, record): upstream_reset.log (lab; prinsss.github.io, nginx for Windows),
# upstream_connect_refused.log (EasyEngine #416; causefx/Organizr #1972)
RECORDS = (
    ("upstream_reset", '2026/11/26 17:01:02 [error] 2481#2481: *18 recv() failed (104: Connection reset by peer) '
                       'while reading response header from upstream, client: 127.0.0.1, server: _, request: '
                       '"GET /a/crash.php HTTP/1.1", upstream: "fastcgi://unix:/run/php/php8.2-fpm.sock:", '
                       'host: "127.0.0.1"'),
    ("upstream_reset", '2018/10/21 11:45:14 [error] 81019#14893: *10 WSARecv() failed (10054: An existing connection '
                       'was forcibly closed by the remote host) while reading response header from upstream, client: '
                       '127.0.0.1, server: localhost, request: "GET /l.php HTTP/1.1", upstream: '
                       '"fastcgi://127.0.0.1:9000", host: "localhost"'),
    ("upstream_connect_refused", '2015/02/13 20:04:29 [error] 31031#0: *13047 connect() failed (111: Connection '
                                 'refused) while connecting to upstream, client: 187.135.33.131, server: example.com, '
                                 'request: "GET / HTTP/1.1", upstream: "fastcgi://127.0.0.1:9000", host: "example.com"'),
    ("upstream_connect_refused", '2024/03/25 15:26:14 [error] 1948#13972: *1 connect() failed (10061: No connection '
                                 'could be made because the target machine actively refused it) while connecting to '
                                 'upstream, client: 127.0.0.1, server: localhost, request: "GET / HTTP/1.1", upstream: '
                                 '"fastcgi://127.0.0.1:9000", host: "localhost"'),
)


def categories(line):
    tctx = TimeContext(ref_epoch=1798675200.0)
    return [public_event(e)["category"] for e in events_from_line(line, "cut", 1, tctx)]


def cuts(record):
    """Every prefix of ``record`` from just after its errno and its ": " to the full record."""
    start = record.index("(1") + record[record.index("(1"):].index(": ") + 2
    return [record[:n] for n in range(start, len(record) + 1)]


@pytest.mark.parametrize("category,record", RECORDS)
def test_every_cut_after_the_errno_still_classifies(category, record):
    for cut in cuts(record):
        assert categories(cut) == [category], cut


@pytest.mark.parametrize("category,record", RECORDS)
def test_no_cut_of_an_info_record_classifies(category, record):
    # the level nginx gives a client's reset: the lost phase could have been the client's
    quiet = record.replace("[error]", "[info]", 1)
    for cut in cuts(quiet):
        if len(cut) >= quiet.index(", client: "):
            continue   # the phase is all there: the record is complete enough to judge
        assert categories(cut) == [], cut


@pytest.mark.parametrize("category,record", RECORDS)
def test_no_cut_without_a_connection_number_classifies(category, record):
    # "[error] 5626#0: recv() failed (104: ...)" is a health check, not a request (alibaba/tengine #901)
    head, rest = record.split(": *", 1)
    bare = head + ": " + rest.split(" ", 1)[1]
    for cut in cuts(bare):
        if len(cut) >= bare.index(", client: "):
            continue
        assert categories(cut) == [], cut


def test_a_client_reset_at_error_level_is_told_once_its_phase_shows():
    # proteinevolution/Toolkit #179's "... while sending to client": as soon as the cut
    # leaves "sending to c", it is no FastCGI exchange
    record = ("2024/01/31 12:00:00 [error] 2481#2481: *5 writev() failed (104: Connection reset by peer) "
              "while sending to client")
    at = record.index("sending to c") + len("sending to c")
    for n in range(at, len(record) + 1):
        assert categories(record[:n]) == [], record[:n]


@pytest.mark.parametrize("category,record", RECORDS)
def test_the_coarse_literals_find_every_cut(category, record):
    for cut in cuts(record):
        raw = cut.encode("utf-8")
        assert any(l in raw for l in SCAN_LITERALS["nginx"]), cut
        assert any(l in raw for l in GREP_LITERALS["nginx"]), cut


@pytest.mark.parametrize("prefilter", ["python", "auto"])
def test_a_wrapped_record_is_found_by_the_scan(tmp_path, prefilter):
    # cpriego/valet-linux #188 as the report shows it: one record over three lines
    f = tmp_path / "error.log"
    f.write_bytes(b"2019/01/14 16:26:56 [error] 11370#11370: *34 recv() failed (104: Connection reset by peer)\n"
                  b"while reading response header from upstream, client: 127.0.0.1, server: , request: \"GET /register\n"
                  b"HTTP/1.1\", upstream: \"fastcgi://unix:/home/web01/.valet/valet.sock:\", host: \"laravel.test\", "
                  b"referrer:\n\"http://laravel.test/\"\n")
    sink, reports = scan([(str(f), None)], lambda: CompositeSink(Correlator(), EventCollector(max_events=10)),
                         since=None, prefilter=prefilter)
    events = sink.sinks[1].events
    assert [(e["category"], e["line_no"], e["phase"]) for e in events] == [("upstream_reset", 1, None)]
    assert events[0]["timestamp"] == "2019-01-14T16:26:56+00:00"
