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
    from fake_proc import FakeStat, add_process
    proc = tmp_path / "proc"
    add_process(proc, 1, ["/sbin/init"], ppid=0)
    add_process(proc, 812, ["php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)"], exe="/usr/sbin/php-fpm8.2",
                environ={"PATH": "/bin", "PHP_INI_SCAN_DIR": "/etc/alt/conf.d"})
    add_process(proc, 813, ["php-fpm: pool www"], ppid=812, uid=33, exe="/usr/sbin/php-fpm8.2")
    # Issue 11, finding 1: nobody's process with a master's title is not a master (its
    # binary would run as root with its PHP_INI_SCAN_DIR).
    add_process(proc, 900, ["php-fpm: master process (/tmp/evil/php-fpm.conf)"], uid=65534,
                exe="/tmp/evil/own-binary", environ={"PHP_INI_SCAN_DIR": "/tmp/evil/conf.d"})
    (proc / "self").mkdir()
    masters = fpm_ini_target.list_masters(str(proc), stat_fn=FakeStat({"/tmp/evil/own-binary": (65534, 65534, 0o100755)}))
    assert masters == [{"pid": 812, "config": "/etc/php/8.2/fpm/php-fpm.conf", "binary": "/usr/sbin/php-fpm8.2",
                        "env": {"PHP_INI_SCAN_DIR": "/etc/alt/conf.d"}}]


def test_installed_binaries_others_can_change_are_not_run(monkeypatch):
    from fake_proc import FakeStat
    monkeypatch.setattr(fpm_ini_target.glob, "glob", lambda pattern: ["/usr/sbin/php-fpm8.2", "/usr/sbin/php-fpm8.1"])
    monkeypatch.setattr(fpm_ini_target.os, "access", lambda path, mode: True)
    stat = FakeStat({"/usr/sbin/php-fpm8.1": (1000, 1000, 0o100755)})
    assert fpm_ini_target.find_binaries(stat_fn=stat) == ["/usr/sbin/php-fpm8.2"]


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


# --- issue 11, finding 9: symlinked ini files, unsafe directories, unsafe values ----------

def debian_layout(tmp_path):
    """conf.d/10-opcache.ini -> ../mods-available/opcache.ini, as phpenmod makes it."""
    mods = tmp_path / "mods-available"
    mods.mkdir()
    real = mods / "opcache.ini"
    real.write_text("zend_extension=opcache.so\nopcache.memory_consumption=128\n")
    os.chmod(str(real), 0o640)
    link = tmp_path / "conf.d" / "10-opcache.ini"
    link.unlink()
    os.symlink("../mods-available/opcache.ini", str(link))
    return link, real


def test_symlinked_ini_written_through_link_kept(host, capsys, tmp_path):
    link, real = debian_layout(tmp_path)
    result = run(capsys, {"path": str(link), "php_version": "8.2", "backup": True,
                          "directives": {"opcache.memory_consumption": 256}}, diff=True)
    assert result["changed"]
    assert os.path.islink(str(link)), "the conf.d symlink was replaced by a regular file"
    assert os.readlink(str(link)) == "../mods-available/opcache.ini"
    assert real.read_text() == "zend_extension=opcache.so\nopcache.memory_consumption=256\n"
    assert oct(os.stat(str(real)).st_mode & 0o777) == "0o640"
    # the backup holds the target's old content and sits next to the target, not in conf.d
    assert os.path.dirname(result["backup_file"]) == str(real.parent)
    with open(result["backup_file"]) as handle:
        assert handle.read() == "zend_extension=opcache.so\nopcache.memory_consumption=128\n"
    assert [n for n in os.listdir(str(host["scan"])) if n != "10-opcache.ini"] == []
    assert result["real_path"] == str(real)
    assert any("%s is a symlink: its target %s is edited" % (link, real) in w for w in warnings(result))
    assert str(real) in result["diff"]["after_header"]
    assert str(link) in result["diff"]["after_header"]


def test_dangling_symlink_refused(host, capsys, tmp_path):
    link = host["scan"] / "20-gone.ini"
    os.symlink(str(tmp_path / "mods-available" / "gone.ini"), str(link))
    result = run(capsys, {"path": str(link), "php_version": "8.2", "directives": {"opcache.enable": 1}})
    assert result["failed"]
    assert "dangling" in result["msg"] and str(link) in result["msg"] and "gone.ini" in result["msg"]
    assert os.path.islink(str(link)) and not os.path.exists(str(tmp_path / "mods-available"))


def test_symlink_to_device_refused(host, capsys):
    link = host["scan"] / "20-null.ini"
    os.symlink("/dev/null", str(link))
    result = run(capsys, {"path": str(link), "php_version": "8.2", "directives": {"opcache.enable": 1}})
    assert result["failed"] and "/dev/null" in result["msg"] and str(link) in result["msg"]
    assert os.readlink(str(link)) == "/dev/null"


def test_symlink_into_others_writable_directory_refused(host, capsys, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(str(shared), 0o777)
    (shared / "opcache.ini").write_text("opcache.enable=0\n")
    link = host["scan"] / "20-shared.ini"
    os.symlink(str(shared / "opcache.ini"), str(link))
    result = run(capsys, {"path": str(link), "php_version": "8.2", "directives": {"opcache.enable": 1}})
    assert result["failed"] and str(shared) in result["msg"] and "writable by other users" in result["msg"]
    assert (shared / "opcache.ini").read_text() == "opcache.enable=0\n"


def test_own_override_file_as_symlink_refused(host, capsys, tmp_path):
    elsewhere = tmp_path / "elsewhere.ini"
    elsewhere.write_text("; someone else's file\n")
    os.symlink(str(elsewhere), host["path"])
    result = run(capsys, {"directives": {"opcache.enable": 1}})
    assert result["failed"] and "zz-opcache-fleet.ini" in result["msg"] and str(elsewhere) in result["msg"]
    assert os.path.islink(host["path"]) and elsewhere.read_text() == "; someone else's file\n"


def test_others_writable_parent_refused(host, capsys, tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    os.chmod(str(drop), 0o777)
    result = run(capsys, {"path": str(drop / "x.ini"), "php_version": "8.2", "directives": {"opcache.enable": 1}})
    assert result["failed"] and str(drop) in result["msg"] and "writable by other users" in result["msg"]
    assert os.listdir(str(drop)) == []


def test_symlinked_parent_into_others_writable_directory_refused(host, capsys, tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    os.chmod(str(drop), 0o1777)
    os.symlink(str(drop), str(tmp_path / "conf.alt"))
    result = run(capsys, {"path": str(tmp_path / "conf.alt" / "x.ini"), "php_version": "8.2",
                          "directives": {"opcache.enable": 1}})
    assert result["failed"] and str(drop) in result["msg"] and "writable by other users" in result["msg"]
    assert os.listdir(str(drop)) == []


@pytest.mark.parametrize("value,fragment", [
    ("/var/log/php/", None),                 # control: a plain path is fine
    ("/var/log/php\\", "backslash"),         # "...\" would escape the closing quote
    ("C:\\php\\logs\\", "backslash"),
    ("/var/log/a\\\\b", "backslash"),        # PHP reads \\ in double quotes as one \
    ("/var/log/${USER}.log", "$"),
    ("/var/log/a\"b", "double quote"),
    ("/var/log/a\nb", "newline"),
    ("/var/log/a\x00b", "NUL"),
])
def test_unsafe_ini_values_refused(host, capsys, value, fragment):
    result = run(capsys, {"directives": {"opcache.error_log": value}})
    if fragment is None:
        assert result["changed"]
        return
    assert result["failed"], "accepted %r" % value
    assert "opcache.error_log" in result["msg"] and repr(value) in result["msg"] and fragment in result["msg"]
    assert not os.path.exists(host["path"])


def test_values_equal_by_php_meaning_are_unchanged(host, capsys):
    """On/1, Off/0, yes/true, 64M/67108864: PHP reads them the same; no write, no reload."""
    text = ("opcache.enable=On\nopcache.validate_timestamps=Off\nopcache.save_comments=yes\n"
            "opcache.enable_cli=\"\"\nopcache.jit_buffer_size=67108864\n")
    with open(host["path"], "w") as handle:
        handle.write(text)
    before = os.stat(host["path"])
    result = run(capsys, {"directives": {"opcache.enable": 1, "opcache.validate_timestamps": "0",
                                         "opcache.save_comments": True, "opcache.enable_cli": "false",
                                         "opcache.jit_buffer_size": "64M"}})
    assert not result["changed"] and not result["reload_required"], result["actions"]
    assert [a["action"] for a in result["actions"]] == ["unchanged"] * 5
    with open(host["path"]) as handle:
        assert handle.read() == text
    assert os.stat(host["path"]).st_ino == before.st_ino


def test_values_differing_by_php_meaning_are_updated(host, capsys):
    with open(host["path"], "w") as handle:
        handle.write("opcache.enable=Off\nopcache.jit_buffer_size=64M\n")
    result = run(capsys, {"directives": {"opcache.enable": "On", "opcache.jit_buffer_size": "128M"}})
    assert result["changed"] and result["reload_required"]
    with open(host["path"]) as handle:
        assert handle.read() == "opcache.enable=1\nopcache.jit_buffer_size=128M\n"
