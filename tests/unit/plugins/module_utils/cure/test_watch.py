# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""cure/watch.py: new worker crashes of one master, and the page watch."""
import json

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.cure.watch import CrashLog, crash_source, watch_pages

OLD = "[07-Dec-2026 10:00:00] WARNING: [pool www] child 90 exited on signal 11 (SIGSEGV) after 3.1 seconds from start\n"
NEW = [
    "[07-Dec-2026 10:00:05] WARNING: [pool www] child 91 exited on signal 11 (SIGSEGV - core dumped) after 0.2 seconds from start",
    "[07-Dec-2026 10:00:05] NOTICE: [pool www] child 95 started",
    # a reload ends its workers with SIGQUIT: not a crash
    "[07-Dec-2026 10:00:06] NOTICE: [pool www] child 92 exited on signal 3 (SIGQUIT) after 9.0 seconds from start",
    "[07-Dec-2026 10:00:07] WARNING: [pool www] child 93 exited on signal 7 (SIGBUS) after 1.0 seconds from start",
]


def test_file_log_counts_only_crashes_after_the_mark(tmp_path):
    log = tmp_path / "php8.2-fpm.log"
    log.write_text(OLD)
    watch = CrashLog({"kind": "file", "path": str(log)})
    watch.mark()
    with open(str(log), "a") as f:
        f.write("\n".join(NEW) + "\n")
    crashes = watch.new_crashes()
    assert [(c["pid"], c["signal"]) for c in crashes] == [(91, "SIGSEGV"), (93, "SIGBUS")]


def test_rotated_file_is_read_from_its_start(tmp_path):
    log = tmp_path / "fpm.log"
    log.write_text(OLD * 50)
    watch = CrashLog({"kind": "file", "path": str(log)})
    watch.mark()
    log.rename(tmp_path / "fpm.log.1")
    log.write_text(NEW[0] + "\n")
    assert [c["pid"] for c in watch.new_crashes()] == [91]


def test_unreadable_log_is_unknown_not_zero(tmp_path):
    watch = CrashLog({"kind": "file", "path": str(tmp_path / "missing.log")})
    watch.mark()
    assert watch.new_crashes() is None
    assert "missing.log cannot be read" in watch.source["reason"]


MASTER = "php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)"


def journal_entry(at, message, cmdline=MASTER, uid="0"):
    return {"__REALTIME_TIMESTAMP": str(int(at * 1e6)), "MESSAGE": message, "_CMDLINE": cmdline, "_UID": uid,
            "_PID": "812", "SYSLOG_IDENTIFIER": "php-fpm", "_HOSTNAME": "web1"}


def test_journal_entries_of_the_master_after_the_mark_only():
    mark = 1796630000.5
    entries = [
        # same second as the mark, but before it
        journal_entry(mark - 0.2, "[WARNING] [pool www] child 91 exited on signal 11 (SIGSEGV) after 0.2 seconds from start"),
        journal_entry(mark + 1, "[WARNING] [pool www] child 93 exited on signal 7 (SIGBUS) after 1.0 seconds from start"),
        # a message that is not UTF-8 comes as its bytes
        journal_entry(mark + 2, list(b"[WARNING] [pool www] child 94 exited on signal 6 (SIGABRT) after 1 seconds "
                                     b"from start \xff")),
        # a local user's `logger -t php-fpm`: same identifier, not the master's process
        journal_entry(mark + 3, "[WARNING] [pool www] child 666 exited on signal 11 (SIGSEGV) after 1 seconds",
                      cmdline="logger -t php-fpm", uid="1000"),
    ]
    seen = []

    def run(argv):
        seen.append(argv)
        return 0, "\n".join(json.dumps(e) for e in entries) + "\n", ""
    source = {"kind": "journal", "journalctl": "/usr/bin/journalctl",
              "journal": {"unit": "php8.2-fpm.service", "ident": None, "transport": None, "uid": 0}}
    watch = CrashLog(source, run_command=run, clock=lambda: mark)
    watch.mark()
    assert [c["pid"] for c in watch.new_crashes()] == [93, 94]
    assert "-u" in seen[0] and "php8.2-fpm.service" in seen[0] and "@1796630000" in seen[0]


def test_crash_source_follows_discovery(tmp_path):
    proc = str(tmp_path)
    assert crash_source({"error_log_kind": "file", "error_log": "/var/log/x.log"}, "/bin/journalctl", proc)["path"] \
        == "/var/log/x.log"
    syslog = crash_source({"error_log_kind": "syslog", "syslog_ident": "fpm-b"}, "/bin/journalctl", proc)
    assert syslog["kind"] == "journal" and syslog["journal"]["ident"] == "fpm-b"
    assert crash_source({"error_log_kind": "syslog"}, None, proc)["kind"] is None
    assert "no error_log known" in crash_source({}, "/bin/journalctl", proc)["reason"]


class FakeLog(object):
    def __init__(self, crashes, source=None):
        self.crashes = crashes
        self.source = source or {"kind": "file"}

    def new_crashes(self):
        return self.crashes


def fake_probe(statuses):
    it = iter(statuses)

    def probe(req, timeout=None):
        status = next(it)
        return {"status": status if status != "reset" else None, "error": "reset" if status == "reset" else None,
                "seconds": 0.01}
    return probe


def run_watch(statuses, crashes, seconds=3):
    now = [0.0]

    def sleep(s):
        now[0] += s
    return watch_pages([{"url": "http://127.0.0.1/b/report.php"}], FakeLog(crashes), seconds, interval=1,
                       probe=fake_probe(statuses), sleep=sleep, clock=lambda: now[0])


def test_watch_passes_with_every_answer_and_no_crash():
    w = run_watch([200] * 10, [])
    assert w["passed"] and w["probes"] == 4 and w["crashes"] == 0


def test_watch_stops_at_the_first_failing_answer():
    w = run_watch([200, "reset", 200, 200], [])
    assert not w["passed"] and w["probes"] == 2 and w["failed_probe"]["outcome"] == "crash"


def test_a_crash_in_the_log_fails_the_watch_even_when_pages_answer():
    assert not run_watch([200] * 10, [{"pid": 9}])["passed"]


def test_unreadable_log_leaves_the_pages_to_decide_and_says_so():
    w = watch_pages([{"url": "u"}], FakeLog(None, {"kind": None, "reason": "no log"}), 0,
                    probe=fake_probe([200]), sleep=lambda s: None, clock=lambda: 0)
    assert w["passed"] and w["watched_by"] == "pages only" and w["crash_log"] == "no log"


def test_rotated_to_a_bigger_file_is_read_from_its_start(tmp_path):
    log = tmp_path / "fpm.log"
    log.write_text(OLD)
    watch = CrashLog({"kind": "file", "path": str(log)})
    watch.mark()
    log.rename(tmp_path / "fpm.log.1")
    log.write_text(NEW[0] + "\n" + OLD.replace("child 90", "child 96") * 3)
    assert sorted(c["pid"] for c in watch.new_crashes()) == [91, 96, 96, 96]


def test_the_first_failing_page_ends_the_watch_at_once():
    w = watch_pages([{"url": "a"}, {"url": "b"}], FakeLog([]), 10, probe=fake_probe(["reset", 200, 200]),
                    sleep=lambda s: None, clock=lambda: 0)
    assert w["probes"] == 1 and w["failed_probe"]["url"] == "a"


def test_the_log_is_read_after_the_master_had_time_to_write_the_crash():
    """php-fpm logs a child's death after nginx saw the reset (later still through a pipe):
    a log read right after the failing probe missed it on the lab's piped-stderr master."""
    events = []

    class LateLog(FakeLog):
        def new_crashes(self):
            settled = sum(e[1] for e in events[events.index("probe") + 1:] if isinstance(e, tuple)) \
                if "probe" in events else 0
            return [{"pid": 9}] if settled >= 1.0 else []

    def probe(req, timeout=None):
        events.append("probe")
        return {"status": None, "error": "reset", "seconds": 0.01}
    w = watch_pages([{"url": "u"}], LateLog([]), 10, probe=probe, sleep=lambda s: events.append(("sleep", s)),
                    clock=lambda: 0)
    assert w["crashes"] == 1
