# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""PHP notices in nginx error logs (evidence/php_notices.py, issue 12): counted in bulk
per severity and script, never lost as events; the notice a request logged before its
502 comes in full; undated lines take a time and say where it came from."""

import os

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.line_events import events_from_line
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.parse import nginx_stamp_time
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.php_notices import (
    NOTICE_LINE, count_notice_rows, message_of, notice_messages, payload_of, php_messages_of, stamp_span,
)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.timestamps import TimeContext
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.scan import scan, scan_bytes
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.sinks import CompositeSink, EventCollector
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.correlate import Correlator
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.timestamps import format_ts, parse_iso
from signature_samples import categories, load_samples

pytestmark = pytest.mark.usefixtures("utc")

CTX = (', client: 192.0.2.7, server: shop.example.com, request: "GET /cart/ HTTP/2.0", upstream: '
       '"fastcgi://unix:/run/php/php8.2-fpm.sock:", host: "shop.example.com"')
WARN = ('2026/11/26 17:01:{s:02d} [error] 1310#1310: *{c} FastCGI sent in stderr: "PHP message: PHP Warning:  '
        'Undefined array key \\"cart\\" in /var/www/html/cart.php on line 12" while reading response header '
        'from upstream' + CTX)
TWO = ('2026/11/26 17:01:{s:02d} [error] 1310#1310: *{c} FastCGI sent in stderr: "PHP message: PHP Deprecated:  '
       'strlen(): Passing null to parameter #1 ($string) of type string is deprecated in /var/www/html/a.php on '
       'line 3PHP message: PHP Notice:  Undefined index: q in /var/www/html/b.php on line 9" while reading '
       'upstream' + CTX)
FATAL = ('2026/11/26 17:01:{s:02d} [error] 1310#1310: *{c} FastCGI sent in stderr: "PHP message: PHP Warning:  x in '
         '/var/www/html/a.php on line 3PHP message: PHP Fatal error:  Allowed memory size of 134217728 bytes '
         'exhausted (tried to allocate 20480 bytes) in /var/www/html/big.php on line 88" while reading response '
         'header from upstream' + CTX)
RESET = ('2026/11/26 17:01:{s:02d} [error] 1310#1310: *{c} recv() failed (104: Connection reset by peer) while '
         'reading response header from upstream' + CTX)
OTHER = ('2026/11/26 17:01:{s:02d} [error] 1310#1310: *{c} open() "/var/www/html/x.webp" failed (2: No such file '
         'or directory), client: 192.0.2.7, server: shop.example.com, request: "GET /x.webp HTTP/2.0", host: "s"')


def run(tmp_path, lines, name="error.log", **kw):
    f = tmp_path / name
    f.write_bytes(("\n".join(lines) + "\n").encode())
    sink, reports = scan([(str(f), kw.pop("hint", "nginx"))],
                         lambda: CompositeSink(Correlator(), EventCollector(max_events=1000)), **kw)
    return sink.sinks[0], sink.sinks[1], reports[0]


# ---------------------------------------------------------------- the bulk rule
def _sample_lines():
    for cat in categories():
        for dummy, dummy2, raw, dummy3 in load_samples(cat):
            if raw:
                yield raw


def test_every_line_counted_in_bulk_is_a_fastcgi_stderr_event():
    """The bulk path skips the full matcher: sound only if every line it accepts is one
    fastcgi_stderr event for the full path too (real samples of every category, and
    shapes made to look like one)."""
    made = [WARN.format(s=1, c=5), TWO.format(s=1, c=5),
            # a notice whose text quotes another signature's words
            WARN.format(s=1, c=5).replace("Undefined array key", "upstream prematurely closed connection (104: "
                                          "Connection reset by peer) exited on signal 11"),
            # cut mid-message (nginx's 2048-byte error line limit)
            WARN.format(s=1, c=5)[:150]]
    accepted = 0
    for raw in list(_sample_lines()) + [m.encode() for m in made]:
        m = NOTICE_LINE.match(raw)
        if m is None or notice_messages(payload_of(raw, m.end()), {}) is None:
            continue
        accepted += 1
        cats = [e["category"] for e in events_from_line(raw, "/x", 1, kinds=frozenset(["nginx"]))]
        assert cats == ["fastcgi_stderr"], raw
    assert accepted >= len(made)


def test_messages_severity_and_script():
    p = (b'PHP message: PHP Warning:  file_get_contents(/etc/x in /tmp/y on line 2): Failed to open stream in '
         b'/srv/a b/x.php on line 12PHP message: PHP Deprecated:  z in /srv/y.php(12) : eval()\'d code on line 1'
         b'PHP message: PHP Notice:  q in C:\\www\\i.php on line 3PHP message: PHP Warning:  cut in /sr')
    assert php_messages_of(p) == [("Warning", "/srv/a b/x.php"), ("Deprecated", "/srv/y.php"),
                                  ("Notice", "C:\\www\\i.php"), ("Warning", None)]
    assert php_messages_of(p.decode()) == php_messages_of(p)
    assert notice_messages(p, {}) is not None
    assert notice_messages(p + b"PHP message: PHP Fatal error:  boom in /a.php on line 1", {}) is None
    assert notice_messages(b"PHP message: something else", {}) is None
    assert notice_messages(b"no message at all", {}) is None


def test_a_script_path_may_hold_in():
    """The script is the path after the last " in " that starts a path and runs to the
    last " on line N": a folder named "my in dir" is part of it."""
    assert message_of(b"PHP Warning:  x in /srv/my in dir/a.php on line 3") == ("Warning", "/srv/my in dir/a.php")
    assert message_of(b"PHP Notice:  a in b in /srv/c.php on line 1") == ("Notice", "/srv/c.php")
    assert message_of(b'PHP Notice:  a in /srv/"q".php on line 1') == ("Notice", None)
    assert message_of(b"PHP Notice: in /srv/c.php on line 1") == ("Notice", "/srv/c.php")
    assert message_of(b"PHP Notice:x in /srv/c.php on line 1") == (None, None)


def _rows(*lines, start=1):
    """Rows as the grep prefilter writes them: "<line>:<offset>:<text>", newline first."""
    out, off = [], 0
    for i, line in enumerate(lines):
        out.append(b"%d:%d:%s" % (start + i, off, line.encode()))
        off += len(line) + 1
    return b"\n" + b"\n".join(out) + b"\n"


def test_count_notice_rows_takes_notice_rows_and_gives_back_the_others():
    block = _rows(WARN.format(s=1, c=1), RESET.format(s=2, c=2), TWO.format(s=3, c=3), OTHER.format(s=4, c=4))
    rest, n, tally, stamps, last_no, conns = count_notice_rows(block, 0, 10 ** 9, 65536, {})
    assert n == 2 and last_no == 3 and conns == {b"1": b"1", b"3": b"3"}
    assert tally == {("Warning", "/var/www/html/cart.php"): 1, ("Deprecated", "/var/www/html/a.php"): 1,
                     ("Notice", "/var/www/html/b.php"): 1}
    first, last = stamp_span(stamps | {b"2026/11/26 17:00:59"}, TimeContext())
    assert (format_ts(first), format_ts(last)) == ("2026-11-26T17:00:59+00:00", "2026-11-26T17:01:03+00:00")
    assert [r.split(b":", 2)[0] for r in rest[1:-1].split(b"\n")] == [b"2", b"4"]


NOT_A_SEVERITY = WARN.replace('" while', 'PHP message: stack" while')


def test_count_notice_rows_gives_back_the_rows_that_hold_more_than_notices():
    """A fatal error (or a message that is no "PHP <Severity>:" one) among notices: that
    row goes back to the per-line step, in its place; the rest of the batch is counted."""
    lines = [WARN.format(s=1, c=1), FATAL.format(s=2, c=2), RESET.format(s=3, c=3), TWO.format(s=4, c=4),
             NOT_A_SEVERITY.format(s=5, c=5), WARN.format(s=6, c=6)]
    rest, n, tally, stamps, last_no, conns = count_notice_rows(_rows(*lines), 0, 10 ** 9, 65536, {})
    rows = _rows(*lines)[1:-1].split(b"\n")
    assert rest == b"\n" + b"\n".join([rows[1], rows[2], rows[4]]) + b"\n"
    assert n == 3 and last_no == 6 and conns == {b"1": b"1", b"4": b"4", b"6": b"6"}
    assert tally == {("Warning", "/var/www/html/cart.php"): 2, ("Deprecated", "/var/www/html/a.php"): 1,
                     ("Notice", "/var/www/html/b.php"): 1}
    assert sorted(stamps) == [b"2026/11/26 17:01:01", b"2026/11/26 17:01:04", b"2026/11/26 17:01:06"]


def test_count_notice_rows_of_only_fatal_rows_counts_nothing():
    block = _rows(FATAL.format(s=1, c=1), NOT_A_SEVERITY.format(s=2, c=2))
    assert count_notice_rows(block, 0, 10 ** 9, 65536, {}) == (block, 0, {}, set(), None, {})


def _per_row(block):
    """count_notice_rows, row by row as the per-line step decides (NOTICE_LINE,
    notice_messages): the reference of the bulk step."""
    rest, n, tally, stamps, last_no, conns = [], 0, {}, set(), None, {}
    for row in block[1:-1].split(b"\n"):
        num, off, text = row.split(b":", 2)
        m = NOTICE_LINE.match(text)
        msgs = notice_messages(payload_of(text, m.end()), {}) if m else None
        if msgs is None:
            rest.append(row)
            continue
        n += 1
        for key in msgs:
            tally[key] = tally.get(key, 0) + 1
        stamps.add(m.group(1))
        last_no = int(num)
        conns[m.group(2)] = num
    return b"\n" + b"".join(r + b"\n" for r in rest) if rest else b"\n", n, tally, stamps, last_no, conns


def test_count_notice_rows_equals_the_per_row_rule_on_mixed_batches():
    import random
    rng = random.Random(12)
    shapes = [WARN, TWO, FATAL, RESET, OTHER, NOT_A_SEVERITY,
              WARN.replace("*{c} ", ""), TWO.replace("Notice:", "Fatal error:"), TWO.replace("Notice:  ", "Notice:")]
    for trial in range(300):
        lines = [rng.choice(shapes).format(s=rng.randrange(60), c=rng.randrange(50))
                 for dummy in range(rng.randrange(1, 12))]
        block = _rows(*lines)
        got = count_notice_rows(block, 0, 10 ** 9, 65536, {})
        want = _per_row(block)
        assert got == want, lines


@pytest.mark.parametrize("why, block, lo, hi", [
    ("a row before the range", _rows(WARN.format(s=1, c=1), RESET.format(s=1, c=2)), 10, 10 ** 9),
    ("a row past the range", _rows(WARN.format(s=1, c=1), WARN.format(s=1, c=2)), 0, 100),
    ("a row that may be cut", _rows(WARN.format(s=1, c=1).replace("cart", "c" * 1000)), 0, 10 ** 9),
])
def test_count_notice_rows_leaves_a_batch_it_cannot_take_whole_to_the_per_line_step(why, block, lo, hi):
    assert count_notice_rows(block, lo, hi, 1024, {}) is None, why


# ---------------------------------------------------------------- counts in the report
@pytest.mark.parametrize("prefilter", ["python", "grep"])
def test_notices_are_counted_per_severity_and_script(tmp_path, prefilter):
    lines = ([WARN.format(s=i % 60, c=100 + i) for i in range(30)] + [TWO.format(s=i, c=200 + i) for i in range(7)] +
             [FATAL.format(s=3, c=300), OTHER.format(s=4, c=301)])
    corr, coll, rep = run(tmp_path, lines, prefilter=prefilter)
    pm = corr.report()["php_messages"]
    assert pm["by_severity"] == {"Warning": 31, "Deprecated": 7, "Notice": 7, "Fatal error": 1}
    assert pm["total"] == 46
    assert pm["top"][0] == {"severity": "Warning", "script": "/var/www/html/cart.php", "count": 30}
    assert {"severity": "Fatal error", "script": "/var/www/html/big.php", "count": 1} in pm["top"]
    # every notice line is still a fastcgi_stderr event in the counts; only the fatal one is kept in full
    assert corr.by_category["fastcgi_stderr"] == 38 and rep["events"] == 38
    assert coll.total == 38
    assert [e["category"] for e in coll.events] == ["fastcgi_stderr"]
    assert "Fatal error" in coll.events[0]["stderr"]
    assert corr.report()["first_seen"]["fastcgi_stderr"] == "2026-11-26T17:01:00+00:00"
    assert corr.report()["last_seen"]["fastcgi_stderr"] == "2026-11-26T17:01:29+00:00"


@pytest.mark.parametrize("prefilter", ["python", "grep"])
def test_the_notice_before_a_502_of_the_same_connection_comes_in_full(tmp_path, prefilter):
    lines = [WARN.format(s=1, c=7),            # request 7 warns ...
             OTHER.format(s=1, c=8),
             RESET.format(s=2, c=7),           # ... then its upstream resets: the warning comes along
             WARN.format(s=3, c=9),            # request 9 warns, then another request resets
             RESET.format(s=4, c=10),
             WARN.format(s=5, c=11),           # 11 warns, resets, resets again: the warning once
             RESET.format(s=6, c=11),
             RESET.format(s=7, c=11),
             WARN.format(s=8, c=20),           # 20 warns, 21 warns, 20 resets: 20's warning, not 21's
             WARN.format(s=8, c=21),
             RESET.format(s=9, c=20),
             FATAL.format(s=10, c=30),         # a fatal error is a full event already: not brought twice
             RESET.format(s=10, c=30)]
    corr, coll, rep = run(tmp_path, lines, prefilter=prefilter)
    got = [(e["category"], e["connection"], e["line_no"]) for e in coll.events]
    assert got == [("fastcgi_stderr", 7, 1), ("upstream_reset", 7, 3), ("upstream_reset", 10, 5),
                   ("fastcgi_stderr", 11, 6), ("upstream_reset", 11, 7), ("upstream_reset", 11, 8),
                   ("fastcgi_stderr", 20, 9), ("upstream_reset", 20, 11),
                   ("fastcgi_stderr", 30, 12), ("upstream_reset", 30, 13)]
    assert coll.events[0]["timestamp"] == "2026-11-26T17:01:01+00:00"
    assert coll.events[0]["time_source"] == "line" and "cart.php" in coll.events[0]["stderr"]
    # brought in full, counted once
    assert corr.by_category["fastcgi_stderr"] == 6
    assert corr.report()["php_messages"]["by_severity"] == {"Warning": 6, "Fatal error": 1}
    assert coll.total == 12 and not coll.truncated and rep["events"] == 12


def test_notices_outside_the_window_are_not_counted(tmp_path):
    lines = [WARN.format(s=i, c=i) for i in range(0, 60, 2)]
    corr, coll, rep = run(tmp_path, lines, since=parse_iso("2026-11-26T17:01:10Z"),
                          until=parse_iso("2026-11-26T17:01:19Z"))
    assert corr.by_category.get("fastcgi_stderr") == 5
    assert corr.report()["php_messages"]["total"] == 5


# ---------------------------------------------------------------- undated lines
FPM_DATED = "[26-Nov-2026 17:01:02] NOTICE: [pool www] child 40 started"
FPM_UNDATED = "WARNING: [pool www] child 41 exited on signal 11 (SIGSEGV) after 3.5 seconds from start"


@pytest.mark.parametrize("prefilter", ["python", "grep"])
def test_an_undated_crash_line_takes_the_time_of_the_line_before(tmp_path, prefilter):
    corr, coll, rep = run(tmp_path, [FPM_DATED, FPM_UNDATED], name="php8.2-fpm.log", hint="php-fpm",
                          prefilter=prefilter, since=parse_iso("2026-11-26T17:00:00Z"),
                          until=parse_iso("2026-11-26T17:05:00Z"))
    ev = [e for e in coll.events if e["category"] == "child_signal"]
    assert len(ev) == 1
    assert ev[0]["time_source"] == "previous_line"
    assert ev[0]["timestamp"] == "2026-11-26T17:01:02+00:00"


@pytest.mark.parametrize("prefilter", ["python", "grep"])
def test_an_undated_line_with_no_dated_neighbour_takes_the_file_mtime(tmp_path, prefilter):
    f = tmp_path / "php-fpm.log"
    f.write_bytes((FPM_UNDATED + "\n").encode())
    mtime = parse_iso("2026-11-26T17:03:00Z")
    os.utime(str(f), (mtime, mtime))
    # a window that holds the mtime keeps it; one that does not leaves it out
    for since, kept in (("2026-11-26T17:00:00Z", 1), ("2026-11-26T17:10:00Z", 0)):
        sink, reports = scan([(str(f), "php-fpm")], lambda: CompositeSink(Correlator(), EventCollector()),
                             prefilter=prefilter, since=parse_iso(since))
        evs = sink.sinks[1].events
        assert len(evs) == kept
        if kept:
            assert evs[0]["time_source"] == "file_mtime"
            assert evs[0]["timestamp"] == format_ts(mtime)


def test_undated_output_keeps_its_crash_lines_in_a_window():
    """``journalctl -o cat`` output has no stamp at all and no file mtime: the crash
    line is kept (and counted as undated), never dropped for lacking a stamp."""
    sink = CompositeSink(Correlator(), EventCollector())
    rep = scan_bytes("journalctl -u php8.2-fpm -o cat", (FPM_UNDATED + "\n").encode(), sink,
                     since=parse_iso("2026-11-26T17:00:00Z"), hint="php-fpm")
    evs = sink.sinks[1].events
    assert [e["category"] for e in evs] == ["child_signal"]
    assert evs[0]["time_source"] is None and evs[0]["timestamp"] is None
    assert rep["undated"] == 1


def test_stamp_span_equals_the_epochs_of_every_stamp():
    """stamp_span reads only the first and last stamp of each minute: the same first and
    last epoch as reading every stamp, over minutes, hours, days and odd digits."""
    import random
    rng = random.Random(12)
    for dummy in range(300):
        stamps = set()
        for dummy2 in range(rng.randint(1, 40)):
            stamps.add(b"2026/%02d/%02d %02d:%02d:%02d" % (
                rng.choice((3, 10, 11)), rng.randint(1, 31), rng.randint(0, 23), rng.choice((0, 1, 59)),
                rng.randint(0, 99)))
        tctx = TimeContext()
        epochs = [nginx_stamp_time(s.decode(), TimeContext()) for s in stamps]
        assert stamp_span(stamps, tctx) == (min(epochs), max(epochs)), sorted(stamps)
    assert stamp_span(set(), TimeContext()) == (None, None)


def test_stamp_span_reads_the_last_stamp_of_every_minute_where_a_clock_skips(monkeypatch):
    """Local stamps in the hour a DST change skips are read as the hour after (mktime): the
    latest epoch can be the last stamp of an earlier minute. (A POSIX TZ rule: no zoneinfo.)"""
    import time
    monkeypatch.setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3")
    time.tzset()
    try:
        stamps = {b"2026/03/29 02:59:10", b"2026/03/29 02:59:30", b"2026/03/29 03:00:10"}
        epochs = [nginx_stamp_time(s.decode(), TimeContext()) for s in stamps]
        assert max(epochs) == nginx_stamp_time("2026/03/29 02:59:30", TimeContext())
        assert stamp_span(stamps, TimeContext()) == (min(epochs), max(epochs))
    finally:
        monkeypatch.undo()
        time.tzset()
