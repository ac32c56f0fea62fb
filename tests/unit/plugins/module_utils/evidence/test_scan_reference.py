# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fast scan (literal search over chunks, worker ranges, gzip thread) yields exactly
what the plain line-by-line definition (evidence/reference.py, reference_events) yields, on a mixed
generated sample: nginx and php-fpm records, container and syslog prefixes, glued
lines (one record each), kernel and core-dump reports, slowlog entries, undated records, non-UTF-8
bytes, CRLF, over-long lines, noise that holds the search literals.

Both candidate searches are held to it: the Python one (``bytes.find``) and the GNU grep
prefilter (grep on the file, or fed the inflated gzip stream); and the fallback to Python
when there is no GNU grep, and a failing or silent grep, are tested at the end."""

import gzip
import os
import random
import re
import time

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence import gnu_grep, limits, search_plan
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.line_events import public_event
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.timestamps import TimeContext, parse_iso
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.reference import reference_events
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.scan import scan
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.scanner import Scanner
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.sinks import CompositeSink, EventCollector
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.correlate import Correlator

NGX_MSGS = [
    'recv() failed (104: Connection reset by peer) while reading response header from upstream',
    'upstream prematurely closed connection while reading response header from upstream',
    'connect() to unix:/run/php/x.sock failed (11: Resource temporarily unavailable) while connecting to upstream',
    'connect() to unix:/run/php/x.sock failed (2: No such file or directory) while connecting to upstream',
    'upstream timed out (110: Connection timed out) while reading response header from upstream',
    'FastCGI sent in stderr: "PHP message: PHP Warning:  Undefined \\"id\\" in /srv/a.php on line 3"'
    ' while reading response header from upstream',
    'FastCGI sent in stderr: "Primary script unknown" while reading response header from upstream',
    'an upstream response is buffered to a temporary file /var/cache/nginx/fastcgi_temp/1/00/0000000001'
    ' while reading upstream',
    'open() "/var/www/html/favicon.ico" failed (2: No such file or directory)',
    'peer closed connection in SSL handshake (104: Connection reset by peer) while SSL handshaking to upstream',
    'writev() failed (32: Broken pipe) while sending request to upstream',
    'no live upstreams while connecting to upstream',
    'client prematurely closed connection, so upstream connection is closed too while sending request to upstream',
    # PHP notices counted in bulk (php_notices.py), and stderr that takes the full path
    'FastCGI sent in stderr: "PHP message: PHP Deprecated:  strlen(): Passing null in /srv/b.php on line 9'
    'PHP message: PHP Notice:  Undefined index: q in /srv/a.php on line 4" while reading response header from upstream',
    'FastCGI sent in stderr: "PHP message: PHP Warning:  x in /srv/a.php on line 3PHP message: PHP Fatal error:  '
    'Uncaught Error: boom in /srv/c.php:7" while reading response header from upstream',
    'FastCGI sent in stderr: "PHP message: PHP Fatal error:  Allowed memory size of 134217728 bytes exhausted'
    ' in /srv/d.php on line 88" while reading upstream',
]
NOTICE = ('FastCGI sent in stderr: "PHP message: PHP Warning:  Undefined variable $cart in /srv/cart.php on line 7"'
          ' while reading response header from upstream')
FPM_MSGS = [
    'WARNING: [pool www] child {pid} exited on signal 11 (SIGSEGV) after 3.5 seconds from start',
    'WARNING: [pool shop.example-com] child {pid} exited on signal 6 (SIGABRT - core dumped) after 1.0 seconds from start',
    'WARNING: [pool www] child {pid} exited with code 11 after 664.26 seconds from start',
    'WARNING: [pool www] child {pid} said into stderr: "zend_mm_heap corrupted"',
    'WARNING: [pool www] server reached pm.max_children setting (5), consider raising it',
    "WARNING: [pool www] child {pid}, script '/var/www/x.php' (request: \"GET /x.php\") executing too slow "
    "(5.1 sec), logging",
    'NOTICE: [pool www] child {pid} started',
    'NOTICE: ready to handle connections',
    'NOTICE: child {pid} of something else',
    'ERROR: failed to ptrace(PEEKDATA) pid {pid}: Input/output error (5)',
]
KERNEL = [
    'Nov 26 17:01:{s:02d} web1 kernel: [4417665.769934] php-fpm[{pid}]: segfault at 0 ip 00007fb1ab8ace05 '
    'sp 00007ffecc84fa10 error 4 in opcache.so[7fb1ab86b000+68000]',
    'Nov 26 17:01:{s:02d} web1 systemd-coredump[99]: Process {pid} (php-fpm) of user 33 dumped core.',
    '[  100.{pid:06d}] traps: php-fpm[{pid}] general protection ip:6df1d9 sp:7fff8ed6fb10 error:0 in php-fpm[400000+7a3000]',
    'Nov 26 17:01:{s:02d} web1 php-fpm[374]: application says segfault at the door',
    'Nov 26 17:01:{s:02d} web1 kernel: Out of memory: Killed process {pid} (php-fpm) total-vm:812344kB',
]


pytestmark = pytest.mark.usefixtures("utc")   # TZ=UTC for every test (conftest.py)


def ngx(rng, i, msg=None):
    s = i % 60
    msg = msg or rng.choice(NGX_MSGS)
    ctx = (', client: 2001:db8::%x, server: example.com, request: "GET /p%d.php?x=%s HTTP/1.1", upstream: '
           '"fastcgi://unix:/run/php/php8.2-fpm.sock:", host: "example.com"' % (i, i % 7, "y" * (i % 5)))
    return "2026/11/26 17:%02d:%02d [error] 2481#2481: *%d %s%s" % (i % 60, s, i, msg, ctx)


def fpm(rng, i, frac=False):
    stamp = "26-Nov-2026 17:%02d:%02d%s" % (i % 60, (i * 7) % 60, ".%06d" % i if frac else "")
    return "[%s] %s" % (stamp, rng.choice(FPM_MSGS).format(pid=i))


def sample(seed=7, n=1500):
    """Mixed physical lines (bytes)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        k = rng.random()
        if k < 0.03:
            # a notice, then the 502 of the same nginx connection: the notice comes in full
            out.append(ngx(rng, i, NOTICE).encode())
            line = ngx(rng, i, NGX_MSGS[0])
        elif k < 0.35:
            line = ngx(rng, i)
        elif k < 0.55:
            line = fpm(rng, i, frac=rng.random() < 0.3)
        elif k < 0.62:
            line = "php74_1        | " + fpm(rng, i)
        elif k < 0.66:
            line = "2026-11-26T17:%02d:%02dZ stdout F %s" % (i % 60, i % 60, fpm(rng, i))
        elif k < 0.70:
            line = ngx(rng, i) + ngx(rng, i + 1)                       # glued nginx: one record
        elif k < 0.73:
            line = fpm(rng, i) + "php_1 | " + fpm(rng, i + 1)          # glued php-fpm records
        elif k < 0.76:
            line = rng.choice(KERNEL).format(s=i % 60, pid=i)
        elif k < 0.78:
            line = "[pool www] child %d exited on signal 11 (SIGSEGV) after 1.0 seconds from start" % i  # undated
        elif k < 0.80:
            out.append(("[26-Nov-2026 17:%02d:%02d]  [pool www] pid %d" % (i % 60, i % 60, i)).encode())
            line = "script_filename = /var/www/slow%d.php" % i if rng.random() < 0.8 else ""
        elif k < 0.83:
            line = ngx(rng, i).replace("/p", "/\udcff\udcfe") + "\udc80 tail"
        elif k < 0.85:
            line = ngx(rng, i) + " upstream " + "A" * rng.choice((100, 3000, 9000))   # long lines
        elif k < 0.87:
            line = "child upstream NOTICE noise that matches nothing %d" % i
        elif k < 0.88:
            line = ""
        else:
            line = "2026/11/26 17:00:00 [info] 1#1: *%d client closed keepalive connection" % i
        b = line.encode("utf-8", "surrogateescape")
        if rng.random() < 0.05:
            b += b"\r"
        out.append(b)
    return b"\n".join(out) + b"\n"


needs_gnu_grep = pytest.mark.skipif(not gnu_grep._check_grep()["ok"], reason="no GNU grep on this machine")
PREFILTERS = ["python", pytest.param("grep", marks=needs_gnu_grep)]


def fast(files, **kw):
    sink, reports = scan([(str(f), h) for f, h in files],
                         lambda: CompositeSink(Correlator(), EventCollector(max_events=10 ** 6)), **kw)
    fast.php_messages = sink.sinks[0].php_messages
    fast.fastcgi_stderr = sink.sinks[0].by_category.get("fastcgi_stderr", 0)
    fast.first = sink.sinks[0].first.get("fastcgi_stderr")
    fast.last = sink.sinks[0].last.get("fastcgi_stderr")
    return sink.sinks[1].events, reports


def reference_for(data, path, kinds, since=None, until=None):
    tctx = TimeContext(ref_epoch=os.stat(str(path)).st_mtime)
    tctx.file_mtime = os.stat(str(path)).st_mtime
    notices = []
    evs, lines, overlong = reference_events(data, str(path), kinds, since, until, tctx, notices=notices)
    reference_for.php_messages = notice_tally(notices, evs)
    reference_for.fastcgi_stderr = len(notices) + sum(
        1 for e in evs if e["category"] == "fastcgi_stderr" and not e.get("_detail"))
    for e in evs:
        e.pop("_detail", None)
    return [public_event(e) for e in evs], lines, overlong


def notice_tally(notices, events):
    """(severity, script) -> count of the reference: notice lines counted in bulk, plus
    the PHP messages of the fastcgi_stderr events that took the full path (the notice
    lines brought in full are in both: once)."""
    from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.php_notices import php_messages_of
    out = {}
    for dummy, msgs in notices:
        for key in msgs:
            out[key] = out.get(key, 0) + 1
    for ev in events:
        if ev["category"] == "fastcgi_stderr" and not ev.get("_detail"):
            for key in php_messages_of(ev.get("stderr") or ""):
                if key[0] is not None:
                    out[key] = out.get(key, 0) + 1
    return out


@pytest.fixture
def small_limits(monkeypatch):
    """Small chunks and a small line limit, so chunk edges, over-long lines and
    worker ranges are all exercised by a small sample."""
    monkeypatch.setattr(limits, "CHUNK_SIZE", 4096)
    monkeypatch.setattr(limits, "MAX_LINE", 2048)
    monkeypatch.setattr(limits, "SMALL_FILE", 0)
    monkeypatch.setattr(limits, "SPLIT_MIN", 64 * 1024)
    monkeypatch.setattr(gnu_grep._GrepFeed, "READ", 8192)   # grep output lines cut across reads


@pytest.mark.parametrize("prefilter", PREFILTERS)
@pytest.mark.parametrize("hint", [None, "nginx", "php-fpm", "kernel", "slowlog"])
@pytest.mark.parametrize("workers", [1, 3])
def test_fast_scan_equals_the_reference(tmp_path, small_limits, hint, workers, prefilter):
    data = sample()
    f = tmp_path / "mixed.log"
    f.write_bytes(data)
    kinds = Scanner.choose_kinds(data[:limits.SNIFF_SIZE], hint)
    events, reports = fast([(f, hint)], workers=workers, prefilter=prefilter)
    want, lines, overlong = reference_for(data, f, kinds)
    assert len(want) > 300
    assert events == want
    # PHP notices: counted in bulk, per severity and script, exactly as the reference
    assert fast.php_messages == reference_for.php_messages
    assert fast.fastcgi_stderr == reference_for.fastcgi_stderr
    assert (hint not in (None, "nginx")) or (
        reference_for.php_messages.get(("Notice", "/srv/a.php"), 0) > 5 and
        reference_for.php_messages.get(("Fatal error", "/srv/d.php"), 0) > 5)
    assert reports[0]["lines"] == lines
    assert reports[0].get("overlong_lines", 0) == overlong > 0


@pytest.mark.parametrize("prefilter", PREFILTERS)
def test_kinds_restrict_events_the_same_way(tmp_path, small_limits, monkeypatch, prefilter):
    """An nginx log (by hint and head) is not searched for php-fpm or kernel evidence:
    such records further down are left out, by the scanner and the reference alike."""
    monkeypatch.setattr(limits, "SNIFF_SIZE", 2048)
    rng = random.Random(5)
    data = b"".join(ngx(rng, i).encode() + b"\n" for i in range(40)) + sample(seed=11)
    f = tmp_path / "error.log"
    f.write_bytes(data)
    kinds = Scanner.choose_kinds(data[:2048], "nginx")
    assert kinds == frozenset(["nginx"])
    events, _r = fast([(f, "nginx")], workers=1, prefilter=prefilter)
    want, _l, _o = reference_for(data, f, kinds)
    assert events == want and set(e["source_kind"] for e in events) == set(["nginx"])


@pytest.mark.parametrize("prefilter", PREFILTERS)
def test_gzip_and_window_equal_the_reference(tmp_path, small_limits, prefilter):
    data = sample(seed=3)
    f = tmp_path / "mixed.log.1.gz"
    f.write_bytes(gzip.compress(data))
    since, until = parse_iso("2026-11-26T17:10:00Z"), parse_iso("2026-11-26T17:50:00Z")
    events, reports = fast([(f, None)], since=since, until=until, workers=1, prefilter=prefilter)
    want, _l, _o = reference_for(data, f, search_plan.ALL_KINDS, since, until)
    assert 0 < len(want) == len(events)
    assert events == want


@pytest.mark.parametrize("workers", [1, 3])
@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("window", [False, True])
@needs_gnu_grep
def test_grep_and_python_prefilters_give_identical_results(tmp_path, small_limits, workers, gz, window):
    """Whole results (events, correlation report, per-file reports) of both searches, on
    plain and gzip files, with and without a window (chunks skipped, early stop), plus
    a truncated gzip: equal, and equal to the reference."""
    data = sample(seed=21, n=3000)
    files = []
    for i, part in enumerate((data, sample(seed=22))):
        if gz:
            f = tmp_path / ("mixed%d.log.gz" % i)
            f.write_bytes(gzip.compress(part))
        else:
            f = tmp_path / ("mixed%d.log" % i)
            f.write_bytes(part)
        files.append((f, None))
    if gz:
        f = tmp_path / "cut.log.2.gz"
        f.write_bytes(gzip.compress(data)[:-4000])
        files.append((f, None))
    kw = dict(workers=workers)
    if window:
        kw.update(since=parse_iso("2026-11-26T17:10:00Z"), until=parse_iso("2026-11-26T17:40:00Z"))
    out = {}
    for pf in ("python", "grep"):
        sink, reports = scan([(str(f), h) for f, h in files],
                             lambda: CompositeSink(Correlator(), EventCollector(max_events=10 ** 6)),
                             prefilter=pf, **kw)
        out[pf] = (sink.sinks[1].events, sink.sinks[0].report(), reports)
    assert out["grep"] == out["python"]
    events, _c, reports = out["grep"]
    assert len(events) > 100
    assert [r["status"] for r in reports] == ["scanned", "scanned"] + (["partial"] if gz else [])
    want, _l, _o = reference_for(data, files[0][0], Scanner.choose_kinds(data[:limits.SNIFF_SIZE], None),
                                 kw.get("since"), kw.get("until"))
    assert [e for e in events if e["file"] == str(files[0][0])] == want


@pytest.mark.parametrize("prefilter", PREFILTERS)
def test_trailing_line_without_newline_and_slowlog_header_at_a_chunk_edge(tmp_path, monkeypatch, prefilter):
    monkeypatch.setattr(limits, "SMALL_FILE", 0)
    head = b"[26-Nov-2026 17:01:02]  [pool www] pid 15"
    for pad in range(4090 - len(head), 4100 - len(head)):
        monkeypatch.setattr(limits, "CHUNK_SIZE", 4096)
        data = (b"x" * (pad - 1) + b"\n" + head + b"\nscript_filename = /var/www/a.php\n" + head +
                b"\nscript_filename = /var/www/b.php")
        f = tmp_path / "www.slow.log"
        f.write_bytes(data)
        kinds = Scanner.choose_kinds(data[:limits.SNIFF_SIZE], "slowlog")
        events, _r = fast([(f, "slowlog")], workers=1, prefilter=prefilter)
        want, _l, _o = reference_for(data, f, kinds)
        assert [e["script"] for e in events] == ["/var/www/a.php", "/var/www/b.php"]
        assert events == want


def test_parse_record_fast_paths_equal_the_generic_parser():
    from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence import parse as log_parse
    from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.parse import Record, parse_record
    from signature_samples import categories, load_samples
    texts = [""] + [raw.decode("utf-8", "replace") for cat in categories()
                    for dummy, dummy2, raw, dummy3 in load_samples(cat)]
    texts += [l.decode("utf-8", "surrogateescape") for l in sample(seed=9, n=800).split(b"\n")]
    texts += ["1234/56/78 99:99:99 [error] 1#1: x", "2026/11/26 17:01:02 [error] 1#1: *", "Mar_1 | [26-Nov-2026 17:01:02] X",
              "svc|[26-Nov-2026 17:01:02] NOTICE: y", "a" * 95 + " | [26-Nov-2026 17:01:02] NOTICE: y",
              "web  |  [26-Nov-2026 17:01:02] NOTICE: y", "[26-Nov-2026 17:01:02.5] NOTICE: y", "2026/11"]
    fields = Record.__slots__
    for r in texts:
        a = parse_record(r, TimeContext(ref_epoch=1798675200.0))
        b = log_parse._parse_record_generic(r, Record(), TimeContext(ref_epoch=1798675200.0))
        assert [getattr(a, k) for k in fields] == [getattr(b, k) for k in fields], r


# ----------------------------------------------------------------------------- grep fallback and failures

def _fake_grep(tmp_path, body):
    d = tmp_path / "bin"
    d.mkdir()
    g = d / "grep"
    g.write_text("#!/bin/sh\n" + body)
    g.chmod(0o755)
    return str(d)


@pytest.fixture
def fresh_grep_check(monkeypatch):
    monkeypatch.setattr(gnu_grep, "_GREP", {})


@pytest.mark.parametrize("gz", [False, True])
def test_no_grep_in_path_falls_back_to_python(tmp_path, small_limits, monkeypatch, fresh_grep_check, gz):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    info = gnu_grep.grep_prefilter("auto")
    assert info["used"] == "python" and info["reason"] == "no grep in PATH"
    with pytest.raises(ValueError, match="prefilter=grep, but no grep in PATH"):
        gnu_grep.grep_prefilter("grep")
    with pytest.raises(ValueError):
        scan([], EventCollector, prefilter="grep")
    data = sample(seed=4)
    f = tmp_path / ("x.log.gz" if gz else "x.log")
    f.write_bytes(gzip.compress(data) if gz else data)
    events, reports = fast([(f, None)], workers=1)
    want, lines, _o = reference_for(data, f, search_plan.ALL_KINDS)
    assert events == want and reports[0]["status"] == "scanned" and reports[0]["lines"] == lines


def test_busybox_grep_is_not_used(tmp_path, small_limits, monkeypatch, fresh_grep_check):
    path = _fake_grep(tmp_path, 'echo "BusyBox v1.36.1 (2023-06-01) multi-call binary."; exit 1\n')
    monkeypatch.setenv("PATH", path)
    info = gnu_grep.grep_prefilter("auto")
    assert info["used"] == "python" and "is not GNU grep (BusyBox v1.36.1" in info["reason"]
    data = sample(seed=5)
    f = tmp_path / "x.log"
    f.write_bytes(data)
    events, _r = fast([(f, None)], workers=1)
    assert events == reference_for(data, f, search_plan.ALL_KINDS)[0]


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("how", ["error", "silent", "garbage"])
def test_failing_grep_leaves_the_file_partial_and_never_hangs(tmp_path, small_limits, monkeypatch,
                                                              fresh_grep_check, how, gz):
    import shutil
    body = {"error": 'echo "grep: (standard input): Input/output error" >&2; exit 2\n',
            "silent": "exec %s 60\n" % shutil.which("sleep"),
            "garbage": "echo 'not grep output'; %s >/dev/null\n" % shutil.which("cat")}[how]
    path = _fake_grep(tmp_path, 'if [ "$1" = "--version" ]; then echo "grep (GNU grep) 3.8"; exit 0; fi\n' + body)
    monkeypatch.setenv("PATH", path)
    monkeypatch.setattr(gnu_grep, "GREP_STALL_TIMEOUT", 1.0)
    data = sample(seed=6)
    f = tmp_path / ("x.log.gz" if gz else "x.log")
    f.write_bytes(gzip.compress(data) if gz else data)
    t = time.time()
    events, reports = fast([(f, None), (f, None)], workers=1, prefilter="grep")
    assert time.time() - t < 30
    rep = reports[0]
    assert rep["status"] == "partial"
    assert rep["error"].startswith("grep prefilter")
    if how == "error":
        assert "exit status 2" in rep["error"] and "Input/output error" in rep["error"]
    elif how == "silent":
        assert "gave no output for 1 s: killed" in rep["error"]


def notice_heavy_sample(seed=12, n=2500):
    """The usual error log of a PHP site (issue 12): runs of PHP notice lines (one to
    three messages, varied scripts, paths with spaces, eval()'d code, a cut message),
    the 502s among them, a stretch with fatal errors and one over-long notice line."""
    rng = random.Random(seed)
    texts = ['Undefined variable $cart', 'Undefined array key \\"id\\"', 'strlen(): Passing null',
             'include(/etc/x in /tmp/y on line 2): Failed to open stream']
    scripts = ['/srv/cart.php', '/srv/my app/a.php', "/srv/x.php(12) : eval()'d code", 'C:\\www\\i.php']
    out = []
    for i in range(n):
        k = 0.0 if i in (1900, 2100) else rng.random()
        if k < 0.85:
            msgs = "".join("PHP message: PHP %s:  %s in %s on line %d" % (
                rng.choice(["Warning", "Notice", "Deprecated"]), rng.choice(texts), rng.choice(scripts),
                rng.randrange(1, 999)) for dummy in range(rng.choice((1, 1, 2, 3))))
            if 1200 <= i < 1260 and rng.random() < 0.2:
                msgs += "PHP message: PHP Fatal error:  boom in /srv/d.php on line 8"
            if i == 1900:
                msgs += "PHP message: PHP Notice:  " + "n" * 3000 + " in /srv/long.php on line 1"
            if i == 2100:
                msgs = msgs[:60]                        # nginx cut the line mid-message
            if i == 700:
                msgs += "PHP message: something else"   # no "PHP <Severity>:" message: not a notice line
            # a client's referrer after the payload names a script: never counted as one
            tail = ', referrer: "x in /forged.php on line 1"' if i % 40 == 0 else ""
            line = ngx(rng, i, 'FastCGI sent in stderr: "%s" while reading response header from upstream%s'
                       % (msgs, tail))
            if rng.random() < 0.05:                     # its request's 502 comes next: the notice comes in full
                out.append(line.encode())
                line = ngx(rng, i, NGX_MSGS[0])
        elif k < 0.97:
            line = ngx(rng, i, NGX_MSGS[rng.randrange(5)])
        else:
            line = "2026/11/26 17:00:00 [info] 1#1: *%d client closed keepalive connection" % i
        out.append(line.encode())
    return b"\n".join(out) + b"\n"


def _nginx_log_through_grep(tmp_path, data, gz, workers):
    """``data`` written as an nginx error log (gzip-compressed when ``gz``), scanned with the
    grep prefilter and by the reference: (file, events, reports, (reference events, lines,
    over-long lines))."""
    f = tmp_path / ("error.log.gz" if gz else "error.log")
    f.write_bytes(gzip.compress(data) if gz else data)
    events, reports = fast([(f, "nginx")], workers=workers, prefilter="grep")
    return f, events, reports, reference_for(data, f, frozenset(["nginx"]))


@needs_gnu_grep
@pytest.mark.parametrize("workers, gz", [(1, False), (3, False), (1, True)])
def test_notices_counted_in_bulk_from_grep_equal_the_reference(tmp_path, small_limits, monkeypatch, workers, gz):
    """The grep path counts the notice rows of a whole batch at once (count_notice_rows):
    the same counts, messages and events as the line-by-line reference, at range edges,
    with fatal errors in some batches (those rows given back, the rest counted) and an
    over-long line in one; and the bulk step really takes most of them (else this would
    only test the per-line step). With 3 workers the ranges start and end among notice
    rows; gzip: grep reads the inflated stream and the rows are counted in its reader
    thread."""
    from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence import php_notices, scanner
    taken = []
    given = []
    real = scanner.count_notice_rows
    real_given = php_notices._rows_given_back

    def counting(*a):
        got = real(*a)
        taken.append(got[1] if got is not None else 0)
        return got

    def giving(block, *a):
        got = real_given(block, *a)
        given.append(got[1] if got is not None else None)
        return got
    monkeypatch.setattr(scanner, "count_notice_rows", counting)
    monkeypatch.setattr(php_notices, "_rows_given_back", giving)
    data = notice_heavy_sample()
    f, events, reports, (want, lines, overlong) = _nginx_log_through_grep(tmp_path, data, gz, workers)
    assert events == want
    assert fast.php_messages == reference_for.php_messages
    assert not [k for k in fast.php_messages if k[1] == "/forged.php"]
    assert fast.fastcgi_stderr == reference_for.fastcgi_stderr > 2000
    seen = (fast.first, fast.last)
    fast([(f, "nginx")], workers=1, prefilter="python")
    assert seen == (fast.first, fast.last)      # the first and last notice line's time
    assert reports[0]["lines"] == lines
    assert (reports[0].get("overlong_lines", 0), overlong) == (1, 1)
    if workers == 1:                    # counted in this process (3 workers: in theirs)
        assert sum(taken) > 0.8 * fast.fastcgi_stderr
        assert 0 in taken               # the batch with the over-long line went line by line
        # the batches with a fatal error (or a message that is no notice) were counted but
        # for those rows, which went line by line
        assert given and all(g for g in given), given


def keepalive_sample(seed=21, n=3000, conns=40):
    """Notice lines and 502s of a few kept-alive nginx connections: one connection logs
    notices before and after its 502, others 502 with no notice of their own near."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        c = rng.randrange(conns)
        k = rng.random()
        if k < 0.6:
            msg = ('FastCGI sent in stderr: "PHP message: PHP Warning:  Undefined variable $x in /srv/p%d.php on line %d"'
                   ' while reading response header from upstream' % (c % 5, i))
        elif k < 0.8:
            msg = NGX_MSGS[0]
        else:
            out.append(("2026/11/26 17:%02d:%02d [info] 1#1: *%d client closed keepalive connection"
                        % (i % 60, i % 60, c)).encode())
            continue
        line = ngx(rng, i, msg)
        out.append(line.replace("*%d " % i, "*%d " % c, 1).encode())
    return b"\n".join(out) + b"\n"


@needs_gnu_grep
@pytest.mark.parametrize("room", [65536, 5])
@pytest.mark.parametrize("workers, gz", [(1, False), (3, False), (1, True)])
def test_notice_before_a_502_is_looked_up_only_for_its_connection(tmp_path, small_limits, monkeypatch,
                                                                  workers, gz, room):
    """With notices counted in bulk, a 502 looks for its request's notice (a pread and a walk
    back) only when its connection logged one close before or after it: the same events as
    the reference, also when a connection logs notices on both sides of its 502 and when the
    connections kept are emptied (``room``); and a 502 whose connection logged none is not
    looked up at all."""
    from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence import scanner
    monkeypatch.setattr(limits, "NOTICE_CONNECTIONS", room)
    asked = []
    real = scanner.notice_before

    def counting(before, conn, tctx):
        asked.append(conn)
        return real(before, conn, tctx)
    monkeypatch.setattr(scanner, "notice_before", counting)
    data = keepalive_sample()
    dummy, events, dummy2, (want, dummy3, dummy4) = _nginx_log_through_grep(tmp_path, data, gz, workers)
    assert events == want
    assert sum(1 for e in want if e["category"] == "fastcgi_stderr") > 20     # notices brought in full
    assert fast.php_messages == reference_for.php_messages
    # unique connections (notice_heavy_sample): hardly any lookup
    asked[:] = []
    data = notice_heavy_sample()
    dummy, events, dummy2, (want, dummy3, dummy4) = _nginx_log_through_grep(tmp_path, data, gz, 1)
    assert events == want
    noticed = set(int(c) for c in re.findall(rb"\*(\d+) FastCGI sent", data))
    alone = [e for e in events if e["category"] == "upstream_reset" and e["connection"] not in noticed]
    if room > 5:
        # the few asked are 502s in the batches counted line by line (fatal errors, the
        # over-long line) or right at the start
        assert len([c for c in asked if c not in noticed]) < len(alone) / 2, (len(asked), len(alone))
