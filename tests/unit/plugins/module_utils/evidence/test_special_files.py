# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 11, finding 5: a FIFO or a character device given as a log path (or rotated
into one, or matched by a glob) is named in the file reports, never read: opening a
FIFO without a writer blocks for ever, reading a terminal blocks for ever.

Each scan runs in a daemon thread with a timeout, so a regression fails the test
instead of hanging it (and the FIFO is then opened for writing to free the thread)."""

import os
import stat
import threading

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.log_files import expand_paths
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.scan import scan
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.sinks import EventCollector

pytestmark = pytest.mark.usefixtures("utc")   # TZ=UTC for every test (conftest.py)

NGX = ('2026/11/26 17:01:02 [error] 2481#2481: *18 recv() failed (104: Connection reset by peer) while reading '
       'response header from upstream, client: 127.0.0.1, server: _, request: "GET /a/crash.php HTTP/1.1", '
       'upstream: "fastcgi://unix:/run/php/php8.2-fpm.sock:", host: "127.0.0.1"\n')
TIMEOUT_S = 10.0


def _scan_with_timeout(files, fifos=(), **kw):
    out = {}

    def body():
        out["result"] = scan(files, lambda: EventCollector(max_events=100), **kw)
    t = threading.Thread(target=body, name="scan-under-test")
    t.daemon = True
    t.start()
    t.join(TIMEOUT_S)
    if t.is_alive():
        for f in fifos:                     # free the blocked open()/read() of the thread
            fd = os.open(str(f), os.O_RDWR | os.O_NONBLOCK)
            os.close(fd)
        t.join(5)
        pytest.fail("scan did not return within %g s (blocked on a FIFO or device)" % TIMEOUT_S)
    return out["result"]


def _prefilters():
    from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.gnu_grep import grep_prefilter
    return ["python"] + (["grep"] if grep_prefilter("auto")["used"] == "grep" else [])


@pytest.mark.parametrize("prefilter", _prefilters())
def test_a_fifo_as_the_log_path_is_reported_not_read(tmp_path, prefilter):
    fifo = tmp_path / "error.log"
    os.mkfifo(str(fifo))
    sink, reports = _scan_with_timeout([(str(fifo), "nginx")], fifos=[fifo], prefilter=prefilter)
    (rep,) = reports
    assert rep["path"] == str(fifo)
    assert rep["status"] == "skipped" and rep["reason"] == "not a regular file: FIFO"
    assert sink.events == []


@pytest.mark.parametrize("prefilter", _prefilters())
def test_a_fifo_rotated_in_or_matched_by_a_glob_is_skipped_and_the_rest_scanned(tmp_path, prefilter):
    (tmp_path / "error.log").write_text(NGX)
    os.mkfifo(str(tmp_path / "error.log.1"))
    os.mkfifo(str(tmp_path / "other.log"))
    fifos = [tmp_path / "error.log.1", tmp_path / "other.log"]
    for specs in ([(str(tmp_path / "error.log"), "nginx")], [(str(tmp_path / "*.log*"), None)]):
        files, missing = expand_paths(specs, include_rotated=True)
        assert missing == [] and str(tmp_path / "error.log.1") in [p for p, h in files]
        sink, reports = _scan_with_timeout(files, fifos=fifos, prefilter=prefilter)
        by_path = dict((r["path"], r) for r in reports)
        for f in fifos:
            if str(f) in by_path:
                assert by_path[str(f)]["status"] == "skipped"
                assert by_path[str(f)]["reason"] == "not a regular file: FIFO"
        assert by_path[str(tmp_path / "error.log")]["status"] == "scanned"
        assert [e["category"] for e in sink.events] == ["upstream_reset"]


def test_a_character_device_is_reported_not_read():
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    sink, reports = _scan_with_timeout([("/dev/null", "kernel")])
    (rep,) = reports
    assert rep["status"] == "skipped" and rep["reason"] == "not a regular file: character device"


def test_a_directory_is_still_an_error_with_its_reason(tmp_path):
    sink, reports = _scan_with_timeout([(str(tmp_path), "nginx")])
    assert reports[0]["status"] == "error" and reports[0]["error"] == "is a directory, not a log file"


def test_a_unix_socket_is_reported_not_read(tmp_path):
    import socket
    path = tmp_path / "error.log"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.bind(str(path))
        sink, reports = _scan_with_timeout([(str(path), "nginx")])
    finally:
        s.close()
    assert reports[0]["status"] == "skipped" and reports[0]["reason"] == "not a regular file: socket"
