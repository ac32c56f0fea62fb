#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: opcache-fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
---
module: fpm_evidence
short_description: Collect php-fpm crash evidence from nginx, php-fpm, kernel and core-dump logs
description:
  - Scans nginx error logs, php-fpm master logs and slowlogs, and the kernel log (journal, kern.log,
    messages, syslog or dmesg) and crash-handler records (systemd-coredump, ABRT, apport) in a time
    window, classifies every recognised line by the evidence signature table (category names are
    a fixed interface, see C(evidence-categories.md)), and correlates nginx 502s with php-fpm worker
    crashes and the kernel's segfault report of the same pid.
  - Reads only. Never writes on the host; streams files of any size in bounded memory, including
    rotated C(.1) and C(.gz) files that can overlap the window.
  - A file that cannot be read, a binary file, a truncated gzip or an over-long line never stops
    the scan; each file is reported with its status and the reason.
  - "Only regular files are read: a FIFO, a device or a socket given as a path, matched by a glob
    or rotated into a log name is reported C(skipped) with the reason C(not a regular file: FIFO)
    (C(character device), C(socket), ...), never read (it would block the scan for ever)."
  - "Text a web client chooses (the request line, Host and Referer that nginx writes raw, a decoded
    URI) cannot plant evidence: a physical line is one record (a record header counts only at its
    start), nginx signatures match only the start of nginx's own message (before C(, client: )), and
    a file is searched only for the kinds of evidence its source writes (an nginx error log for nginx
    categories, a php-fpm log or slowlog for php-fpm ones), whatever its size."
  - Stamps without a zone (nginx, php-fpm) are local time of the host; every returned timestamp
    is ISO 8601 with the host's offset.
version_added: "0.1.0"
author:
  - opcache-fleet contributors (@opcache-fleet)
options:
  paths:
    description:
      - Files or globs to scan. When given, it replaces O(nginx_error_logs), O(fpm_logs) and
        O(slowlogs) (discovery results); what each file is searched for (nginx, php-fpm, kernel or
        core-dump evidence) is recognised from the shape of its first 64 KiB, every kind when
        nothing there is recognised. Prefer the discovery lists - they say which daemon wrote a file.
    type: list
    elements: path
  nginx_error_logs:
    description: nginx error logs (from discovery). Files or globs.
    type: list
    elements: path
    default: []
  fpm_logs:
    description: php-fpm master error logs (from discovery). Files or globs.
    type: list
    elements: path
    default: []
  slowlogs:
    description: php-fpm slowlogs (from discovery). Files or globs.
    type: list
    elements: path
    default: []
  include_rotated:
    description:
      - Also consider rotated siblings of plain paths (C(x.log.1), C(x.log.2.gz), C(x.log-20240131.gz)).
        They are read only when their modification time and first record can overlap the window.
    type: bool
    default: true
  kernel:
    description:
      - Also collect kernel and crash-handler evidence - C(journalctl -k) and the
        C(systemd-coredump) journal entries when journalctl works, else C(/var/log/kern.log),
        C(/var/log/messages), C(/var/log/syslog), else C(dmesg); plus C(coredumpctl list) when present.
        Missing tools and files are tolerated and reported in RV(kernel_sources).
    type: bool
    default: true
  since:
    description:
      - Start of the window - C(all), a relative age such as C(30m), C(2h), C(3d), or an ISO 8601 time
        (local time of the host when it has no zone).
    type: str
    default: 24h
  until:
    description: End of the window, same forms as O(since); default is now (no end).
    type: str
  upstream_pools:
    description:
      - >-
        Which php-fpm pool serves each nginx upstream, for example
        C({"unix:/run/php/php8.2-fpm.sock": "www", "127.0.0.1:9001": "site-b"}). Keys may be written
        as nginx logs them (C(fastcgi://unix:/run/php/x.sock:)), as C(unix:/path), as a bare socket path
        or as C(host:port).
      - Without it, 502s are tied to crashes by time only, and RV(correlation.mode) says so.
    type: dict
    default: {}
  correlation_window:
    description: Seconds between a 502 and a crash for them to be tied together.
    type: float
    default: 2.0
  include_events:
    description: Return the individual events (at most O(max_events)).
    type: bool
    default: false
  max_events:
    description: Most events returned when O(include_events=true); RV(events_truncated) tells when more were found.
    type: int
    default: 1000
  workers:
    description: Processes used to scan big files in parallel; C(0) chooses from the CPUs (at most 4).
    type: int
    default: 0
  prefilter:
    description:
      - How the candidate lines of plain and gzip-compressed files are found before they are parsed. The
        events, counts and file reports are the same either way; only the speed differs.
      - C(auto) uses GNU grep when the host has one (checked once with C(grep --version)) and the
        module's own Python search otherwise (no grep in C(PATH), busybox or BSD grep, or grep cannot start).
      - C(grep) requires GNU grep and fails the module without it. C(python) never runs grep.
      - grep runs as C(LC_ALL=C grep -a -n -b -F -e ...) on the file (no shell), piped into a second grep
        on the signature literals; gzip members are inflated by the module and fed to grep. bz2 and xz
        files always use the Python search. A grep that fails, is killed or stays silent for
        120 seconds is killed, and its file is reported C(partial) with the reason.
    type: str
    choices: [auto, grep, python]
    default: auto
attributes:
  check_mode:
    support: full
    description: The module never changes anything; check mode returns the same evidence.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in diff mode) when in diff mode.
    support: none
notes:
  - Standard library only on the managed host (Python 3.8 or later).
  - Kernel segfaults of processes that are not PHP (mysqld, bash) are returned with their C(process)
    and C(is_php=false), so reports can leave them out.
  - A php-fpm worker that exits with code 11 did not receive signal 11 - C(child_exit_code), not C(child_signal).
seealso:
  - name: Evidence categories
    description: The category names and fields (shared/design/evidence-categories.md).
    link: https://example.invalid/opcache-fleet/evidence-categories
"""

EXAMPLES = r"""
- name: Collect the last day of crash evidence found by discovery
  fpm_evidence:
    nginx_error_logs: "{{ fpm_discovery.nginx.error_logs }}"
    fpm_logs: "{{ fpm_discovery.fpm_error_logs }}"
    upstream_pools:
      "unix:/run/php/php8.2-fpm.sock": www
  register: evidence

- name: Scan a bundle of copied logs, whole history, with the events
  fpm_evidence:
    paths:
      - /tmp/bundle/*.log*
    since: all
    kernel: false
    include_events: true
    max_events: 200

- name: One incident window, tighter correlation
  fpm_evidence:
    nginx_error_logs: [/var/log/nginx/error.log]
    fpm_logs: [/var/log/php8.2-fpm.log]
    since: "2026-11-26T16:55:00"
    until: "2026-11-26T17:10:00"
    correlation_window: 1
"""

RETURN = r"""
changed:
  description: Always false.
  returned: always
  type: bool
  sample: false
window:
  description: The window used, as ISO 8601 times (null when open).
  returned: always
  type: dict
  sample: {"since": "2026-11-25T17:00:00+00:00", "until": null}
files:
  description:
    - One entry per file considered - C(status) is C(scanned), C(partial) (read error part way,
      e.g. truncated gzip; the events before it are kept), C(skipped) (with C(reason)) or C(error)
      (with C(error)).
    - "A FIFO, device or socket is C(skipped) with C(reason) C(not a regular file: FIFO)
      (C(character device), C(block device), C(socket))."
    - C(undated), when present, counts the events of the file that carry no time at all (see C(events)).
  returned: always
  type: list
  elements: dict
  sample:
    - {"path": "/var/log/nginx/error.log", "status": "scanned", "lines": 18211, "events": 12,
       "size": 2811093, "compression": null, "reason": null, "error": null}
    - {"path": "/var/log/nginx/error.log.2.gz", "status": "skipped", "reason": "last modified before the window"}
missing:
  description: Paths and globs that matched nothing.
  returned: always
  type: list
  elements: str
  sample: ["/var/log/php-fpm/slow.log"]
kernel_sources:
  description: The kernel and crash-handler sources tried, with their status.
  returned: always
  type: list
  elements: dict
  sample: [{"source": "journalctl -k", "status": "scanned", "events": 1}, {"source": "coredumpctl", "status": "absent"}]
counts:
  description: Event counts - C(total), C(by_category), C(by_source_kind), C(by_file) (file -> category -> n).
  returned: always
  type: dict
  sample: {"total": 3, "by_category": {"upstream_reset": 1, "child_signal": 1, "kernel_segfault": 1},
           "by_source_kind": {"nginx": 1, "php-fpm": 1, "kernel": 1},
           "by_file": {"/var/log/nginx/error.log": {"upstream_reset": 1}}}
incidents:
  description:
    - php-fpm worker crashes (C(child_signal) with a crash signal, C(heap_corruption)), and any
      other child death a 502 was tied to, with the nginx 502s (C(requests)), the kernel report of
      the same pid (C(kernel), C(module)) and whether a core was saved. The most recent ones when
      there are more than 200.
    - C(master) is the configuration of the master whose log the crash came from, when
      C(diagnose_host) runs this code with the masters it discovered. A pool is its master and its
      name (two masters may both have C([www])), and a 502 is then tied only to a crash of the
      master behind its upstream. It is null here, where logs are named by the user.
  returned: always
  type: list
  elements: dict
  sample:
    - timestamp: "2026-11-26T17:01:02+00:00"
      pool: www
      master: null
      pid: 24352
      category: child_signal
      signal_number: 11
      signal_name: SIGSEGV
      core_dumped: false
      heap_corruption: false
      crash: true
      module: opcache.so
      kernel: {"category": "kernel_segfault", "process": "php-fpm8.2", "module": "opcache.so"}
      coredump: false
      request_paths: ["/a/crash.php"]
      requests: [{"timestamp": "2026-11-26T17:01:02+00:00", "category": "upstream_reset", "method": "GET",
                  "path": "/a/crash.php", "upstream": "fastcgi://unix:/run/php/php8.2-fpm.sock:",
                  "file": "/var/log/nginx/error.log", "line_no": 1, "match": "upstream_map"}]
      file: /var/log/php8.2-fpm.log
      line_no: 1
incidents_total:
  description: Number of incidents before the cap.
  returned: always
  type: int
  sample: 1
incidents_truncated:
  description: True when only the most recent incidents are returned.
  returned: always
  type: bool
  sample: false
correlation:
  description: How 502s were tied to crashes - C(mode) is C(upstream_map), C(time_only) or C(mixed); C(note) explains.
  returned: always
  type: dict
  sample: {"mode": "time_only", "window_s": 2.0,
           "note": "no upstream -> pool mapping given: 502s were tied to crashes by time only (within 2 s)"}
  contains:
    mode:
      description: C(upstream_map), C(time_only) or C(mixed).
      returned: always
      type: str
    window_s:
      description: Seconds within which a 502 and a crash are tied.
      returned: always
      type: float
    note:
      description: Why this mode, in a sentence.
      returned: always
      type: str
unmatched:
  description: 502s tied to no crash (C(gateway_errors)) and crashes without a 502 (C(crashes)).
  returned: always
  type: dict
  sample: {"gateway_errors": 0, "crashes": 0}
top_crash_paths:
  description: Per pool, the request paths of the 502s tied to crashes, most frequent first (20 at most).
  returned: always
  type: dict
  sample: {"www": [{"path": "/a/crash.php", "count": 7}]}
crashes_per_hour:
  description: Worker crashes per hour (hour start, ISO 8601 local).
  returned: always
  type: dict
  sample: {"2026-11-26T17:00:00+00:00": 7}
first_seen:
  description: First time each category was seen in the window.
  returned: always
  type: dict
  sample: {"child_signal": "2026-11-26T17:01:02+00:00"}
last_seen:
  description: Last time each category was seen in the window.
  returned: always
  type: dict
  sample: {"child_signal": "2026-11-26T17:05:40+00:00"}
php_messages:
  description:
    - "The PHP messages nginx logged from FastCGI stderr (C(PHP message: PHP Warning:  ... in /x.php on line 9)),
      counted per severity and script. Lines whose every message is a notice (Deprecated, Notice, Warning,
      Strict Standards and their User/Core/Compile kinds) are counted in bulk and are C(fastcgi_stderr) events
      in C(counts), but are not returned as events, except the one a request logged just before a 502 of the
      same nginx connection (among the 8 lines before it). Fatal errors and any other stderr are full events."
    - C(total) messages, C(by_severity), C(top) (the 20 most frequent C(severity), C(script), C(count); C(script)
      is null when the message names none) and C(distinct) (severity, script) pairs.
  returned: always
  type: dict
  sample: {"total": 31, "by_severity": {"Warning": 30, "Fatal error": 1}, "distinct": 2,
           "top": [{"severity": "Warning", "script": "/var/www/html/cart.php", "count": 30},
                   {"severity": "Fatal error", "script": "/var/www/html/big.php", "count": 1}]}
limits:
  description: What the memory caps dropped (records kept for correlation, distinct keys).
  returned: always
  type: dict
  sample: {"records_dropped": 0, "keys_dropped": 0, "max_records": 20000, "max_keys": 1000}
events:
  description:
    - The events, when O(include_events=true) - C(file), C(line_no) (1-based physical line),
      C(source_kind), C(category), C(timestamp), C(level) and the category's fields (nginx - nginx_pid,
      connection, errno, client, server, request, method, path, uri, upstream, host; php-fpm - pool, pid,
      signal_number, signal_name, core_dumped, exit_code, uptime_s, script, request; kernel and coredump -
      process, pid, module, fault_addr, ip, error_code, uid, is_php).
    - C(time_source) says where C(timestamp) comes from - C(line) (its own stamp), C(previous_line) (an undated
      line, such as C(journalctl -o cat), C(docker logs) or a child's output, takes the stamp of the nearest dated
      line among the 8 before it in the same file), C(file_mtime) (no dated neighbour, the file's mtime) or null
      (output with no stamp at all, C(timestamp) is then null). An undated event is never left out of a window
      for lacking a stamp - with no time at all it is kept in any window.
  returned: when include_events is true
  type: list
  elements: dict
  sample:
    - {"file": "/var/log/php8.2-fpm.log", "line_no": 1, "source_kind": "php-fpm", "category": "child_signal",
       "timestamp": "2026-11-26T17:01:02+00:00", "level": "WARNING", "pool": "www", "pid": 24352,
       "signal_number": 11, "signal_name": "SIGSEGV", "core_dumped": false, "uptime_s": 301.965713,
       "time_source": "line"}
prefilter:
  description:
    - How candidate lines were found - C(mode) (the option), C(used) (C(grep) or C(python)), C(grep) (its
      path), C(version) (first line of C(grep --version)) and C(reason) (why Python was used).
  returned: always
  type: dict
  sample: {"mode": "auto", "used": "grep", "grep": "/usr/bin/grep", "version": "grep (GNU grep) 3.8",
           "reason": null}
events_total:
  description: Number of events found in the window.
  returned: always
  type: int
  sample: 3
events_truncated:
  description: True when more events were found than returned.
  returned: always
  type: bool
  sample: false
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.collect import EVIDENCE_ARGS, collect_evidence


def main():
    module = AnsibleModule(argument_spec=dict(EVIDENCE_ARGS), supports_check_mode=True)
    try:
        result = collect_evidence(module, module.params)
    except ValueError as e:
        module.fail_json(msg=str(e))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
