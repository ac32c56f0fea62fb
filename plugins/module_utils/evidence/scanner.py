# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The scanner: events of a stream of binary chunks (or of grep's
candidate offsets), with window skipping, over-long lines and worker byte ranges.

Private to opcache-fleet. Standard library only. This is the per-line hot path: keep
the local-variable bindings in scan_chunks, and add no function call per line.
"""

from __future__ import absolute_import, division, print_function

import os

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence import limits
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.gnu_grep import _GrepFailed
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.line_events import (
    _default_matcher, _slowlog_script_of, events_from_line,
)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.line_offsets import (
    _count_nl, _count_overlong, _nl_forward, _overlong_between, lines_before,
)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.parse import parse_record
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.php_notices import (
    NOTICE_LINE, count_notice_rows, notice_before, notice_messages, payload_of, stamp_span,
)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.readers import open_regular
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.timestamps import undated_time
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.search_plan import (
    ALL_KINDS, _HINT_KINDS, _sniff_kinds, plan_for,
)

__metaclass__ = type

__all__ = ["Scanner"]


class Scanner(object):
    """Scans byte streams of one file for evidence and feeds a sink.

    What it yields is defined line by line (see :func:`reference_events`): every
    physical line is cut at MAX_LINE bytes; its records (evidence/glued.py) are matched
    against the signatures of the kinds the file is searched for only; a slowlog header
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
    def choose_kinds(head, hint=None):
        """The evidence kinds a file is searched for, whatever its size (a small file once
        got every kind, and a Referer in a small nginx log could then plant php-fpm
        crashes): the kinds its source writes when the hint
        names it (search_plan._HINT_KINDS: an nginx error log holds nginx records only,
        whatever its lines look like), else those its head shows, else every kind (a
        file the operator named that nobody recognises)."""
        if hint in _HINT_KINDS:
            return frozenset(_HINT_KINDS[hint])
        kinds = _sniff_kinds(head)
        if not kinds or "other" in kinds:
            return ALL_KINDS
        return frozenset(kinds)

    @staticmethod
    def choose_literals(head, hint=None):
        return plan_for(Scanner.choose_kinds(head, hint)).literals

    # -- the hot loop -----------------------------------------------------------
    def scan_chunks(self, chunks, path, kinds, report, tctx, end_limit=None, first_line_partial=False,
                    grep=None, before=b""):
        """Scan an iterator of byte chunks for evidence of ``kinds``. ``end_limit``:
        number of bytes after which the range ends at the next newline (worker
        ranges). ``first_line_partial``: drop everything up to the first newline
        (range starting mid-line). ``grep``: a _GrepFeed over the same bytes (offsets
        from the start of ``chunks``) that replaces the ``bytes.find`` passes; everything
        else (line numbers, window, over-long lines, slowlog next lines) is the same
        code. ``before``: the bytes of the file just before the first chunk (at most
        limits.NEAR_BYTES; the previous lines of a line there). Returns the number of
        newlines consumed."""
        plan = plan_for(kinds)
        literals, gate, kinds = plan.literals, plan.gate, plan.kinds
        gate_search = plan.gate_search
        gated = grep is not None and plan.gate_in_grep
        lshift = 2 if first_line_partial else 1   # grep's line number -> 0-based line index
        max_line = limits.MAX_LINE
        near_bytes = limits.NEAR_BYTES
        loc = [b"", 0]        # buffer and start of the line being emitted (its neighbours)

        def near():
            buf, ls = loc
            b = buf[max(0, ls - near_bytes):ls]
            if len(b) < near_bytes and last_work[0]:
                b = (last_work[0] + b)[-near_bytes:]     # the lines before this chunk
            return b
        emit = self._emitter(path, tctx, kinds, report, near)
        drain = None
        if grep is not None and grep.ROWS_IN_THREAD and gated and emit.add_counted is not None:
            grep.rows = _notice_rows(emit.add_counted, lshift, max_line, tctx, in_thread=True)
            drain = grep.rows.drain
        since, until = self.since, self.until
        lo = since - limits.WINDOW_SLACK if since is not None else None
        hi = until + limits.WINDOW_SLACK if until is not None else None
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
        # the last NEAR_BYTES of complete lines before the current work (their neighbours)
        last_work = [before]
        prev_end = before
        for data in chunks:
            if done:
                break
            dpos = spos       # stream offset of `data`
            spos += len(data)
            if skip_to_nl:
                i = data.find(b"\n")
                consumed += len(data) if i < 0 else i + 1
                prev_end = (prev_end + (data if i < 0 else data[:i + 1]))[-near_bytes:]
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
                loc[0] = b""
                last_work[0] = prev_end         # the lines before the over-long one
                emit(long_head, nl_total + 1, pending)
                last_work[0] = prev_end = b""   # nothing before an over-long line is a neighbour
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
                if len(buf) > max_line:
                    long_head = buf[:max_line]
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
            last_work[0] = prev_end
            prev_end = work[max(0, wend - near_bytes):wend]
            if pending:
                e0 = work.find(b"\n")
                self._flush_pending(pending, work[:min(e0, max_line)])
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
                if drain is not None:
                    drain()
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
                    loc[0], loc[1] = work, s
                    emit(raw, line_idx + 1, pending)
                    if len(pending) > n_pend and e + 1 < wlen:
                        nxt = find(work, b"\n", e + 1)
                        self._flush_pending(pending, work[e + 1:min(nxt, e + 1 + max_line)])
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
                    loc[0], loc[1] = work, s
                    emit(raw, line_idx + 1, pending)
                    if len(pending) > n_pend and e + 1 < wlen:
                        nxt = find(work, b"\n", e + 1)
                        self._flush_pending(pending, work[e + 1:min(nxt, e + 1 + max_line)])
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
                    if len(after) > max_line:
                        break
                nxt = after.find(b"\n")
                self._flush_pending(pending, after[:nxt if 0 <= nxt < max_line else max_line] if after else None)
        else:
            if long_head is not None:
                self._flush_pending(pending, long_head)
                loc[0] = b""
                last_work[0] = prev_end
                emit(long_head, nl_total + 1, pending)
                lines_scanned += 1
            elif tail:
                # last line without newline
                lines_scanned += 1
                if len(tail) > max_line:
                    overlong += 1
                    tail = tail[:max_line]
                self._flush_pending(pending, tail)
                for g in gate:
                    if g in tail:
                        loc[0], loc[1] = b"", 0
                        last_work[0] = prev_end
                        emit(tail, nl_total + 1, pending)
                        break
            self._flush_pending(pending, None)
        if drain is not None:
            drain()
        emit.flush()
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
        max_line = limits.MAX_LINE
        near_bytes = limits.NEAR_BYTES
        loc = [0]             # start of the line being emitted (its neighbours)

        def near():
            ls = loc[0]
            return os.pread(fd, min(ls, near_bytes), max(0, ls - near_bytes))
        emit = self._emitter(path, tctx, plan.kinds, report, near)
        lshift = 2 if partial else 1
        fd, dummy = open_regular(path)
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
            if emit.add_counted is not None and gated:
                feed.rows = _notice_rows(emit.add_counted, lshift, max_line, tctx, first - begin, stop - begin)
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
                    loc[0] = s
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
            emit.flush()
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

    def _emitter(self, path, tctx, kinds, report, near=None):
        """The per-candidate-line step: events of the line, filtered by kind and
        window, into the sink. Slowlog headers without a script are parked in
        ``pending`` until their next line is known. ``near``: a callable that gives
        the file's bytes before the line being emitted (at most limits.NEAR_BYTES).

        PHP notice lines (evidence/php_notices.py) are counted in bulk when the sink
        can: per (severity, script) pairs, handed over by ``emit.flush()`` at the end of
        a range (``sink.count_notices``). A full nginx event brings in, as a full event
        before it (``sink.add_detail``: counted already), the notice line of its
        connection when that is the nearest line of the connection among the lines
        before it (php_notices.notice_before): the warning a request logged before
        its 502.

        An undated event takes the time of the nearest dated line of the same file
        before it, else the file's mtime (``tctx.file_mtime``); the event says which in
        ``time_source``: 'line' (its own stamp), 'previous_line', 'file_mtime' or None
        (no time at all: kept in any window, and counted in ``report["undated"]``)."""
        since, until = self.since, self.until
        windowed = since is not None or until is not None
        sink = self.sink
        sink_add = sink.add
        matcher = self.matcher
        bulk = "nginx" in kinds and getattr(sink, "bulk_notices", False)
        notice_match = NOTICE_LINE.match if bulk else None
        add_detail = sink.add_detail if bulk and near is not None else None
        mcache = {}             # PHP message text -> (severity, script)
        tally = {}              # (severity, script) -> messages of the notice lines, sent by flush()
        near_lines = limits.NEAR_LINES
        # the last stamp text, its epoch, the first and last epoch kept, the window keeps
        # it, the notice lines counted, the line number of the last one
        span = [None, None, None, None, False, 0, -near_lines - 1]
        file_mtime = tctx.file_mtime

        def in_window(ts):
            return not ((since is not None and ts < since) or (until is not None and ts > until))

        def emit(raw, line_no, pending):
            if notice_match is not None:
                m = notice_match(raw)
                if m is not None:
                    p = m.end()
                    msgs = notice_messages(payload_of(raw, p), mcache)
                    if msgs is not None:
                        stamp = m.group(1)
                        if stamp != span[0]:
                            # a new second: its epoch, and whether the window keeps it
                            ts = parse_record(raw[:p].decode("ascii", "replace"), tctx).ts
                            keep = ts is not None and (not windowed or in_window(ts))
                            span[0], span[1], span[4] = stamp, ts, keep
                            if keep:
                                if span[2] is None or ts < span[2]:
                                    span[2] = ts
                                if span[3] is None or ts > span[3]:
                                    span[3] = ts
                        if span[4]:
                            for r in msgs:
                                tally[r] = tally.get(r, 0) + 1
                            span[5] += 1
                            span[6] = line_no
                            return
                        if span[1] is not None:
                            return          # outside the window
            before = None
            for ev in events_from_line(raw, path, line_no, tctx, matcher, kinds=kinds):
                ts = ev["_ts"]
                if ts is None:
                    if before is None and near is not None:
                        before = near()
                    ts, ev["time_source"] = undated_time(_nearby_stamp(before, tctx) if before else None,
                                                         file_mtime)
                    if ts is None:
                        report["undated"] = report.get("undated", 0) + 1
                    ev["_ts"] = ts
                else:
                    ev["time_source"] = "line"
                # an event with no time at all (in-memory output without stamps) is kept:
                # never dropped from a window only for lacking a stamp
                if windowed and ts is not None and not in_window(ts):
                    continue
                report["events"] = report.get("events", 0) + 1
                # the notice line can only be among the lines before when one was counted that
                # near (line by line; in bulk: one of this connection), or when this line is
                # near the start of the range (line numbers count from it): the lines before
                # it belong to another range
                conn = ev.get("connection")
                if (add_detail is not None and ev["source_kind"] == "nginx" and conn is not None
                        and (line_no - span[6] <= near_lines or line_no <= near_lines + 1
                             or counted_near(conn, line_no - near_lines))):
                    if before is None:
                        before = near()
                    found = notice_before(before, ev["connection"], tctx)
                    if found is not None:
                        nraw, back, nts = found
                        if nts is not None and (not windowed or in_window(nts)):
                            for dev in events_from_line(nraw, path, line_no - back, tctx, matcher, kinds=kinds):
                                dev["time_source"] = "line"
                                add_detail(dev)
                if ev["category"] == "slow_request" and ev.get("script") is None:
                    pending.append(ev)
                    continue
                if pending:
                    pending.append(ev)      # keep the order
                    continue
                sink_add(ev)

        def flush():
            """Hand the notice lines counted so far to the sink (at the end of a range;
            the window was applied line by line, first and last are of the lines kept)."""
            n = span[5]
            if n:
                report["events"] = report.get("events", 0) + n
                sink.count_notices(path, tally, n, span[2], span[3])
                tally.clear()
            span[2] = span[3] = None
            span[5] = 0

        # notice lines counted in bulk: nginx connection (bytes) -> grep's line number (bytes)
        # of its last one; bulk[0]: lines up to this one may be missing from it (it was
        # emptied), bulk[1]: grep's line number minus this is the line's number here
        bulk_conns = {}
        bulk = [-near_lines - 1, 0, 0]

        def counted_near(conn, lo):
            """Whether a notice line of ``conn`` counted in bulk may lie at or after line
            ``lo``: its last one does (a batch is counted before its other rows are read,
            so that one may even come after the line asking), or the record is incomplete."""
            if lo <= bulk[0]:
                return True
            got = bulk_conns.get(b"%d" % conn)
            return got is not None and int(got) - bulk[1] >= lo

        def add_counted(n, counts, first, last, line_no, conns=None, shift=0):
            """Notice lines counted in bulk outside emit (count_notice_rows): ``n`` lines
            of these (severity, script) message counts, epochs and last line number, and
            the last line (grep's number, less ``shift``) of each nginx connection."""
            for key, k in counts.items():
                tally[key] = tally.get(key, 0) + k
            span[5] += n
            if span[2] is None or first < span[2]:
                span[2] = first
            if span[3] is None or last > span[3]:
                span[3] = last
            if conns is None:
                span[6] = line_no       # no connections told: every line near it asks
                return
            if len(bulk_conns) > limits.NOTICE_CONNECTIONS:
                bulk_conns.clear()
                bulk[0] = bulk[2]       # the last line counted before this batch
            bulk[1] = shift
            bulk_conns.update(conns)
            bulk[2] = line_no
        emit.flush = flush
        emit.add_counted = add_counted if notice_match is not None and not windowed else None
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
        for dummy in range(8):
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
        for dummy in range(8):
            e = work.find(b"\n", s)
            if e < 0:
                return None
            if e - s > 8:
                ts = parse_record(work[s:min(e, s + 512)].decode("utf-8", "replace"), tctx).ts
                if ts is not None:
                    return ts
            s = e + 1
        return None


def _notice_rows(add_counted, lshift, max_line, tctx, lo=0, hi=1 << 62, in_thread=False):
    """The grep feed's bulk step (_GrepFeed.rows): counts the notice lines of a batch of
    rows the range owns (offsets ``lo`` to ``hi``, grep's) into the emitter
    (``add_counted``) and gives back the other rows; a batch count_notice_rows cannot
    take whole goes back as it came, to the per-line step.

    ``in_thread``: for a gzip stream's grep (_GrepStream), whose rows are read in its
    reader thread: that thread only takes the rows and keeps the counts; ``drain()``,
    called by the scan after each take, hands them to the emitter in the scan's
    thread. Line numbers there count the sync lines too: a little high, so the notice
    lookup before a 502 only runs more often (php_notices.notice_before)."""
    memo = {}
    taken = []

    def deliver(n, counts, seen, last_no, conns):
        first, last = stamp_span(seen, tctx)
        add_counted(n, counts, first, last, last_no - lshift + 1, conns, lshift - 1)

    def rows(block):
        got = count_notice_rows(block, lo, hi, max_line, memo)
        if got is None:
            return block
        if got[1]:
            if in_thread:
                taken.append(got[1:])
            else:
                deliver(*got[1:])
        return got[0]

    def drain():
        while taken:
            deliver(*taken.pop(0))
    rows.drain = drain
    return rows


def _nearby_stamp(before, tctx):
    """The time of the nearest dated line before an undated one, or None (``before``:
    see line_offsets.lines_before). Only called for undated events; reference.py states
    the same rule line by line."""
    for line, dummy in lines_before(before):
        if line:
            ts = parse_record(line[:512].rstrip(b"\r").decode("utf-8", "replace"), tctx).ts
            if ts is not None:
                return ts
    return None
