# SPDX-License-Identifier: GPL-3.0-or-later
"""bundle/coredumps.py: what systemd-coredump holds of PHP, and why not when it holds nothing.

The JSON is the shape ``coredumpctl --json=short list`` prints (systemd 246+: time, pid, uid,
gid, sig, corefile, exe, size)."""
import json

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.bundle import coredumps as cd

LISTED = [
    {"time": 1796630000000000, "pid": 2418, "uid": 33, "gid": 33, "sig": 11, "corefile": "present",
     "exe": "/usr/sbin/php-fpm8.2", "size": 5242880},
    {"time": 1796630001000000, "pid": 99, "uid": 0, "gid": 0, "sig": 6, "corefile": "present",
     "exe": "/usr/sbin/mysqld", "size": 1},
    {"time": 1796630002000000, "pid": 2469, "uid": 33, "gid": 33, "sig": 11, "corefile": "missing",
     "exe": "/usr/sbin/php-fpm8.2", "size": None},
]


class Host(object):
    def __init__(self, tools, listed=None, list_rc=0, list_err=""):
        self.tools, self.listed, self.list_rc, self.list_err, self.calls = tools, listed, list_rc, list_err, []

    def which(self, name):
        return "/usr/bin/" + name if name in self.tools else None

    def run(self, argv):
        self.calls.append(argv)
        if argv[:3] == ["coredumpctl", "--json=short", "--no-pager"]:
            return self.list_rc, json.dumps(self.listed) if self.listed is not None else "", self.list_err
        if argv[:2] == ["coredumpctl", "info"]:
            return 0, "PID: %s\nSignal: 11 (SEGV)\nStack trace of thread 2418:\n#0 0x0000 zend_execute" % argv[-1], ""
        return 0, "#0  zend_execute_ex ()\n", ""


def test_only_php_cores_described_newest_kept():
    host = Host({"coredumpctl"}, LISTED)
    found = cd.list_cores(host.run, host.which, max_cores=5)
    assert [e["pid"] for e in found["entries"]] == [2418, 2469]
    assert set(found["info"]) == {"2418", "2469"} and "Stack trace" in found["info"]["2418"]
    assert [e["pid"] for e in cd.list_cores(host.run, host.which, max_cores=1)["entries"]] == [2469]


def test_no_coredumpctl_no_cores_and_errors_say_why():
    host = Host(set())
    assert "not installed" in cd.list_cores(host.run, host.which)["why"] and host.calls == []
    empty = Host({"coredumpctl"}, None, list_rc=1, list_err="No coredumps found.")
    assert cd.list_cores(empty.run, empty.which)["why"] == "systemd-coredump holds no core dump"
    broken = Host({"coredumpctl"}, None, list_rc=1, list_err="Failed to acquire bus")
    assert "rc 1: Failed to acquire bus" in cd.list_cores(broken.run, broken.which)["error"]


def test_gdb_runs_only_on_present_cores_through_coredumpctl_debug():
    host = Host({"coredumpctl", "gdb", "timeout"}, LISTED)
    cores = cd.list_cores(host.run, host.which)
    traces = cd.backtraces(host.run, host.which, cores, gdbinit="/usr/src/php/.gdbinit")
    assert list(traces["traces"]) == ["2418"] and traces["zbacktrace"] is True and "why" not in traces
    argv = host.calls[-1]
    assert argv[:3] == ["timeout", "60", "coredumpctl"] and "debug" in argv and argv[-1] == "2418"
    assert "--debugger-arguments=-batch -ex bt -ex 'source /usr/src/php/.gdbinit' -ex zbacktrace" in argv
    plain = cd.backtraces(host.run, host.which, cores, gdbinit=None)
    assert plain["zbacktrace"] is False and "php-src's .gdbinit" in plain["why"]


def test_no_gdb_or_no_core_says_why():
    assert "gdb is not installed" in cd.backtraces(None, Host(set()).which, {"entries": LISTED})["why"]
    host = Host({"gdb"})
    out = cd.backtraces(host.run, host.which, {"entries": [], "why": "systemd-coredump holds no core dump"})
    assert "no PHP core file is present" in out["why"] and host.calls == []
    assert cd.find_gdbinit(exists=lambda p: p == "/usr/src/php/.gdbinit") == "/usr/src/php/.gdbinit"
