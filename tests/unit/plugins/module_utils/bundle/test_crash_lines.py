# SPDX-License-Identifier: GPL-3.0-or-later
"""bundle/crash_lines.py: crash lines with their neighbours, read back from real-shaped logs."""
import gzip

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.bundle.crash_lines import crash_neighbours
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.bundle.collect import redact_value

FPM = """[07-Dec-2026 08:03:45] NOTICE: fpm is running, pid 2417
[07-Dec-2026 08:03:45] NOTICE: ready to handle connections
[07-Dec-2026 08:03:46] WARNING: [pool www] child 2418 exited on signal 11 (SIGSEGV) after 0.854828 seconds from start
[07-Dec-2026 08:03:46] NOTICE: [pool www] child 2469 started
[07-Dec-2026 08:03:46] NOTICE: [pool www] child 2470 started
[07-Dec-2026 08:03:47] NOTICE: [pool www] child 2471 started
[07-Dec-2026 08:03:48] NOTICE: [pool www] child 2472 started
[07-Dec-2026 08:03:49] NOTICE: [pool www] child 2473 started
[07-Dec-2026 08:03:50] WARNING: [pool www] child 2469 exited on signal 11 (SIGSEGV) after 4.1 seconds from start
"""
NGINX = ('2026/12/07 08:03:46 [error] 758#758: *55 recv() failed (104: Connection reset by peer) while reading '
         'response header from upstream, client: 198.51.100.7, server: _, request: "GET /c/report.php HTTP/1.1", '
         'upstream: "fastcgi://unix:/run/php/php8.2-fpm.sock:", host: "127.0.0.1"\n')


def test_neighbours_marked_and_gaps_shown(tmp_path):
    log = tmp_path / "php8.2-fpm.log"
    log.write_text(FPM)
    events = [{"category": "child_signal", "file": str(log), "line_no": 3},
              {"category": "child_signal", "file": str(log), "line_no": 9},
              {"category": "fastcgi_stderr", "file": str(log), "line_no": 6}]  # not a crash: no lines of its own
    text, info = crash_neighbours(events, context=1)
    rows = text.splitlines()
    assert rows[0] == "==> %s <==" % log
    assert [r[:9] for r in rows[1:6]] == ["       2:", ">      3:", "       4:", "--", "       8:"]
    assert rows[6].startswith(">      9: [07-Dec-2026 08:03:50] WARNING: [pool www] child 2469 exited on signal 11")
    assert info["crash_lines"] == 2 and info["files"] == [str(log)]


def test_gzip_logs_client_redacted_and_missing_files_named(tmp_path):
    gz = tmp_path / "error.log.1.gz"
    with gzip.open(str(gz), "wt") as fh:
        fh.write(NGINX)
    events = [{"category": "upstream_reset", "file": str(gz), "line_no": 1},
              {"category": "child_signal", "file": str(tmp_path / "rotated-away.log"), "line_no": 4},
              {"category": "kernel_segfault", "file": "journalctl -k", "line_no": None, "pid": 2418, "client": "x"}]
    text, info = crash_neighbours(events, keep_raw=True)
    assert "198.51.100.7" not in text and "client: <client>" in text and info["redactions"] >= 1
    assert info["raw"][(str(gz), 1)] == NGINX.rstrip("\n")  # the raw line, for the kernel offsets only
    assert info["not_read"][0]["file"].endswith("rotated-away.log")
    assert "events from sources that are not files" in text and "pid=2418" in text and info["other_sources"] == 1


def test_the_newest_lines_are_kept_within_the_cap(tmp_path):
    log = tmp_path / "fpm.log"
    log.write_text(FPM)
    events = [{"category": "child_signal", "file": str(log), "line_no": n} for n in (3, 9)]
    text, info = crash_neighbours(events, context=0, max_events=1)
    assert info["crash_lines"] == 1 and info["left_out"] == 1 and ">      9:" in text and ">      3:" not in text


def test_json_values_are_redacted_and_client_fields_replaced():
    value, n = redact_value({"incidents": [{"client": "127.0.0.1", "requests": [{"client": "203.0.113.9"}],
                                            "upstream": "fastcgi://10.1.2.3:9000", "pid": 7}]})
    inc = value["incidents"][0]
    assert inc["client"] == "<client>" and inc["requests"][0]["client"] == "<client>"
    assert inc["upstream"] == "fastcgi://<address>:9000" and inc["pid"] == 7 and n == 3


def test_rotated_logs_are_read_as_the_scan_reads_them_by_their_magic_bytes(tmp_path):
    import lzma
    xz = tmp_path / "php8.2-fpm.log.2"  # logrotate's xz, no suffix that says so
    xz.write_bytes(lzma.compress(FPM.encode()))
    text, info = crash_neighbours([{"category": "child_signal", "file": str(xz), "line_no": 3}], context=0)
    assert ">      3: [07-Dec-2026 08:03:46] WARNING: [pool www] child 2418 exited on signal 11" in text
    assert info["crash_lines"] == 1 and info["not_read"] == []


def test_a_fifo_named_by_an_event_is_never_opened_for_reading(tmp_path):
    import os
    fifo = tmp_path / "error.log"
    os.mkfifo(str(fifo))  # no writer: a plain open() would block for ever
    text, info = crash_neighbours([{"category": "upstream_reset", "file": str(fifo), "line_no": 1}])
    assert info["not_read"] == [{"file": str(fifo), "why": "not a regular file: FIFO"}] and info["crash_lines"] == 0
