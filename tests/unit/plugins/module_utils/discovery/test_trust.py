# SPDX-License-Identifier: GPL-3.0-or-later
"""discovery/trust: a process that only looks like a php-fpm or nginx master is neither
run nor read (issue 11, finding 1)."""
import json
import os

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.masters import discover
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.fpm_config import HostFS, load_fpm_config
from fake_runner import FakeRunner
from fake_proc import NOBODY, FakeStat, add_process, write_status

FPM_TITLE = "php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)"
SECRET = "root:$y$j9T$SECRET-HASH:19700:0:99999:7:::"


def host(tmp_path):
    """A host tree: root/ with a packaged php-fpm config and /etc/shadow, proc/ with PID 1."""
    root = tmp_path / "root"
    (root / "etc" / "php" / "8.2" / "fpm").mkdir(parents=True)
    (root / "etc" / "php" / "8.2" / "fpm" / "php-fpm.conf").write_text(
        "[global]\nerror_log = /var/log/php8.2-fpm.log\nemergency_restart_threshold = 5\n"
        "[www]\nlisten = /run/php/php8.2-fpm.sock\n")
    (root / "etc" / "shadow").write_text(SECRET + "\n")
    (root / "tmp" / "evil").mkdir(parents=True)
    (root / "tmp" / "evil" / "php-fpm.conf").write_text(
        "include = /etc/shadow\n[global]\nerror_log = /etc/passwd\n"
        "[www]\nlisten = /run/evil.sock\nchroot = /\nslowlog = /etc/cron.d/evil\n")
    proc = tmp_path / "proc"
    proc.mkdir()
    add_process(proc, 1, ["/sbin/init"], ppid=0, exe="/usr/lib/systemd/systemd")
    return root, proc


def run(proc, root, stat=None, overrides=None):
    runner = FakeRunner("none")
    kwargs = {} if stat is None else {"stat": stat}
    result = discover(runner, proc_root=str(proc), fs_root=str(root),
                      overrides={"nginx": False} if overrides is None else overrides, **kwargs)
    return result, runner


def test_nobody_fake_master_is_neither_run_nor_read(tmp_path):
    """The attack of the issue: `exec -a "php-fpm: master process (...)" ./own-binary`
    as nobody, with its own PHP_INI_SCAN_DIR/PHPRC and a config including /etc/shadow."""
    root, proc = host(tmp_path)
    binary = tmp_path / "home" / "own-binary"
    binary.parent.mkdir()
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    add_process(proc, 4000, ["sh"], ppid=1, uid=NOBODY, exe="/bin/sh")
    add_process(proc, 4242, ["php-fpm: master process (/tmp/evil/php-fpm.conf)"], ppid=4000,
                uid=NOBODY, exe=str(binary),
                environ={"PHP_INI_SCAN_DIR": "/tmp/evil/conf.d", "PHPRC": "/tmp/evil"})
    add_process(proc, 4243, ["nginx: master process %s -c /tmp/evil/nginx.conf" % binary],
                ppid=4000, uid=NOBODY, exe=str(binary))
    result, runner = run(proc, root, overrides={})
    assert runner.calls == []  # neither its binary nor anything with its environment
    assert result["masters"] == []
    assert result["fpm_error_logs"] == []
    assert result["nginx"]["running"] is False and result["nginx"]["master_pid"] is None
    assert "SECRET-HASH" not in json.dumps(result)
    assert "/tmp/evil" not in json.dumps(result["masters"])
    text = "\n".join(result["warnings"])
    assert ("pid 4242 looks like a php-fpm master (uid %d, exe %s) but is not trusted: "
            "owned by uid %d, not root; it was neither run nor read" % (NOBODY, binary, NOBODY)) in text
    assert ("pid 4243 looks like an nginx master (uid %d, exe %s) but is not trusted"
            % (NOBODY, binary)) in text


def fpm_master(proc, pid=500, ppid=1, uid=0, exe="/usr/sbin/php-fpm8.2", environ=None):
    return add_process(proc, pid, [FPM_TITLE], ppid=ppid, uid=uid, exe=exe, environ=environ,
                       cgroup="0::/system.slice/php8.2-fpm.service\n")


def test_root_master_of_the_package_is_run_with_its_environment(tmp_path):
    root, proc = host(tmp_path)
    fpm_master(proc, environ={"PHP_INI_SCAN_DIR": "/etc/php/8.2/fpm/conf.d"})
    stat = FakeStat()
    result, runner = run(proc, root, stat=stat)
    (master,) = result["masters"]
    assert (master["master_pid"], master["binary"]) == (500, "/usr/sbin/php-fpm8.2")
    assert master["pools"][0]["listen"] == "/run/php/php8.2-fpm.sock"
    ran = [c for c in runner.calls if c[0][0] == "/usr/sbin/php-fpm8.2"]
    assert ran == [(["/usr/sbin/php-fpm8.2", "-v"], {"PHP_INI_SCAN_DIR": "/etc/php/8.2/fpm/conf.d"}),
                   (["/usr/sbin/php-fpm8.2", "-i"], {"PHP_INI_SCAN_DIR": "/etc/php/8.2/fpm/conf.d"})]
    # the running binary, the file and every directory up to / were looked at
    assert {"/usr/sbin/php-fpm8.2", "/usr/sbin", "/usr", "/"} <= set(stat.calls)
    assert os.path.join(str(proc), "500", "exe") in stat.calls
    assert not [w for w in result["warnings"] if "not trusted" in w]


@pytest.mark.parametrize("exe, entries, reason", [
    ("/usr/sbin/php-fpm8.2", {"/usr/sbin/php-fpm8.2": (NOBODY, 0, 0o100755)},
     "/usr/sbin/php-fpm8.2 is owned by uid 65534, not root"),
    ("/usr/sbin/php-fpm8.2", {"/usr/sbin/php-fpm8.2": (0, 50, 0o100775)},
     "/usr/sbin/php-fpm8.2 is writable by group or others (mode 0775)"),
    ("/usr/sbin/php-fpm8.2", {"/usr/sbin/php-fpm8.2": (0, 0, 0o100757)},
     "/usr/sbin/php-fpm8.2 is writable by group or others (mode 0757)"),
    ("/tmp/php-fpm", {"/tmp": (0, 0, 0o41777)},
     "directory /tmp is writable by others (mode 1777)"),
    ("/usr/local/sbin/php-fpm", {"/usr/local/sbin": (0, 50, 0o42775)},
     "directory /usr/local/sbin is writable by group 50 (mode 2775)"),
    ("/home/nobody/bin/php-fpm", {"/home/nobody": (NOBODY, NOBODY, 0o40755)},
     "directory /home/nobody is owned by uid 65534, not root"),
    ("/usr/sbin/php-fpm8.2", {"/usr/sbin/php-fpm8.2": (0, 0, 0o40755)},
     "/usr/sbin/php-fpm8.2 is not a regular file"),
    ("/usr/sbin/php-fpm8.2 (deleted)", {"/usr/sbin/php-fpm8.2": (1000, 1000, 0o100755)},
     "binary /usr/sbin/php-fpm8.2 was deleted and the file now at its path is not root's: "
     "/usr/sbin/php-fpm8.2 is owned by uid 1000, not root"),
    ("/memfd:x (deleted)", {"/memfd:x": None},
     "binary /memfd:x was deleted and its path holds no file now: cannot stat /memfd:x"),
])
def test_master_with_a_binary_root_does_not_own_is_not_run(tmp_path, exe, entries, reason):
    root, proc = host(tmp_path)
    fpm_master(proc, exe=exe, environ={"PHPRC": "/tmp/evil"})
    result, runner = run(proc, root, stat=FakeStat(entries))
    assert result["masters"] == []
    assert runner.calls == []
    warning = [w for w in result["warnings"] if w.startswith("pid 500 ")]
    assert warning == ["pid 500 looks like a php-fpm master (uid 0, exe %s) but is not trusted: %s; "
                       "it was neither run nor read" % (exe.replace(" (deleted)", ""), reason)]


def test_running_binary_must_be_root_s_even_when_the_path_is(tmp_path):
    root, proc = host(tmp_path)
    fpm_master(proc)
    # the inode the process runs (stat of /proc/PID/exe) is not the file now at the path
    stat = FakeStat({os.path.join(str(proc), "500", "exe"): (NOBODY, 0, 0o100755)})
    result, runner = run(proc, root, stat=stat)
    assert result["masters"] == [] and runner.calls == []
    assert any("the running binary (/proc/500/exe) is owned by uid 65534, not root" in w
               for w in result["warnings"])


@pytest.mark.parametrize("setup, reason", [
    ("parent_nobody", "its parent pid 4000 is owned by uid 65534, not root"),
    ("setuid", "owned by uid 65534, not root"),
    ("euid_only", "uids (real, effective, saved, fs) are 0, 65534, 0, 0, not all root"),
    ("no_status", "cannot read /proc/500/status"),
    ("no_exe", "its binary is unknown (/proc/500/exe unreadable)"),
    ("parent_gone", "its parent pid 4000 is gone or unreadable"),
])
def test_owner_and_parent_are_checked(tmp_path, setup, reason):
    root, proc = host(tmp_path)
    if setup in ("parent_nobody", "parent_gone"):
        d = fpm_master(proc, ppid=4000)
        if setup == "parent_nobody":
            add_process(proc, 4000, ["sh"], ppid=1, uid=NOBODY, exe="/bin/sh")
    elif setup == "no_exe":
        d = fpm_master(proc, exe=None)
    else:
        d = fpm_master(proc)
    if setup == "setuid":  # a set-uid root program started by nobody
        with open(os.path.join(d, "status"), "w") as handle:
            handle.write("Name:\tx\nUid:\t%d\t0\t0\t0\n" % NOBODY)
    if setup == "euid_only":
        with open(os.path.join(d, "status"), "w") as handle:
            handle.write("Name:\tx\nUid:\t0\t%d\t0\t0\n" % NOBODY)
    if setup == "no_status":
        os.remove(os.path.join(d, "status"))
    result, runner = run(proc, root, stat=FakeStat())
    assert result["masters"] == [] and runner.calls == []
    assert [w for w in result["warnings"] if w.startswith("pid 500 ")][0].endswith(
        "but is not trusted: %s; it was neither run nor read" % reason)


def test_master_started_by_a_root_supervisor_is_trusted(tmp_path):
    root, proc = host(tmp_path)
    add_process(proc, 300, ["/usr/bin/python3", "/usr/bin/supervisord"], ppid=1, exe="/usr/bin/python3.11")
    fpm_master(proc, ppid=300)
    result, runner = run(proc, root, stat=FakeStat())
    assert [m["master_pid"] for m in result["masters"]] == [500]


def test_master_as_pid_1_of_a_container_is_trusted(tmp_path):
    """php-fpm as the container's PID 1 (discovery run inside it): its parent is 0."""
    root, proc = host(tmp_path)
    os.rename(str(proc / "1"), str(proc / "2"))
    fpm_master(proc, pid=1, ppid=0)
    result, runner = run(proc, root, stat=FakeStat())
    assert [m["master_pid"] for m in result["masters"]] == [1]


def test_deleted_package_binary_is_trusted_but_not_run(tmp_path):
    """A package upgrade replaced /usr/sbin/php-fpm8.2 under a running master: the new file
    at that path is root's, so the master is read (config, pools) but nothing is run."""
    root, proc = host(tmp_path)
    fpm_master(proc, exe="/usr/sbin/php-fpm8.2 (deleted)")
    result, runner = run(proc, root, stat=FakeStat())
    (master,) = result["masters"]
    assert master["binary_deleted"] is True
    assert not [c for c in runner.calls if c[0][0] == "/usr/sbin/php-fpm8.2"]
    assert master["pools"][0]["listen"] == "/run/php/php8.2-fpm.sock"


def test_inventory_pid_of_an_untrusted_process_is_dropped(tmp_path):
    root, proc = host(tmp_path)
    add_process(proc, 4242, [FPM_TITLE], ppid=1, uid=NOBODY, exe="/usr/sbin/php-fpm8.2",
                environ={"PHP_INI_SCAN_DIR": "/tmp/evil/conf.d", "PHPRC": "/tmp/evil"})
    overrides = {"nginx": False, "masters": [
        {"config": "/etc/php/8.2/fpm/php-fpm.conf", "pid": 4242},
        {"config": "/etc/php/8.2/fpm/php-fpm.conf"}]}  # no pid: not adopted from 4242
    result, runner = run(proc, root, stat=FakeStat(), overrides=overrides)
    first, second = result["masters"]
    assert first["master_pid"] is None and second["master_pid"] is None
    assert first["environment"] == {} and second["environment"] == {}
    assert first["binary"] is None  # /proc/4242/exe was not taken
    assert runner.calls == []
    assert "masters: pid 4242 is not a running php-fpm master" in result["warnings"]
    assert any(w.startswith("pid 4242 looks like a php-fpm master (uid 65534") for w in result["warnings"])


def test_a_fake_nginx_master_beside_the_real_one_is_named(tmp_path):
    """The real nginx master comes first in /proc: the fake one after it is still vetted and
    named, not silently passed over (found on the lab: Molecule diagnose, hostile.yml)."""
    root, proc = host(tmp_path)
    add_process(proc, 600, ["nginx: master process /usr/sbin/nginx -g daemon on; master_process on;"],
                ppid=1, exe="/usr/sbin/nginx")
    add_process(proc, 700, ["nginx: master process /tmp/x/nginx -c /tmp/x/nginx.conf"],
                ppid=1, uid=NOBODY, exe="/tmp/x/nginx")
    result, runner = run(proc, root, stat=FakeStat(), overrides={})
    assert result["nginx"]["master_pid"] == 600
    assert not [c for c in runner.calls if "/tmp/x" in " ".join(c[0])]
    assert any(w.startswith("pid 700 looks like an nginx master (uid 65534, exe /tmp/x/nginx)")
               for w in result["warnings"])


def test_nginx_master_of_nobody_is_not_run_but_the_package_binary_is(tmp_path):
    root, proc = host(tmp_path)
    (root / "usr" / "sbin").mkdir(parents=True)
    (root / "usr" / "sbin" / "nginx").write_text("")
    add_process(proc, 700, ["nginx: master process /tmp/x/nginx -c /tmp/x/nginx.conf -p /tmp/x"],
                ppid=1, uid=NOBODY, exe="/tmp/x/nginx")
    result, runner = run(proc, root, stat=FakeStat(), overrides={})
    assert result["nginx"]["running"] is False
    assert [c[0] for c in runner.calls] == [["/usr/sbin/nginx", "-V"], ["/usr/sbin/nginx", "-T"]]
    assert any(w.startswith("pid 700 looks like an nginx master (uid 65534, exe /tmp/x/nginx)")
               for w in result["warnings"])


def test_installed_nginx_outside_root_s_directories_is_not_run(tmp_path):
    root, proc = host(tmp_path)
    (root / "usr" / "local" / "sbin").mkdir(parents=True)
    (root / "usr" / "local" / "sbin" / "nginx").write_text("")
    stat = FakeStat({"/usr/local/sbin": (1000, 1000, 0o40755)})
    result, runner = run(proc, root, stat=stat, overrides={})
    assert runner.calls == [] and result["nginx"]["present"] is False
    assert ("nginx: /usr/local/sbin/nginx is not run: directory /usr/local/sbin is owned by "
            "uid 1000, not root") in result["warnings"]


def test_config_errors_name_path_and_line_never_content(tmp_path):
    """A config including a file that is not php-fpm syntax (/etc/shadow) must not copy
    its lines into the module's errors."""
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "shadow").write_text(SECRET + "\nuser=x\n[pool\n")
    (tmp_path / "etc" / "php-fpm.conf").write_text("include = /etc/shadow\n[www]\nlisten = 9000\n")
    cfg = load_fpm_config("/etc/php-fpm.conf", fs=HostFS(str(tmp_path)))
    assert "SECRET" not in json.dumps(cfg["errors"])
    assert "/etc/shadow:1: cannot parse line (neither a [section] nor a name = value entry)" in cfg["errors"]
    assert "/etc/shadow:3: cannot parse line (neither a [section] nor a name = value entry)" in cfg["errors"]


def test_status_without_uid_line_is_untrusted(tmp_path):
    root, proc = host(tmp_path)
    d = fpm_master(proc)
    write_status(d, 0)
    with open(os.path.join(d, "status"), "w") as handle:
        handle.write("Name:\tphp-fpm8.2\n")
    result, runner = run(proc, root, stat=FakeStat())
    assert result["masters"] == [] and runner.calls == []
    assert any("cannot read /proc/500/status" in w for w in result["warnings"])
