# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""A php-fpm log that explains a 502 storm: the master's failed reload and the undated
records pasted around it are found by a real scan, not only by the per-line signature
tests (the scanner reads only lines holding one of signature_table.SCAN_LITERALS)."""

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.correlate import Correlator
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.parse import parse_record
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.scan import scan
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.sinks import CompositeSink, EventCollector

pytestmark = pytest.mark.usefixtures("utc")

# hestiacp/hestiacp #751 (a reload that could not bind) and cachethq/cachet #4123 (records
# of the same stderr without stamps)
FAILED_RELOAD = [
    '[27-Mar-2020 04:15:26] NOTICE: Reloading in progress ...',
    '[27-Mar-2020 04:15:26] NOTICE: using inherited socket fd=7, "/run/php/php7.4-fpm.sock"',
    "[27-Mar-2020 04:15:26] ERROR: unable to bind listening socket for address '127.0.0.1:9000': "
    "Address already in use (98)",
    '[27-Mar-2020 04:15:26] ERROR: FPM initialization failed',
    "WARNING: [pool www] child 97, script '/var/www/html/public/index.php' (request: \"GET /index.php\") "
    "execution timed out (144.301366 sec), terminating",
    'WARNING: [pool www] child 97 exited on signal 15 (SIGTERM) after 270.204353 seconds from start',
]


def test_a_failed_reload_is_found_by_the_scan(tmp_path):
    path = tmp_path / "php7.4-fpm.log"
    path.write_bytes(("\n".join(FAILED_RELOAD) + "\n").encode("utf-8"))
    sink, reports = scan([(str(path), None)], lambda: CompositeSink(Correlator(), EventCollector(max_events=100)))
    got = [(e["line_no"], e["category"], e.get("lifecycle_event")) for e in sink.sinks[1].events]
    assert got == [(1, "lifecycle", "reload"), (2, "lifecycle", "start"), (3, "lifecycle", "listen_failed"),
                   (4, "lifecycle", "init_failed"), (5, "exec_timeout", None), (6, "child_signal", None)]
    bind = sink.sinks[1].events[2]
    assert (bind["listen"], bind["reason"], bind["errno"]) == ("127.0.0.1:9000", "Address already in use", 98)


@pytest.mark.parametrize("line", [
    # dotnet/corefx #2736 (/var/log/apport.log): apport names itself after the level word
    "ERROR: apport (pid 10630) Thu Jul 23 08:05:28 2015: called for pid 10624, signal 6, core limit 0",
    "ERROR: apport (pid 10630) Thu Jul 23 08:05:28 2015: executable does not belong to a package, ignoring",
])
def test_another_programs_level_word_is_no_php_fpm_record(line):
    assert parse_record(line).kind == "other"


@pytest.mark.parametrize("line, level", [
    ("WARNING: [pool www] child 5012 exited on signal 6 (SIGABRT) after 1.100957 seconds from start", "WARNING"),
    ("ERROR: pid 9550, fpm_pctl_exec(), line 102: failed to reload: execvp() failed: Argument list too long (7)",
     "ERROR"),
    ("[ERROR] unable to bind listening socket for address '/run/php/php7.0-fpm.sock': No such file or directory (2)",
     "ERROR"),
    ("`NOTICE: [pool www] child 123 started`", "NOTICE"),
])
def test_undated_php_fpm_records(line, level):
    rec = parse_record(line)
    assert (rec.kind, rec.level, rec.ts) == ("php-fpm", level, None)
    assert not rec.message.startswith(("pid ", "fpm_", "`")) and not rec.message.endswith("`")
