# SPDX-License-Identifier: GPL-3.0-or-later
"""Drive opcache_blacklist.main() with patched module args; discovery faked."""
import os

import pytest
from ansible.module_utils import basic
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.ini import target as fpm_ini_target

from ansible_collections.phpfpm.opcache_fleet.plugins.modules import opcache_blacklist
from module_runner import run_main_json


@pytest.fixture
def host(tmp_path, monkeypatch):
    """A RHEL-like master: /etc/php.d with a blacklist glob in 10-opcache.ini."""
    scan = tmp_path / "php.d"
    scan.mkdir()
    (scan / "10-opcache.ini").write_text(
        'zend_extension=opcache\nopcache.blacklist_filename="%s/opcache*.blacklist"\n' % scan)
    masters = [{"pid": 77, "config": "/etc/php-fpm.conf", "binary": "/usr/sbin/php-fpm", "env": {}}]
    monkeypatch.setattr(fpm_ini_target, "list_masters", lambda proc="/proc": masters)
    monkeypatch.setattr(fpm_ini_target, "discover_masters", lambda run, proc="/proc": None)

    def run_command(self, args, **kwargs):
        if args[-1] == "-v":
            return 0, "PHP 8.2.13 (fpm-fcgi) (built: Nov 21 2023)\n", ""
        return 0, ("<tr><td class=\"e\">Loaded Configuration File </td><td class=\"v\">(none) </td></tr>\n"
                   "<tr><td class=\"e\">Scan this dir for additional .ini files </td>"
                   "<td class=\"v\">%s </td></tr>\n" % scan), ""

    monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
    return {"scan": scan, "path": str(scan / "opcache-fleet.blacklist")}


def warnings(result):
    return [w["event"]["msg"] if isinstance(w, dict) else w for w in result.get("warnings", [])]


def run(capsys, args, check=False, diff=False):
    return run_main_json(opcache_blacklist, capsys, args, check=check, diff=diff)


def test_present_twice(host, capsys):
    args = {"path": host["path"], "entries": ["/srv/app/releases/b/report.php"], "require_loaded": True}
    first = run(capsys, args)
    assert first["changed"] and first["reload_required"] and first["loaded"] is True
    assert first["added"] == ["/srv/app/releases/b/report.php"]
    assert first["blacklist_filenames"][0]["set_in"].endswith("10-opcache.ini")
    with open(host["path"]) as handle:
        assert handle.read() == "/srv/app/releases/b/report.php\n"
    assert oct(os.stat(host["path"]).st_mode & 0o777) == "0o644"
    second = run(capsys, args)
    assert not second["changed"] and not second["reload_required"]


def test_check_mode_and_diff(host, capsys):
    result = run(capsys, {"path": host["path"], "entries": ["/srv/a.php"]}, check=True, diff=True)
    assert result["changed"] and not os.path.exists(host["path"])
    assert result["diff"]["after"] == "/srv/a.php\n" and result["diff"]["before"] == ""


def test_comments_kept_absent_and_backup(host, capsys):
    with open(host["path"], "w") as handle:
        handle.write("; culprits\n/srv/a.php\n/srv/b.php\n")
    result = run(capsys, {"path": host["path"], "entries": ["/srv/a.php"], "state": "absent", "backup": True})
    assert result["changed"] and result["removed"] == ["/srv/a.php"] and result["backup_file"]
    with open(host["path"]) as handle:
        assert handle.read() == "; culprits\n/srv/b.php\n"


def test_exclusive(host, capsys):
    with open(host["path"], "w") as handle:
        handle.write("; c\n/srv/a.php\n/srv/b.php\n")
    result = run(capsys, {"path": host["path"], "entries": ["/srv/c.php"], "exclusive": True})
    assert result["entries"] == ["/srv/c.php"]
    emptied = run(capsys, {"path": host["path"], "entries": [], "exclusive": True})
    assert emptied["entries"] == [] and emptied["changed"]


@pytest.mark.parametrize("entry,fragment", [
    (" /srv/a.php", "does not trim"),
    (";/srv/a.php", "comment"),
    ("srv/a.php", "relative path"),
    ("", "empty entry"),
])
def test_bad_entries_fail_and_write_nothing(host, capsys, entry, fragment):
    result = run(capsys, {"path": host["path"], "entries": ["/srv/ok.php", entry]})
    assert result["failed"] and fragment in result["msg"] and "nothing written" in result["msg"]
    assert not os.path.exists(host["path"])


def test_empty_entries_without_exclusive(host, capsys):
    result = run(capsys, {"path": host["path"], "entries": []})
    assert result["failed"] and "entries: is empty" in result["msg"]


def test_relative_path(host, capsys):
    result = run(capsys, {"path": "x.blacklist", "entries": ["/srv/a.php"]})
    assert result["failed"] and "not an absolute path" in result["msg"]


def test_not_loaded_warns(host, capsys, tmp_path):
    other = str(tmp_path / "other.blacklist")
    result = run(capsys, {"path": other, "entries": ["/srv/a.php"]})
    assert result["changed"] and result["loaded"] is False and not result["reload_required"]
    assert any("would never read it" in w for w in warnings(result))


def test_not_loaded_require_fails(host, capsys, tmp_path):
    other = str(tmp_path / "other.blacklist")
    result = run(capsys, {"path": other, "entries": ["/srv/a.php"], "require_loaded": True})
    assert result["failed"] and "would never read it" in result["msg"] and "nothing written" in result["msg"]
    assert not os.path.exists(other)


def test_given_glob(host, capsys, tmp_path):
    other = str(tmp_path / "x.blacklist")
    result = run(capsys, {"path": other, "entries": ["/srv/a.php"],
                          "blacklist_filename": str(tmp_path / "*.blacklist"), "require_loaded": True})
    assert result["loaded"] is True


def test_no_master_unknown_loaded(host, capsys, monkeypatch):
    monkeypatch.setattr(fpm_ini_target, "list_masters", lambda proc="/proc": [])
    monkeypatch.setattr(fpm_ini_target, "find_binaries", lambda: [])
    result = run(capsys, {"path": host["path"], "entries": ["/srv/a.php"]})
    assert result["loaded"] is None and result["reload_required"]
    failed = run(capsys, {"path": host["path"], "entries": ["/srv/b.php"], "require_loaded": True})
    assert failed["failed"] and "no php-fpm master was found" in failed["msg"]


def test_discovery_error_warns(host, capsys, monkeypatch):
    monkeypatch.setattr(basic.AnsibleModule, "run_command", lambda self, a, **k: (1, "", "boom"))
    result = run(capsys, {"path": host["path"], "entries": ["/srv/a.php"]})
    assert any("could not discover php-fpm" in w for w in warnings(result))


def test_exclusive_with_absent_warns(host, capsys):
    result = run(capsys, {"path": host["path"], "entries": ["/srv/a.php"], "state": "absent", "exclusive": True})
    assert any("no effect" in w for w in warnings(result))


def test_path_is_directory(host, capsys):
    result = run(capsys, {"path": str(host["scan"]), "entries": ["/srv/a.php"], "blacklist_filename": "/x"})
    assert result["failed"] and "is a directory" in result["msg"]


def test_write_failure(host, capsys, monkeypatch):
    def boom(*a, **k):
        raise OSError("read-only file system")
    monkeypatch.setattr(opcache_blacklist, "write_text", boom)
    result = run(capsys, {"path": host["path"], "entries": ["/srv/a.php"]})
    assert result["failed"] and "cannot write" in result["msg"]


def test_default_path_from_glob(host, capsys):
    result = run(capsys, {"entries": ["/srv/a.php"]})
    assert result["path"] == str(host["scan"] / "opcache-fleet.blacklist") and result["loaded"]


def test_default_path_needs_glob(host, capsys):
    result = run(capsys, {"entries": ["/srv/a.php"], "blacklist_filename": ""})
    assert result["failed"] and "does not name one file" in result["msg"]
    result = run(capsys, {"entries": ["/srv/a.php"], "blacklist_filename": "/etc/*/x.blacklist"})
    assert result["failed"] and "cannot derive" in result["msg"]


# --- issue 11, finding 9: symlinked blacklist files and unsafe directories ----------------

def test_symlinked_blacklist_written_through_link_kept(host, capsys, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    real = shared / "fleet.blacklist"
    real.write_text("; managed\n/srv/old.php\n")
    os.chmod(str(real), 0o600)
    link = str(host["scan"] / "opcache-app.blacklist")
    os.symlink(str(real), link)
    result = run(capsys, {"path": link, "entries": ["/srv/new.php"], "backup": True,
                          "require_loaded": True}, diff=True)
    assert result["changed"] and result["added"] == ["/srv/new.php"] and result["loaded"]
    assert os.path.islink(link), "the symlink was replaced by a regular file"
    assert real.read_text() == "; managed\n/srv/old.php\n/srv/new.php\n"
    assert oct(os.stat(str(real)).st_mode & 0o777) == "0o600"
    assert os.path.dirname(result["backup_file"]) == str(shared)
    with open(result["backup_file"]) as handle:
        assert handle.read() == "; managed\n/srv/old.php\n"
    assert result["real_path"] == str(real) and str(real) in result["diff"]["before_header"]


def test_dangling_blacklist_symlink_refused(host, capsys, tmp_path):
    os.symlink(str(tmp_path / "nowhere" / "x.blacklist"), host["path"])
    result = run(capsys, {"path": host["path"], "entries": ["/srv/a.php"]})
    assert result["failed"] and "dangling" in result["msg"] and host["path"] in result["msg"]
    assert os.path.islink(host["path"]) and not os.path.exists(str(tmp_path / "nowhere"))


def test_blacklist_in_others_writable_directory_refused(host, capsys, tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    os.chmod(str(drop), 0o1777)
    path = str(drop / "x.blacklist")
    result = run(capsys, {"path": path, "entries": ["/srv/a.php"], "blacklist_filename": path})
    assert result["failed"] and str(drop) in result["msg"] and "writable by other users" in result["msg"]
    assert os.listdir(str(drop)) == []


def test_blacklist_parent_missing_not_created(host, capsys, tmp_path):
    path = str(tmp_path / "blacklist.d" / "x.blacklist")
    result = run(capsys, {"path": path, "entries": ["/srv/a.php"], "blacklist_filename": path})
    assert result["failed"] and "does not exist" in result["msg"]
    assert not os.path.exists(str(tmp_path / "blacklist.d"))


def test_own_blacklist_file_as_symlink_refused(host, capsys, tmp_path):
    elsewhere = tmp_path / "elsewhere.blacklist"
    elsewhere.write_text("/srv/theirs.php\n")
    os.symlink(str(elsewhere), host["path"])
    for args in ({"path": host["path"]}, {}):   # given, or derived from the glob
        result = run(capsys, dict(args, entries=["/srv/a.php"]))
        assert result["failed"] and "opcache-fleet writes this file itself" in result["msg"]
        assert host["path"] in result["msg"] and str(elsewhere) in result["msg"]
    assert os.path.islink(host["path"]) and elsewhere.read_text() == "/srv/theirs.php\n"
