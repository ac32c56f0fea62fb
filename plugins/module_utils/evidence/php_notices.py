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

Parsing is cached per message text (the same deprecation on the same line repeats on
every request). Standard library only.
"""

from __future__ import absolute_import, division, print_function

import re

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.line_offsets import lines_before
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.parse import parse_record

__metaclass__ = type

__all__ = ["NOTICE_SEVERITIES", "NOTICE_LINE", "notice_before", "notice_messages", "payload_of", "message_of",
           "php_messages_of"]

# PHP's error type names as its log writes them (main.c php_error_cb); those that do
# not stop the script. "Fatal error", "Parse error", "Recoverable fatal error",
# "Catchable fatal error", "Core error", "Compile error" and any unknown name are not.
NOTICE_SEVERITIES = frozenset((
    "Deprecated", "Notice", "Warning", "Strict Standards", "User Deprecated", "User Notice",
    "User Warning", "Core Warning", "Compile Warning",
))

# The plain nginx header (parse._RE_NGINX, as bytes) ending exactly where the payload
# starts: the stamp (group 1) and the connection number (group 2). Anything else before
# the message (a transport prefix, a partial header) takes the full path.
NOTICE_LINE = re.compile(
    br"(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) \[[a-z]+\] \d+#\d+: (?:\*(\d+) )?"
    br"FastCGI sent in stderr: \"(?=PHP message: PHP )")

# The same plain header, naming its connection: which nginx request a line belongs to.
CONNECTION_HEAD = re.compile(br"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[[a-z]+\] \d+#\d+: \*(\d+) ")

_MESSAGE = b"PHP message: "
_CACHE_SIZE = 16384        # messages remembered per scanned range (a few MB at most)
# "PHP Warning:  Undefined variable $x in /srv/a.php on line 12" -> severity, script
_RE_SEVERITY = re.compile(br"PHP ([A-Z][A-Za-z ]{1,30}?):  ?")
_ON_LINE = b" on line "
_IN = b" in "

_END = b'" while '


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
    ("/a.php(12) : eval()'d code") it is the file that made it. Plain bytes searches,
    no regex over the text: this runs for every message not seen before."""
    m = _RE_SEVERITY.match(part)
    if m is None:
        return (None, None)
    script = None
    e = part.rfind(_ON_LINE)
    if e > 0 and part[e + 9:e + 10].isdigit():
        i = part.rfind(_IN, m.end() - 1, e)
        if i >= 0:
            path = part[i + 4:e]
            k = path.find(b") : ")      # "/a.php(12) : eval()'d code"
            if k > 0:
                j = path.rfind(b"(", 0, k)
                if j > 0 and path[j + 1:k].isdigit():
                    path = path[:j]
            if (path[:1] == b"/" or path[1:3] == b":\\") and b'"' not in path and len(path) <= 4096:
                script = path.decode("utf-8", "replace")
    return (m.group(1).decode("ascii"), script)


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
