# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: opcache-fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Streaming, read-only, bounded-memory scan of log files for crash evidence
(private helper of fpm_evidence): the public entry (``scan``, ``scan_bytes``) and the
orchestration of files, byte ranges and worker processes.

Where the parts live (all under evidence/): log_files (patterns, rotation order),
readers (chunks, decompression), gnu_grep (the grep prefilter), search_plan (kinds and
literals per file), scanner (the per-line hot path), line_offsets (pread newline
arithmetic), line_events (one line's events), reference (the line-by-line oracle),
sinks (EventCollector, CompositeSink), crash_sources (coredumpctl), limits (sizes).

What a scan yields is defined line by line (``reference_events``, held to by
test_scan_reference.py): every physical line, cut at MAX_LINE bytes, is one
record (a header counts only at the start of a line: nginx and php-fpm copy text a
stranger chose into their records), matched against the signatures of the *kinds*
the file is searched for only (chosen per file, whatever its size, from its hint or
else its head: an nginx error log yields nginx evidence only, a php-fpm log php-fpm
evidence only; a file nobody recognises every kind); a slowlog header takes its script
from the next line. Only regular files are opened (O_NONBLOCK, then fstat): a FIFO or
a device is reported skipped, never read.

How it stays fast (see shared/design/ARCHITECTURE.md, "scanning big logs"):

* files are read in 1 MiB binary chunks; per chunk, the few coarse literals of the
  file's kinds (signature_table.SCAN_LITERALS: every line that can yield an event of
  that kind holds one) are located with ``bytes.find``, one pass each; the candidate
  lines are gated by one compiled search for the signature prefilters, and only the
  survivors are decoded and parsed (with fast paths for the usual nginx and php-fpm
  headers, see parse.parse_record). The choice of literals never changes the
  result, only the speed;
* chunks whose last stamp is before ``since`` are only newline-counted, and reading
  stops once a chunk starts after ``until`` (both with a slack for slightly
  unordered logs); whole files are skipped on mtime or on their first stamp;
* with GNU grep on the host (``scan(prefilter="auto")``, checked once with
  ``grep --version``; busybox/BSD grep, no grep, or a grep that cannot start: the
  Python search above), the literal search is GNU grep's instead:
  ``LC_ALL=C grep -a -n -b -F -e <literals>`` on the file (argument list, no shell),
  piped into ``grep -a -F -e <gate literals>`` - the same two tests. Its output
  (line number, offset, text) is read in bounded blocks as it comes. Without a
  window, a plain file is then not read in Python at all (scan_grep_range: pread
  only for range edges, a slowlog header's next line, over-long lines, the line
  count after the last candidate; PHP notice rows are counted a whole batch of
  grep's output at a time, php_notices.count_notice_rows); with a window, the chunk loop above still reads
  the file (its chunk skipping and early stop are reported per file) and only takes
  grep's offsets. gzip members are inflated here and written to a line-buffered grep
  with a sync line after each chunk (_GrepStream); bz2/xz use the Python search. A
  grep that fails, is killed or stays silent GREP_STALL_TIMEOUT seconds is killed
  and its file reported ``partial`` with the reason; never a hang;
* big plain files are split in line-aligned byte ranges scanned by worker
  processes (fork), gzip members are inflated in a helper thread (zlib releases
  the GIL) while the main thread searches (the threads hand the GIL over every
  limits.GZIP_SWITCH_INTERVAL while a member is scanned);
* a scan of more than limits.SMALL_FILE bytes keeps glibc from handing back the pages
  of its big buffers only to fault them in again (evidence/heap.py);
* nothing is written anywhere; a file that cannot be read, a binary file, a
  truncated gzip or an over-long line is reported per file and never stops the scan.

Results flow into a *sink* (``add(event)``, ``merge(other)``, ``shift_lines(n)``),
which must be picklable: see correlate.Correlator and sinks.EventCollector.
"""

from __future__ import absolute_import, division, print_function

import errno
import os
import sys

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence import limits
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.gnu_grep import _GrepFailed, _GrepFeed, _GrepStream, grep_prefilter
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.heap import keep_freed_memory
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.parse import parse_record
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.readers import (
    NotRegularFile, _ReadError, _detect, _gzip_chunks_threaded, _looks_binary, _open_chunks, _plain_chunks,
    file_kind, open_regular,
)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.scanner import Scanner
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.search_plan import plan_for
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.timestamps import TimeContext, format_ts

__metaclass__ = type

__all__ = ["scan", "scan_bytes"]


def _new_report(path, hint):
    return {"path": path, "hint": hint, "status": "pending", "reason": None, "error": None,
            "size": None, "mtime": None, "compression": None, "lines": 0, "events": 0}


def _prepare(path, hint, since, until, boot_time):
    """stat + head checks. Returns (report, plan) where plan is None when the file is
    not to be scanned (report says why)."""
    rep = _new_report(path, hint)
    # only regular files are read (readers.open_regular: O_NONBLOCK, then fstat): a FIFO
    # or a terminal given as, globbed into or rotated into a log path hung the scan
    try:
        fd, st = open_regular(path)
    except NotRegularFile as e:
        if e.kind == "directory":
            rep["status"] = "error"
            rep["error"] = "is a directory, not a log file"
        else:
            rep["status"] = "skipped"
            rep["reason"] = str(e)
        return rep, None
    except OSError as e:
        kind = _special_kind(path) if e.errno == errno.ENXIO else None
        if kind is not None:        # a unix socket cannot be opened at all
            rep["status"] = "skipped"
            rep["reason"] = "not a regular file: %s" % kind
        else:
            rep["status"] = "error"
            rep["error"] = _oserror_text(e)
        return rep, None
    rep["size"] = st.st_size
    rep["mtime"] = format_ts(st.st_mtime)
    try:
        with os.fdopen(fd, "rb") as f:
            if since is not None and st.st_mtime < since - limits.MTIME_SLACK:
                rep["status"] = "skipped"
                rep["reason"] = "last modified before the window"
                return rep, None
            head = f.read(limits.SNIFF_SIZE)
    except (IOError, OSError) as e:
        rep["status"] = "error"
        rep["error"] = _oserror_text(e)
        return rep, None
    comp, binary = _detect(head)
    rep["compression"] = comp
    if binary:
        rep["status"] = "skipped"
        rep["reason"] = "binary file (not a text log)"
        return rep, None
    if comp == "zstd":
        rep["status"] = "skipped"
        rep["reason"] = "zstd-compressed file: not supported (no zstd in the python standard library)"
        return rep, None
    tctx = TimeContext(ref_epoch=st.st_mtime, boot_time=boot_time)
    if comp is not None:
        head = _decompressed_head(path, comp)
        if _looks_binary(head):
            rep["status"] = "skipped"
            rep["reason"] = "binary content inside %s file" % comp
            return rep, None
    if until is not None and head:
        ts = _first_stamp(head, tctx)
        if ts is not None and ts > until + limits.WINDOW_SLACK:
            rep["status"] = "skipped"
            rep["reason"] = "first record is after the window"
            return rep, None
    kinds = Scanner.choose_kinds(head, hint)
    return rep, {"comp": comp, "size": st.st_size, "mtime": st.st_mtime, "kinds": kinds}


def _decompressed_head(path, comp):
    rep = {}
    try:
        for c in _open_chunks(path, comp=comp, report=rep):
            return c[:limits.SNIFF_SIZE]
    except (IOError, OSError, _ReadError):
        return b""
    return b""


def _first_stamp(head, tctx):
    for i, line in enumerate(head.split(b"\n")[:50]):
        ts = parse_record(line[:512].decode("utf-8", "replace"), tctx).ts
        if ts is not None:
            return ts
    return None


def _special_kind(path):
    try:
        return file_kind(os.stat(path).st_mode)
    except OSError:
        return None


def _oserror_text(e):
    if e.errno == errno.EACCES:
        return "permission denied"
    if e.errno == errno.ENOENT:
        return "no such file"
    if e.errno == errno.EISDIR:
        return "is a directory, not a log file"
    return e.strerror or str(e)


def _run_task(task):
    """Worker body (also used in-process). Returns (index, sink, report, newlines)."""
    (idx, path, hint, plan, start, end, since, until, boot_time, sink_factory, grep) = task
    sink = sink_factory()
    rep = {}
    scanner = Scanner(sink, since=since, until=until, boot_time=boot_time)
    tctx = TimeContext(ref_epoch=plan["mtime"], boot_time=boot_time)
    tctx.file_mtime = plan["mtime"]     # the time of undated lines with no dated neighbour
    nl = 0
    feed = None
    try:
        if plan["comp"] is None:
            begin = start - 1 if start > 0 else 0   # the byte before: does a line start at `start`?
            limit = None if end is None else end - begin
            nowindow = since is None and until is None
            if grep:
                try:
                    pl = plan_for(plan["kinds"])
                    feed = _GrepFeed(grep, pl.grep_literals, path, begin, pl.grep_gate, keep_text=nowindow)
                except (OSError, ValueError):
                    feed = None                     # grep cannot start: the Python search
            if feed is not None and nowindow:
                # no window: nothing depends on chunks, grep's output is enough
                nl = scanner.scan_grep_range(path, plan["kinds"], rep, tctx, begin, end, start > 0, feed)
            else:
                nl = scanner.scan_chunks(_plain_chunks(path, begin), path, plan["kinds"], rep, tctx,
                                         end_limit=limit, first_line_partial=start > 0, grep=feed,
                                         before=_bytes_before(path, begin))
        else:
            if grep and plan["comp"] == "gzip":
                try:
                    pl = plan_for(plan["kinds"])
                    feed = _GrepStream(grep, pl.grep_literals, pl.grep_gate)
                except (OSError, ValueError):
                    feed = None
            if feed is not None:
                chunks = _gzip_chunks_threaded(path, rep, feed)
            else:
                chunks = _open_chunks(path, comp=plan["comp"], report=rep)
            switch = sys.getswitchinterval()
            if plan["comp"] == "gzip":
                sys.setswitchinterval(min(switch, limits.GZIP_SWITCH_INTERVAL))
            try:
                nl = scanner.scan_chunks(chunks, path, plan["kinds"], rep, tctx, grep=feed)
            finally:
                sys.setswitchinterval(switch)
                if feed is not None:
                    feed.close()        # kill grep first: the inflating thread may be writing to it
                chunks.close()
    except (IOError, OSError) as e:
        rep["error"] = "read error: %s" % _oserror_text(e)
    except _ReadError as e:
        rep["error"] = str(e)
    except _GrepFailed as e:
        rep["error"] = str(e)
    except MemoryError:  # pragma: no cover
        rep["error"] = "out of memory while reading"
    finally:
        if feed is not None:
            feed.close()
    return idx, sink, rep, nl


def _bytes_before(path, pos):
    """The file's bytes before ``pos`` that may hold the neighbours of a line there
    (limits.NEAR_BYTES of them)."""
    if pos <= 0:
        return b""
    near = limits.NEAR_BYTES
    fd, dummy = open_regular(path)
    try:
        return os.pread(fd, min(pos, near), max(0, pos - near))
    finally:
        os.close(fd)


def scan(files, sink_factory, since=None, until=None, boot_time=None, workers=None, prefilter="auto"):
    """Scan ``files`` (list of (path, hint)) into one sink.

    ``prefilter``: how candidate lines of plain files are found - ``auto`` (GNU grep
    when present, see grep_prefilter), ``grep`` or ``python``; the result is the same.

    ``sink_factory()`` makes an empty sink (picklable, with add/merge/shift_lines).
    Returns (sink, file_reports) where file_reports is a list of dicts:
    path, hint, status (scanned|skipped|error), reason, error, size, mtime,
    compression, lines, events, overlong_lines, undated, chunks_skipped.
    """
    pf = grep_prefilter(prefilter)
    grep = pf["grep"] if pf["used"] == "grep" else None
    reports = []
    tasks = []
    for path, hint in files:
        rep, plan = _prepare(path, hint, since, until, boot_time)
        reports.append(rep)
        if plan is None:
            continue
        rep["status"] = "scanned"
        fidx = len(reports) - 1
        if workers is None:
            workers = _default_workers()
        if plan["comp"] is None and plan["size"] > limits.SPLIT_MIN and workers > 1:
            # with grep and no window a range costs two more processes and the Python
            # side is light: one range per worker (measured: ~8 % less CPU, same balance)
            per = 1 if grep and since is None and until is None else limits.RANGES_PER_WORKER
            n = min(workers * per, max(2, plan["size"] // (limits.SPLIT_MIN // 2)))
            step = plan["size"] // n + 1
            for k in range(n):
                s, e = k * step, min(plan["size"], (k + 1) * step)
                if s >= plan["size"]:
                    break
                tasks.append((fidx, path, hint, plan, s, e, since, until, boot_time, sink_factory, grep))
        else:
            tasks.append((fidx, path, hint, plan, 0, None, since, until, boot_time, sink_factory, grep))
    if workers is None:
        workers = _default_workers()
    total_bytes = sum(t[3]["size"] for t in tasks if t[4] == 0)
    results = None
    if total_bytes > limits.SMALL_FILE:
        keep_freed_memory()     # before the workers fork: they inherit it
    if workers > 1 and len(tasks) > 1 and total_bytes > limits.SMALL_FILE * 4:
        results = _run_parallel(tasks, workers)
    if results is None:
        results = [_run_task(t) for t in tasks]
    sink = sink_factory()
    line_base = {}
    for (fidx, rsink, rrep, nl), task in zip(results, tasks):
        base = line_base.get(fidx, 0)
        if base:
            rsink.shift_lines(base)
        line_base[fidx] = base + nl
        sink.merge(rsink)
        rep = reports[fidx]
        for k, v in rrep.items():
            if k in ("lines", "events", "overlong_lines", "undated", "chunks_skipped"):
                rep[k] = rep.get(k, 0) + v
            elif k == "error" and v and not rep.get("error"):
                rep["error"] = v
            elif k == "stopped_early":
                rep[k] = v
    for rep in reports:
        if rep["status"] == "scanned" and rep.get("error"):
            rep["status"] = "partial"
    return sink, reports


def _default_workers():
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    return max(1, min(n, 4))


_TASKS = []


def _run_task_index(i):
    return _run_task(_TASKS[i])


def _run_parallel(tasks, workers):
    """Fork workers that inherit the task list (sink factories need no pickling);
    only the (bounded) result sinks travel back. None when no pool can be had."""
    global _TASKS
    try:
        import multiprocessing
        ctx = multiprocessing.get_context("fork")
    except (ImportError, ValueError, AttributeError):
        return None
    _TASKS = tasks
    pool = None
    try:
        pool = ctx.Pool(processes=min(workers, len(tasks)))
        results = pool.map(_run_task_index, range(len(tasks)), chunksize=1)
        pool.close()
        return results
    except Exception:  # e.g. no /dev/shm for semaphores: scan in-process instead
        if pool is not None:
            pool.terminate()
        return None
    finally:
        if pool is not None:
            pool.join()
        _TASKS = []


def scan_bytes(name, data, sink, since=None, until=None, boot_time=None, ref_epoch=None, hint="kernel"):
    """Scan in-memory output (journalctl, dmesg) as if it were a file named ``name``.
    Returns a file report dict."""
    rep = _new_report(name, hint)
    rep["status"] = "scanned"
    rep["size"] = len(data)
    if isinstance(data, str):
        data = data.encode("utf-8", "replace")
    tctx = TimeContext(ref_epoch=ref_epoch, boot_time=boot_time)
    scanner = Scanner(sink, since=since, until=until, boot_time=boot_time)
    kinds = Scanner.choose_kinds(data[:limits.SNIFF_SIZE], hint)
    chunks = (data[i:i + limits.CHUNK_SIZE] for i in range(0, len(data), limits.CHUNK_SIZE))
    scanner.scan_chunks(chunks, name, kinds, rep, tctx)
    return rep
