# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The crash-evidence signature table, as data (private helper of fpm_evidence;
the code that matches it is evidence/signatures.py, Matcher).

Every entry is a plain dict, in the spirit of fail2ban's filter.d files:

``id``           the evidence category (docs: shared/design/evidence-categories.md;
                 the names are an interface and must not change)
``source_kind``  'nginx', 'php-fpm', 'kernel' or 'coredump'
``prefilter``    bytes, or a tuple of bytes: cheap literals, at least one of which is in
                 every line the regex can match (checked before the regex runs)
``regex``        a regular expression, or a tuple of them, with named groups, searched in
                 the record's message (transport prefixes and the nginx/php-fpm header
                 already removed, see evidence/parse.py). nginx and php-fpm regexes are
                 anchored at the start of the message (``^``): both daemons copy text a
                 stranger chose into their messages (a decoded URI, a child's stderr),
                 and an unanchored pattern both finds crashes in that text and tries
                 every start position of a 64 KiB line (quadratic). nginx regexes only
                 see the message before ``, client: `` (what follows is the client's).
                 No ``.*`` before a marker, no unbounded class repeated from many starts.
``fields``       the fields an event of this category carries (None when absent)
``tags``         (kernel/coredump only) syslog tags a record may carry; a record from any
                 other program (``php-fpm[374]: segfault at ...``) is not a kernel report
``description``  what it means
``example``      one real-world line; the full sample sets, matching and deliberately
                 non-matching, live in tests/unit/fixtures/signatures/<id>.log

Entries are tried in order within a source kind: the first match wins (so
``upstream_reset`` is tried before ``upstream_send_failed``, ``heap_corruption`` before
``child_stderr``, ``primary_script_unknown`` before ``fastcgi_stderr``).

``SCAN_LITERALS`` are the coarse per-kind literals the streaming scanner looks for with
``bytes.find`` before any line is decoded; every line a signature of that kind can
match contains at least one of them (a unit test checks this on all samples).
"""

from __future__ import absolute_import, division, print_function

import re

__metaclass__ = type

__all__ = ["SIGNATURES", "SCAN_LITERALS", "SCAN_LITERALS_EXTRA", "GREP_LITERALS", "GATE_LITERALS", "CATEGORIES", "SOURCE_KINDS",
           "SIGNAL_NAMES"]

SOURCE_KINDS = ("nginx", "php-fpm", "kernel", "coredump")

_POOL = r"(?:\[pool (?P<pool>[^\]]+)\] +)?"
# The strerror text after the errno. nginx for Windows prints WSA codes with their long
# texts ("(10054: An existing connection was forcibly closed by the remote host)"), or
# "(10060: FormatMessage() error:(15105))" when it has none: one level of parentheses.
_ERRTXT = r"[^()]*(?:\([^()]*\)[^()]*)*"
_ERRNO = r"\((?P<errno>%s): " + _ERRTXT + r"\)"
_NGX = ("errno", "client", "server", "request", "method", "path", "uri", "upstream", "host")
# " in <object>[<base>+<size>]"; recent kernels (6.x) put the ip's offset in the object
# first, "[6ad57,7f75ec6a8000+a1000]" (mm/memory.c, print_vma_addr)
_KMOD = (r"(?: in (?P<module>[^\[\s][^\[]*?)\[(?:[0-9a-fA-F]+,)?(?P<module_base>[0-9a-fA-F]+)"
         r"\+(?P<module_size>[0-9a-fA-F]+)\])?")
_PROC = r"(?P<process>[^\[\]\s][^\[\]]{0,63}?)\[(?P<pid>\d+)\]"
_KFIELDS = ("process", "pid", "module", "fault_addr", "ip", "sp", "error_code", "is_php")
_KTAGS = ("kernel",)
# PHP 5.3.0-5.3.2 named the pool after the pid: "child 4074 (pool www) exited on signal 15"
_POOL_AFTER = r"(?: \(pool (?P<pool2>[^)]{1,256})\))?"


def _prefix_of(*phrases):
    """A regex for any prefix of one of ``phrases``, the empty one included (a trie of
    nested optional groups: linear, whatever the cut)."""
    trie = {}
    for phrase in phrases:
        node = trie
        for ch in phrase:
            node = node.setdefault(ch, {})

    def emit(node):
        alts = [re.escape(ch) + emit(child) for ch, child in sorted(node.items())]
        return "(?:%s)?" % "|".join(alts) if alts else ""
    return emit(trie)


def _cut_after_errno(*phrases):
    """The end of an nginx record cut after its errno: by nginx's own 2 KiB limit in a long
    message, by a mail client wrapping it at 72 columns ("connect() failed (111: Connection"
    / "refused) while connecting to upstream, ..." on the next line), by a person pasting
    half of it. What is left must run to the end of nginx's text, so a complete record with
    another phase ("... while sending to client") never takes this branch. The group is
    named ``cut``: such a match counts only where the record's header rules out a client's
    reset or a health check, which the lost phase would have told (line_events._cut_ok)."""
    return r"(?P<cut>:[^)]*(?:\)" + _prefix_of(*phrases) + r")?$)"


# the phases of a FastCGI exchange, as nginx names them (ngx_http_upstream.c)
_UPSTREAM_IO = (" while reading response header from upstream", " while reading upstream",
                " while sending request to upstream", " while sending to upstream")

SIGNATURES = (
    # ------------------------------------------------------------------ nginx
    {
        "id": "client_abort",
        "source_kind": "nginx",
        "prefilter": b"client prematurely closed connection",
        "regex": r"^(?:\w+\(\) reported that )?client prematurely closed connection, so upstream connection is closed too"
                 r"(?: while (?P<phase>[^,]+))?",
        "fields": _NGX + ("phase",),
        "description": "The client went away (499); nginx closed the upstream connection too. "
                       "Not an upstream fault.",
        "example": '2018/05/22 15:17:24 [info] 45#0: *400 epoll_wait() reported that client prematurely '
                   'closed connection, so upstream connection is closed too while sending request to upstream, '
                   'client: 10.8.10.1, server: , request: "GET /alive HTTP/1.1", upstream: '
                   '"fastcgi://127.0.0.1:9000", host: "10.8.10.5:8080"',
    },
    {
        "id": "upstream_reset",
        "source_kind": "nginx",
        "prefilter": (b"(104: ", b"(10054: "),
        # 10054 is WSAECONNRESET (nginx for Windows: "WSARecv() failed (10054: ...)"); a reset
        # on connect() is a connect error (upstream_connect_other), also when the phase is cut
        "regex": r"^(?!connect\(\))(?P<syscall>\w+)\(\) failed \((?P<errno>104|10054)"
                 r"(?:: " + _ERRTXT + r"\) while (?P<phase>(?:reading|sending)[^,]*?upstream)"
                 r"|" + _cut_after_errno(*_UPSTREAM_IO) + r")",
        "fields": _NGX + ("syscall", "phase"),
        "description": "The FastCGI peer reset the connection (104, WSA 10054) while nginx read or "
                       "sent: the php-fpm child died mid-request (502). A reset during a TLS handshake "
                       "to an https upstream is not this. A record cut before its phase has phase null.",
        "example": '2026/11/26 17:01:02 [error] 2481#2481: *18 recv() failed (104: Connection reset by peer) '
                   'while reading response header from upstream, client: 127.0.0.1, server: _, request: '
                   '"GET /a/crash.php HTTP/1.1", upstream: "fastcgi://unix:/run/php/php8.2-fpm.sock:", '
                   'host: "127.0.0.1"',
    },
    {
        "id": "upstream_prematurely_closed",
        "source_kind": "nginx",
        "prefilter": b"upstream prematurely closed",
        "regex": r"^upstream prematurely closed (?P<what>connection|FastCGI stdout|FastCGI request|[\w ]{1,40}?)"
                 r" while (?P<phase>[^,]+)",
        "fields": _NGX + ("what", "phase"),
        "description": "The upstream closed the connection before a complete response (502).",
        "example": '2023/04/20 09:58:33 [error] 3484#102072: *1118 upstream prematurely closed FastCGI request '
                   'while reading upstream, client: 10.0.0.11, server: cloud.example.com, request: '
                   '"GET /apps/memories/api/stream/3249852?numChunks=7 HTTP/2.0", upstream: '
                   '"fastcgi://unix:/var/run/nextcloud-php-fpm.sock:", host: "cloud.example.com"',
    },
    {
        "id": "upstream_connect_refused",
        "source_kind": "nginx",
        "prefilter": (b"(111: ", b"(10061: "),
        # 10061 is WSAECONNREFUSED (nginx for Windows)
        "regex": r"^connect\(\) (?:to (?P<target>\S+) )?failed \((?P<errno>111|10061)"
                 r"(?:: " + _ERRTXT + r"\) while connecting to upstream"
                 r"|" + _cut_after_errno(" while connecting to upstream") + r")",
        "fields": _NGX + ("target",),
        "description": "Nothing listens on the socket or port (php-fpm down or pool missing).",
        "example": '2015/02/13 20:04:29 [error] 31031#0: *13047 connect() failed (111: Connection refused) while '
                   'connecting to upstream, client: 187.135.33.131, server: example.com, request: '
                   '"GET / HTTP/1.1", upstream: "fastcgi://127.0.0.1:9000", host: "example.com"',
    },
    {
        "id": "upstream_connect_eagain",
        "source_kind": "nginx",
        "prefilter": b"(11: ",
        "regex": r"^connect\(\) (?:to (?P<target>\S+) )?failed " + _ERRNO % "11" + r" while connecting to upstream",
        "fields": _NGX + ("target",),
        "description": "The listen backlog of the unix socket is full (pool saturated).",
        "example": '2019/04/12 19:01:27 [error] 45#45: *387 connect() to unix:/var/run/php/php7.2-fpm.sock failed '
                   '(11: Resource temporarily unavailable) while connecting to upstream, client: 10.0.5.6, '
                   'server: zabbix, request: "POST /zabbix.php HTTP/1.0", upstream: '
                   '"fastcgi://unix:/var/run/php/php7.2-fpm.sock:", host: "monitor.example.com"',
    },
    {
        "id": "upstream_connect_enoent",
        "source_kind": "nginx",
        "prefilter": b"(2: ",
        "regex": r"^connect\(\) (?:to (?P<target>\S+) )?failed " + _ERRNO % "2" + r" while connecting to upstream",
        "fields": _NGX + ("target",),
        "description": "The socket file does not exist (wrong path, php-fpm not started). An open() of an "
                       "error page that fails with 2 is not this.",
        "example": '2024/01/31 12:00:00 [crit] 812#812: *1 connect() to unix:/run/php/php8.1-fpm.sock failed '
                   '(2: No such file or directory) while connecting to upstream, client: 192.0.2.7, server: _, '
                   'request: "GET / HTTP/1.1", upstream: "fastcgi://unix:/run/php/php8.1-fpm.sock:", host: "x"',
    },
    {
        "id": "upstream_connect_eacces",
        "source_kind": "nginx",
        "prefilter": b"(13: ",
        "regex": r"^connect\(\) (?:to (?P<target>\S+) )?failed " + _ERRNO % "13" + r" while connecting to upstream",
        "fields": _NGX + ("target",),
        "description": "nginx may not connect to the socket (listen.owner/group/mode, SELinux).",
        "example": '2024/01/31 12:00:00 [crit] 812#812: *3 connect() to unix:/var/run/php-fpm/www.sock failed '
                   '(13: Permission denied) while connecting to upstream, client: 192.0.2.7, server: _, '
                   'request: "GET /info.php HTTP/1.1", upstream: "fastcgi://unix:/var/run/php-fpm/www.sock:", '
                   'host: "x"',
    },
    {
        "id": "upstream_connect_other",
        "source_kind": "nginx",
        "prefilter": b"while connecting to upstream",
        "regex": r"^(?:connect\(\) (?:to (?P<target>\S+) )?failed|upstream timed out|(?P<syscall>\w+)\(\) failed) "
                 + _ERRNO % r"\d+" + r" while connecting to upstream",
        "fields": _NGX + ("target",),
        "description": "Any other connect() failure (113 no route, 99, 110 on connect, 104 on connect).",
        "example": '2021/04/06 10:00:00 [error] 7#7: *9 connect() failed (113: No route to host) while connecting '
                   'to upstream, client: 172.18.0.1, server: localhost, request: "GET / HTTP/1.1", upstream: '
                   '"fastcgi://172.18.0.3:9000", host: "localhost"',
    },
    {
        "id": "upstream_timeout",
        "source_kind": "nginx",
        "prefilter": b"upstream timed out",
        "regex": r"^upstream timed out \((?P<errno>\d+)(?:: " + _ERRTXT + r"\) while (?P<phase>(?:reading|sending)[^,]*)"
                 r"|" + _cut_after_errno(" while reading", " while sending") + r")",
        "fields": _NGX + ("phase",),
        "description": "The upstream was too slow (fastcgi_read_timeout): 504.",
        "example": '2016/05/31 10:00:00 [error] 12785#0: *1095 upstream timed out (110: Connection timed out) '
                   'while reading response header from upstream, client: 45.121.188.200, server: example.com, '
                   'request: "GET / HTTP/1.1", upstream: "fastcgi://unix:/var/run/php5.6-fcgi.sock", '
                   'host: "example.com"',
    },
    {
        "id": "upstream_too_big_header",
        "source_kind": "nginx",
        "prefilter": b"upstream sent too big header",
        "regex": r"^upstream sent too big header while (?P<phase>[^,]+)",
        "fields": _NGX + ("phase",),
        "description": "Response headers exceed fastcgi_buffer_size: 502.",
        "example": '2024/01/31 12:00:00 [error] 2481#2481: *7 upstream sent too big header while reading response '
                   'header from upstream, client: 192.0.2.1, server: shop, request: "GET /cart HTTP/1.1", '
                   'upstream: "fastcgi://unix:/run/php/php8.2-fpm.sock:", host: "shop"',
    },
    {
        "id": "upstream_send_failed",
        "source_kind": "nginx",
        "prefilter": b"to upstream",
        "regex": r"^(?P<syscall>\w+)\(\) failed " + _ERRNO % r"\d+" + r" while sending (?:request )?to upstream",
        "fields": _NGX + ("syscall",),
        "description": "Sending the request to upstream failed with an errno other than 104 (e.g. 32).",
        "example": '2024/01/31 12:00:00 [error] 2481#2481: *77 writev() failed (32: Broken pipe) while sending '
                   'request to upstream, client: 192.0.2.1, server: _, request: "POST /upload.php HTTP/1.1", '
                   'upstream: "fastcgi://unix:/run/php/php8.2-fpm.sock:", host: "x"',
    },
    {
        "id": "upstream_invalid_response",
        "source_kind": "nginx",
        "prefilter": (b"upstream sent ", b"unexpected FastCGI"),
        "regex": r"^(?:upstream sent (?!too big header)(?P<detail>[^,]+?)|(?P<detail2>unexpected FastCGI [^,]+?))"
                 r"(?: while [^,]+)?(?:,|$)",
        "fields": _NGX + ("detail",),
        "description": "Protocol garbage from upstream (unexpected FastCGI record, invalid header...).",
        "example": '2024/01/31 12:00:00 [error] 2481#2481: *9 upstream sent unexpected FastCGI record: 3 while '
                   'reading response header from upstream, client: 192.0.2.1, server: _, request: '
                   '"GET / HTTP/1.1", upstream: "fastcgi://127.0.0.1:9000", host: "x"',
    },
    {
        "id": "upstream_disabled",
        "source_kind": "nginx",
        "prefilter": b"temporarily disabled",
        "regex": r"^upstream server temporarily disabled while (?P<phase>[^,]+)",
        "fields": _NGX + ("phase",),
        "description": "nginx marked a server of the upstream down (max_fails).",
        "example": '2024/01/31 12:00:00 [warn] 2481#2481: *11 upstream server temporarily disabled while reading '
                   'response header from upstream, client: 192.0.2.1, server: _, request: "GET / HTTP/1.1", '
                   'upstream: "fastcgi://10.0.0.5:9000", host: "x"',
    },
    {
        "id": "no_live_upstreams",
        "source_kind": "nginx",
        "prefilter": b"no live upstreams",
        "regex": r"^no live upstreams while (?P<phase>[^,]+)",
        "fields": _NGX + ("phase",),
        "description": "Every server of the upstream is down (502 without trying).",
        "example": '2024/01/31 12:00:01 [error] 2481#2481: *12 no live upstreams while connecting to upstream, '
                   'client: 192.0.2.1, server: _, request: "GET / HTTP/1.1", upstream: "fastcgi://php_backend", '
                   'host: "x"',
    },
    {
        "id": "primary_script_unknown",
        "source_kind": "nginx",
        "prefilter": b"Primary script unknown",
        "regex": r"^FastCGI sent in stderr: \"(?P<stderr>Primary script unknown)",
        "fields": _NGX,
        "description": "php-fpm could not find SCRIPT_FILENAME (404 from php-fpm, wrong root).",
        "example": '2019/06/01 10:00:00 [error] 7#7: *1 FastCGI sent in stderr: "Primary script unknown" while '
                   'reading response header from upstream, client: 172.17.0.1, server: localhost, request: '
                   '"GET /index.php HTTP/1.1", upstream: "fastcgi://127.0.0.1:9000", host: "localhost:8080"',
    },
    {
        "id": "fastcgi_stderr",
        "source_kind": "nginx",
        "prefilter": b"FastCGI sent in stderr",
        # nginx writes the payload raw, quotes and all ("Undefined array key "id" in ..."):
        # it ends where nginx closes it, at '" while ', or where the line was cut
        "regex": r"^FastCGI sent in stderr: \"(?P<stderr>.{0,2048}?)(?:\" while |\"?$)",
        "fields": _NGX + ("stderr",),
        "description": "Any other stderr payload from php-fpm (PHP warnings, fatal errors).",
        "example": '2024/01/31 12:00:00 [error] 2481#2481: *5 FastCGI sent in stderr: "PHP message: PHP Fatal '
                   'error:  Allowed memory size of 134217728 bytes exhausted" while reading response header from '
                   'upstream, client: 192.0.2.1, server: _, request: "GET /report.php HTTP/1.1", upstream: '
                   '"fastcgi://unix:/run/php/php8.2-fpm.sock:", host: "x"',
    },
    # ---------------------------------------------------------------- php-fpm
    {
        "id": "heap_corruption",
        "source_kind": "php-fpm",
        "prefilter": (b"zend_mm_heap corrupted", b"corrupted", b"double free", b"free(): invalid",
                      b"malloc(): ", b"malloc_consolidate()", b"munmap_chunk()", b"realloc(): invalid"),
        # The message must START the child's output (zend_mm and glibc write it as one
        # line of their own; old glibc wraps it in "*** Error in `prog': ... ***"): no
        # leading ".*?" searched for a marker further on, which was quadratic on a
        # 64 KiB line of "corrupted " (issue 11) and took a client's text for a crash.
        "regex": r"^" + _POOL + r"child (?P<pid>\d+) said into (?:stderr|stdout): \"?(?P<stderr>"
        r"(?:\*\*\* Error in `[^`]{0,256}': )?"
        r"(?:zend_mm_heap corrupted|corrupted (?:size|top size|double-linked list|unsorted chunks)"
        r"|double free or corruption|free\(\): invalid|malloc\(\): |malloc_consolidate\(\)"
        r"|munmap_chunk\(\)|realloc\(\): invalid)[^\"]*)\"?(?:, pipe is closed)?$",
        "fields": ("pool", "pid", "stderr"),
        "description": "A child reported memory-manager corruption (zend_mm or glibc malloc); "
                       "it is about to die.",
        "example": '[05-Mar-2018 12:01:52] WARNING: [pool www] child 43 said into stderr: "zend_mm_heap corrupted"',
    },
    {
        "id": "child_stderr",
        "source_kind": "php-fpm",
        "prefilter": b"said into",
        "regex": r"^" + _POOL + r"child (?P<pid>\d+) said into (?:stderr|stdout): \"?(?P<stderr>.{0,512}?)\"?"
        r"(?:, pipe is closed)?$",
        "fields": ("pool", "pid", "stderr"),
        "description": "Anything else a child wrote to stderr (catch_workers_output).",
        "example": '[30-Dec-2018 13:43:39] WARNING: [pool mightful-noobs.de] child 2138 said into stderr: " "',
    },
    {
        "id": "child_signal",
        "source_kind": "php-fpm",
        "prefilter": b"exited on signal",
        "regex": r"^" + _POOL + r"child (?P<pid>\d+)" + _POOL_AFTER + r" exited on signal (?P<signal_number>\d+)"
                 r"(?: (?:\((?P<signal_name>SIG[A-Z0-9]+)?[^)]*\)|(?P<signal_name2>SIG[A-Z0-9]+)))?"
                 r"(?: after (?P<uptime_s>\d+(?:\.\d+)?) seconds from start)?",
        "fields": ("pool", "pid", "signal_number", "signal_name", "core_dumped", "uptime_s"),
        "description": "A worker died on a signal (11 SIGSEGV, 6 SIGABRT, 7 SIGBUS, 9 SIGKILL...).",
        "example": '[26-Nov-2026 17:01:02] WARNING: [pool www] child 24352 exited on signal 11 (SIGSEGV) '
                   'after 301.965713 seconds from start',
    },
    {
        "id": "child_exit_code",
        "source_kind": "php-fpm",
        "prefilter": b"exited with code",
        "regex": r"^" + _POOL + r"child (?P<pid>\d+)" + _POOL_AFTER + r" exited with code (?P<exit_code>[1-9]\d*)"
                 r"(?: after (?P<uptime_s>\d+(?:\.\d+)?) seconds from start)?",
        "fields": ("pool", "pid", "exit_code", "uptime_s"),
        "description": "A worker exited with a non-zero code. Code 11 is NOT signal 11.",
        "example": '[13-Dec-2019 01:00:20] WARNING: [pool www] child 8 exited with code 11 after 664.260371 '
                   'seconds from start',
    },
    {
        "id": "max_children",
        "source_kind": "php-fpm",
        "prefilter": b"max_children setting",
        "regex": r"^" + _POOL + r"server reached (?:pm\.)?max_children setting \((?P<max_children>\d+)\)",
        "fields": ("pool", "max_children"),
        "description": "The pool is at pm.max_children: requests queue, then 502/504.",
        "example": '[12-Apr-2019 18:55:47] WARNING: [pool www] server reached pm.max_children setting (5), '
                   'consider raising it',
    },
    {
        "id": "seems_busy",
        "source_kind": "php-fpm",
        "prefilter": b"seems busy",
        "regex": r"^" + _POOL + r"seems busy \((?P<hint>[^)]*)\), spawning (?P<spawning>\d+) children"
        r"(?:, there are (?P<idle>\d+) idle, and (?P<total>\d+) total children)?",
        "fields": ("pool", "spawning", "idle", "total"),
        "description": "A dynamic pool spawns hard (start/min/max spare servers too low).",
        "example": '[18-Jan-2018 10:00:00] WARNING: [pool www] seems busy (you may need to increase '
                   'pm.start_servers, or pm.min/max_spare_servers), spawning 32 children, there are 0 idle, '
                   'and 9 total children',
    },
    {
        "id": "exec_timeout",
        "source_kind": "php-fpm",
        "prefilter": b"execution timed out",
        "regex": (
            r"^" + _POOL + r"child (?P<pid>\d+), script '(?P<script>[^']*)' \(request: \"(?P<request>[^\"]*)\"\) "
            r"execution timed out \((?P<elapsed_s>[\d.]+) sec\), terminating",
            # PHP 5.3 named no request; the whole message, so that a script path holding the
            # words cannot pass for it
            r"^" + _POOL + r"child (?P<pid>\d+), script '(?P<script>[^']*)' "
            r"execution timed out \((?P<elapsed_s>[\d.]+) sec\), terminating\s*$",
        ),
        "fields": ("pool", "pid", "script", "request", "method", "path", "elapsed_s"),
        "description": "request_terminate_timeout killed a request (the child gets SIGTERM next).",
        "example": '[12-Apr-2016 14:54:39] WARNING: [pool www] child 123, script \'/var/www/x.php\' '
                   '(request: "GET /x.php") execution timed out (30.100164 sec), terminating',
    },
    {
        "id": "slow_request",
        "source_kind": "php-fpm",
        "prefilter": (b"executing too slow", b"] pid "),
        "regex": (
            r"^" + _POOL + r"child (?P<pid>\d+), script '(?P<script>[^']*)' \(request: \"(?P<request>[^\"]*)\"\) "
            r"executing too slow \((?P<elapsed_s>[\d.]+) sec\), logging",
            # slowlog file header: "[05-Sep-2016 07:40:49]  [pool www] pid 15"
            r"^\[pool (?P<pool>[^\]]+)\] pid (?P<pid>\d+)\s*$",
        ),
        "fields": ("pool", "pid", "script", "request", "method", "path", "elapsed_s"),
        "description": "request_slowlog_timeout reached (master log line or slowlog entry header).",
        "example": '[05-Sep-2016 07:40:49] WARNING: [pool www] child 15, script \'/var/www/dmz.php\' (request: '
                   '"GET /dmz.php/welcome/index.php") executing too slow (1.102794 sec), logging',
    },
    {
        "id": "ptrace_failed",
        "source_kind": "php-fpm",
        "prefilter": (b"ptrace(", b"/mem: "),
        "regex": (
            r"^failed to ptrace\((?P<op>\w+)\) (?:child|pid) (?P<pid>\d+): (?P<reason>.*?) \((?P<errno>\d+)\)",
            # fpm_trace_pread.c reads the traced child's memory through /proc/<pid>/mem
            r"^failed to (?P<op>open) /proc/(?P<pid>\d+)/mem: (?P<reason>[^()]{1,128}?) \((?P<errno>\d+)\)",
        ),
        "fields": ("pid", "op", "reason", "errno"),
        "description": "Slowlog tracing is not permitted (containers without SYS_PTRACE, yama, "
                       "/proc/<pid>/mem of a child of another user).",
        "example": '[05-Sep-2016 07:40:49] ERROR: failed to ptrace(ATTACH) child 15: Operation not permitted (1)',
    },
    {
        "id": "unknown_child",
        "source_kind": "php-fpm",
        "prefilter": b"unknown child",
        "regex": r"^(?:oops, )?unknown child \((?P<pid>\d+)\) exited (?:on signal (?P<signal_number>\d+)"
                 r"(?: \((?P<signal_name>SIG[A-Z0-9]+)[^)]*\))?|with code (?P<exit_code>\d+))",
        "fields": ("pid", "signal_number", "signal_name", "exit_code"),
        "description": "The master reaped a process it did not know (often an orphan when fpm is PID 1).",
        "example": '[20-Oct-2022 16:50:02] ALERT: oops, unknown child (103) exited with code 0. Please open a '
                   'bug report (https://github.com/php/php-src/issues).',
    },
    {
        "id": "lifecycle",
        "source_kind": "php-fpm",
        "prefilter": (b"fpm is running", b"ready to handle", b"eloading", b"Terminating", b"bye-bye",
                      b"re-opened", b"started", b"exited with code 0", b"Finishing", b"inherited socket",
                      b"monitor interval", b"configuration file", b"unknown entry", b"post process",
                      b"can't be greater", b"initialization failed", b"listening socket", b"failed to listen",
                      b"already listen", b"failed to reload", b"ignored when FPM", b"implicitly binding"),
        "regex": r"^" + _POOL + r"(?:child (?P<pid>\d+)" + _POOL_AFTER + r" (?P<child_event>started|exited with code 0)\b"
                 r"|(?P<phrase>fpm is running, pid (?P<master_pid>\d+)|ready to handle connections"
                 r"|Reloading in progress|reloading: |Terminating \.\.\.|exiting, bye-bye"
                 r"|error log file re-opened|Finishing \.\.\.|using inherited socket"
                 r"|systemd monitor interval set"
                 # why a master is not there (fpm_conf.c, fpm.c, fpm_sockets.c, fpm_unix.c,
                 # fpm_process_ctl.c): php-fpm -t, a bad directive at file:line, an impossible
                 # pair of timeouts, a listen address that cannot be bound (the ": strerror (errno)"
                 # of glibc, musl or BSD follows; PHP 5 left the address unquoted), a second
                 # master on the same socket ("An another" before PHP 7.4), a re-exec that failed
                 r"|configuration file (?P<config_file>\S{1,512}) test is successful"
                 r"|\[(?P<config_file2>[^\]\s]{1,512}):(?P<config_line>\d+)\] unknown entry '(?P<directive>[^']{0,128})'"
                 r"|failed to load configuration file '(?P<config_file3>[^']{0,512})'"
                 r"|failed to post process the configuration"
                 r"|'(?P<directive2>request_slowlog_timeout)' \(\d+\) can't be greater than 'request_terminate_timeout'"
                 r"|FPM initialization failed"
                 r"|(?:unable to bind listening socket for address|failed to listen to address) "
                 r"(?:'(?P<listen>[^']{0,512})'|(?P<listen2>\S{1,512}?)(?=: ))"
                 r"(?:: (?P<reason>[^()]{1,128}?) \((?P<errno>\d+)\))?"
                 r"|failed to create new listening socket: socket\(\)(?:: (?P<reason2>[^()]{1,128}?) \((?P<errno2>\d+)\))?"
                 r"|An(?:other| another) FPM instance seems to already listen on (?P<listen3>\S{1,512})"
                 r"|failed to reload: (?P<reason3>.{1,256}?)(?: \((?P<errno3>\d+)\))?$"
                 r"|'?(?P<directive3>user|group)'? directive is ignored when FPM is not running as root"
                 r"|Failed implicitly binding to ::, retrying with 0\.0\.0\.0))",
        "fields": ("pool", "pid", "lifecycle_event", "config_file", "config_line", "directive", "listen",
                   "reason", "errno"),
        "description": "Master start, ready, reload, stop, exit, log reopen; child started or "
                       "recycled (exit code 0); and why no master serves: config test passed or "
                       "config error (file, line, directive), initialization failed, listen "
                       "address not bindable or already served, reload failed, user/group "
                       "ignored when not root, the IPv6 wildcard fallback.",
        "example": '[13-Jan-2019 10:42:49] NOTICE: ready to handle connections',
    },
    # ----------------------------------------------------------------- kernel
    {
        "id": "kernel_segfault",
        "source_kind": "kernel",
        "tags": _KTAGS,
        "prefilter": b"segfault at",
        # older x86_64 kernels (2.6.18 of RHEL 5) named the registers "rip" and "rsp"
        "regex": r"^" + _PROC + r": segfault at (?P<fault_addr>[0-9a-fA-F]+) r?ip (?P<ip>[0-9a-fA-F]+) "
                 r"r?sp (?P<sp>[0-9a-fA-F]+) error (?P<error_code>[0-9a-fA-F]+)(?: cpu \d+)?" + _KMOD,
        "fields": _KFIELDS,
        "description": "The kernel reported a segfault; `module` is the ELF object the ip was in "
                       "(opcache.so, php-fpm8.2, libc...), null when the kernel did not say.",
        "example": 'Jun 10 13:50:42 web1 kernel: [4417665.769934] php-fpm[2226658]: segfault at 0 ip '
                   '00007fb1ab8ace05 sp 00007ffecc84fa10 error 4 in skywalking.so[7fb1ab86b000+68000]',
    },
    {
        "id": "general_protection",
        "source_kind": "kernel",
        "tags": _KTAGS,
        "prefilter": b"general protection",
        "regex": r"^(?:traps: )?" + _PROC + r"\s+general protection(?: fault)? ip:(?P<ip>[0-9a-fA-F]+) "
                 r"sp:(?P<sp>[0-9a-fA-F]+) error:(?P<error_code>[0-9a-fA-F]+)" + _KMOD,
        "fields": _KFIELDS,
        "description": "General protection fault of a user process.",
        "example": 'Nov 23 14:26:29 example kernel: [39632.885010] traps: php5-fpm[7954] general protection '
                   'ip:6df1d9 sp:7fff8ed6fb10 error:0 in php5-fpm[400000+7a3000]',
    },
    {
        "id": "kernel_trap",
        "source_kind": "kernel",
        "tags": _KTAGS,
        "prefilter": b" trap ",
        "regex": r"^(?:traps: )?" + _PROC + r"\s+trap (?P<trap>[a-z][a-z0-9 ]*?) ip:(?P<ip>[0-9a-fA-F]+) "
                 r"sp:(?P<sp>[0-9a-fA-F]+) error:(?P<error_code>[0-9a-fA-F]+)" + _KMOD,
        "fields": _KFIELDS + ("trap",),
        "description": "Other CPU traps (divide error, stack segment, invalid opcode).",
        "example": '[47184.696252] traps: php5-fpm[6235] trap stack segment ip:79c8b4 sp:7ffd0a308970 error:0 '
                   'in php5-fpm[400000+7ff000]',
    },
    {
        "id": "oom_kill",
        "source_kind": "kernel",
        "tags": _KTAGS,
        "prefilter": (b"oom-killer", b"Kill process", b"Killed process"),
        "regex": (
            r"^(?P<process>\S+?) invoked oom-killer",
            r"(?:Out of memory|Memory cgroup out of memory)(?: \(oom_kill_allocating_task\))?: "
            r"Kill(?:ed)? process (?P<pid>\d+) \((?P<process>[^)]{0,255})\)",
            # RHEL 6 kernels (2.6.32) named the uid between pid and name:
            # "Killed process 12081, UID 48, (php-fpm) total-vm:455224kB, ..."
            r"^Killed process (?P<pid>\d+)(?:, UID \d+,)? \((?P<process>[^)]{0,255})\)",
        ),
        "fields": ("process", "pid", "is_php"),
        "description": "The out-of-memory killer ran or killed a process.",
        "example": 'Apr 25 15:08:38 web1 kernel: Out of memory: Killed process 11726 (php-fpm) '
                   'total-vm:812344kB, anon-rss:523112kB, file-rss:0kB, shmem-rss:2048kB',
    },
    # --------------------------------------------------------------- coredump
    {
        "id": "coredump",
        "source_kind": "coredump",
        "tags": ("systemd-coredump", "abrt-hook-ccpp", "abrtd", "abrt", "apport", "kernel", "systemd"),
        "prefilter": (b"dumped core", b"dumping core", b"Saved core dump", b"called for pid", b"killed by SIG"),
        "regex": (
            # people mask pid and uid when they paste coredumpctl info ("Process xxx (...) of
            # user xxx dumped core."): the event keeps the process, pid and uid are null
            r"Process (?P<pid>\d+|[xX]{2,16}) \((?P<process>[^)]{0,255})\) of user (?P<uid>\d+|[xX]{2,16}) "
            r"dumped core",
            r"Process (?P<pid>\d+) \((?P<process>[^)]{0,255})\) of user (?P<uid>\d+) killed by "
            r"(?P<signal_name>SIG[A-Z0-9]+)",
            r"Saved core dump of pid (?P<pid>\d+) \((?P<process>[^)]{0,255})\) to (?P<core_path>\S+)",
            r"called for pid (?P<pid>\d+), signal (?P<signal_number>\d+)",
            # PID 1 itself (systemd src/core/main.c, crash()): it forks, the child dumps
            # core, PID 1 freezes - every service, php-fpm's too, stops being supervised
            r"^Caught <(?P<signal_name>[A-Z0-9]{2,8})>, dumped core as pid (?P<pid>\d+)",
        ),
        "fields": ("process", "pid", "uid", "signal_number", "signal_name", "is_php"),
        "description": "A crash handler (systemd-coredump, ABRT, apport) saved a core.",
        "example": 'Mar 26 11:09:00 backup systemd-coredump[134248]: Process 134188 (php-fpm) of user 986 dumped '
                   'core.',
    },
)

CATEGORIES = tuple(s["id"] for s in SIGNATURES)

# Coarse literals for the streaming scanner (bytes.find over 1 MiB chunks): every line
# a signature of that kind can match holds at least one of them (tested on all samples).
# Each literal costs one pass over the data, so they are few; the signature prefilters
# (GATE_LITERALS) sort the candidate lines out before any decoding.
# php-fpm: "child" (workers, max_children, spawning N children, unknown child, ptrace of
# a child), "NOTICE" (lifecycle), " pid " (slowlog entry headers "[pool www] pid 15",
# ptrace of a pid), "ERROR" (a master that failed to start or reload: bind, config).
SCAN_LITERALS = {
    # " failed (1": a record cut before "upstream" by a mail client or a paste (104, 111
    # and their WSA codes: _cut_after_errno above)
    "nginx": (b"upstream", b"FastCGI sent", b" failed (1"),
    "php-fpm": (b"child", b"NOTICE", b" pid ", b"ERROR"),
    "kernel": (b"segfault at", b"general protection", b" trap ", b"oom-killer", b"Kill"),
    "coredump": (b"dumped core", b"dumping core", b"Saved core dump", b"called for pid", b"killed by SIG"),
}

# The first GNU grep's literals, where they differ from SCAN_LITERALS: grep -F finds any
# number of literals in one pass, so they can be precise phrases, each holding a signature
# prefilter (GATE_LITERALS) - then no second grep is needed to gate grep's output.
# nginx: "upstream" alone is in the upstream field of most lines of a PHP site's error
# log ("an upstream response is buffered", every FastCGI stderr notice).
GREP_LITERALS = {
    "nginx": (b"FastCGI sent in stderr", b"to upstream", b"(104: ", b"(10054: ", b"(111: ", b"(10061: ",
              b"upstream prematurely closed",
              b"client prematurely closed connection", b"no live upstreams", b"temporarily disabled",
              b"unexpected FastCGI", b"upstream sent ", b"upstream timed out"),
}

# Second-stage gate on raw candidate lines, before any decoding: the union of the
# signature prefilters of each kind.
GATE_LITERALS = {}
for _s in SIGNATURES:
    _p = _s["prefilter"] if isinstance(_s["prefilter"], tuple) else (_s["prefilter"],)
    GATE_LITERALS.setdefault(_s["source_kind"], set()).update(_p)
GATE_LITERALS = dict((k, tuple(sorted(v))) for k, v in GATE_LITERALS.items())

# Kept for compatibility: the per-kind sets above are complete on their own.
SCAN_LITERALS_EXTRA = {}

SIGNAL_NAMES = {
    1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS",
    8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2", 13: "SIGPIPE",
    14: "SIGALRM", 15: "SIGTERM", 24: "SIGXCPU", 25: "SIGXFSZ", 31: "SIGSYS",
}
