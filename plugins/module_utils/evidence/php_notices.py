# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PHP notices that nginx logs from FastCGI stderr, counted in bulk (private helper
of fpm_evidence).

The usual nginx error log of a PHP site is mostly
``FastCGI sent in stderr: "PHP message: PHP Warning:  ... in /x.php on line 9"``
lines. Each is a ``fastcgi_stderr`` event, but what matters of them is how many there
are per severity and script; building a full event per line made the scan of such a
log six times slower than grep. A line is a *notice line* when it starts with a plain
nginx header directly followed by ``FastCGI sent in stderr: "PHP message: PHP `` and
every PHP message in its stderr payload has a notice severity (``NOTICE_SEVERITIES``).
Such a line is certainly a ``fastcgi_stderr`` event (no other signature of the table
matches a message that starts so, see test_php_notices.py), so the scanner counts it
without building the event: ``(severity, script)`` pairs, its time and file. Fatal
errors, any other stderr and any other shape take the full path.

Line by line (the Python search, gzip, a window), parsing is cached per message text
(the same deprecation on the same line repeats on every request). On the grep path
without a window, count_notice_rows takes the notice rows of a whole batch of grep's
output at once: one split of the batch, then one findall over all its messages
(_RE_MESSAGES, the pattern message_of uses for one) and a Counter, all in the C regex
engine. A row with a message that is no notice (a fatal error) goes back among the
other rows to the line-by-line step, and the rest of its batch is still counted; a batch
that reaches past its range, or may hold a cut row, goes back whole. Standard library
only.
"""

from __future__ import absolute_import, division, print_function

import re
from collections import Counter

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.line_offsets import lines_before
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.parse import nginx_stamp_time, parse_record

__metaclass__ = type

__all__ = ["NOTICE_SEVERITIES", "NOTICE_LINE", "notice_before", "notice_messages", "payload_of", "message_of",
           "php_messages_of", "count_notice_rows", "stamp_span", "NOTICE_ROWS"]

# PHP's error type names as its log writes them (main.c php_error_cb); those that do
# not stop the script. "Fatal error", "Parse error", "Recoverable fatal error",
# "Catchable fatal error", "Core error", "Compile error" and any unknown name are not.
NOTICE_SEVERITIES = frozenset((
    "Deprecated", "Notice", "Warning", "Strict Standards", "User Deprecated", "User Notice",
    "User Warning", "Core Warning", "Compile Warning",
))

# The plain nginx header (parse._RE_NGINX, as bytes) ending exactly where the payload
# starts, the stamp its group. Anything else before the message (a transport prefix, a
# partial header) takes the full path. NOTICE_LINE (one line) and NOTICE_ROWS (grep's
# rows) are built from it: the bulk step takes exactly the lines the per-line step takes.
_NOTICE_HEAD = (br"(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) \[[a-z]+\] \d+#\d+: (?:\*(\d+) )?"
                br"FastCGI sent in stderr: \"")
NOTICE_LINE = re.compile(_NOTICE_HEAD + br"(?=PHP message: PHP )")

# The same plain header, naming its connection: which nginx request a line belongs to.
CONNECTION_HEAD = re.compile(br"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[[a-z]+\] \d+#\d+: \*(\d+) ")

_MESSAGE = b"PHP message: "
_CACHE_SIZE = 16384        # messages remembered per scanned range (a few MB at most)
# One PHP message (the bytes after ``PHP message: ``), see message_of: its severity and,
# when it names one, the text between the last " in " that starts a path ("/" or a
# drive) and the last " on line <digit>" after it. Greedy ``.*`` twice: the C engine
# backtracks from the end of the message, where PHP writes " in <path> on line <N>".
# One pattern for one message (message_of) and, behind a newline and "PHP message: ",
# for a batch of them (count_notice_rows).
_MESSAGE_BODY = br"PHP ([A-Z][A-Za-z ]{1,30}?):(?= )(?:.* in ((?:/|[^\"\n]:\\).*) on line \d)?"
_RE_MESSAGE = re.compile(_MESSAGE_BODY)
_RE_MESSAGES = re.compile(b"\n" + re.escape(_MESSAGE) + _MESSAGE_BODY)
_MAX_PATH = 4096

_END = b'" while '

# A row of the grep prefilter's output ("<line number>:<offset>:<line>", behind the newline
# of the row before) that is a notice line candidate (NOTICE_LINE): its line number, offset,
# stamp, nginx connection, and the line from the first PHP message on.
NOTICE_ROWS = re.compile(br"\n(\d+):(\d+):" + _NOTICE_HEAD + br"(PHP message: PHP [^\n]*)(?=\n)")
# what payload_of cuts off, to the end of each row
_PAYLOAD_END = re.compile(re.escape(_END) + br"[^\n]*")


def payload_of(raw, start):
    """The stderr payload of a notice line: from ``start`` (after the opening quote) to
    the quote nginx closes it with (``" while ``), or to the end of a cut line."""
    end = raw.find(_END, start)
    return raw[start:end] if end >= 0 else raw[start:]


def php_messages_of(payload):
    """``[(severity, script)]`` of the PHP messages in a stderr payload (bytes, or str:
    an event's ``stderr``); see message_of."""
    if not isinstance(payload, bytes):
        payload = payload.encode("utf-8", "replace")
    return [message_of(part) for part in payload.split(_MESSAGE)[1:]]


def message_of(part):
    """``(severity, script)`` of one PHP message (bytes after ``PHP message: ``);
    severity is None when it is no ``PHP <Severity>:`` message, script None when the
    message names none (or the line was cut before it). The script is PHP's own
    ``" in <path> on line N"``, the last of the message (the text before it may quote
    paths); a path is absolute (``/`` or a drive letter); for code PHP made at run time
    ("/a.php(12) : eval()'d code") it is the file that made it. One regex
    (_RE_MESSAGE), the same that count_notice_rows runs over a whole batch."""
    m = _RE_MESSAGE.match(part)
    if m is None:
        return (None, None)
    return (m.group(1).decode("ascii"), _script_of(m.group(2)))


def _script_of(path):
    """The script of a message's path (bytes, None or empty: none); see message_of."""
    if not path:
        return None
    k = path.find(b") : ")      # "/a.php(12) : eval()'d code"
    if k > 0:
        j = path.rfind(b"(", 0, k)
        if j > 0 and path[j + 1:k].isdigit():
            path = path[:j]
    if b'"' in path or len(path) > _MAX_PATH:
        return None
    return path.decode("utf-8", "replace")


def notice_messages(payload, cache=None):
    """The ``(severity, script)`` pairs of a notice line's payload (bytes), as a tuple,
    or None when one of its messages is not a notice (the full path then). ``cache``:
    a dict of message -> pair kept by the caller (the same warning of the same line
    repeats on every request), bounded here."""
    out = []
    for part in payload.split(_MESSAGE)[1:]:
        r = cache.get(part) if cache is not None else None
        if r is None:
            r = message_of(part)
            if cache is not None:
                if len(cache) >= _CACHE_SIZE:
                    cache.clear()
                cache[part] = r
        if r[0] not in NOTICE_SEVERITIES:
            return None
        out.append(r)
    return tuple(out) or None


def notice_before(before, conn, tctx):
    """The notice line that nginx connection ``conn`` logged just before a line: the
    nearest of the lines before it (``before``: the file's bytes up to that line, see
    line_offsets.lines_before) whose header names ``conn``, when it is a notice line.
    Returns (line, how many lines back, its epoch) or None."""
    if b" *%d " % conn not in before:
        return None
    want = b"%d" % conn
    for line, back in lines_before(before):
        h = CONNECTION_HEAD.match(line)
        if h is None or h.group(1) != want:
            continue
        m = NOTICE_LINE.match(line)
        if m is None or notice_messages(payload_of(line, m.end())) is None:
            return None
        return line, back, parse_record(line[:m.end()].decode("ascii", "replace"), tctx).ts
    return None


def count_notice_rows(block, lo, hi, max_line, memo):
    """The notice lines among rows of the grep prefilter's output, counted in bulk:
    what the scanner's per-line step does with each (NOTICE_LINE, notice_messages),
    with a few passes of the C regex engine over the whole batch instead of a Python
    step per line. ``block``: complete rows, newline first ("\\n<row>\\n...<row>\\n");
    ``lo``, ``hi``: the offsets the range owns (grep's, relative to where it started);
    ``memo``: a dict the caller keeps between batches (the scripts of messages).

    A row whose messages are not all notices (a fatal error, a message that is no
    ``PHP <Severity>:`` one) is given back with the other rows, where it was, for the
    per-line step; the rest of the batch is still counted (_rows_given_back).

    Returns None when the whole batch needs the per-line step (a row past the range or
    one that may be too long to keep whole: then nothing is counted), else (the other
    rows, in ``block``'s form; how many notice lines; {(severity, script): messages};
    their stamps, a set (see stamp_span); the line number of the last one; {nginx
    connection: line number of its last notice line}, both bytes as grep wrote them)."""
    parts = NOTICE_ROWS.split(block)
    n = len(parts) // 6
    if not n:
        return block, 0, {}, set(), None, {}
    if int(parts[2]) < lo or int(parts[-5]) >= hi:
        return None
    # a row as long as max_line covers a whole aligned window without a newline
    step = (max_line - 256) // 2
    for i in range(0, len(block) - step + 1, step):
        if block.find(b"\n", i, i + step) < 0:
            return None
    cut = _PAYLOAD_END.sub(b"", b"\n".join(parts[5::6]))
    tally = _tally(cut, memo)
    if tally is None:
        return _rows_given_back(block, parts, cut, memo)
    return (b"".join(parts[0::6]), n, tally, set(parts[3::6]), int(parts[-6]),
            dict(zip(parts[4::6], parts[1::6])))


def _tally(cut, memo):
    """{(severity, script): messages} of the messages in ``cut`` (payloads, one a row), or
    None when one of them is no notice."""
    found = _RE_MESSAGES.findall(b"\n" + cut.replace(_MESSAGE, b"\n" + _MESSAGE))
    if len(found) != cut.count(_MESSAGE):
        return None             # a message that is no "PHP <Severity>:" one
    tally = {}
    for found_key, k in Counter(found).items():
        key = memo.get(found_key)
        if key is None:
            sev = found_key[0].decode("ascii")
            if sev not in NOTICE_SEVERITIES:
                return None
            if len(memo) > 8192:
                memo.clear()
            key = memo[found_key] = (sev, _script_of(found_key[1]))
        tally[key] = tally.get(key, 0) + k
    return tally


# A message (in a batch's payloads) that is no notice: what message_of reads as another
# severity, or as none (the severities hold no ":", so the first ":" after "PHP " ends it).
_RE_NOT_NOTICE = re.compile(re.escape(_MESSAGE) + br"(?!PHP (?:" + b"|".join(
    re.escape(sev.encode("ascii")) for sev in sorted(NOTICE_SEVERITIES)) + br"):(?= ))")


def _rows_given_back(block, parts, cut, memo):
    """count_notice_rows for a batch where some notice-shaped rows hold a message that is
    no notice: those rows go back among the other rows, in their place (found in
    ``block`` by their line number and offset, one forward search); the others are
    counted as usual."""
    rows = cut.split(b"\n")
    bad = []                    # the indexes of the rows given back
    row = last = 0
    for m in _RE_NOT_NOTICE.finditer(cut):
        row += cut.count(b"\n", last, m.start())
        last = m.start()
        if not bad or bad[-1] != row:
            bad.append(row)
    if not bad:
        return None             # cannot happen: then every message is a notice
    gaps = parts[0::6]
    pieces = []
    prev = pos = 0
    for i in bad:
        pieces.extend(gaps[prev:i + 1])
        pos = block.find(b"\n" + parts[6 * i + 1] + b":" + parts[6 * i + 2] + b":", pos)
        end = block.find(b"\n", pos + 1)
        pieces.append(block[pos:end])
        prev = i + 1
        pos = end
    pieces.extend(gaps[prev:])
    given = set(bad)
    good = [i for i in range(len(rows)) if i not in given]
    if not good:
        return b"".join(pieces), 0, {}, set(), None, {}
    tally = _tally(b"\n".join([rows[i] for i in good]), memo)
    if tally is None:
        return None             # cannot happen: only notices are left
    return (b"".join(pieces), len(good), tally, set(parts[6 * i + 3] for i in good), int(parts[6 * good[-1] + 1]),
            dict((parts[6 * i + 4], parts[6 * i + 1]) for i in good))


def stamp_span(stamps, tctx):
    """The first and last epoch of nginx stamps (bytes, "YYYY/MM/DD HH:MM:SS", as
    NOTICE_ROWS takes them), read as parse_record reads them (parse.nginx_stamp_time).
    mktime normalizes any such digits, so each has a time: the epoch of its minute plus
    its seconds. So within a minute the stamps' order is their epochs' order, and only the
    first and last stamp of each minute are read (not every second of a batch)."""
    ordered = sorted(stamps)
    ends = []
    prev = None
    for stamp in ordered:
        minute = stamp[:16]
        if minute != prev:
            if prev is not None:
                ends.append(last)
            ends.append(stamp)
            prev = minute
        last = stamp
    if prev is not None:
        ends.append(last)
    first = last = None
    for stamp in ends:
        ts = nginx_stamp_time(stamp.decode("ascii"), tctx)
        if ts is None:
            continue
        if first is None or ts < first:
            first = ts
        if last is None or ts > last:
            last = ts
    return first, last
