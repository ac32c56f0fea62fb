# -*- coding: utf-8 -*-
# Copyright: opcache-fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Streaming, read-only, bounded-memory scan of log files for crash evidence
(private helper of fpm_evidence).

What a scan yields is defined line by line (``reference_events``, held to by
tests/unit/test_log_scan_reference.py): every physical line, cut at MAX_LINE bytes,
split into records (glued lines), each record matched against the signature table;
only events of the *kinds* the file is searched for are kept (chosen per file from
its hint and its head: an nginx log is not searched for php-fpm evidence; small and
unrecognised files for every kind); an undated record takes the stamp of an earlier
record of the same line; a slowlog header takes its script from the next line.

How it stays fast (see shared/design/ARCHITECTURE.md, "scanning big logs"):

* files are read in 1 MiB binary chunks; per chunk, the few coarse literals of the
  file's kinds (log_signatures.SCAN_LITERALS: every line that can yield an event of
  that kind holds one) are located with ``bytes.find``, one pass each; the candidate
  lines are gated by one compiled search for the signature prefilters, and only the
  survivors are decoded and parsed (with fast paths for the usual nginx and php-fpm
  headers, see log_parse.parse_record). The choice of literals never changes the
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
  count after the last candidate); with a window, the chunk loop above still reads
  the file (its chunk skipping and early stop are reported per file) and only takes
  grep's offsets. gzip members are inflated here and written to a line-buffered grep
  with a sync line after each chunk (_GrepStream); bz2/xz use the Python search. A
  grep that fails, is killed or stays silent GREP_STALL_TIMEOUT seconds is killed
  and its file reported ``partial`` with the reason; never a hang;
* big plain files are split in line-aligned byte ranges scanned by worker
  processes (fork), gzip members are inflated in a helper thread (zlib releases
  the GIL) while the main thread searches;
* nothing is written anywhere; a file that cannot be read, a binary file, a
  truncated gzip or an over-long line is reported per file and never stops the scan.

Results flow into a *sink* (``add(event)``, ``merge(other)``, ``shift_lines(n)``),
which must be picklable: see evidence_correlate.Correlator and EventCollector below.
"""

from __future__ import absolute_import, division, print_function

import bisect
import errno
import glob
import os
import re
import threading
import zlib

try:
    import queue
except ImportError:  # pragma: no cover
    import Queue as queue  # type: ignore

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.parse import (
    TimeContext, parse_record, split_records, parse_nginx_context, format_ts,
)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.signatures import (
    Matcher, SCAN_LITERALS, SCAN_LITERALS_EXTRA, GATE_LITERALS, SOURCE_KINDS,
)

__all__ = ["scan", "grep_prefilter", "scan_bytes", "expand_paths", "events_from_line", "public_event", "coredumpctl_events", "EventCollector", "CompositeSink", "Scanner",
           "reference_events", "plan_for",
           "CHUNK_SIZE", "MAX_LINE"]

CHUNK_SIZE = 1 << 20          # read size (bytes)
MAX_LINE = 64 * 1024          # longest line examined; longer ones are cut and counted
SNIFF_SIZE = 64 * 1024
SMALL_FILE = 4 << 20          # below this every literal is searched (no sniffing)
SPLIT_MIN = 48 << 20          # plain files above this are split across workers
RANGES_PER_WORKER = 2        # ranges per worker process (balance at the end of a scan)
WINDOW_SLACK = 3600.0         # tolerance for unordered stamps when skipping chunks
MTIME_SLACK = 300.0

_HINT_KINDS = {
    "nginx": ("nginx",),
    "php-fpm": ("php-fpm",),
    "slowlog": ("php-fpm",),
    "kernel": ("kernel", "coredump", "php-fpm"),
    "coredump": ("coredump", "kernel"),
}
_RE_ROTATED = re.compile(r"^(?P<base>.*?)(?:[.-](?P<n>\d+))?(?P<z>\.(?:gz|bz2|xz|zst))?$")
_TEXT_BYTES = bytes(bytearray([7, 8, 9, 10, 12, 13, 27]) + bytearray(range(0x20, 0x100)))


# ----------------------------------------------------------------------------- sinks

class EventCollector(object):
    """Keeps the first ``max_events`` events (as output dicts); counts the rest."""

    def __init__(self, max_events=1000, enabled=True):
        self.max_events = max_events
        self.enabled = enabled
        self.events = []
        self.total = 0

    def add(self, ev):
        self.total += 1
        if self.enabled and len(self.events) < self.max_events:
            self.events.append(public_event(ev))

    def merge(self, other):
        self.total += other.total
        room = self.max_events - len(self.events)
        if self.enabled and room > 0:
            self.events.extend(other.events[:room])

    def shift_lines(self, offset):
        for ev in self.events:
            if ev.get("line_no") is not None:
                ev["line_no"] += offset

    @property
    def truncated(self):
        return self.enabled and self.total > len(self.events)


class CompositeSink(object):
    """Feeds every event to several sinks."""

    def __init__(self, *sinks):
        self.sinks = list(sinks)

    def add(self, ev):
        for s in self.sinks:
            s.add(ev)

    def merge(self, other):
        for a, b in zip(self.sinks, other.sinks):
            a.merge(b)

    def shift_lines(self, offset):
        for s in self.sinks:
            s.shift_lines(offset)


def public_event(ev):
    """Internal event -> output dict (ISO timestamp, no private keys)."""
    out = {}
    for k, v in ev.items():
        if k == "_ts":
            continue
        out[k] = v
    out["timestamp"] = format_ts(ev.get("_ts"))
    return out


# ----------------------------------------------------------------------------- discovery

def expand_paths(patterns, include_rotated=True, hint=None):
    """Expand files and globs. Returns (files, missing) where files is a list of
    (path, hint) without duplicates (by real path), rotated siblings of plain paths
    (x.log.1, x.log.2.gz, x.log-20240131.gz) included when ``include_rotated``."""
    seen = set()
    files = []
    missing = []
    for pat in patterns or ():
        if isinstance(pat, (tuple, list)):
            pat, h = pat[0], pat[1]
        else:
            h = hint
        pat = os.path.expanduser(str(pat))
        if glob.has_magic(pat):
            found = sorted(glob.glob(pat))
        else:
            found = [pat] if os.path.lexists(pat) else []
            if include_rotated:
                found += sorted(glob.glob(glob.escape(pat) + ".[0-9]*") + glob.glob(glob.escape(pat) + "-[0-9]*"))
        if not found:
            missing.append(pat)
            continue
        group = []
        for p in found:
            try:
                key = os.path.realpath(p)
            except OSError:  # pragma: no cover
                key = p
            if key in seen:
                continue
            seen.add(key)
            group.append(p)
        group.sort(key=_rotation_order)
        files.extend((p, h) for p in group)
    return files, missing


def _rotation_order(path):
    """Oldest first: x.log.3.gz, x.log.2.gz, x.log.1, x.log (dateext by date)."""
    m = _RE_ROTATED.match(os.path.basename(path))
    n = m.group("n") if m else None
    base = m.group("base") if m else path
    if n is None:
        return (os.path.dirname(path), base, 1, 0)
    n = int(n)
    if n > 10000000:      # dateext: larger is newer
        return (os.path.dirname(path), base, 0, n)
    return (os.path.dirname(path), base, 0, -n)


# ----------------------------------------------------------------------------- readers

class _ReadError(Exception):
    pass


def _open_chunks(path, start=0, comp=None, report=None):
    """Yield binary chunks of a file, decompressing gzip/bz2/xz. Errors after the
    start are recorded in ``report['error']`` and end the iteration."""
    if comp is None:
        yield_from = _plain_chunks(path, start)
    elif comp == "gzip":
        yield_from = _gzip_chunks_threaded(path, report)
    elif comp in ("bz2", "xz"):
        yield_from = _stdlib_decomp_chunks(path, comp, report)
    else:
        raise _ReadError("%s-compressed file: not supported" % comp)
    for c in yield_from:
        yield c


def _plain_chunks(path, start):
    with open(path, "rb") as f:
        if start:
            f.seek(start)
        while True:
            b = f.read(CHUNK_SIZE)
            if not b:
                return
            yield b


def _gzip_inflate(f, report):
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    fed = False               # has the current member received any input?
    while True:
        raw = f.read(CHUNK_SIZE)
        if not raw:
            if fed and not d.eof:
                report["error"] = "truncated gzip: compressed data ended before the end-of-stream marker"
            tail = d.flush()
            if tail:
                yield tail
            return
        while raw:
            fed = True
            try:
                out = d.decompress(raw, 4 * CHUNK_SIZE)
            except zlib.error as e:
                report["error"] = "corrupt gzip data: %s" % e
                return
            if out:
                yield out
            if d.eof:
                rest = d.unused_data
                d = zlib.decompressobj(16 + zlib.MAX_WBITS)
                raw = rest.lstrip(b"\x00")   # padding between members
                fed = False
                if raw and raw[:2] != b"\x1f\x8b":
                    report["error"] = "trailing garbage after gzip data"
                    return
                continue
            raw = d.unconsumed_tail


def _gzip_chunks_threaded(path, report, feed=None):
    """Inflate in a helper thread (zlib releases the GIL) into a small queue; with a
    grep ``feed`` (_GrepStream), every chunk goes to grep before it is queued."""
    q = queue.Queue(maxsize=4)
    stop = threading.Event()
    sentinel = object()

    def producer():
        try:
            with open(path, "rb") as f:
                for out in _gzip_inflate(f, report):
                    if feed is not None:
                        feed.write(out)
                    while not stop.is_set():
                        try:
                            q.put(out, timeout=0.5)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
        except (IOError, OSError) as e:
            report["error"] = "read error: %s" % e
        finally:
            if feed is not None:
                feed.end_input()
            while True:
                try:
                    q.put(sentinel, timeout=0.5)
                    break
                except queue.Full:
                    if stop.is_set():
                        break
    t = threading.Thread(target=producer, name="gunzip")
    t.daemon = True
    t.start()
    try:
        while True:
            item = q.get()
            if item is sentinel:
                break
            yield item
    finally:
        stop.set()
        try:
            while True:
                q.get_nowait()
        except queue.Empty:
            pass
        t.join(5)


def _stdlib_decomp_chunks(path, comp, report):
    try:
        if comp == "bz2":
            import bz2
            opener = bz2.open
        else:
            import lzma
            opener = lzma.open
    except ImportError:
        report["error"] = "%s support missing from this python" % comp
        return
    try:
        with opener(path, "rb") as f:
            while True:
                b = f.read(CHUNK_SIZE)
                if not b:
                    return
                yield b
    except EOFError:
        report["error"] = "truncated %s data" % comp
    except (IOError, OSError, ValueError) as e:
        report["error"] = "corrupt %s data: %s" % (comp, e)


# ----------------------------------------------------------------------------- grep prefilter

GREP_STALL_TIMEOUT = 120.0    # seconds grep may stay silent while the scan waits for it
GREP_VERSION_TIMEOUT = 10.0
_GREP = {}                    # the one `grep --version` check of this process


class _GrepFailed(Exception):
    pass


def _grep_env():
    env = dict(os.environ)
    for k in ("GREP_OPTIONS", "GREP_COLOR", "GREP_COLORS", "LANGUAGE", "LANG"):
        env.pop(k, None)
    env["LC_ALL"] = "C"
    return env


def grep_prefilter(mode="auto"):
    """Which candidate search a scan uses. ``mode``: ``auto`` (GNU grep when there is
    one, else Python), ``grep`` (GNU grep or ValueError) or ``python``. Returns a dict:
    ``mode`` (requested), ``used`` (grep|python), ``grep`` (path or None),
    ``version`` and ``reason`` (why Python is used). ``grep --version`` runs once per
    process; busybox and BSD grep are not used (their -b / -a differ or are missing)."""
    if mode not in ("auto", "grep", "python"):
        raise ValueError("prefilter must be auto, grep or python; got %r" % (mode,))
    info = {"mode": mode, "used": "python", "grep": None, "version": None, "reason": None}
    if mode == "python":
        info["reason"] = "prefilter=python"
        return info
    if "checked" not in _GREP:
        _GREP.update(_check_grep())
    info["grep"] = _GREP.get("path")
    info["version"] = _GREP.get("version")
    if _GREP.get("ok"):
        info["used"] = "grep"
    else:
        info["reason"] = _GREP.get("reason")
        if mode == "grep":
            raise ValueError("prefilter=grep, but %s" % info["reason"])
    return info


def _check_grep():
    import shutil
    import subprocess
    out = {"checked": True, "ok": False, "path": None, "version": None, "reason": None}
    path = shutil.which("grep")
    if not path:
        out["reason"] = "no grep in PATH"
        return out
    out["path"] = path
    try:
        p = subprocess.run([path, "--version"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=_grep_env(), timeout=GREP_VERSION_TIMEOUT)
    except (OSError, subprocess.SubprocessError) as e:
        out["reason"] = "%s --version failed: %s" % (path, e)
        return out
    first = (p.stdout or b"").decode("utf-8", "replace").strip().split("\n")[0].strip()
    out["version"] = first or None
    if p.returncode != 0 or not first.startswith("grep (GNU grep)") and "GNU grep" not in first:
        out["reason"] = "%s is not GNU grep (%s)" % (path, first or "exit code %d" % p.returncode)
        return out
    out["ok"] = True
    return out


def _big_pipe(fd):
    """A 1 MiB pipe (Linux): fewer hand-overs between grep and the scan."""
    try:
        import fcntl
        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
    except (ImportError, OSError, ValueError):  # pragma: no cover
        pass


class _GrepFeed(object):
    """Start offsets of candidate lines, from GNU grep reading the file itself: the
    lines holding one of the plan's ``literals`` (``LC_ALL=C grep -a -b -F -e ...``
    with the file, positioned at ``begin``, as its standard input; no shell), and of
    those, the lines holding a ``gate`` literal (a second ``grep -a -F`` on the first
    one's output): the same two tests as the Python search. Offsets are relative to
    ``begin``, ascending. The scan asks for them chunk by chunk (``take``): it waits
    for grep only until grep has reported a line at or past the chunk's end, or has
    ended; grep's output is read in bounded blocks (an over-long output line is
    skipped past its offset). A grep that stays silent for GREP_STALL_TIMEOUT
    seconds while the scan waits, exits with an error or is killed raises
    _GrepFailed; close() always ends and reaps the processes."""

    READ = 1 << 18

    def __init__(self, grep, literals, path, begin=0, gate=(), opts=(), keep_text=False):
        import subprocess
        self.keep = keep_text     # also keep the lines' text (None when too long to keep)
        env = _grep_env()
        first = [grep, "-a", "-n", "-b", "-F", "--color=never"] + list(opts)
        for lit in literals:
            first += ["-e", lit]
        self.procs = []
        if path is None:        # fed through a pipe (_GrepStream)
            p1 = subprocess.Popen(first, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  env=env, close_fds=True)
        else:
            f = open(path, "rb")
            try:
                if begin:
                    f.seek(begin)
                p1 = subprocess.Popen(first, stdin=f, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      env=env, close_fds=True)
            finally:
                f.close()
        self.procs.append(p1)
        self.stdin = p1.stdin
        out = p1.stdout
        if gate:
            second = [grep, "-a", "-F", "--color=never"] + list(opts)
            for lit in gate:
                second += ["-e", lit]
            _big_pipe(p1.stdout.fileno())
            try:
                p2 = subprocess.Popen(second, stdin=p1.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      env=env, close_fds=True)
            except (OSError, ValueError):
                self.close()
                raise
            p1.stdout.close()        # the second grep holds the pipe now
            self.procs.append(p2)
            out = p2.stdout
        self.out = out
        self.fd = out.fileno()
        _big_pipe(self.fd)
        self.offs = []
        self.nums = []
        self.conts = []
        self.i = 0
        self.buf = b""
        self.skip = False
        self.eof = False

    def take(self, limit):
        """Reported lines starting below ``limit`` not taken yet: (offsets, line numbers),
        ascending; grep's line numbers count from 1 at ``begin``."""
        offs_out, nums_out, conts_out = [], [], []
        keep = self.keep
        while True:
            offs, i = self.offs, self.i
            n = len(offs)
            if i < n:
                if offs[n - 1] >= limit:
                    j = bisect.bisect_left(offs, limit, i)
                    offs_out.extend(offs[i:j])
                    nums_out.extend(self.nums[i:j])
                    if keep:
                        conts_out.extend(self.conts[i:j])
                    self.i = j
                    return (offs_out, nums_out, conts_out) if keep else (offs_out, nums_out)
                offs_out.extend(offs[i:] if i else offs)
                nums_out.extend(self.nums[i:] if i else self.nums)
                if keep:
                    conts_out.extend(self.conts[i:] if i else self.conts)
                self.offs, self.nums, self.conts, self.i = [], [], [], 0
            if self.eof:
                return (offs_out, nums_out, conts_out) if keep else (offs_out, nums_out)
            self._fill()

    def take_some(self, limit):
        """Like take, but returns as soon as some lines are there (so that the scan
        parses while grep searches): (offsets, numbers, texts, done) where ``done``
        says that grep has reported past ``limit`` or ended."""
        while True:
            offs, i = self.offs, self.i
            n = len(offs)
            if i < n:
                j = bisect.bisect_left(offs, limit, i)
                out = (offs[i:j], self.nums[i:j], self.conts[i:j] if self.keep else None)
                if j < n:
                    self.i = j
                    return out + (True,)
                self.offs, self.nums, self.conts, self.i = [], [], [], 0
                return out + (False,)
            if self.eof:
                return [], [], [], True
            self._fill()

    def _fill(self):
        import select
        import time
        waited = time.time()
        while True:
            try:
                r, _w, _x = select.select([self.fd], [], [], min(5.0, GREP_STALL_TIMEOUT))
            except InterruptedError:  # pragma: no cover
                r = []
            if r:
                break
            if time.time() - waited > GREP_STALL_TIMEOUT:
                self.close()
                raise _GrepFailed("grep prefilter gave no output for %d s: killed" % GREP_STALL_TIMEOUT)
        data = os.read(self.fd, self.READ)
        if not data:
            self.eof = True
            rest = self.buf
            self.buf = b""
            if rest and not self.skip:
                self._parse_line(rest)
            self._check_exit()
            return
        buf = self.buf + data if self.buf else data
        pos = 0
        if self.skip:
            nl = buf.find(b"\n")
            if nl < 0:
                self.buf = b""
                return
            pos = nl + 1
            self.skip = False
        last = buf.rfind(b"\n")
        if self.i:
            del self.offs[:self.i]
            del self.nums[:self.i]
            del self.conts[:self.i]
            self.i = 0
        if last >= pos:
            add_o, add_n = self.offs.append, self.nums.append
            try:
                if self.keep:
                    add_c = self.conts.append
                    for l in buf[pos:last].split(b"\n"):
                        a = l.find(b":")
                        b = l.find(b":", a + 1)
                        add_n(int(l[:a]))
                        add_o(int(l[a + 1:b]))
                        add_c(l[b + 1:])
                else:
                    for l in buf[pos:last].split(b"\n"):
                        a = l.find(b":")
                        b = l.find(b":", a + 1)
                        add_n(int(l[:a]))
                        add_o(int(l[a + 1:b]))
            except ValueError:
                self.close()
                raise _GrepFailed("grep prefilter: unexpected output")
            pos = last + 1
        rest = buf[pos:]
        if len(rest) > 4096:          # an over-long matching line: keep its offset, skip the rest
            self._parse_line(rest)
            self.skip = True
            rest = b""
        self.buf = rest

    def _parse_line(self, line):
        a = line.find(b":")
        b = line.find(b":", a + 1)
        if a <= 0 or b <= a + 1 or not line[:a].isdigit() or not line[a + 1:b].isdigit():
            self.close()
            raise _GrepFailed("grep prefilter: unexpected output")
        self.nums.append(int(line[:a]))
        self.offs.append(int(line[a + 1:b]))
        if self.keep:
            self.conts.append(None)         # too long to keep: read from the file

    def _check_exit(self):
        import subprocess
        failed = None
        for p in self.procs:
            try:
                rc = p.wait(timeout=GREP_VERSION_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.close()
                raise _GrepFailed("grep prefilter did not exit after its output ended: killed")
            if rc not in (0, 1) and failed is None:
                err = b""
                try:
                    err = p.stderr.read(2000) or b""
                except (IOError, OSError, ValueError):  # pragma: no cover
                    pass
                why = "killed by signal %d" % -rc if rc < 0 else "exit status %d" % rc
                msg = err.decode("utf-8", "replace").strip().split("\n")[0][:300]
                failed = "grep prefilter failed (%s)%s" % (why, ": " + msg if msg else "")
        self.close()
        if failed:
            raise _GrepFailed(failed)

    def close(self):
        procs, self.procs = self.procs, []
        for p in procs:
            try:
                if p.poll() is None:
                    p.kill()
            except Exception:  # pragma: no cover - never let cleanup hang or raise
                pass
        if self.stdin is not None:      # after the kill: a writer blocked on it gets EPIPE
            try:
                self.stdin.close()
            except Exception:  # pragma: no cover
                pass
        for p in procs:
            try:
                p.wait(timeout=GREP_VERSION_TIMEOUT)
            except Exception:  # pragma: no cover
                pass
            for st in (p.stdout, p.stderr):
                try:
                    if st is not None:
                        st.close()
                except Exception:  # pragma: no cover
                    pass


class _GrepStream(_GrepFeed):
    """The grep prefilter over a stream the scan produces itself (a gzip member being
    inflated): the inflating thread ``write``s every chunk to grep's standard input
    before the scan gets it, with a sync line (SYNC) after the chunk's last newline;
    grep runs line-buffered and a reader thread drains its output all the time, so
    neither side can block the other. A sync line reported back tells that every
    line before it has been reported: the scan never waits for input grep will not
    get. Offsets and line numbers are mapped back to the stream without the sync
    lines (their positions are known; a log line holding the sync text is an
    ordinary candidate)."""

    SYNC = b"\x1dopcache-fleet grep sync\x1d"

    def __init__(self, grep, literals, gate=()):
        import threading as _t
        lits = tuple(literals) + (self.SYNC,)
        gates = tuple(gate) + (self.SYNC,) if gate else ()
        _GrepFeed.__init__(self, grep, lits, None, 0, gates, opts=("--line-buffered",))
        self.mark = self.SYNC + b"\n"
        self.marks = []           # stream offsets of the sync lines, in order
        self.spos = 0             # bytes written (sync lines included)
        self.broken = False
        self.cond = _t.Condition()
        self.through = -1         # every line starting below this offset was reported
        self.failed = None
        self.reader = _t.Thread(target=self._read_all, name="grep-out")
        self.reader.daemon = True
        self.reader.start()

    # -- producer side (the inflating thread) ------------------------------------
    def write(self, data):
        if self.broken:
            return
        try:
            j = data.rfind(b"\n")
            w = self.stdin.write
            if j < 0:
                w(data)
                self.spos += len(data)
                return
            mv = memoryview(data)
            w(mv[:j + 1])
            self.spos += j + 1
            self.marks.append(self.spos)
            w(self.mark)
            self.spos += len(self.mark)
            if j + 1 < len(data):
                w(mv[j + 1:])
                self.spos += len(data) - j - 1
            self.stdin.flush()
        except (IOError, OSError, ValueError):
            self.broken = True

    def end_input(self):
        try:
            self.stdin.close()
        except (IOError, OSError, ValueError):
            self.broken = True

    # -- reader thread ------------------------------------------------------------
    def _read_all(self):
        k = 0                     # sync lines seen
        mlen = len(self.mark)
        marks = self.marks
        buf = b""
        skip = False
        try:
            while True:
                data = os.read(self.fd, self.READ)
                if not data:
                    break
                buf = buf + data if buf else data
                pos = 0
                if skip:
                    nl = buf.find(b"\n")
                    if nl < 0:
                        buf = b""
                        continue
                    pos = nl + 1
                    skip = False
                last = buf.rfind(b"\n")
                lines = buf[pos:last].split(b"\n") if last >= pos else []
                rest = buf[last + 1:] if last >= pos else buf[pos:]
                if len(rest) > 4096:
                    lines.append(rest[:64])
                    skip = True
                    rest = b""
                buf = rest
                offs, nums, through = [], [], None
                for l in lines:
                    a = l.find(b":")
                    b = l.find(b":", a + 1)
                    num, off = int(l[:a]), int(l[a + 1:b])
                    if k < len(marks) and off == marks[k]:
                        through = off - k * mlen
                        k += 1
                        continue
                    offs.append(off - k * mlen)
                    nums.append(num - k)
                with self.cond:
                    self.offs.extend(offs)
                    self.nums.extend(nums)
                    if through is not None:
                        self.through = through
                    self.cond.notify_all()
        except (ValueError, IndexError):
            self.failed = "grep prefilter: unexpected output"
        except (IOError, OSError) as e:  # pragma: no cover
            self.failed = "grep prefilter: reading its output: %s" % e
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    # -- scan side -----------------------------------------------------------------
    def take(self, limit):
        import time
        waited = time.time()
        with self.cond:
            while not self.eof and self.through < limit and not (self.offs and self.offs[-1] >= limit):
                self.cond.wait(min(1.0, GREP_STALL_TIMEOUT))
                if time.time() - waited > GREP_STALL_TIMEOUT:
                    self.failed = "grep prefilter gave no output for %d s: killed" % GREP_STALL_TIMEOUT
                    break
            offs, nums, i = self.offs, self.nums, self.i
            j = bisect.bisect_left(offs, limit, i)
            out = offs[i:j], nums[i:j]
            if j > 4096 and j * 2 > len(offs):
                del offs[:j]
                del nums[:j]
                j = 0
            self.i = j
            failed = self.failed
            eof = self.eof
        if failed:
            self.close()
            raise _GrepFailed(failed)
        if eof and self.procs:
            self._check_exit()
        return out

    def close(self):
        _GrepFeed.close(self)
        if self.reader.is_alive():
            self.reader.join(GREP_VERSION_TIMEOUT)


def _detect(head):
    """Compression from magic bytes, and whether the head looks binary."""
    if head[:2] == b"\x1f\x8b":
        return "gzip", False
    if head[:3] == b"BZh":
        return "bz2", False
    if head[:6] == b"\xfd7zXZ\x00":
        return "xz", False
    if head[:4] == b"\x28\xb5\x2f\xfd":
        return "zstd", False
    return None, _looks_binary(head)


def _looks_binary(sample):
    if not sample:
        return False
    sample = sample[:8192]
    if sample[:4] == b"\x7fELF":
        return True
    ctrl = len(sample.translate(None, _TEXT_BYTES))
    return ctrl > 0.3 * len(sample)


# ----------------------------------------------------------------------------- scanner

ALL_KINDS = frozenset(SOURCE_KINDS)


class _Plan(object):
    """What one file is searched for: its evidence ``kinds`` (from the hint and the
    head), the ``literals`` located with ``bytes.find`` (every line that can yield an
    event of those kinds holds one of them) and the ``gate`` (the signature
    prefilters of those kinds, checked on each candidate line before decoding)."""

    __slots__ = ("kinds", "literals", "gate", "gate_search", "gate_in_grep")

    def __init__(self, kinds):
        self.kinds = frozenset(kinds)
        lits = set()
        gate = set()
        for k in self.kinds:
            lits.update(SCAN_LITERALS.get(k, ()))
            lits.update(SCAN_LITERALS_EXTRA.get(k, ()))
            gate.update(GATE_LITERALS.get(k, ()))
        self.literals = _minimal_literals(lits)
        self.gate = tuple(sorted(gate))
        # one C-level search instead of a Python loop over the literals
        self.gate_search = re.compile(b"|".join(re.escape(g) for g in self.gate)).search
        # the grep prefilter gates its output lines ("offset:line") with the same literals:
        # exact for a line not cut at MAX_LINE when no literal can match the offset
        self.gate_in_grep = bool(self.gate) and all(g.strip(b"0123456789:") for g in self.gate)


def _minimal_literals(lits):
    """Drop literals that contain another one (the shorter finds their lines too)."""
    lits = sorted(set(lits), key=len)
    out = []
    for l in lits:
        if not any(o in l for o in out):
            out.append(l)
    return tuple(sorted(out))


_PLANS = {}


def plan_for(kinds):
    key = frozenset(kinds)
    p = _PLANS.get(key)
    if p is None:
        p = _PLANS[key] = _Plan(key)
    return p


class Scanner(object):
    """Scans byte streams of one file for evidence and feeds a sink.

    What it yields is defined line by line (see :func:`reference_events`): every
    physical line is cut at MAX_LINE bytes, split into records, each record matched;
    events of a kind the file is not searched for are dropped, an undated record
    takes the stamp of an earlier record of the same physical line, a slowlog header
    takes its script from the next line. The literal search only decides which
    lines are looked at; it never changes the result."""

    def __init__(self, sink, since=None, until=None, boot_time=None, matcher=None):
        self.sink = sink
        self.since = since
        self.until = until
        self.boot_time = boot_time
        self.matcher = matcher or _default_matcher()

    # -- what to look for ---------------------------------------------------------
    @staticmethod
    def choose_kinds(head, hint=None, size=None):
        if size is not None and size < SMALL_FILE:
            return ALL_KINDS
        if hint in _HINT_KINDS:
            kinds = set(_HINT_KINDS[hint])
            if hint in ("nginx", "php-fpm", "slowlog") and head:
                # a container log or a syslog feed can still carry other kinds
                kinds |= _sniff_kinds(head)
            if "other" in kinds:
                return ALL_KINDS
            return frozenset(kinds)
        kinds = _sniff_kinds(head)
        if not kinds or "other" in kinds:
            return ALL_KINDS
        return frozenset(kinds)

    @staticmethod
    def choose_literals(head, hint=None, size=None):
        return plan_for(Scanner.choose_kinds(head, hint, size)).literals

    # -- the hot loop -----------------------------------------------------------
    def scan_chunks(self, chunks, path, kinds, report, tctx, end_limit=None, first_line_partial=False,
                    grep=None):
        """Scan an iterator of byte chunks for evidence of ``kinds``. ``end_limit``:
        number of bytes after which the range ends at the next newline (worker
        ranges). ``first_line_partial``: drop everything up to the first newline
        (range starting mid-line). ``grep``: a _GrepFeed over the same bytes (offsets
        from the start of ``chunks``) that replaces the ``bytes.find`` passes; everything
        else (line numbers, window, over-long lines, slowlog next lines) is the same
        code. Returns the number of newlines consumed."""
        plan = plan_for(kinds)
        literals, gate, kinds = plan.literals, plan.gate, plan.kinds
        gate_search = plan.gate_search
        gated = grep is not None and plan.gate_in_grep
        lshift = 2 if first_line_partial else 1   # grep's line number -> 0-based line index
        max_line = MAX_LINE
        emit = self._emitter(path, tctx, kinds, report)
        since, until = self.since, self.until
        lo = since - WINDOW_SLACK if since is not None else None
        hi = until + WINDOW_SLACK if until is not None else None
        tail = b""
        nl_total = 0          # newlines consumed so far = index of the current line (0-based)
        consumed = 0          # bytes consumed (for end_limit)
        long_head = None      # head of an over-long line being skipped
        skip_to_nl = first_line_partial
        lines_scanned = 0
        overlong = 0
        find = bytes.find
        rfind = bytes.rfind
        chunks = iter(chunks)
        pending = []          # slowlog headers waiting for their next line
        done = False
        after = b""           # what follows the end of a worker range (next line lookup)
        spos = 0              # stream offset of the next chunk
        for data in chunks:
            if done:
                break
            dpos = spos       # stream offset of `data`
            spos += len(data)
            if skip_to_nl:
                i = data.find(b"\n")
                consumed += len(data) if i < 0 else i + 1
                if end_limit is not None and consumed >= end_limit:
                    done = True         # one line covers the whole range: the previous range's
                    break
                if i < 0:
                    continue
                data = data[i + 1:]
                dpos += i + 1
                skip_to_nl = False
            if long_head is not None:
                i = data.find(b"\n")
                if i < 0:
                    consumed += len(data)
                    continue
                consumed += i + 1
                self._flush_pending(pending, long_head)
                emit(long_head, nl_total + 1, pending)
                nl_total += 1
                lines_scanned += 1
                long_head = None
                data = data[i + 1:]
                dpos += i + 1
                if end_limit is not None and consumed >= end_limit:
                    after = data        # the over-long line was the last of this range
                    done = True
                    break
            bpos = dpos - len(tail)       # stream offset of buf (and of work)
            buf = tail + data if tail else data
            if end_limit is not None and consumed + len(buf) - len(tail) >= end_limit:
                # the range ends with the line that contains byte end_limit - 1
                cut_from = max(0, end_limit - 1 - (consumed - len(tail)))
                j = buf.find(b"\n", cut_from)
                if j >= 0:
                    after = buf[j + 1:]
                    buf = buf[:j + 1]
                    done = True
            consumed += len(data)
            last_nl = buf.rfind(b"\n")
            if last_nl < 0:
                if len(buf) > MAX_LINE:
                    long_head = buf[:MAX_LINE]
                    overlong += 1
                    tail = b""
                else:
                    tail = buf
                continue
            # work: the complete lines, buf[:wend] (not copied: every search below is
            # bounded by wend, and the tail holds no newline)
            work = buf
            wend = last_nl + 1
            tail = buf[wend:]
            if pending:
                e0 = work.find(b"\n")
                self._flush_pending(pending, work[:min(e0, MAX_LINE)])
            overlong += _count_overlong(work, wend)
            # whole-chunk window checks
            if lo is not None or hi is not None:
                if lo is not None:
                    ts = self._stamp_of_last_line(work, tctx, wend)
                    if ts is not None and ts < lo:
                        nl_total += work.count(b"\n")
                        report["chunks_skipped"] = report.get("chunks_skipped", 0) + 1
                        continue
                if hi is not None:
                    ts = self._stamp_of_first_line(work, tctx)
                    if ts is not None and ts > hi:
                        report["stopped_early"] = True
                        done = True
                        break
            start_nl = nl_total
            if grep is not None:
                # candidate lines and their numbers from grep; only the newlines after the
                # last candidate of the chunk are counted here
                offs, nums = grep.take(bpos + wend)
                prev = -1
                line_idx = nl_total
                wlen = wend
                for k in range(len(offs)):
                    s = offs[k] - bpos
                    if s < 0:
                        continue                # a line of a skipped chunk or an over-long line
                    line_idx = nums[k] - lshift
                    if (s and work[s - 1] != 10) or line_idx < start_nl:
                        raise _GrepFailed("grep prefilter: line %d at offset %d does not match the file"
                                          % (nums[k], offs[k]))
                    prev = s
                    e = find(work, b"\n", s)
                    if e - s <= max_line:
                        raw = work[s:e]
                        if not gated and gate_search(raw) is None:
                            continue
                    else:
                        raw = work[s:s + max_line]
                        if gate_search(raw) is None:
                            continue
                    n_pend = len(pending)
                    emit(raw, line_idx + 1, pending)
                    if len(pending) > n_pend and e + 1 < wlen:
                        nxt = find(work, b"\n", e + 1)
                        self._flush_pending(pending, work[e + 1:min(nxt, e + 1 + MAX_LINE)])
                if prev >= 0:
                    nl_total = line_idx + work.count(b"\n", prev)
                else:
                    nl_total += work.count(b"\n")
                lines_scanned += nl_total - start_nl
                continue
            # candidate lines: start offset -> end offset (the newline)
            cands = {}
            for lit in literals:
                p = find(work, lit, 0, wend)
                while p >= 0:
                    e = find(work, b"\n", p)
                    cands[rfind(work, b"\n", 0, p) + 1] = e
                    p = find(work, lit, e, wend)
            if cands:
                prev = 0
                line_idx = nl_total
                count = work.count
                wlen = wend
                for s in sorted(cands):
                    e = cands[s]
                    if e - s <= max_line:
                        raw = work[s:e]
                        if not gated and gate_search(raw) is None:
                            continue
                    else:
                        raw = work[s:s + max_line]
                        if gate_search(raw) is None:
                            continue
                    line_idx += count(b"\n", prev, s)
                    prev = s
                    n_pend = len(pending)
                    emit(raw, line_idx + 1, pending)
                    if len(pending) > n_pend and e + 1 < wlen:
                        nxt = find(work, b"\n", e + 1)
                        self._flush_pending(pending, work[e + 1:min(nxt, e + 1 + MAX_LINE)])
                nl_total = line_idx + work.count(b"\n", prev)
            else:
                nl_total += work.count(b"\n")
            lines_scanned += nl_total - start_nl
        if done:
            if pending:
                # the next line lies past the end of this range
                while b"\n" not in after:
                    more = next(chunks, None)
                    if not more:
                        break
                    after += more
                    if len(after) > MAX_LINE:
                        break
                nxt = after.find(b"\n")
                self._flush_pending(pending, after[:nxt if 0 <= nxt < MAX_LINE else MAX_LINE] if after else None)
        else:
            if long_head is not None:
                self._flush_pending(pending, long_head)
                emit(long_head, nl_total + 1, pending)
                lines_scanned += 1
            elif tail:
                # last line without newline
                lines_scanned += 1
                if len(tail) > MAX_LINE:
                    overlong += 1
                    tail = tail[:MAX_LINE]
                self._flush_pending(pending, tail)
                for g in gate:
                    if g in tail:
                        emit(tail, nl_total + 1, pending)
                        break
            self._flush_pending(pending, None)
        report["lines"] = report.get("lines", 0) + lines_scanned
        if overlong:
            report["overlong_lines"] = report.get("overlong_lines", 0) + overlong
        return nl_total

    def scan_grep_range(self, path, kinds, report, tctx, begin, end, partial, feed):
        """The grep path for a plain file and no window: the same lines, events, counts
        and line numbers as scan_chunks over the range, without reading the file in
        Python. grep (``feed``, started at ``begin`` with its text kept) gives the
        candidate lines, their numbers and text; the file is only read (pread) where
        grep cannot tell: where the range starts and ends, a slowlog header's next
        line, a line too long for grep's output to be kept, the newlines after the
        last candidate (line count), and gaps between candidates longer than MAX_LINE
        (over-long lines; probed per MAX_LINE // 2 window). Returns the number of
        newlines consumed."""
        plan = plan_for(kinds)
        gate_search = plan.gate_search
        gated = plan.gate_in_grep
        max_line = MAX_LINE
        emit = self._emitter(path, tctx, plan.kinds, report)
        lshift = 2 if partial else 1
        fd = os.open(path, os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            if partial:
                j = _nl_forward(fd, begin, size)
                if j < 0 or (end is not None and j >= end - 1):
                    return 0                    # one line covers the whole range: the previous one's
                first = j + 1
            else:
                first = begin
            if end is None or end >= size:
                stop = size
            else:
                j = _nl_forward(fd, end - 1, size)
                stop = size if j < 0 else j + 1
            pending = []
            cur = first             # start of the first line not accounted for yet
            idx = -1                # index of the last candidate line
            overlong = 0
            done = False
            while not done:
                offs, nums, conts, done = feed.take_some(stop - begin)
                for k in range(len(offs)):
                    s = offs[k] + begin
                    if s < first:
                        continue
                    idx = nums[k] - lshift
                    if s < cur or idx < 0:
                        raise _GrepFailed("grep prefilter: line %d at offset %d does not match the file"
                                          % (nums[k], s))
                    raw = conts[k]
                    if raw is None:
                        e = _nl_forward(fd, s, size)
                        if e < 0:
                            e = size
                        raw = os.pread(fd, max_line, s)
                        long_line = e - s > max_line
                    else:
                        e = s + len(raw)
                        long_line = len(raw) > max_line
                        if long_line:
                            raw = raw[:max_line]
                    if s - cur > max_line:
                        overlong += _overlong_between(fd, cur, s)
                    cur = e + 1
                    if long_line:
                        overlong += 1
                        if gate_search(raw) is None:
                            continue
                    elif not gated and gate_search(raw) is None:
                        continue
                    emit(raw, idx + 1, pending)
                    if pending:
                        nxt = os.pread(fd, max_line, e + 1) if e + 1 < size else None
                        if nxt is not None:
                            n = nxt.find(b"\n")
                            if n >= 0:
                                nxt = nxt[:n]
                        self._flush_pending(pending, nxt)
            if stop - cur > max_line:
                overlong += _overlong_between(fd, cur, stop)
            nl = idx + 1 + _count_nl(fd, cur, stop)
            lines = nl
            if stop == size and stop > cur and os.pread(fd, 1, stop - 1) != b"\n":
                lines += 1              # the last line has no newline
            report["lines"] = report.get("lines", 0) + lines
            if overlong:
                report["overlong_lines"] = report.get("overlong_lines", 0) + overlong
            return nl
        finally:
            os.close(fd)

    def _emitter(self, path, tctx, kinds, report):
        """The per-candidate-line step: events of the line, filtered by kind and
        window, into the sink. Slowlog headers without a script are parked in
        ``pending`` until their next line is known."""
        since, until = self.since, self.until
        windowed = since is not None or until is not None
        sink_add = self.sink.add
        matcher = self.matcher

        def emit(raw, line_no, pending):
            for ev in events_from_line(raw, path, line_no, tctx, matcher):
                if ev["source_kind"] not in kinds:
                    continue
                if windowed:
                    ts = ev["_ts"]
                    if ts is None:
                        report["undated"] = report.get("undated", 0) + 1
                        continue
                    if (since is not None and ts < since) or (until is not None and ts > until):
                        continue
                report["events"] = report.get("events", 0) + 1
                if ev["category"] == "slow_request" and ev.get("script") is None:
                    pending.append(ev)
                    continue
                if pending:
                    pending.append(ev)      # keep the order
                    continue
                sink_add(ev)
        self._sink_add = sink_add
        return emit

    def _flush_pending(self, pending, next_line):
        """Give parked slowlog headers the script named on ``next_line`` (bytes or
        None) and pass everything parked on, in order."""
        if not pending:
            return
        script = _slowlog_script_of(next_line)
        add = self._sink_add
        for ev in pending:
            if ev["category"] == "slow_request" and ev.get("script") is None:
                ev["script"] = script
            add(ev)
        del pending[:]

    def _stamp_of_last_line(self, work, tctx, wend=None):
        end = (len(work) if wend is None else wend) - 1
        for _ in range(8):
            s = work.rfind(b"\n", 0, end) + 1
            if end - s > 8:
                ts = parse_record(work[s:min(end, s + 512)].decode("utf-8", "replace"), tctx).ts
                if ts is not None:
                    return ts
            if s == 0:
                return None
            end = s - 1
        return None

    def _stamp_of_first_line(self, work, tctx):
        s = 0
        for _ in range(8):
            e = work.find(b"\n", s)
            if e < 0:
                return None
            if e - s > 8:
                ts = parse_record(work[s:min(e, s + 512)].decode("utf-8", "replace"), tctx).ts
                if ts is not None:
                    return ts
            s = e + 1
        return None


def _nl_forward(fd, pos, limit):
    """Offset of the first newline in [pos, limit) of a file (pread), or -1."""
    while pos < limit:
        b = os.pread(fd, min(1 << 16, limit - pos), pos)
        if not b:
            return -1
        i = b.find(b"\n")
        if i >= 0:
            return pos + i
        pos += len(b)
    return -1


def _nl_backward(fd, pos, low):
    """Offset of the last newline before ``pos`` and at or after ``low``, or low - 1."""
    while pos > low:
        a = max(low, pos - (1 << 16))
        b = os.pread(fd, pos - a, a)
        i = b.rfind(b"\n")
        if i >= 0:
            return a + i
        pos = a
    return low - 1


def _count_nl(fd, a, b):
    n = 0
    while a < b:
        d = os.pread(fd, min(1 << 20, b - a), a)
        if not d:
            break
        n += d.count(b"\n")
        a += len(d)
    return n


def _overlong_between(fd, a, b):
    """Lines longer than MAX_LINE among the complete lines in [a, b) of a file (``a``
    a line start): such a line covers a whole aligned window of MAX_LINE // 2 bytes;
    each window is probed with a small read, and only a window without a newline
    in its first bytes is looked at closely."""
    step = MAX_LINE // 2
    n = 0
    i = (a + step - 1) // step * step
    while i + step <= b:
        if b"\n" in os.pread(fd, min(512, step), i):
            i += step
            continue
        j = _nl_forward(fd, i, i + step)
        if j >= 0:
            i += step
            continue
        s = _nl_backward(fd, i, a) + 1
        e = _nl_forward(fd, i + step, b)
        if e < 0:
            e = b
        if e - s > MAX_LINE:
            n += 1
        i = (e // step + 1) * step
    return n


def _count_overlong(work, end=None):
    """Number of lines longer than MAX_LINE in ``work`` (complete lines). A line
    that long covers a whole aligned window of MAX_LINE // 2 bytes without a
    newline: only such windows are looked at closely."""
    step = MAX_LINE // 2
    n = 0
    i = 0
    L = len(work) if end is None else end
    find = work.find
    while i + step <= L:
        if find(b"\n", i, i + step) >= 0:
            i += step
            continue
        s = work.rfind(b"\n", 0, i) + 1
        e = find(b"\n", i, L)
        if e < 0:
            e = L
        if e - s > MAX_LINE:
            n += 1
        i = (e // step + 1) * step
    return n


def events_from_line(raw, path=None, line_no=None, tctx=None, matcher=None, state=None):
    """All evidence events of one physical line (bytes or str): one per recognised
    record (glued records are split). Events are internal dicts: ``_ts`` holds epoch
    seconds (None when undated); see public_event() for the output form. A record
    without a stamp takes the one of an earlier record of the same line; ``state``
    (optional dict) carries the last stamp further, across calls."""
    if isinstance(raw, bytes):
        if raw[-1:] == b"\r":
            raw = raw[:-1]
        text = raw.decode("utf-8", "replace")
    else:
        text = raw.rstrip("\r")
    tctx = tctx or TimeContext()
    matcher = matcher or _default_matcher()
    last_ts = state["last_ts"] if state is not None else None
    out = []
    for rtext in split_records(text):
        rec = parse_record(rtext, tctx)
        if rec.ts is None:
            rec.ts = last_ts
        else:
            last_ts = rec.ts
        res = matcher.match(rec.kind, rec.message, rec.tag)
        if res is None:
            continue
        category, source_kind, fields = res
        ev = {"file": path, "line_no": line_no, "source_kind": source_kind, "category": category,
              "_ts": rec.ts, "level": rec.level}
        if source_kind == "nginx":
            _text, ctx = parse_nginx_context(rec.message)
            get = ctx.get
            for k in _NGX_CTX_KEYS:
                fields[k] = get(k)
            ev.update(rec.fields)
        elif rec.tag and source_kind in ("kernel", "coredump"):
            ev["tag"] = rec.tag
        if rec.container:
            ev["container"] = rec.container
        ev.update(fields)
        out.append(ev)
    if state is not None:
        state["last_ts"] = last_ts
    return out


_NGX_CTX_KEYS = ("client", "server", "request", "method", "path", "uri", "upstream", "host")


def reference_events(data, path, kinds=ALL_KINDS, since=None, until=None, tctx=None, matcher=None):
    """The plain definition of what a scan yields, one physical line at a time and
    with no literal search (slow; the tests hold the scanner to it). Returns
    (events, lines, overlong_lines)."""
    kinds = frozenset(kinds)
    tctx = tctx or TimeContext()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    out = []
    overlong = 0
    cut = []
    for raw in lines:
        if len(raw) > MAX_LINE:
            overlong += 1
            raw = raw[:MAX_LINE]
        cut.append(raw)
    for i, raw in enumerate(cut):
        for ev in events_from_line(raw, path, i + 1, tctx, matcher):
            if ev["source_kind"] not in kinds:
                continue
            ts = ev["_ts"]
            if since is not None or until is not None:
                if ts is None or (since is not None and ts < since) or (until is not None and ts > until):
                    continue
            if ev["category"] == "slow_request" and ev.get("script") is None:
                ev["script"] = _slowlog_script_of(cut[i + 1] if i + 1 < len(cut) else None)
            out.append(ev)
    return out, len(cut), overlong


_MATCHER = []


def _default_matcher():
    if not _MATCHER:
        _MATCHER.append(Matcher())
    return _MATCHER[0]


def _slowlog_script_of(line):
    """In a slowlog, the header line is followed by 'script_filename = /path'."""
    if line and line.startswith(b"script_filename = "):
        return line[18:].strip().decode("utf-8", "replace")
    return None


_RE_SNIFF_NGINX = re.compile(rb"^(?:.{0,120}?[ |])?\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[[a-z]+\] \d+#\d+: ", re.M)
_RE_SNIFF_FPM = re.compile(
    rb"^(?:.{0,120}?[ |])?(?:\[\d\d-[A-Z][a-z]{2}-\d{4} \d\d:\d\d:\d\d(?:\.\d+)?\]"
    rb"|[A-Z][a-z]{2} +\d\d? \d\d:\d\d:\d\d\.\d+ \[[A-Z]+\]|\[pool )", re.M)
_RE_SNIFF_SYSLOG = re.compile(
    rb"^(?:<\d+>)?(?:[A-Z][a-z]{2} +\d\d? \d\d:\d\d:\d\d(?:\.\d+)? +\S+ \S+?(?:\[\d+\])?: "
    rb"|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\S* \S+ \S+?(?:\[\d+\])?: |\[\s*\d+\.\d+\] )", re.M)
# a container's output stream: docker compose "svc_1  | ", CRI "<iso> stdout F "
_RE_SNIFF_CONTAINER = re.compile(
    rb"^(?:[A-Za-z0-9][\w.\-]{0,80}?\s*\| |\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\S* (?:stdout|stderr) (?:[FP] )?)", re.M)


def _sniff_kinds(head):
    kinds = set()
    if not head:
        return kinds
    lines = head.count(b"\n") + 1
    n_ng = len(_RE_SNIFF_NGINX.findall(head))
    n_fpm = len(_RE_SNIFF_FPM.findall(head))
    n_sys = len(_RE_SNIFF_SYSLOG.findall(head))
    if n_ng:
        kinds.add("nginx")
    if n_fpm:
        kinds.add("php-fpm")
    if n_sys:
        kinds.update(("kernel", "coredump", "php-fpm", "nginx"))
    if n_ng + n_fpm + n_sys < 0.5 * lines:
        # a container stream (its other lines are access logs, application output):
        # nginx and php-fpm run in containers, the kernel and crash handlers do not
        n_cont = len(_RE_SNIFF_CONTAINER.findall(head))
        if n_ng + n_fpm + n_sys + n_cont >= 0.5 * lines:
            kinds.update(("nginx", "php-fpm"))
        else:
            kinds.add("other")
    return kinds


# ----------------------------------------------------------------------------- orchestration

def _new_report(path, hint):
    return {"path": path, "hint": hint, "status": "pending", "reason": None, "error": None,
            "size": None, "mtime": None, "compression": None, "lines": 0, "events": 0}


def _prepare(path, hint, since, until, boot_time):
    """stat + head checks. Returns (report, plan) where plan is None when the file is
    not to be scanned (report says why)."""
    rep = _new_report(path, hint)
    try:
        st = os.stat(path)
    except OSError as e:
        rep["status"] = "error"
        rep["error"] = _oserror_text(e)
        return rep, None
    rep["size"] = st.st_size
    rep["mtime"] = format_ts(st.st_mtime)
    if os.path.isdir(path):
        rep["status"] = "error"
        rep["error"] = "is a directory, not a log file"
        return rep, None
    if since is not None and st.st_mtime < since - MTIME_SLACK:
        rep["status"] = "skipped"
        rep["reason"] = "last modified before the window"
        return rep, None
    try:
        with open(path, "rb") as f:
            head = f.read(SNIFF_SIZE)
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
        if ts is not None and ts > until + WINDOW_SLACK:
            rep["status"] = "skipped"
            rep["reason"] = "first record is after the window"
            return rep, None
    kinds = Scanner.choose_kinds(head, hint, st.st_size if comp is None else None)
    return rep, {"comp": comp, "size": st.st_size, "mtime": st.st_mtime, "kinds": kinds}


def _decompressed_head(path, comp):
    rep = {}
    try:
        for c in _open_chunks(path, comp=comp, report=rep):
            return c[:SNIFF_SIZE]
    except (IOError, OSError, _ReadError):
        return b""
    return b""


def _first_stamp(head, tctx):
    for i, line in enumerate(head.split(b"\n")[:50]):
        ts = parse_record(line[:512].decode("utf-8", "replace"), tctx).ts
        if ts is not None:
            return ts
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
                    feed = _GrepFeed(grep, pl.literals, path, begin, pl.gate, keep_text=nowindow)
                except (OSError, ValueError):
                    feed = None                     # grep cannot start: the Python search
            if feed is not None and nowindow:
                # no window: nothing depends on chunks, grep's output is enough
                nl = scanner.scan_grep_range(path, plan["kinds"], rep, tctx, begin, end, start > 0, feed)
            else:
                nl = scanner.scan_chunks(_plain_chunks(path, begin), path, plan["kinds"], rep, tctx,
                                         end_limit=limit, first_line_partial=start > 0, grep=feed)
        else:
            if grep and plan["comp"] == "gzip":
                try:
                    pl = plan_for(plan["kinds"])
                    feed = _GrepStream(grep, pl.literals, pl.gate)
                except (OSError, ValueError):
                    feed = None
            if feed is not None:
                chunks = _gzip_chunks_threaded(path, rep, feed)
            else:
                chunks = _open_chunks(path, comp=plan["comp"], report=rep)
            try:
                nl = scanner.scan_chunks(chunks, path, plan["kinds"], rep, tctx, grep=feed)
            finally:
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
        if plan["comp"] is None and plan["size"] > SPLIT_MIN and workers > 1:
            # with grep and no window a range costs two more processes and the Python
            # side is light: one range per worker (measured: ~8 % less CPU, same balance)
            per = 1 if grep and since is None and until is None else RANGES_PER_WORKER
            n = min(workers * per, max(2, plan["size"] // (SPLIT_MIN // 2)))
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
    if workers > 1 and len(tasks) > 1 and total_bytes > SMALL_FILE * 4:
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
    kinds = Scanner.choose_kinds(data[:SNIFF_SIZE], hint, len(data))
    chunks = (data[i:i + CHUNK_SIZE] for i in range(0, len(data), CHUNK_SIZE))
    scanner.scan_chunks(chunks, name, kinds, rep, tctx)
    return rep


_RE_COREDUMPCTL = re.compile(
    r"^\s*(?:[A-Z][a-z]{2} )?(?P<date>\d{4}-\d\d-\d\d) (?P<time>\d\d:\d\d:\d\d)(?: (?P<zone>[A-Za-z+\-0-9]+))?\s+"
    r"(?P<pid>\d+)\s+(?P<uid>\d+)\s+(?P<gid>\d+)\s+(?P<sig>\S+)\s+(?P<corefile>\S+)\s+(?P<exe>\S+)")


def coredumpctl_events(text, tctx=None):
    """Events (category coredump) from ``coredumpctl list --no-legend`` output:
    TIME PID UID GID SIG COREFILE EXE [SIZE]. Zone abbreviations other than UTC/GMT
    are taken as local time."""
    from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.parse import parse_iso
    from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.signatures import SIGNAL_NAMES
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    tctx = tctx or TimeContext()
    names = dict((v[3:], k) for k, v in SIGNAL_NAMES.items())
    out = []
    for no, line in enumerate(text.splitlines(), 1):
        m = _RE_COREDUMPCTL.match(line)
        if not m:
            continue
        stamp = "%sT%s" % (m.group("date"), m.group("time"))
        if m.group("zone") in ("UTC", "GMT", "Z"):
            stamp += "Z"
        ts = parse_iso(stamp, tctx)
        sig = m.group("sig")
        num = int(sig) if sig.isdigit() else names.get(sig.replace("SIG", ""))
        exe = m.group("exe")
        proc = os.path.basename(exe)
        out.append({"file": "coredumpctl", "line_no": no, "source_kind": "coredump", "category": "coredump",
                    "_ts": ts, "level": None, "process": proc, "pid": int(m.group("pid")),
                    "uid": int(m.group("uid")), "signal_number": num,
                    "signal_name": SIGNAL_NAMES.get(num) if num else None,
                    "is_php": "php" in proc.lower(), "corefile": m.group("corefile")})
    return out
