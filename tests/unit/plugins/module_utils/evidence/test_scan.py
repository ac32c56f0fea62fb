# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""evidence/scan.py: streaming scan of files, hostile input, rotation, window, events cap,
worker ranges."""

import gzip
import os

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence import limits
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.timestamps import parse_iso
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.scan import scan, scan_bytes
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.sinks import CompositeSink, EventCollector
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.correlate import Correlator

NGX = ('2026/11/26 17:01:{s:02d} [error] 2481#2481: *{c} recv() failed (104: Connection reset by peer) while '
       'reading response header from upstream, client: 127.0.0.1, server: _, request: "GET /a/crash.php '
       'HTTP/1.1", upstream: "fastcgi://unix:/run/php/php8.2-fpm.sock:", host: "127.0.0.1"')
NOISE = ('2026/11/26 17:01:{s:02d} [error] 2481#2481: *{c} open() "/var/www/html/favicon.ico" failed (2: No such '
         'file or directory), client: 127.0.0.1, server: _, request: "GET /favicon.ico HTTP/1.1", host: "x"')
FPM = "[26-Nov-2026 17:01:{s:02d}] WARNING: [pool www] child {c} exited on signal 11 (SIGSEGV) after 3.5 seconds from start"


pytestmark = pytest.mark.usefixtures("utc")   # TZ=UTC for every test (conftest.py)


def factory(max_events=1000):
    return lambda: CompositeSink(Correlator(), EventCollector(max_events=max_events))


def run(files, **kw):
    sink, reports = scan([(str(f), None) for f in files], kw.pop("sink_factory", factory()), **kw)
    return sink.sinks[0], sink.sinks[1], reports


def write(path, lines, newline=b"\n"):
    data = newline.join(l.encode("utf-8") if isinstance(l, str) else l for l in lines) + newline
    path.write_bytes(data)
    return path


def test_events_carry_file_line_and_fields(tmp_path):
    f = write(tmp_path / "error.log", [NOISE.format(s=0, c=1), NGX.format(s=2, c=18), NOISE.format(s=3, c=3)])
    corr, coll, reps = run([f])
    assert reps[0]["status"] == "scanned" and reps[0]["lines"] == 3 and reps[0]["events"] == 1
    (ev,) = coll.events
    assert ev["file"] == str(f) and ev["line_no"] == 2
    assert ev["category"] == "upstream_reset" and ev["source_kind"] == "nginx"
    assert ev["timestamp"] == "2026-11-26T17:01:02+00:00"
    assert "_ts" not in ev


def test_crlf_lines(tmp_path):
    f = write(tmp_path / "php-fpm.log", [FPM.format(s=1, c=7)], newline=b"\r\n")
    _c, coll, _r = run([f])
    assert coll.events[0]["pid"] == 7 and coll.events[0]["uptime_s"] == 3.5


def test_glued_php_fpm_records_are_one_event_each(tmp_path):
    f = write(tmp_path / "php-fpm.log", ["x", FPM.format(s=1, c=7) + FPM.format(s=2, c=8)])
    _c, coll, _r = run([f])
    assert [(e["line_no"], e["pid"]) for e in coll.events] == [(2, 7), (2, 8)]


def test_a_php_fpm_header_inside_what_a_child_said_starts_no_record(tmp_path):
    # issue 11: a child's output (and an nginx client field) is where strangers write
    said = '[26-Nov-2026 17:00:01] WARNING: [pool www] child 9 said into stderr: "%s"' % FPM.format(s=2, c=8)
    f = write(tmp_path / "php-fpm.log", [said])
    _c, coll, _r = run([f])
    assert [e["pid"] for e in coll.events if e["category"] == "child_signal"] == []


def test_binary_file_is_skipped_with_a_reason(tmp_path):
    b = tmp_path / "core.bin"
    b.write_bytes(b"\x7fELF" + bytes(range(256)) * 100)
    g = write(tmp_path / "ok.log", [NGX.format(s=1, c=1)])
    _c, coll, reps = run([b, g])
    assert reps[0]["status"] == "skipped" and "binary" in reps[0]["reason"]
    assert reps[1]["status"] == "scanned" and len(coll.events) == 1


def test_junk_and_nul_bytes_do_not_stop_the_scan(tmp_path):
    f = tmp_path / "error.log"
    f.write_bytes(b"\x00" * 100 + b"\n\xff\xfe garbage \x80\x81\n" + NGX.format(s=1, c=1).encode() + b"\n")
    _c, coll, reps = run([f])
    assert reps[0]["status"] == "scanned" and coll.events[0]["line_no"] == 3


def test_ten_megabyte_line(tmp_path):
    f = tmp_path / "error.log"
    with open(str(f), "wb") as fh:
        fh.write(NGX.format(s=1, c=1).encode() + b"\n")
        fh.write(b"2026/11/26 17:01:01 [error] 1#1: *1 upstream " + b"A" * (10 << 20) + b"\n")
        fh.write(NGX.format(s=3, c=3).encode() + b"\n")
    _c, coll, reps = run([f])
    assert reps[0]["status"] == "scanned"
    assert reps[0]["overlong_lines"] >= 1
    assert [e["line_no"] for e in coll.events] == [1, 3]


def test_truncated_gzip_keeps_what_was_read(tmp_path):
    lines = [NGX.format(s=i % 60, c=i) for i in range(5000)]
    full = gzip.compress("\n".join(lines).encode() + b"\n")
    f = tmp_path / "error.log.2.gz"
    f.write_bytes(full[:len(full) * 2 // 3])
    _c, coll, reps = run([f], sink_factory=factory(100000))
    rep = reps[0]
    assert rep["status"] == "partial" and "truncated gzip" in rep["error"]
    assert 0 < len(coll.events) < 5000
    assert coll.events[-1]["line_no"] == len(coll.events)


def test_a_gzip_member_is_scanned_with_a_short_gil_switch_interval(tmp_path, monkeypatch):
    """Its three threads (inflate into grep, read grep, scan) hand the GIL over every 0.2 ms
    while the member is scanned, not every 5 ms (limits.GZIP_SWITCH_INTERVAL; measured in
    bench/RESULTS.md); the process's own interval comes back after, also on an error."""
    import sys
    from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence import scanner
    seen = []
    real = scanner.Scanner.scan_chunks

    def spy(self, *a, **kw):
        seen.append(sys.getswitchinterval())
        return real(self, *a, **kw)
    monkeypatch.setattr(scanner.Scanner, "scan_chunks", spy)
    f = tmp_path / "error.log.1.gz"
    f.write_bytes(gzip.compress((NGX.format(s=1, c=1) + "\n").encode()))
    plain = tmp_path / "error.log"
    plain.write_bytes((NGX.format(s=2, c=2) + "\n").encode())
    before = sys.getswitchinterval()
    _c, coll, reps = run([f])
    assert reps[0]["status"] == "scanned" and len(coll.events) == 1
    assert seen == [pytest.approx(limits.GZIP_SWITCH_INTERVAL)]
    assert sys.getswitchinterval() == before
    run([plain], prefilter="python")        # a plain file: the process's own interval
    assert seen[1:] == [before]


def test_gzip_detected_by_magic_and_multimember(tmp_path):
    f = tmp_path / "error.log.1"     # gzip content without the .gz suffix
    f.write_bytes(gzip.compress((NGX.format(s=1, c=1) + "\n").encode()) +
                  gzip.compress((NGX.format(s=2, c=2) + "\n").encode()))
    _c, coll, reps = run([f])
    assert reps[0]["compression"] == "gzip"
    assert reps[0]["status"] == "scanned" and reps[0]["error"] is None
    assert [e["line_no"] for e in coll.events] == [1, 2]


def test_whole_gzip_file_is_not_reported_truncated(tmp_path):
    f = tmp_path / "error.log.2.gz"
    f.write_bytes(gzip.compress(("\n".join(NGX.format(s=i % 60, c=i) for i in range(20000)) + "\n").encode()))
    _c, coll, reps = run([f], sink_factory=factory(100000))
    assert reps[0]["status"] == "scanned" and reps[0]["error"] is None
    assert len(coll.events) == 20000


def test_unreadable_paths_are_reported(tmp_path):
    d = tmp_path / "error.log"
    d.mkdir()                        # a directory where a log file is expected (tests run as root)
    ok = write(tmp_path / "php-fpm.log", [FPM.format(s=1, c=2)])
    _c, coll, reps = run([d, tmp_path / "missing.log", ok])
    assert reps[0]["status"] == "error" and "directory" in reps[0]["error"]
    assert reps[1]["status"] == "error" and reps[1]["error"] == "no such file"
    assert reps[2]["status"] == "scanned" and len(coll.events) == 1


def test_rotated_file_older_than_the_window_is_skipped(tmp_path):
    old = write(tmp_path / "error.log.1", [NGX.format(s=1, c=1)])
    new = write(tmp_path / "error.log", [NGX.format(s=2, c=2)])
    since = parse_iso("2026-11-26T17:00:00Z")
    os.utime(str(old), (since - 86400, since - 86400))
    os.utime(str(new), (since + 600, since + 600))
    _c, coll, reps = run([old, new], since=since)
    assert reps[0]["status"] == "skipped" and "before the window" in reps[0]["reason"]
    assert [e["file"] for e in coll.events] == [str(new)]


def test_file_starting_after_the_window_is_skipped(tmp_path):
    f = write(tmp_path / "error.log", [NGX.format(s=1, c=1)])
    _c, coll, reps = run([f], until=parse_iso("2026-11-20T00:00:00Z"))
    assert reps[0]["status"] == "skipped" and "after the window" in reps[0]["reason"]


def test_window_filters_events_and_skips_old_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "CHUNK_SIZE", 4096)
    monkeypatch.setattr(limits, "WINDOW_SLACK", 60.0)
    old = ['2026/11/25 10:00:00 [error] 1#1: *%d upstream timed out (110: Connection timed out) while reading '
           'response header from upstream, client: 1.2.3.4, server: _, request: "GET /old HTTP/1.1", '
           'upstream: "fastcgi://127.0.0.1:9000", host: "x"' % i for i in range(500)]
    f = write(tmp_path / "error.log", old + [NGX.format(s=5, c=1)])
    corr, coll, reps = run([f], since=parse_iso("2026-11-26T17:00:00Z"))
    assert [e["line_no"] for e in coll.events] == [501]
    assert reps[0]["chunks_skipped"] > 0
    assert corr.by_category == {"upstream_reset": 1}


def test_events_cap(tmp_path):
    f = write(tmp_path / "php-fpm.log", [FPM.format(s=i % 60, c=i) for i in range(50)])
    sink, _r = scan([(str(f), None)], factory(max_events=10))
    corr, coll = sink.sinks
    assert len(coll.events) == 10 and coll.total == 50 and coll.truncated
    assert corr.by_category["child_signal"] == 50


def test_worker_ranges_give_the_same_events_and_line_numbers(tmp_path, monkeypatch):
    lines = []
    for i in range(6000):
        lines.append(NGX.format(s=i % 60, c=i) if i % 7 == 0 else NOISE.format(s=i % 60, c=i))
    f = write(tmp_path / "error.log", lines)
    _c, one, _r = run([f], workers=1, sink_factory=factory(100000))
    monkeypatch.setattr(limits, "SPLIT_MIN", 64 * 1024)
    monkeypatch.setattr(limits, "SMALL_FILE", 1024)
    _c, many, reps = run([f], workers=3, sink_factory=factory(100000))

    def key(evs):
        return [(e["line_no"], e["connection"]) for e in evs]
    assert key(one.events) == key(many.events)
    assert len(many.events) == len([l for i, l in enumerate(lines) if i % 7 == 0])
    assert all(e["connection"] == e["line_no"] - 1 for e in many.events)
    assert reps[0]["lines"] == 6000


def test_scan_bytes_dmesg_with_boot_time():
    sink = CompositeSink(Correlator(), EventCollector())
    data = b"[  100.500000] php-fpm8.2[24352]: segfault at 0 ip 1 sp 2 error 4 in opcache.so[7f+5a000]\n"
    rep = scan_bytes("dmesg", data, sink, boot_time=parse_iso("2026-11-26T17:00:00Z"))
    (ev,) = sink.sinks[1].events
    assert rep["events"] == 1 and ev["module"] == "opcache.so"
    assert ev["timestamp"] == "2026-11-26T17:01:40.500000+00:00"
