# SPDX-License-Identifier: GPL-3.0-or-later
"""fail_json paths of opcache_status / opcache_reset (argument checks before any I/O)."""
import json

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.modules import opcache_reset
from ansible_collections.phpfpm.opcache_fleet.plugins.modules import opcache_status
from module_runner import run_main_exit


def run(module, args, check=False):
    run_main_exit(module, args, check=check)


def result(capsys):
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("args,msg", [
    ({"mode": "files"}, "files is required with mode=files"),
    ({"mode": "files", "files": ["rel/x.php"]}, "files must be absolute paths, got 'rel/x.php'"),
    ({"mode": "glob"}, "patterns is required with mode=glob"),
    ({"mode": "stale", "files": ["/x.php"]}, "files is only used with mode=files, got mode=stale"),
    ({"mode": "full", "patterns": ["*"]}, "patterns is only used with mode=glob, got mode=full"),
    ({"mode": "stale", "purge_file_cache": True}, "purge_file_cache=true requires mode=full, got mode=stale"),
    ({"mode": "files", "files": ["/x"], "fallback": "reload"}, "fallback=reload requires mode=full, got mode=files"),
    ({"mode": "full", "timeout": 0}, "timeout and request_timeout must be positive, got 0.0 and 10.0"),
    ({"mode": "full", "helper_dir": "/tmp/x"}, "helper_dir=/tmp/x is under /tmp, which systemd PrivateTmp hides"),
    ({"mode": "bogus"}, "value of mode must be one of: full, files, glob, stale, got: bogus"),
    ({"mode": "full", "max_answer_size": 1000}, "max_answer_size must be at least 65536 bytes, got 1000"),
])
def test_reset_argument_errors(capsys, args, msg):
    run(opcache_reset, args)
    out = result(capsys)
    assert out["failed"] and msg in out["msg"]


def test_status_helper_dir_under_tmp(capsys):
    run(opcache_status, {"socket": "/nowhere.sock", "helper_dir": "/var/tmp/h"})
    out = result(capsys)
    assert out["failed"] and "helper_dir=/var/tmp/h is under /var/tmp" in out["msg"]


def test_status_pool_requires_socket(capsys):
    run(opcache_status, {"pool": {"chroot": "/srv/j"}})
    out = result(capsys)
    assert out["failed"] and "socket" in out["msg"]


def test_status_dead_socket_fails_naming_cause(capsys, tmp_path, monkeypatch):
    from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache import helper as opcache_helper
    monkeypatch.setattr(opcache_helper, "PRIVATE_TMP_DIRS", ())
    sock = str(tmp_path / "php-fpm.sock")
    run(opcache_status, {"socket": sock, "helper_dir": str(tmp_path / "h")})
    out = result(capsys)
    assert out["failed"] and "ENOENT" in out["msg"] and sock in out["msg"]
    assert out["failed_masters"][0]["cause"] == "ENOENT"


def test_reset_dead_socket_fails_naming_cause(capsys, tmp_path, monkeypatch):
    from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache import helper as opcache_helper
    monkeypatch.setattr(opcache_helper, "PRIVATE_TMP_DIRS", ())
    sock = str(tmp_path / "php-fpm.sock")
    run(opcache_reset, {"socket": sock, "mode": "full", "helper_dir": str(tmp_path / "h")})
    out = result(capsys)
    assert out["failed"] and out["failed_masters"][0]["cause"] == "ENOENT"
    assert out["masters_reset"] == 0 and not out["changed"]


def test_reset_fallback_without_unit_names_it(capsys, tmp_path, monkeypatch):
    from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache import helper as opcache_helper
    monkeypatch.setattr(opcache_helper, "PRIVATE_TMP_DIRS", ())
    run(opcache_reset, {"socket": str(tmp_path / "x.sock"), "mode": "full", "fallback": "reload",
                        "helper_dir": str(tmp_path / "h")})
    out = result(capsys)
    assert out["failed"] and out["failed_masters"][0]["cause"] == "systemd_unit"


def test_status_max_answer_size_reaches_the_fastcgi_client(capsys, tmp_path, monkeypatch):
    # finding 7: the answer cap is the module's option, not a constant of the client
    from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache import fastcgi
    from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache import helper as opcache_helper
    monkeypatch.setattr(opcache_helper, "PRIVATE_TMP_DIRS", ())
    seen = []

    def fake_request(address, params, stdin=b"", **kw):
        seen.append(kw.get("max_response"))
        raise fastcgi.FastCGIProtocolError(address, "too_large", "answer exceeds %d bytes" % kw["max_response"])
    monkeypatch.setattr(fastcgi, "request", fake_request)
    run(opcache_status, {"socket": str(tmp_path / "x.sock"), "helper_dir": str(tmp_path / "h"),
                         "max_answer_size": 100000})
    out = result(capsys)
    assert seen == [100000] and out["failed"] and out["failed_masters"][0]["cause"] == "too_large"


def test_reset_names_the_files_no_master_caches(capsys, monkeypatch):
    """mode=files: a file cached by no master (under either spelling) is listed, with a warning."""
    masters = [{"master_pid": 1, "sockets": ["/a.sock"]}, {"master_pid": 2, "sockets": ["/b.sock"]}]
    monkeypatch.setattr(opcache_reset, "select_targets", lambda module: (masters, []))
    monkeypatch.setattr(opcache_reset, "check_helper_dir", lambda module: None)
    answers = {1: {"not_cached": ["/srv/gone.php", "/srv/b.php"], "changed": True, "verified": True},
               2: {"not_cached": ["/srv/gone.php"], "changed": True, "verified": True}}
    monkeypatch.setattr(opcache_reset, "reset_master", lambda target, *a, **kw: dict(answers[target["master_pid"]]))
    run(opcache_reset, {"mode": "files", "files": ["/srv/b.php", "/srv/gone.php"]})
    out = result(capsys)
    assert out["not_cached"] == ["/srv/gone.php"] and out["masters_verified"] == 2
    assert "/srv/gone.php" in json.dumps(out.get("warnings"))


def test_reset_retries_a_master_whose_worker_went_away(capsys, monkeypatch):
    """A reset whose request met a recycling worker is tried again, not failed."""
    from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.cure import backoff
    from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.helper import HelperError
    monkeypatch.setattr(opcache_reset, "select_targets", lambda module: ([{"master_pid": 1, "sockets": ["/a"]}], []))
    monkeypatch.setattr(opcache_reset, "check_helper_dir", lambda module: None)
    monkeypatch.setattr(backoff.time, "sleep", lambda s: None)
    calls = []

    def reset_master(target, *a, **kw):
        calls.append(1)
        if len(calls) == 1:
            raise HelperError("/a", "truncated", "the worker closed the connection before the answer ended")
        return {"master_pid": 1, "changed": True, "verified": True}
    monkeypatch.setattr(opcache_reset, "reset_master", reset_master)
    run(opcache_reset, {"mode": "full"})
    out = result(capsys)
    assert len(calls) == 2 and out["masters_verified"] == 1 and "failed_masters" not in out
    assert out["masters"][0]["retries"][0]["cause"] == "truncated"
