# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The GNU grep prefilter of the scan: the literal search done by
``LC_ALL=C grep -a -n -b -F`` (piped into the gate grep) instead of ``bytes.find``.

Private to opcache-fleet. Standard library only. Checked once per process with
``grep --version``; busybox/BSD grep or no grep means the Python search. A grep that
fails, is killed or stays silent GREP_STALL_TIMEOUT seconds raises _GrepFailed: the
file is reported partial, the scan never hangs.
"""

from __future__ import absolute_import, division, print_function

import bisect
import os

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.readers import open_regular_file

__metaclass__ = type

__all__ = ["grep_prefilter"]

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
                           stderr=subprocess.PIPE, env=_grep_env(), timeout=GREP_VERSION_TIMEOUT,
                           check=False)
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


def _split_rows(chunk, rows):
    """grep's output rows in ``chunk`` (complete rows, the last one's newline left off),
    once the scan's bulk step ``rows`` (None: none) has taken its own from them."""
    if rows is None:
        return chunk.split(b"\n")
    block = rows(b"\n" + chunk + b"\n")
    return block[1:-1].split(b"\n") if len(block) > 1 else []


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
    ROWS_IN_THREAD = False    # the bulk step (``rows``) runs where the rows are read: in take

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
            f = open_regular_file(path)     # never a FIFO: grep would wait on it
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
        # the scan's bulk step over whole batches of rows (kept text only): given
        # b"\\n<row>\\n...<row>\\n", it takes the rows it counts and gives back the others
        self.rows = None

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
            lines = _split_rows(buf[pos:last], self.rows if self.keep else None)
            try:
                if self.keep:
                    add_c = self.conts.append
                    for l in lines:
                        a = l.find(b":")
                        b = l.find(b":", a + 1)
                        add_n(int(l[:a]))
                        add_o(int(l[a + 1:b]))
                        add_c(l[b + 1:])
                else:
                    for l in lines:
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
    ROWS_IN_THREAD = True     # here in the reader thread, on the rows as grep wrote them

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
                lines = _split_rows(buf[pos:last], self.rows) if last >= pos else []
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
