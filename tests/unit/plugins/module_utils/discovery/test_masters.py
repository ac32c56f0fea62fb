# SPDX-License-Identifier: GPL-3.0-or-later
"""proc_masters: php-fpm masters from a fake /proc, systemd and binary output, discover()."""
import os

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery import masters as proc_masters
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.masters import (
    discover,
    find_fpm_masters,
)
from unit_paths import FIXTURES_ROOT
from fake_runner import FakeRunner
from fake_proc import FakeStat, add_process, build_proc, write_status
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.procfs import list_processes, parse_cgroup_unit
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.trust import Vetting

FIXTURES = os.path.join(FIXTURES_ROOT, "discover")


def run_fixture(tmp_path, name, overrides=None, extra=None):
    runner = FakeRunner(name, extra)
    base = os.path.join(FIXTURES, name)
    result = discover(runner, proc_root=build_proc(name, tmp_path),
                      fs_root=os.path.join(base, "root"), overrides=overrides, stat=FakeStat())
    return result, runner


# ---------------------------------------------------------------------------------------
# pure parsers


@pytest.mark.parametrize("text, unit", [
    ("0::/system.slice/php8.2-fpm.service\n", "php8.2-fpm.service"),
    ("12:pids:/system.slice/x.service\n1:name=systemd:/system.slice/php-fpm.service\n", "php-fpm.service"),
    ("0::/system.slice/php-fpm@site.service/payload\n", "php-fpm@site.service"),
    ("0::/init.scope\n", None),
    ("0::/user.slice/user-0.slice/session-3.scope\n", None),
    ("garbage\n", None),
])
def test_parse_cgroup_unit(text, unit):
    assert parse_cgroup_unit(text) == unit


def test_list_and_find_masters_in_fake_proc(tmp_path):
    proc = build_proc("remi", tmp_path)
    procs = list_processes(proc)
    assert [p["pid"] for p in procs] == [1, 900, 901, 1201, 1202, 1203]
    masters = find_fpm_masters(procs, Vetting(proc, FakeStat()))
    assert masters == [{"pid": 1201, "title_config": "/etc/opt/remi/php81/php-fpm.conf",
                        "title_truncated": False,
                        "argv": ["php-fpm: master process (/etc/opt/remi/php81/php-fpm.conf)"],
                        "children": {"www": [1202, 1203]}}]
    assert list_processes("/definitely/not/proc") == []


def test_truncated_title(tmp_path):
    procs = [{"pid": 5, "ppid": 1, "argv": ["php-fpm: master process (/etc/very/long/pa"]}]
    add_process(tmp_path, 1, ["/sbin/init"], ppid=0, exe="/usr/lib/systemd/systemd")
    add_process(tmp_path, 5, procs[0]["argv"], ppid=1, exe="/usr/sbin/php-fpm")
    (master,) = find_fpm_masters(procs, Vetting(str(tmp_path), FakeStat()))
    assert master["title_truncated"] is True


# ---------------------------------------------------------------------------------------
# whole fixtures


def test_remi_layout(tmp_path):
    result, runner = run_fixture(tmp_path, "remi")
    (master,) = result["masters"]
    assert master["php_prefix"] == "/opt/remi/php81/root/usr"
    assert master["error_log"] == "/var/opt/remi/php81/log/php-fpm/error.log"
    assert (master["emergency_restart_threshold"], master["emergency_restart_interval"]) == (10, 60)
    assert master["systemd_unit"] == "php81-php-fpm.service"
    assert master["ini"]["files"][0] == "/etc/opt/remi/php81/php.ini"
    assert master["opcache"]["opcache.blacklist_filename"] == "/etc/opt/remi/php81/php.d/opcache*.blacklist"
    (pool,) = master["pools"]
    assert pool["slowlog"] == "/var/opt/remi/php81/log/php-fpm/www-slow.log"
    assert pool["running_children"] == 2
    assert result["nginx"]["fastcgi_targets"][0]["via"] == "php-fpm"
    assert result["warnings"] == []


def test_plesk_layout(tmp_path):
    result, runner = run_fixture(tmp_path, "plesk")
    (master,) = result["masters"]
    assert master["config"] == "/opt/plesk/php/8.1/etc/php-fpm.conf"
    assert master["php_prefix"] == "/opt/plesk/php/8.1"
    assert master["environment"] == {"PHP_INI_SCAN_DIR": "/opt/plesk/php/8.1/etc/php.d",
                                     "PHPRC": "/opt/plesk/php/8.1/etc"}
    # -i failed: the ini files come from PHPRC and PHP_INI_SCAN_DIR of the unit
    assert master["ini"]["php_ini"] == "/opt/plesk/php/8.1/etc/php.ini"
    assert master["ini"]["files"] == ["/opt/plesk/php/8.1/etc/php.ini",
                                      "/opt/plesk/php/8.1/etc/php.d/opcache.ini"]
    example, shop = master["pools"]
    assert example["listen"] == "/var/www/vhosts/system/example.com/php-fpm.sock"
    assert example["prefix"] == "/var/www/vhosts/system/example.com"
    assert example["php_values"]["error_log"] == "/var/www/vhosts/system/example.com/logs/php_error.log"
    assert example["opcache_overrides"] == {"opcache.enable": {"value": "", "via": "php_value"}}
    assert example["open_basedir_effective"] == "/var/www/vhosts/example.com/:/tmp/"
    assert example["running_children"] == 1 and shop["running_children"] == 0
    assert shop["extension_overrides"][0]["value"] == "ioncube_loader_lin_8.1.so"
    assert [t["pool"] for t in result["nginx"]["fastcgi_targets"]] == ["example.com"]
    assert [t["target"] for t in result["nginx"]["unmatched_targets"]] == [
        "unix:/var/www/vhosts/system/legacy.test/php-fpm.sock", "203.0.113.10:9074"]
    # Both are on this host (203.0.113.10 is one of its addresses, /proc/net/fib_trie): a
    # php-fpm should be listening there.
    assert [t.get("local") for t in result["nginx"]["unmatched_targets"]] == [True, True]
    warnings = "\n".join(result["warnings"])
    assert "emergency_restart_threshold is not set" in warnings
    assert "GH-23355" in warnings and "GH-23288" in warnings
    assert "loads extension=ioncube_loader_lin_8.1.so per pool" in warnings
    # nginx ran with the -c of its running master
    assert ["/usr/sbin/nginx", "-T", "-c", "/etc/nginx/nginx.conf"] in [c[0] for c in runner.calls]


def test_no_commands_no_nginx(tmp_path):
    result = discover(None, proc_root=build_proc("remi", tmp_path),
                      fs_root=str(tmp_path), stat=FakeStat())
    (master,) = result["masters"]
    assert master["php_version"] is None
    assert master["errors"][0].startswith("cannot read /etc/opt/remi/php81/php-fpm.conf")
    assert result["nginx"]["present"] is True  # running master seen in /proc
    assert result["nginx"]["errors"][0].startswith("'/usr/sbin/nginx -T' failed (rc=127)")


def test_no_master_at_all(tmp_path):
    (tmp_path / "proc").mkdir()
    result = discover(None, proc_root=str(tmp_path / "proc"), fs_root=str(tmp_path))
    assert result["masters"] == []
    assert result["nginx"]["present"] is False
    assert "no running php-fpm master found" in result["warnings"]


def test_deleted_binary(tmp_path):
    proc = tmp_path / "proc" / "42"
    proc.mkdir(parents=True)
    (proc / "cmdline").write_bytes(b"php-fpm: master process (/etc/php-fpm.conf)\0")
    (proc / "stat").write_text("42 (php-fpm) S 1 42 42 0")
    write_status(proc, 0)
    (tmp_path / "proc" / "1").mkdir()
    write_status(tmp_path / "proc" / "1", 0)  # its parent, init
    os.symlink("/usr/sbin/php-fpm (deleted)", str(proc / "exe"))
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "php-fpm.conf").write_text("[www]\nlisten = 127.0.0.1:9000\n")
    runner = FakeRunner("none")
    result = discover(runner, proc_root=str(tmp_path / "proc"), fs_root=str(tmp_path),
                      overrides={"nginx": False}, stat=FakeStat())
    (master,) = result["masters"]
    assert master["binary"] == "/usr/sbin/php-fpm" and master["binary_deleted"] is True
    assert not [c for c in runner.calls if c[0][0] == "/usr/sbin/php-fpm"]
    assert any("was replaced since the master started" in n for n in master["notes"])
    assert master["error_log"] == "/var/log/php-fpm.log"


def test_guard_runner():
    calls = []

    def boom(args, environ_update=None):
        calls.append(args)
        raise OSError(2, "No such file")

    run = proc_masters.guard_runner(boom)
    assert run(["/definitely/not/php-fpm", "-v"])[0] == 127
    assert calls == []
    assert run(["sh", "-c", "true"]) == (127, "", "[Errno 2] No such file")
    assert proc_masters.find_executable("sh").endswith("/sh")
    assert proc_masters.find_executable("definitely-not-a-program") is None


# ---------------------------------------------------------------------------------------
# captured from the podman lab (capture_lab.py): the three layouts of docs/LAB.md


def test_lab_debian(tmp_path):
    result, runner = run_fixture(tmp_path, "lab-debian")
    (master,) = result["masters"]
    assert (master["binary"], master["php_version"], master["systemd_unit"]) == (
        "/usr/sbin/php-fpm8.2", "8.2.36", "php8.2-fpm.service")
    assert master["config"] == "/etc/php/8.2/fpm/php-fpm.conf"
    assert master["config_files"] == ["/etc/php/8.2/fpm/php-fpm.conf", "/etc/php/8.2/fpm/pool.d/www.conf"]
    assert master["error_log"] == "/var/log/php8.2-fpm.log"
    assert master["emergency_restart_threshold"] == 0
    assert master["ini"]["php_ini"] == "/etc/php/8.2/fpm/php.ini"
    assert master["ini"]["scan_dir"] == "/etc/php/8.2/fpm/conf.d"
    assert "/etc/php/8.2/fpm/conf.d/15-lab-opcache.ini" in master["ini"]["files"]
    assert master["opcache"]["opcache.validate_timestamps"] == "0"
    (pool,) = master["pools"]
    assert (pool["name"], pool["listen"], pool["listen_kind"], pool["user"]) == (
        "www", "/run/php/php8.2-fpm.sock", "unix", "www-data")
    assert pool["request_terminate_timeout"] == 60
    assert [n["location"] for n in pool["nginx"]] == ["~ ^/a/.+\\.php$", "~ ^/b/.+\\.php$",
                                                      "~ ^/c/.+\\.php$"]
    assert {n["root"] for n in pool["nginx"]} == {"/srv/app/releases"}
    assert result["nginx"]["error_logs"] == ["/var/log/nginx/error.log"]
    assert result["nginx"]["unmatched_targets"] == []
    assert result["fpm_error_logs"] == ["/var/log/php8.2-fpm.log"]


def test_lab_rhel_layout_with_unit_environment(tmp_path):
    result, runner = run_fixture(tmp_path, "lab-rhel")
    (master,) = result["masters"]
    assert master["config"] == "/etc/php-fpm.conf"
    assert master["config_files"] == ["/etc/php-fpm.conf", "/etc/php-fpm.d/www.conf"]
    assert master["error_log"] == "/var/log/php-fpm/error.log"
    # -c and PHP_INI_SCAN_DIR are wiped from /proc: they come from the unit
    assert master["environment"] == {"PHP_INI_SCAN_DIR": "/etc/php.d"}
    assert master["ini"]["php_ini"] == "/etc/php.ini"
    assert master["ini"]["scan_dir"] == "/etc/php.d"
    assert master["ini"]["files"][:2] == ["/etc/php.ini", "/etc/php.d/10-opcache.ini"]
    assert master["opcache"]["opcache.blacklist_filename"] == "/etc/php.d/opcache*.blacklist"
    ran = [c for c in runner.calls if c[0][-1] == "-i"]
    assert ran == [(["/usr/sbin/php-fpm8.2", "-c", "/etc/php.ini", "-i"], {"PHP_INI_SCAN_DIR": "/etc/php.d"})]
    (pool,) = master["pools"]
    assert (pool["listen"], pool["user"]) == ("/run/php-fpm/www.sock", "apache")
    assert result["fpm_error_logs"] == ["/var/log/php-fpm/error.log"]


def test_lab_two_masters_and_tcp_pool(tmp_path):
    result, runner = run_fixture(tmp_path, "lab-multi")
    packaged, alt = result["masters"]
    assert packaged["config"] == "/etc/php/8.2/fpm/php-fpm.conf"
    assert alt["config"] == "/etc/php-fpm-alt/php-fpm.conf"
    assert alt["systemd_unit"] == "php-fpm-alt.service"
    assert alt["ini"]["php_ini"] == "/etc/php-fpm-alt/php.ini"
    assert alt["ini"]["scan_dir"] == "/etc/php-fpm-alt/conf.d"
    assert all(f.startswith("/etc/php-fpm-alt/") for f in alt["ini"]["files"])
    assert [(p["name"], p["listen"], p["listen_kind"]) for p in packaged["pools"]] == [
        ("site-a", "/run/php/site-a.sock", "unix"), ("site-b", "127.0.0.1:9001", "tcp")]
    assert [(p["name"], p["listen"]) for p in alt["pools"]] == [("alt", "/run/php-fpm-alt/alt.sock")]
    site_b = packaged["pools"][1]
    assert site_b["opcache_overrides"] == {"opcache.revalidate_freq": {"value": "0", "via": "php_value"}}
    targets = [(t["target"], t["pool"], t["master_pid"], t["location"])
               for t in result["nginx"]["fastcgi_targets"]]
    assert targets == [
        ("unix:/run/php/site-a.sock", "site-a", packaged["master_pid"], "~ ^/a/.+\\.php$"),
        ("127.0.0.1:9001", "site-b", packaged["master_pid"], "~ ^/b/.+\\.php$"),
        ("unix:/run/php-fpm-alt/alt.sock", "alt", alt["master_pid"], "~ ^/c/.+\\.php$"),
    ]
    assert result["fpm_error_logs"] == ["/var/log/php8.2-fpm.log", "/var/log/php-fpm-alt.log"]
    warnings = result["warnings"]
    assert sum("emergency_restart_threshold is not set" in w for w in warnings) == 2
    assert any(w.startswith("pool site-b of master /etc/php/8.2/fpm/php-fpm.conf overrides "
                            "opcache.revalidate_freq per pool") for w in warnings)


# Hand-checked against the fixtures' own files (not the code's output): the php-fpm
# configs and pool files under root/, `php -i` (ini files, scan dir), `systemctl show`
# (unit -c and Environment), `nginx -T` (fastcgi_pass per location) and proc/ (pids).
DEBIAN_EXTENSION_INIS = ["20-%s.ini" % n for n in (
    "calendar", "ctype", "exif", "ffi", "fileinfo", "ftp", "gettext", "iconv", "phar", "posix",
    "readline", "shmop", "sockets", "sysvmsg", "sysvsem", "sysvshm", "tokenizer")]
EXTENSIONS = ["opcache.so", "pdo.so"] + [n[3:-4] + ".so" for n in DEBIAN_EXTENSION_INIS]
LAB_OPCACHE = {"opcache.enable": "1", "opcache.validate_timestamps": "0",
               "opcache.memory_consumption": "128", "opcache.max_accelerated_files": "10000"}
NGINX_FILES = ["/etc/nginx/nginx.conf", "/etc/nginx/mime.types", "/etc/nginx/conf.d/lab.conf",
               "/etc/nginx/fastcgi_params"]
NO_EMERGENCY = ("master %s (%s): emergency_restart_threshold is not set, so php-fpm will not "
                "reload itself after repeated child crashes")


def lab_pool(name, listen, source, user="www-data", kind="unix", children=2, **extra):
    pool = {"name": name, "listen": listen, "listen_kind": kind, "user": user, "group": user,
            "listen_owner": "www-data", "listen_group": "www-data", "listen_mode": "0660",
            "listen_allowed_clients": None, "pm": "dynamic", "pm_max_children": 5,
            "request_terminate_timeout": 60, "catch_workers_output": True, "chroot": None,
            "slowlog": None, "opcache_overrides": {}, "running_children": children,
            "sources": [source]}
    pool.update(extra)
    return pool


def lab_master(pid, config, files, pid_file, error_log, unit, php_ini, scan_dir, pools,
               opcache, environment=None, lab_ini=True):
    """A master of a lab host; ``lab_ini``: the lab's settings are in 15-lab-opcache.ini
    (Debian layouts), not in 10-opcache.ini (RHEL layout)."""
    return {"master_pid": pid, "binary": "/usr/sbin/php-fpm8.2", "php_version": "8.2.36",
            "config": config, "config_files": files, "pid_file": pid_file,
            "error_log": error_log, "error_log_kind": "file", "systemd_unit": unit,
            "environment": environment or {}, "in_container": False, "binary_deleted": False,
            "ini": {"php_ini": php_ini, "scan_dir": scan_dir,
                    "files": [php_ini] + ["%s/%s" % (scan_dir, n) for n in
                                          ["10-opcache.ini", "10-pdo.ini"] + (
                                              ["15-lab-opcache.ini"] if lab_ini else [])
                                          + DEBIAN_EXTENSION_INIS],
                    "extensions": EXTENSIONS},
            "opcache": opcache, "pools": pools, "errors": [], "notes": []}


DEBIAN_CONF = "/etc/php/8.2/fpm/php-fpm.conf"
ALT_CONF = "/etc/php-fpm-alt/php-fpm.conf"
LABS = {
    "lab-debian": {
        "masters": [lab_master(
            5285, DEBIAN_CONF, [DEBIAN_CONF, "/etc/php/8.2/fpm/pool.d/www.conf"],
            "/run/php/php8.2-fpm.pid", "/var/log/php8.2-fpm.log", "php8.2-fpm.service",
            "/etc/php/8.2/fpm/php.ini", "/etc/php/8.2/fpm/conf.d",
            [lab_pool("www", "/run/php/php8.2-fpm.sock", "/etc/php/8.2/fpm/pool.d/www.conf:2")],
            dict(LAB_OPCACHE, **{"opcache.jit": ""}))],
        "targets": [("unix:/run/php/php8.2-fpm.sock", "www", 5285, "~ ^/%s/.+\\.php$" % d)
                    for d in "abc"],
        "nginx_pid": 5334,
        "fpm_error_logs": ["/var/log/php8.2-fpm.log"],
        "warnings": [NO_EMERGENCY % (5285, DEBIAN_CONF)],
    },
    "lab-rhel": {
        "masters": [lab_master(
            6207, "/etc/php-fpm.conf", ["/etc/php-fpm.conf", "/etc/php-fpm.d/www.conf"],
            "/run/php-fpm/php-fpm.pid", "/var/log/php-fpm/error.log", "php-fpm.service",
            "/etc/php.ini", "/etc/php.d",
            [lab_pool("www", "/run/php-fpm/www.sock", "/etc/php-fpm.d/www.conf:2", user="apache")],
            dict(LAB_OPCACHE, **{"opcache.blacklist_filename": "/etc/php.d/opcache*.blacklist"}),
            environment={"PHP_INI_SCAN_DIR": "/etc/php.d"}, lab_ini=False)],
        "targets": [("unix:/run/php-fpm/www.sock", "www", 6207, "~ ^/%s/.+\\.php$" % d) for d in "abc"],
        "nginx_pid": 6253,
        "fpm_error_logs": ["/var/log/php-fpm/error.log"],
        "warnings": [NO_EMERGENCY % (6207, "/etc/php-fpm.conf")],
    },
    "lab-multi": {
        "masters": [
            lab_master(
                6746, DEBIAN_CONF, [DEBIAN_CONF, "/etc/php/8.2/fpm/pool.d/site-a.conf",
                                    "/etc/php/8.2/fpm/pool.d/site-b.conf"],
                "/run/php/php8.2-fpm.pid", "/var/log/php8.2-fpm.log", "php8.2-fpm.service",
                "/etc/php/8.2/fpm/php.ini", "/etc/php/8.2/fpm/conf.d",
                [lab_pool("site-a", "/run/php/site-a.sock", "/etc/php/8.2/fpm/pool.d/site-a.conf:2"),
                 lab_pool("site-b", "127.0.0.1:9001", "/etc/php/8.2/fpm/pool.d/site-b.conf:2",
                          kind="tcp", listen_allowed_clients="127.0.0.1",
                          opcache_overrides={"opcache.revalidate_freq": {"value": "0", "via": "php_value"}})],
                dict(LAB_OPCACHE, **{"opcache.jit": ""})),
            lab_master(
                6808, ALT_CONF, [ALT_CONF, "/etc/php-fpm-alt/pool.d/alt.conf"],
                "/run/php-fpm-alt/php-fpm.pid", "/var/log/php-fpm-alt.log", "php-fpm-alt.service",
                "/etc/php-fpm-alt/php.ini", "/etc/php-fpm-alt/conf.d",
                [lab_pool("alt", "/run/php-fpm-alt/alt.sock", "/etc/php-fpm-alt/pool.d/alt.conf:2")],
                dict(LAB_OPCACHE, **{"opcache.jit": ""}),
                environment={"PHP_INI_SCAN_DIR": "/etc/php-fpm-alt/conf.d"})],
        "targets": [("unix:/run/php/site-a.sock", "site-a", 6746, "~ ^/a/.+\\.php$"),
                    ("127.0.0.1:9001", "site-b", 6746, "~ ^/b/.+\\.php$"),
                    ("unix:/run/php-fpm-alt/alt.sock", "alt", 6808, "~ ^/c/.+\\.php$")],
        "nginx_pid": 6854,
        "fpm_error_logs": ["/var/log/php8.2-fpm.log", "/var/log/php-fpm-alt.log"],
        "warnings": [
            NO_EMERGENCY % (6746, DEBIAN_CONF),
            "pool site-b of master /etc/php/8.2/fpm/php-fpm.conf overrides opcache.revalidate_freq "
            "per pool (php_value[opcache.revalidate_freq] = 0); pools of one master share one "
            "OPcache and per-pool opcache.* settings are tied to known crashes (php-src "
            "GH-23355, GH-23288)",
            NO_EMERGENCY % (6808, ALT_CONF)],
    },
}


@pytest.mark.parametrize("name", sorted(LABS))
def test_lab_fixture_hand_checked(name, tmp_path):
    """The important fields of each lab capture, as its files say they must be."""
    expected = LABS[name]
    result, _runner = run_fixture(tmp_path, name)
    assert len(result["masters"]) == len(expected["masters"])
    for master, want in zip(result["masters"], expected["masters"]):
        got = dict((key, master[key]) for key in want if key != "pools")
        got["pools"] = [dict((key, pool[key]) for key in want["pools"][0]) for pool in master["pools"]]
        assert got == want
    assert [(t["target"], t["pool"], t["master_pid"], t["location"])
            for t in result["nginx"]["fastcgi_targets"]] == expected["targets"]
    assert {(t["server_name"], t["root"]) for t in result["nginx"]["fastcgi_targets"]} == {
        ("_", "/srv/app/releases")}
    nginx = result["nginx"]
    assert (nginx["running"], nginx["master_pid"], nginx["binary"], nginx["version"]) == (
        True, expected["nginx_pid"], "/usr/sbin/nginx", "1.22.1")
    assert (nginx["config"], nginx["config_files"]) == ("/etc/nginx/nginx.conf", NGINX_FILES)
    assert nginx["error_logs"] == ["/var/log/nginx/error.log"]
    assert nginx["unmatched_targets"] == [] and nginx["errors"] == []
    assert result["fpm_error_logs"] == expected["fpm_error_logs"]
    assert result["warnings"] == expected["warnings"]


def test_open_basedir_effective_from_ini(tmp_path):
    (tmp_path / "proc").mkdir()
    etc = tmp_path / "etc"
    (etc / "php.d").mkdir(parents=True)
    (etc / "php-fpm.conf").write_text("[a]\nlisten = /run/a.sock\n[b]\nlisten = /run/b.sock\n"
                                      "php_admin_value[open_basedir] = /srv/b\n")
    (etc / "php.ini").write_text("open_basedir = /srv:/tmp\n")
    result = discover(None, proc_root=str(tmp_path / "proc"), fs_root=str(tmp_path),
                      overrides={"nginx": False, "php_ini": "/etc/php.ini", "ini_scan_dir": "/etc/php.d",
                                 "masters": [{"config": "/etc/php-fpm.conf"}]})
    a, b = result["masters"][0]["pools"]
    assert (a["open_basedir"], a["open_basedir_effective"]) == (None, "/srv:/tmp")
    assert (b["open_basedir"], b["open_basedir_effective"]) == ("/srv/b", "/srv/b")


def test_master_in_a_container_is_read_through_its_root(tmp_path):
    proc = tmp_path / "proc"
    (proc / "self" / "ns").mkdir(parents=True)
    os.symlink("mnt:[4026531841]", str(proc / "self" / "ns" / "mnt"))
    for pid, title, ns in ((42, "php-fpm: master process (/etc/php-fpm.conf)", "mnt:[4026532999]"),
                           (50, "nginx: master process /usr/sbin/nginx", "mnt:[4026532999]")):
        d = proc / str(pid)
        (d / "ns").mkdir(parents=True)
        (d / "cmdline").write_bytes(title.encode() + b"\0")
        (d / "stat").write_text("%d (x) S 1 0 0 0" % pid)
        (d / "cgroup").write_text("0::/system.slice/docker-abc.scope\n")
        write_status(d, 0)
        os.symlink(ns, str(d / "ns" / "mnt"))
        os.symlink("/usr/sbin/php-fpm", str(d / "exe"))
    container = proc / "42" / "root" / "etc"
    container.mkdir(parents=True)
    (container / "php-fpm.conf").write_text("[global]\nerror_log = /var/log/fpm.log\n[www]\nlisten = 9000\n")
    (proc / "1").mkdir()
    write_status(proc / "1", 0)  # the parent of both: the host's init
    runner = FakeRunner("none")
    stat = FakeStat()
    result = discover(runner, proc_root=str(proc), fs_root=str(tmp_path), stat=stat)
    (master,) = result["masters"]
    assert master["in_container"] is True
    # its binary is looked up inside the container's root
    assert str(proc / "42" / "root" / "usr" / "sbin" / "php-fpm") in stat.calls
    assert master["pools"][0]["listen"] == "9000"
    assert (master["error_log"], master["error_log_kind"]) == ("/var/log/fpm.log", "file")
    assert result["fpm_error_logs"] == []  # a path inside the container
    assert runner.calls == []  # neither its php-fpm nor the container's nginx was run
    assert result["nginx"]["running"] is False
    note = ("master 42 runs in another mount namespace (a container): files read through "
            "/proc/42/root, binary not run; run fpm_discover inside the container for its PHP "
            "version, ini files and logs")
    assert master["notes"] == [note]
    assert note in result["warnings"]
