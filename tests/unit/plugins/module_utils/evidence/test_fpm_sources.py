# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""evidence/fpm_sources.py and collect_evidence's fpm_sources: where each php-fpm master's
crash lines are (a file, the journal, a piped standard error) and what was not read
(issue 10). The /proc trees are built in a temporary directory the way Linux shows them:
fd links whose targets are ``pipe:[N]``, ``socket:[N]`` or paths, fdinfo flags in octal."""

import json
import os

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.collect import EVIDENCE_ARGS, collect_evidence
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.fpm_sources import journal_args
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.fpm_sources import journal_lines, plan_sources

pytestmark = pytest.mark.usefixtures("utc")

MASTER_CMD = "php-fpm: master process (/etc/php-fpm-alt/php-fpm.conf)"
O_RDONLY_FLAGS = "0100000"      # O_RDONLY | O_LARGEFILE, as fdinfo shows it
O_APPEND_FLAGS = "02102001"     # O_WRONLY | O_APPEND | O_CLOEXEC | O_LARGEFILE


def _proc(root, pid, ppid=1, argv=("x",), fds=None, cgroup=None):
    d = root / str(pid)
    (d / "fd").mkdir(parents=True)
    (d / "fdinfo").mkdir()
    (d / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
    (d / "stat").write_text("%d (%s) S %d 1 1 0 -1\n" % (pid, os.path.basename(argv[0])[:15], ppid))
    if cgroup:
        (d / "cgroup").write_text("0::/system.slice/%s\n" % cgroup)
    for fd, (target, flags) in (fds or {}).items():
        os.symlink(target, str(d / "fd" / str(fd)))
        (d / "fdinfo" / str(fd)).write_text("pos:\t0\nflags:\t%s\nmnt_id:\t1\n" % flags)


def _master(pid=100, kind="stderr", error_log="/proc/self/fd/2", unit="php-fpm-alt.service", **kw):
    m = {"master_pid": pid, "config": "/etc/php-fpm-alt/php-fpm.conf", "error_log": error_log,
         "error_log_kind": kind, "systemd_unit": unit, "in_container": False, "syslog_ident": "php-fpm"}
    m.update(kw)
    return m


def test_file_and_syslog_masters(tmp_path):
    plans = plan_sources([_master(kind="file", error_log="/var/log/php-fpm.log"),
                          _master(pid=200, kind="syslog", error_log="syslog"),
                          _master(pid=300, kind="syslog", error_log="syslog", unit=None, syslog_ident="www-fpm")],
                         proc_root=str(tmp_path))
    assert [(p["read"], p["source"], p["status"]) for p in plans] == [
        ("file", "/var/log/php-fpm.log", "not_read"),        # not read yet: collect_evidence says
        ("journal", "journalctl -u php-fpm-alt.service", "not_read"),
        ("journal", "journalctl -t www-fpm", "not_read")]
    assert plans[1]["journal"]["unit"] == "php-fpm-alt.service"
    assert plans[2]["journal"] == {"unit": None, "ident": "www-fpm", "transport": None, "uid": None}


def test_the_journal_plan_knows_the_masters_uid(tmp_path):
    _proc(tmp_path, 200, argv=(MASTER_CMD,))
    (tmp_path / "200" / "status").write_text("Name:\tphp-fpm8.2\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n")
    plan = plan_sources([_master(pid=200, kind="syslog", error_log="syslog")], proc_root=str(tmp_path))[0]
    assert plan["journal"]["uid"] == 0


def test_stderr_into_a_regular_file(tmp_path):
    log = tmp_path / "fpm.log"
    log.write_text("")
    _proc(tmp_path, 100, argv=(MASTER_CMD,), fds={2: (str(log), O_APPEND_FLAGS)})
    plan = plan_sources([_master()], proc_root=str(tmp_path))[0]
    assert (plan["read"], plan["path"]) == ("file", str(log))


def test_stderr_pipe_followed_to_the_readers_file(tmp_path):
    log = tmp_path / "php-fpm-stderr.log"
    log.write_text("")
    _proc(tmp_path, 100, ppid=90, argv=(MASTER_CMD,), fds={1: ("pipe:[777]", "01"), 2: ("pipe:[777]", "01")})
    # a worker of the master (a lower pid: pids wrap) holds the pipe too, and a file: it is not the reader
    other = tmp_path / "worker.out"
    other.write_text("")
    _proc(tmp_path, 96, ppid=100, argv=("php-fpm: pool alt",), fds={0: ("pipe:[777]", O_RDONLY_FLAGS),
                                                                    1: (str(other), O_APPEND_FLAGS)})
    # another writer into the same pipe (a sibling the supervisor started), with its own file: not the reader
    writer_fds = {2: ("pipe:[777]", "0100001"), 1: (str(other), O_APPEND_FLAGS)}
    _proc(tmp_path, 120, ppid=90, argv=("php-fpm-helper",), fds=writer_fds)
    _proc(tmp_path, 150, ppid=90, argv=("cat",), fds={0: ("pipe:[777]", O_RDONLY_FLAGS), 1: (str(log), O_APPEND_FLAGS)})
    plan = plan_sources([_master()], proc_root=str(tmp_path))[0]
    assert (plan["read"], plan["path"]) == ("file", str(log))
    assert plan["source"] == "%s (standard error, through cat[150])" % log


def test_stderr_pipe_into_the_journal_of_the_readers_unit(tmp_path):
    _proc(tmp_path, 100, argv=(MASTER_CMD,), fds={2: ("pipe:[9]", "01")})
    _proc(tmp_path, 50, argv=("/usr/bin/supervisord",), cgroup="supervisor.service",
          fds={7: ("pipe:[9]", O_RDONLY_FLAGS), 1: ("socket:[4242]", "02")})
    plan = plan_sources([_master()], proc_root=str(tmp_path))[0]
    assert plan["read"] == "journal"
    assert plan["journal"] == {"unit": "supervisor.service", "ident": None, "transport": "stdout", "uid": None}
    assert "-u" in journal_args("/bin/journalctl", plan["journal"], None, None)
    assert "_TRANSPORT=stdout" in journal_args("/bin/journalctl", plan["journal"], None, None)


@pytest.mark.parametrize("fds,others,why", [
    ({2: ("pipe:[9]", "01")}, [], "no process reading it"),
    ({2: ("pipe:[9]", "01")}, [(60, {0: ("pipe:[9]", O_RDONLY_FLAGS), 1: ("/dev/null", "01")})], "writes it to no file"),
    ({2: ("/dev/null", "01")}, [], "/dev/null, which keeps nothing"),
    ({}, [], "cannot be read"),
])
def test_stderr_nowhere_readable_is_named(tmp_path, fds, others, why):
    _proc(tmp_path, 100, argv=(MASTER_CMD,), fds=fds)
    for pid, ofds in others:
        _proc(tmp_path, pid, argv=("logger",), fds=ofds)
    plan = plan_sources([_master()], proc_root=str(tmp_path))[0]
    assert plan["read"] is None and plan["status"] == "not_read"
    assert why in plan["reason"]


def test_masters_without_a_readable_log_are_named(tmp_path):
    plans = plan_sources([_master(in_container=True, kind="file", error_log="/var/log/x.log"),
                          _master(pid=5, kind=None, error_log=None)], proc_root=str(tmp_path))
    assert [p["status"] for p in plans] == ["not_read", "not_read"]
    assert "container" in plans[0]["reason"] and "no php-fpm config" in plans[1]["reason"]
    assert plan_sources([_master(kind="file", error_log="/x")], overridden=True) == []


def _entry(msg, cmdline=MASTER_CMD, pid="100", transport="syslog", ts="1765044000123456", uid="0"):
    return {"__REALTIME_TIMESTAMP": ts, "MESSAGE": msg, "_CMDLINE": cmdline, "_PID": pid, "_UID": uid,
            "SYSLOG_IDENTIFIER": "php-fpm", "_HOSTNAME": "web3", "_TRANSPORT": transport}


CRASH = "[WARNING] [pool alt] child %d exited on signal 11 (SIGSEGV) after 1.5 seconds from start"


def test_journal_keeps_only_what_a_master_wrote():
    out = "\n".join(json.dumps(e) for e in [
        _entry(CRASH % 1),
        _entry(CRASH % 2, cmdline="php-fpm: pool alt", pid="4244"),      # a PHP script's syslog()
        _entry(CRASH % 3, cmdline="logger -t php-fpm", pid="999"),        # any local user
        _entry(CRASH % 4, cmdline=None),
        _entry([ord(c) for c in CRASH % 5]),                              # MESSAGE as bytes
        _entry(CRASH % 6, cmdline='"%s"' % MASTER_CMD),                   # systemd 247+ quotes it
        _entry(CRASH % 7, uid="33"),          # a child a PHP script started under a master's title
    ]) + "\nnot json\n{broken\n"
    data, kept, refused = journal_lines(out, {"unit": "php-fpm-alt.service", "transport": None, "uid": 0})
    text = data.decode()
    assert "child 1 exited" in text and "child 5 exited" in text and "child 6 exited" in text
    for n in (2, 3, 4, 7):
        assert "child %d " % n not in text
    assert (kept, refused) == (3, 5)
    # without the master's uid (not readable), the title alone decides
    assert b"child 7 exited" in journal_lines(out, {"unit": "x", "transport": None, "uid": None})[0]
    assert text.splitlines()[0].startswith("2025-12-06T18:00:00.123456+00:00 web3 php-fpm[100]: [WARNING]")


def test_journal_stdout_transport_keeps_the_lines_as_written():
    line = "[06-Dec-2025 18:00:00] WARNING: [pool alt] child 7 exited on signal 11 (SIGSEGV) after 2 seconds from start"
    out = "\n".join(json.dumps(e) for e in [_entry(line, cmdline="cat", transport="stdout"),
                                            _entry("junk", transport="syslog")])
    data, kept, refused = journal_lines(out, {"unit": "supervisor.service", "transport": "stdout"})
    assert data.decode() == line + "\n" and (kept, refused) == (1, 1)


class _Module(object):
    def __init__(self, journal=None, rc=0, err=b"", jctl="/usr/bin/journalctl", old_systemd=False):
        self.journal, self.rc, self.err, self.jctl, self.old = journal, rc, err, jctl, old_systemd
        self.calls = []

    def get_bin_path(self, name):
        return self.jctl if name == "journalctl" else None

    def run_command(self, args, **kw):
        self.calls.append(args)
        if self.old and "--output-fields" in args:
            return 1, b"", b"journalctl: unrecognized option '--output-fields'\n"
        return self.rc, (self.journal or "").encode(), self.err


def _params(**kw):
    p = dict((k, v.get("default")) for k, v in EVIDENCE_ARGS.items())
    p.update(kernel=False, since="all", workers=1, prefilter="python", include_events=True)
    p.update(kw)
    return p


def test_collect_reads_the_journal_and_names_what_it_could_not_read(tmp_path):
    log = tmp_path / "php-fpm.log"
    log.write_text("[06-Dec-2025 18:00:01] WARNING: [pool www] child 9 exited on signal 11 (SIGSEGV) after 1 seconds "
                   "from start\n")
    journal = "\n".join(json.dumps(e) for e in [_entry(CRASH % 4242), _entry(CRASH % 4243, cmdline="php-fpm: pool alt")])
    plans = plan_sources([_master(kind="file", error_log=str(log)), _master(pid=200, kind="syslog", error_log="syslog"),
                          _master(pid=300, kind="file", error_log=str(tmp_path / "gone.log"))], proc_root=str(tmp_path))
    res = collect_evidence(_Module(journal), _params(fpm_logs=[str(log)]), fpm_plans=plans)
    src = res["fpm_sources"]
    assert [(s["master_pid"], s["status"], s["events"]) for s in src] == [(100, "scanned", 1), (200, "scanned", 1),
                                                                          (300, "not_read", 0)]
    assert src[1]["refused"] == 1 and "gone.log: missing" in src[2]["reason"]
    assert not any(k in s for s in src for k in ("read", "path", "journal"))
    crashes = [e for e in res["events"] if e["category"] == "child_signal"]
    assert sorted((e["pool"], e["pid"]) for e in crashes) == [("alt", 4242), ("www", 9)]


@pytest.mark.parametrize("module,why", [
    (_Module(jctl=None), "journalctl is not on this host"),
    (_Module(rc=1, err=b"Failed to add match 'x': Invalid argument\n"), "failed: Failed to add match"),
])
def test_collect_journal_not_read(tmp_path, module, why):
    nginx = tmp_path / "error.log"
    nginx.write_text("")
    plans = plan_sources([_master(kind="syslog", error_log="syslog")])
    res = collect_evidence(module, _params(nginx_error_logs=[str(nginx)]), fpm_plans=plans)
    assert res["fpm_sources"][0]["status"] == "not_read" and why in res["fpm_sources"][0]["reason"]


def test_a_file_last_written_before_the_window_counts_as_read(tmp_path):
    log = tmp_path / "old.log"
    log.write_text("[01-Jan-2020 00:00:00] NOTICE: ready to handle connections\n")
    os.utime(str(log), (1577836800, 1577836800))
    plans = plan_sources([_master(kind="file", error_log=str(log))])
    res = collect_evidence(_Module(), _params(fpm_logs=[str(log)], since="1h"), fpm_plans=plans)
    assert res["fpm_sources"][0]["status"] == "scanned"


def test_fpm_evidence_without_plans_has_no_fpm_sources(tmp_path):
    log = tmp_path / "x.log"
    log.write_text("")
    assert "fpm_sources" not in collect_evidence(_Module(), _params(fpm_logs=[str(log)]))


def test_journal_on_systemd_before_236_and_a_capped_window(tmp_path, monkeypatch):
    from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence import collect
    monkeypatch.setattr(collect, "JOURNAL_MAX_ENTRIES", 2)
    nginx = tmp_path / "error.log"
    nginx.write_text("")
    journal = "\n".join(json.dumps(_entry(CRASH % n)) for n in (1, 2)) + "\n"
    module = _Module(journal, old_systemd=True)
    plans = plan_sources([_master(kind="syslog", error_log="syslog")])
    src = collect_evidence(module, _params(nginx_error_logs=[str(nginx)]), fpm_plans=plans)["fpm_sources"][0]
    assert [("--output-fields" in a) for a in module.calls] == [True, False]      # retried without it
    assert src["status"] == "scanned" and src["events"] == 2
    assert src["truncated"] == "only the most recent 2 journal entries of the window were read"
    assert "-n" in module.calls[0]


def test_each_crash_carries_the_master_whose_log_it_came_from(tmp_path):
    """Two masters both with [www] (issue 10 point 5): one logs to a file, one to the journal."""
    log, shared = tmp_path / "php8.2-fpm.log", tmp_path / "shared.log"
    log.write_text("[06-Dec-2025 18:00:01] WARNING: [pool www] child 9 exited on signal 11 (SIGSEGV) after 1 seconds "
                   "from start\n")
    shared.write_text("[06-Dec-2025 18:00:02] WARNING: [pool www] child 10 exited on signal 11 (SIGSEGV) after 1 "
                      "seconds from start\n")
    journal = json.dumps(_entry((CRASH % 4242).replace("pool alt", "pool www")))
    plans = plan_sources([_master(kind="file", error_log=str(log), config="/etc/php/8.2/fpm/php-fpm.conf"),
                          _master(pid=200, kind="syslog", error_log="syslog")], proc_root=str(tmp_path))
    two = [(str(shared), "/etc/a.conf"), (str(shared), "/etc/b.conf")]       # a log two masters write
    res = collect_evidence(_Module(journal), _params(fpm_logs=[str(log), str(shared)]), fpm_plans=plans,
                           source_masters=two)
    crashes = dict((e["pid"], e.get("master")) for e in res["events"] if e["category"] == "child_signal")
    assert crashes == {9: "/etc/php/8.2/fpm/php-fpm.conf", 4242: "/etc/php-fpm-alt/php-fpm.conf", 10: None}
    assert dict((i["pid"], i["master"]) for i in res["incidents"]) == crashes
