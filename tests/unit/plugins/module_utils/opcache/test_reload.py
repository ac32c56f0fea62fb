# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""opcache/reload.py: reload through systemd, verified by start_time or replaced workers."""
import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache import reload
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.errors import ControlError
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.helper import HelperError


def test_reload_master_verifies_replaced_workers(tmp_path):
    proc = tmp_path / "proc"
    for pid, ppid in ((42, 1), (100, 42), (101, 42)):
        (proc / str(pid)).mkdir(parents=True)
        (proc / str(pid) / "stat").write_text("%d (php-fpm8.2) S %d 1 1" % (pid, ppid))
    (proc / "42" / "cgroup").write_text("0::/system.slice/php8.2-fpm.service\n")
    ran = []

    def run(argv):
        ran.append(argv)
        for old in ("100", "101"):
            (proc / old / "stat").unlink()
            (proc / old).rmdir()
        (proc / "200").mkdir()
        (proc / "200" / "stat").write_text("200 (php-fpm8.2) S 42 1 1")
        return 0, "", ""
    info = reload.reload_master({"master_pid": 42}, run, timeout=2, proc=str(proc), sleep=lambda s: None)
    assert ran == [["systemctl", "reload", "php8.2-fpm.service"]]
    assert info["verified"] and info["old_workers"] == [100, 101]


def test_reload_master_without_unit():
    with pytest.raises(ControlError) as exc:
        reload.reload_master({"master_pid": None}, lambda a: (0, "", ""), timeout=1)
    assert exc.value.cause == "systemd_unit"


def _fake_proc(tmp_path):
    proc = tmp_path / "proc"
    for pid, ppid in ((42, 1), (100, 42), (101, 42)):
        (proc / str(pid)).mkdir(parents=True)
        (proc / str(pid) / "stat").write_text("%d (php-fpm8.2) S %d 1 1" % (pid, ppid))
    (proc / "42" / "cgroup").write_text("0::/system.slice/php8.2-fpm.service\n")

    def run(argv):
        for old in ("100", "101"):
            (proc / old / "stat").unlink()
            (proc / old).rmdir()
        (proc / "200").mkdir()
        (proc / "200" / "stat").write_text("200 (php-fpm8.2) S 42 1 1")
        return 0, "", ""
    return proc, run


def test_reload_master_verified_by_new_start_time(tmp_path):
    proc, run = _fake_proc(tmp_path)
    starts = iter([990, 990, 1001])  # the old cache is still read twice, then the new one
    info = reload.reload_master({"master_pid": 42}, run, timeout=5, proc=str(proc), sleep=lambda s: None,
                                read_start_time=lambda: next(starts), wall_clock=lambda: 1000.4)
    assert info["verified"] and info["verified_by"] == "start_time"
    assert info["start_time"] == 1001 and info["reload_asked_at"] == 1000


def test_reload_master_old_start_time_is_not_verified(tmp_path):
    proc, run = _fake_proc(tmp_path)
    ticks = iter(range(100))
    info = reload.reload_master({"master_pid": 42}, lambda a: (0, "", ""), timeout=3, proc=str(proc),
                                sleep=lambda s: None, read_start_time=lambda: 990, wall_clock=lambda: 1000,
                                clock=lambda: next(ticks))
    assert not info["verified"] and not info["workers_replaced"] and info["start_time"] == 990


def test_reload_master_unreadable_opcache_falls_back_to_workers(tmp_path):
    proc, run = _fake_proc(tmp_path)

    def blocked():
        raise HelperError("/run/x.sock", "open_basedir", "the pool's open_basedir excludes the helper")
    info = reload.reload_master({"master_pid": 42}, run, timeout=5, proc=str(proc), sleep=lambda s: None,
                                read_start_time=blocked, wall_clock=lambda: 1000)
    assert info["verified"] and info["verified_by"] == "workers replaced"
    assert "open_basedir" in info["start_time_error"]


def test_reload_master_systemctl_failure_names_it(tmp_path):
    proc, dummy = _fake_proc(tmp_path)
    with pytest.raises(ControlError) as exc:
        reload.reload_master({"master_pid": 42}, lambda a: (1, "", "Job for php8.2-fpm.service failed"),
                             timeout=1, proc=str(proc))
    assert exc.value.cause == "systemctl" and "php8.2-fpm.service" in str(exc.value)


def test_reload_master_of_a_stopped_master_names_it(tmp_path):
    (tmp_path / "proc").mkdir()
    with pytest.raises(ControlError) as exc:
        reload.reload_master({"master_pid": 4242, "systemd_unit": "php8.2-fpm.service"}, lambda a: (0, "", ""),
                             timeout=1, proc=str(tmp_path / "proc"))
    assert exc.value.cause == "not_running"
    assert "master 4242 is not running" in str(exc.value) and "systemctl start php8.2-fpm.service" in str(exc.value)


def _restart_fake(tmp_path, new_pid=300):
    proc = tmp_path / "proc"
    (proc / "42").mkdir(parents=True)
    (proc / "42" / "cgroup").write_text("0::/system.slice/php8.2-fpm.service\n")
    ran = []
    state = {"pid": 42}

    def run(argv):
        ran.append(argv)
        if argv[:2] == ["systemctl", "show"]:
            return 0, "%d\n" % state["pid"], ""
        if argv[1] in ("restart", "start"):
            (proc / str(new_pid)).mkdir()
            state["pid"] = new_pid
        if argv[1] == "stop":
            state["pid"] = 0
        return 0, "", ""
    return proc, run, ran


def test_restart_master_verified_by_the_new_masters_start_time(tmp_path):
    proc, run, ran = _restart_fake(tmp_path)
    asked_pids = []

    def start_time(pid):
        asked_pids.append(pid)
        return 2000
    info = reload.restart_master({"master_pid": 42}, run, timeout=5, proc=str(proc), sleep=lambda s: None,
                                 read_start_time=start_time, wall_clock=lambda: 1999)
    assert ["systemctl", "restart", "php8.2-fpm.service"] in ran
    assert info["verified"] and info["verified_by"] == "start_time" and info["master_pid"] == 300
    assert asked_pids == [300]


def test_restart_master_runs_the_purge_while_stopped(tmp_path):
    proc, run, ran = _restart_fake(tmp_path)
    order = []
    info = reload.restart_master({"master_pid": 42, "systemd_unit": "php8.2-fpm.service"},
                                 lambda argv: (order.append(argv[1]), run(argv))[1], timeout=5, proc=str(proc),
                                 sleep=lambda s: None, read_start_time=lambda pid: 2000, wall_clock=lambda: 1999,
                                 while_stopped=lambda: order.append("purge"))
    assert order[:3] == ["stop", "purge", "start"] and info["verified"]


def test_restart_master_not_verified_when_the_old_master_stays(tmp_path):
    proc, dummy, ran = _restart_fake(tmp_path)
    clock = iter(range(100))

    def run(argv):
        return (0, "42\n", "") if argv[1] == "show" else (0, "", "")
    info = reload.restart_master({"master_pid": 42}, run, timeout=3, proc=str(proc), sleep=lambda s: None,
                                 read_start_time=lambda pid: 2000, wall_clock=lambda: 1999,
                                 clock=lambda: next(clock))
    assert not info["verified"] and info["master_pid"] is None


def test_restart_master_failing_systemctl_is_an_error(tmp_path):
    proc, dummy, ran = _restart_fake(tmp_path)
    with pytest.raises(ControlError) as exc:
        reload.restart_master({"master_pid": 42}, lambda argv: (1, "", "Job failed"), timeout=1, proc=str(proc))
    assert exc.value.cause == "systemctl" and "Job failed" in str(exc.value)


def test_restart_master_starts_php_fpm_even_when_the_work_while_stopped_fails(tmp_path):
    proc, run, ran = _restart_fake(tmp_path)

    def purge():
        raise ControlError("purge_file_cache: /var/cache/fc holds 'x.txt', which is not an OPcache file-cache entry",
                           "opcache.file_cache")
    info = reload.restart_master({"master_pid": 42, "systemd_unit": "php8.2-fpm.service"}, run, timeout=5,
                                 proc=str(proc), sleep=lambda s: None, read_start_time=lambda pid: 2000,
                                 wall_clock=lambda: 1999, while_stopped=purge)
    assert ["systemctl", "start", "php8.2-fpm.service"] in ran
    assert info["verified"] and "x.txt" in info["while_stopped_error"]


def test_restart_master_says_php_fpm_is_stopped_when_start_fails(tmp_path):
    proc, dummy, ran = _restart_fake(tmp_path)

    def run(argv):
        return (1, "", "Job for php8.2-fpm.service failed") if argv[1] == "start" else (0, "", "")
    with pytest.raises(ControlError) as exc:
        reload.restart_master({"master_pid": 42, "systemd_unit": "php8.2-fpm.service"}, run, timeout=1,
                              proc=str(proc), while_stopped=lambda: None)
    assert "php-fpm is STOPPED" in str(exc.value) and "systemctl start php8.2-fpm.service" in str(exc.value)
