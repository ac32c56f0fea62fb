# SPDX-License-Identifier: GPL-3.0-or-later
"""Drive opcache_ini.main() with patched module args; discovery faked."""
import os

import pytest
from ansible.module_utils import basic
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.ini import target as fpm_ini_target

from ansible_collections.phpfpm.opcache_fleet.plugins.modules import opcache_ini
from module_runner import run_main_json

PHPINFO_TEXT = """phpinfo()
PHP Version => 8.2.7

Loaded Configuration File => {ini}
Scan this dir for additional .ini files => {scan}
Additional .ini files parsed => {scan}/10-opcache.ini

PHP API => 20220829
"""


@pytest.fixture
def host(tmp_path, monkeypatch):
    """A fake host: one master whose scan dir is tmp_path/conf.d."""
    scan = tmp_path / "conf.d"
    scan.mkdir()
    (scan / "10-opcache.ini").write_text("zend_extension=opcache.so\nopcache.memory_consumption=128\n")
    ini = tmp_path / "php.ini"
    ini.write_text("[PHP]\nengine=On\n")
    masters = [{"pid": 812, "config": "/etc/php/8.2/fpm/php-fpm.conf", "binary": "/usr/sbin/php-fpm8.2",
                "env": {}}]
    monkeypatch.setattr(fpm_ini_target, "list_masters", lambda proc="/proc": masters)
    monkeypatch.setattr(fpm_ini_target, "discover_masters", lambda run, proc="/proc": None)
    calls = []

    def run_command(self, args, **kwargs):
        calls.append(args)
        if args[-1] == "-v":
            return 0, "PHP 8.2.7 (fpm-fcgi) (built: Jun  9 2023)\n", ""
        return 0, PHPINFO_TEXT.format(ini=ini, scan=scan), ""

    monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
    return {"scan": scan, "ini": ini, "masters": masters, "calls": calls,
            "path": str(scan / "zz-opcache-fleet.ini")}


def warnings(result):
    """Warning texts (ansible-core 2.19 returns structured warning summaries)."""
    out = []
    for item in result.get("warnings", []):
        out.append(item["event"]["msg"] if isinstance(item, dict) else item)
    return out


def run(capsys, args, check=False, diff=False):
    return run_main_json(opcache_ini, capsys, args, check=check, diff=diff)


def test_default_path_changed_then_unchanged(host, capsys):
    args = {"directives": {"opcache.memory_consumption": 256, "max_accelerated_files": "20000"}}
    first = run(capsys, args)
    assert first["changed"] and first["reload_required"]
    assert first["path"] == host["path"]
    assert first["target"]["rule"] == "last scan dir + zz-opcache-fleet.ini"
    assert first["php_version"] == "8.2.7"
    with open(host["path"]) as handle:
        assert handle.read() == "opcache.memory_consumption=256\nopcache.max_accelerated_files=20000\n"
    assert oct(os.stat(host["path"]).st_mode & 0o777) == "0o644"
    second = run(capsys, args)
    assert not second["changed"] and not second["reload_required"]
    assert second["msg"].endswith("nothing to change")


def test_check_mode_writes_nothing_and_diff(host, capsys):
    result = run(capsys, {"directives": {"opcache.enable": "On"}}, check=True, diff=True)
    assert result["changed"]
    assert not os.path.exists(host["path"])
    assert result["diff"]["after"] == "opcache.enable=1\n"
    assert result["diff"]["before_header"] == "%s (content)" % host["path"]


def test_fast_shutdown_on_82_fails_and_writes_nothing(host, capsys):
    result = run(capsys, {"directives": {"opcache.fast_shutdown": 1, "opcache.memory_consumption": 256}})
    assert result["failed"]
    assert "removed in PHP 7.2" in result["msg"]
    assert "integrated into PHP" in result["msg"]
    assert "nothing written" in result["msg"]
    assert not os.path.exists(host["path"])


def test_on_removed_warn_writes(host, capsys):
    result = run(capsys, {"directives": {"opcache.fast_shutdown": 1}, "on_removed": "warn"})
    assert result["changed"]
    assert any("removed in PHP 7.2" in w for w in warnings(result))


@pytest.mark.parametrize("directives,fragment", [
    ({"opcache.memory_consumpton": 256}, "did you mean opcache.memory_consumption"),
    ({"opcache.memory_consumption": "1G"}, "not a whole number"),
    ({"opcache.max_accelerated_files": 50}, "out of range"),
    ({"opcache.preload": "x.php"}, "not an absolute path"),
])
def test_bad_directives_fail(host, capsys, directives, fragment):
    result = run(capsys, {"directives": directives})
    assert result["failed"] and fragment in result["msg"]
    assert not os.path.exists(host["path"])


def test_directives_must_be_mapping(host, capsys):
    result = run(capsys, {"directives": ["opcache.enable"]})
    assert result["failed"] and "must be a mapping" in result["msg"]


def test_directives_empty(host, capsys):
    result = run(capsys, {"directives": {}})
    assert result["failed"] and "is empty" in result["msg"]


def test_relative_path(host, capsys):
    result = run(capsys, {"path": "conf.d/x.ini", "directives": {"opcache.enable": 1}})
    assert result["failed"] and "not an absolute path" in result["msg"]


def test_bad_php_version(host, capsys):
    result = run(capsys, {"path": host["path"], "php_version": "latest", "directives": {"opcache.enable": 1}})
    assert result["failed"] and "php_version" in result["msg"]


def test_path_is_directory(host, capsys):
    result = run(capsys, {"path": str(host["scan"]), "php_version": "8.2", "directives": {"opcache.enable": 1}})
    assert result["failed"] and "is a directory" in result["msg"]


def test_parent_missing(host, capsys):
    result = run(capsys, {"path": str(host["scan"] / "no" / "x.ini"), "php_version": "8.2",
                          "directives": {"opcache.enable": 1}})
    assert result["failed"] and "does not exist" in result["msg"]


def test_binary_file_refused(host, capsys):
    target = host["scan"] / "bin.ini"
    target.write_bytes(b"\0\1\2")
    result = run(capsys, {"path": str(target), "php_version": "8.2", "directives": {"opcache.enable": 1}})
    assert result["failed"] and "binary" in result["msg"]


def test_later_file_warning(host, capsys):
    (host["scan"] / "zzz-local.ini").write_text("opcache.memory_consumption=64\n")
    result = run(capsys, {"directives": {"opcache.memory_consumption": 256}})
    assert result["overridden_by"][0]["path"].endswith("zzz-local.ini")
    assert any("that value wins" in w for w in warnings(result))


def test_given_path_not_read_warns(host, capsys, tmp_path):
    other = tmp_path / "elsewhere.ini"
    result = run(capsys, {"path": str(other), "directives": {"opcache.enable": 1}})
    assert result["changed"] and result["php_version"] == "8.2.7"


def test_state_absent_removed_directive_and_backup(host, capsys):
    target = host["scan"] / "10-opcache.ini"
    target.write_text("zend_extension=opcache.so\nopcache.fast_shutdown=1\n")
    os.chmod(str(target), 0o640)
    result = run(capsys, {"path": str(target), "directives": ["opcache.fast_shutdown"], "state": "absent",
                          "backup": True})
    assert result["changed"] and result["backup_file"]
    assert target.read_text() == "zend_extension=opcache.so\n"
    assert oct(os.stat(str(target)).st_mode & 0o777) == "0o640"
    with open(result["backup_file"]) as handle:
        assert "fast_shutdown" in handle.read()
    again = run(capsys, {"path": str(target), "directives": ["opcache.fast_shutdown"], "state": "absent"})
    assert not again["changed"]


def test_absent_warns_still_set_elsewhere(host, capsys):
    result = run(capsys, {"path": host["path"], "directives": {"opcache.memory_consumption": None},
                          "state": "absent"})
    assert not result["changed"]
    assert any("still set in" in w for w in warnings(result))


def test_several_masters_need_choice(host, capsys, tmp_path, monkeypatch):
    host["masters"].append({"pid": 900, "config": "/etc/php-fpm-alt/php-fpm.conf",
                            "binary": "/usr/sbin/php-fpm8.2", "env": {"PHP_INI_SCAN_DIR": str(tmp_path)}})
    real = basic.AnsibleModule.run_command

    def run_command(self, args, environ_update=None, **kwargs):
        if environ_update and args[-1] == "-i":
            return 0, "Scan this dir for additional .ini files => %s\n" % tmp_path, ""
        return real(self, args, **kwargs)

    monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
    result = run(capsys, {"directives": {"opcache.enable": 1}})
    assert result["failed"] and "give path, scan_dir or fpm_config" in result["msg"]
    chosen = run(capsys, {"directives": {"opcache.enable": 1}, "fpm_config": "/etc/php-fpm-alt/php-fpm.conf"})
    assert chosen["path"] == str(tmp_path / "zz-opcache-fleet.ini")
    by_dir = run(capsys, {"directives": {"opcache.enable": 1}, "scan_dir": str(host["scan"])})
    assert by_dir["path"] == host["path"]
    missing = run(capsys, {"directives": {"opcache.enable": 1}, "fpm_config": "/nope.conf"})
    assert missing["failed"] and "fpm_config" in missing["msg"]


def test_no_php_found(host, capsys, monkeypatch):
    monkeypatch.setattr(fpm_ini_target, "list_masters", lambda proc="/proc": [])
    monkeypatch.setattr(fpm_ini_target, "find_binaries", lambda: [])
    result = run(capsys, {"directives": {"opcache.enable": 1}})
    assert result["failed"] and "no running php-fpm master" in result["msg"]
    result = run(capsys, {"path": host["path"], "directives": {"opcache.enable": 1}})
    assert result["failed"] and result["msg"].startswith("php_version:")


def test_version_unreadable(host, capsys, monkeypatch):
    monkeypatch.setattr(basic.AnsibleModule, "run_command", lambda self, args, **kw: (1, "", "boom"))
    result = run(capsys, {"directives": {"opcache.enable": 1}})
    assert result["failed"] and "could not read the PHP version" in result["msg"]


def test_explicit_path_and_version_skip_failing_discovery(host, capsys, monkeypatch):
    monkeypatch.setattr(basic.AnsibleModule, "run_command", lambda self, args, **kw: (1, "", "boom"))
    result = run(capsys, {"path": host["path"], "php_version": "7.1", "directives": {"opcache.fast_shutdown": 1}})
    assert result["changed"]


def test_write_failure(host, capsys, monkeypatch):
    def boom(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(opcache_ini, "write_text", boom)
    result = run(capsys, {"directives": {"opcache.enable": 1}})
    assert result["failed"] and "cannot write" in result["msg"] and "disk full" in result["msg"]


def test_list_masters_from_fake_proc(tmp_path):
    proc = tmp_path / "proc"
    for pid, cmd, env in ((812, b"php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)",
                           b"PATH=/bin\0PHP_INI_SCAN_DIR=/etc/alt/conf.d\0"),
                          (813, b"php-fpm: pool www", b""), (1, b"/sbin/init", b"")):
        d = proc / str(pid)
        d.mkdir(parents=True)
        (d / "cmdline").write_bytes(cmd + b"\0")
        (d / "environ").write_bytes(env)
    (proc / "self").mkdir()
    masters = fpm_ini_target.list_masters(str(proc))
    assert masters == [{"pid": 812, "config": "/etc/php/8.2/fpm/php-fpm.conf", "binary": None,
                        "env": {"PHP_INI_SCAN_DIR": "/etc/alt/conf.d"}}]


def test_default_path():
    # (the php -i part of this test moved to discovery/test_php_info.py with the parser)
    assert fpm_ini_target.default_path({"scan_dirs": [], "php_ini": "/etc/php.ini"})[0] == "/etc/php.ini"
    with pytest.raises(fpm_ini_target.TargetError):
        fpm_ini_target.default_path({"scan_dirs": [], "php_ini": None, "binary": "/x"})


def test_fleet_discovery_additional_leaves_out_php_ini(monkeypatch):
    # fpm_discover's ini.files lists php.ini first, then the scan-dir files (lab capture)
    fake = {"masters": [{"master_pid": 7, "config": "/etc/php-fpm.conf", "binary": "/usr/sbin/php-fpm8.2",
                         "php_version": "8.2.36",
                         "ini": {"php_ini": "/etc/php.ini", "scan_dir": "/etc/php.d",
                                 "files": ["/etc/php.ini", "/etc/php.d/10-opcache.ini",
                                           "/etc/php.d/zz-opcache-fleet.ini"]}}]}
    monkeypatch.setattr(fpm_ini_target, "_fleet_discover", lambda run_command, **kw: fake)
    described = fpm_ini_target.discover_masters(lambda argv, env: (1, "", ""))
    assert described[0]["php_ini"] == "/etc/php.ini"
    assert described[0]["additional"] == ["/etc/php.d/10-opcache.ini", "/etc/php.d/zz-opcache-fleet.ini"]


def test_uses_fleet_discovery_when_available(monkeypatch):
    fake = {"masters": [{"master_pid": 5, "config": "/etc/php-fpm-alt/php-fpm.conf", "binary": "/usr/sbin/php-fpm8.2",
                         "php_version": "8.2.7", "ini": {"php_ini": "/etc/php-fpm-alt/php.ini",
                                                         "scan_dir": "/etc/php-fpm-alt/conf.d", "files": []}}]}
    monkeypatch.setattr(fpm_ini_target, "_fleet_discover", lambda run_command, **kw: fake)
    target = fpm_ini_target.resolve(lambda argv, env: (1, "", ""))
    assert target["path"] == "/etc/php-fpm-alt/conf.d/zz-opcache-fleet.ini" and target["pid"] == 5

    def broken(run_command, **kw):
        raise RuntimeError("boom")
    monkeypatch.setattr(fpm_ini_target, "_fleet_discover", broken)
    assert fpm_ini_target.discover_masters(lambda argv, env: (1, "", "")) is None
