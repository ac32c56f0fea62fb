# SPDX-License-Identifier: GPL-3.0-or-later
"""fpm_discover module: argument checks (every fail_json path), wiring, check mode."""
import json
import os

import pytest

from ansible.module_utils import basic

from ansible_collections.phpfpm.opcache_fleet.plugins.modules import fpm_discover
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery import masters as proc_masters
from module_runner import patch_exit_fail, run_main
from fake_runner import FIXTURES, FakeRunner
from fake_proc import FakeStat, build_proc


@pytest.fixture
def module_io(monkeypatch):
    def with_warnings(module, result):
        result.setdefault("warnings", list(getattr(module, "_warnings", [])))

    patch_exit_fail(monkeypatch, on_exit=with_warnings)


def use_fixture(monkeypatch, tmp_path, name, extra=None, uids=None):
    """Point the module at a fixture: fake commands, fake /proc (``uids``: owners of
    its processes, root by default), captured files."""
    runner = FakeRunner(name, extra)
    base = os.path.join(FIXTURES, name)

    def run_command(self, args, **kwargs):
        assert kwargs.get("expand_user_and_vars") is False
        assert kwargs.get("handle_exceptions") is False
        return runner(args, environ_update=kwargs.get("environ_update"))

    real_discover = proc_masters.discover

    def discover(run, proc_root="/proc", overrides=None):
        # the fixture's binaries are root's on the captured host, not on this machine
        return real_discover(run, proc_root=proc_root, fs_root=os.path.join(base, "root"),
                             overrides=overrides, stat=FakeStat())

    monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(fpm_discover, "discover", discover)
    return build_proc(name, tmp_path, uids), runner


def run_module(args):
    return run_main(fpm_discover, args)


def test_remi_fixture_through_the_module(module_io, monkeypatch, tmp_path):
    proc, runner = use_fixture(monkeypatch, tmp_path, "remi")
    result, failed = run_module({"proc_root": proc})
    assert not failed
    assert result["changed"] is False
    (master,) = result["masters"]
    assert master["config"] == "/etc/opt/remi/php81/php-fpm.conf"
    assert master["pools"][0]["nginx"][0]["server_name"] == "shop.example.com"
    assert result["fpm_error_logs"] == ["/var/opt/remi/php81/log/php-fpm/error.log"]
    assert result["nginx"]["error_logs"] == ["/var/log/nginx/error.log", "/var/log/nginx/shop.error.log"]
    assert result["warnings_found"] == []
    json.dumps(result)  # everything is JSON-serialisable


def test_untrusted_master_is_only_a_warning(module_io, monkeypatch, tmp_path):
    """remi's master as if a local user had started it: the module runs none of its
    binaries, reads none of its files and says why in its warnings."""
    proc, runner = use_fixture(monkeypatch, tmp_path, "remi", uids={1201: 65534})
    warned = []
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, text: warned.append(text))
    result, failed = run_module({"proc_root": proc, "nginx": False})
    assert not failed
    assert result["masters"] == [] and result["fpm_error_logs"] == []
    assert runner.calls == []
    message = ("pid 1201 looks like a php-fpm master (uid 65534, exe /opt/remi/php81/root/usr/sbin/php-fpm) "
               "but is not trusted: owned by uid 65534, not root; it was neither run nor read")
    assert result["warnings_found"][0] == message
    assert message in warned  # module.warn: Ansible shows it


def test_check_mode_same_result(module_io, monkeypatch, tmp_path):
    proc, _runner = use_fixture(monkeypatch, tmp_path, "remi")
    normal, dummy = run_module({"proc_root": proc})
    checked, dummy = run_module({"proc_root": proc, "_ansible_check_mode": True})
    assert checked["changed"] is False
    assert checked["masters"] == normal["masters"]


def test_inventory_overrides(module_io, monkeypatch, tmp_path):
    proc, runner = use_fixture(monkeypatch, tmp_path, "plesk")
    result, failed = run_module({
        "proc_root": proc,
        "fpm_error_logs": ["/srv/logs/fpm.log"],
        "nginx_error_logs": ["/srv/logs/nginx.log"],
        "ini_scan_dir": "",
        "php_ini": "/opt/plesk/php/8.1/etc/php.ini",
    })
    assert not failed
    assert result["fpm_error_logs"] == ["/srv/logs/fpm.log"]
    assert result["nginx"]["error_logs"] == ["/srv/logs/nginx.log"]
    ini = result["masters"][0]["ini"]
    assert ini == {"php_ini": "/opt/plesk/php/8.1/etc/php.ini", "scan_dir": "",
                   "files": ["/opt/plesk/php/8.1/etc/php.ini"], "extensions": []}
    assert result["masters"][0]["opcache"] == {}
    # the binary ran with the overridden ini options
    calls = [c for c in runner.calls if c[0][-1] == "-v"]
    assert calls[0][0][:3] == ["/opt/plesk/php/8.1/sbin/php-fpm", "-c", "/opt/plesk/php/8.1/etc/php.ini"]
    assert calls[0][1]["PHP_INI_SCAN_DIR"] == ""
    assert any("per-pool" in w or "per pool" in w for w in result["warnings_found"])


def test_masters_option_skips_proc_scan(module_io, monkeypatch, tmp_path):
    _proc, runner = use_fixture(monkeypatch, tmp_path, "remi")
    result, failed = run_module({
        "proc_root": str(tmp_path),  # nothing runs
        "nginx": False,
        "masters": [{"config": "/etc/opt/remi/php81/php-fpm.conf",
                     "binary": "/opt/remi/php81/root/usr/sbin/php-fpm",
                     "error_log": "/srv/fpm/error.log"}],
    })
    assert not failed
    (master,) = result["masters"]
    assert master["master_pid"] is None and master["systemd_unit"] is None
    assert master["php_version"] == "8.1.31"
    assert master["error_log"] == "/srv/fpm/error.log"
    assert result["fpm_error_logs"] == ["/srv/fpm/error.log"]
    assert result["nginx"]["present"] is False
    assert not any(c[0][0] == "/usr/sbin/nginx" for c in runner.calls)
    assert "master - (/etc/opt/remi/php81/php-fpm.conf): emergency_restart_threshold" not in \
        " ".join(result["warnings_found"])  # remi sets it


def test_inventory_master_that_runs_gets_its_pid(module_io, monkeypatch, tmp_path):
    proc, _runner = use_fixture(monkeypatch, tmp_path, "remi")
    result, failed = run_module({"proc_root": proc, "nginx": False, "masters": [
        {"config": "/etc/opt/remi/php81/php-fpm.conf"}]})
    assert not failed
    (master,) = result["masters"]
    assert (master["master_pid"], master["systemd_unit"]) == (1201, "php81-php-fpm.service")
    assert master["pools"][0]["running_children"] == 2


def test_masters_option_with_pid(module_io, monkeypatch, tmp_path):
    proc, _runner = use_fixture(monkeypatch, tmp_path, "remi")
    result, failed = run_module({"proc_root": proc, "nginx": False, "masters": [
        {"config": "/etc/opt/remi/php81/php-fpm.conf", "pid": 1201},
        {"config": "/etc/opt/remi/php81/php-fpm.conf", "pid": 901}]})
    assert not failed
    first, second = result["masters"]
    assert first["binary"] == "/opt/remi/php81/root/usr/sbin/php-fpm"
    assert first["pools"][0]["running_children"] == 2
    assert "masters: pid 901 is not a running php-fpm master" in result["warnings_found"]


@pytest.mark.parametrize("args, message", [
    ({"masters": [{"config": "/etc/php-fpm.conf", "bogus": 1}]},
     "masters[0]: unknown key(s) bogus; allowed: config, binary, pid, php_ini, ini_scan_dir, error_log"),
    ({"masters": [{"binary": "/usr/sbin/php-fpm"}]},
     "masters[0].config must be an absolute path, got None"),
    ({"masters": [{"config": "etc/php-fpm.conf"}]},
     "masters[0].config must be an absolute path, got 'etc/php-fpm.conf'"),
    ({"masters": [{"config": "/etc/php-fpm.conf"}, {"config": "/x.conf", "binary": "php-fpm"}]},
     "masters[1].binary must be an absolute path, got 'php-fpm'"),
    ({"masters": [{"config": "/etc/php-fpm.conf", "pid": "abc"}]},
     "masters[0].pid must be a positive integer, got 'abc'"),
    ({"masters": [{"config": "/etc/php-fpm.conf", "pid": 0}]},
     "masters[0].pid must be a positive integer, got 0"),
    ({"proc_root": "/definitely/not/proc"},
     "proc_root must be a directory, got '/definitely/not/proc'"),
    ({"nginx_binary": "/definitely/not/nginx"},
     "nginx_binary does not exist: '/definitely/not/nginx'"),
])
def test_bad_arguments_fail_with_named_parameter(module_io, monkeypatch, args, message, tmp_path):
    use_fixture(monkeypatch, tmp_path, "remi")
    result, failed = run_module(args)
    assert failed
    assert result["msg"] == message


def test_argument_spec_rejects_unknown_option(module_io, monkeypatch, tmp_path):
    use_fixture(monkeypatch, tmp_path, "remi")
    result, failed = run_module({"no_such_option": 1})
    assert failed
    assert "no_such_option" in result["msg"]


def test_make_runner_turns_missing_program_into_rc_127():
    class FakeModule:
        def run_command(self, args, **kwargs):
            raise OSError(2, "No such file or directory: '%s'" % args[0])

    run = fpm_discover.make_runner(FakeModule())
    rc, out, err = run(["/usr/sbin/nginx", "-T"])
    assert rc == 127 and out == "" and "No such file" in err
