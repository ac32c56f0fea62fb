# SPDX-License-Identifier: GPL-3.0-or-later
"""The PHP helper: fixed text, deployment, cleanup, nonce, errors naming the setting.

Security properties proven here without PHP (the lab scenario repeats the hostile-name
round trip through a real php-fpm):
* the PHP text is one constant (pinned hash) and the file written is byte-identical to it
  whatever the arguments are: hostile file names travel only in the JSON body;
* the helper file and its directory are gone after success, error, garbage and timeout.
"""
import hashlib
import json
import os
import stat

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache import fastcgi
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache import helper as h
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.helper_php import HELPER_SHA256

from fake_fcgi import FakePeer, end, stderr, stdout
from fake_fcgi import helper_leftovers as leftovers


HOSTILE = [
    "/srv/a'b.php", '/srv/a"b.php', "/srv/$x.php", "/srv/${system('id')}.php", "/srv/a\nb.php",
    "/srv/?><?php echo 1; ?>.php", "/srv/`id`.php", "/srv/a\\'.php", "/srv/\u00e9\u4e2d.php",
    "/srv/a\x00b.php",
]


def php_peer(tmp_path, behaviour="ok", seen=None):
    """A fake php-fpm: checks the helper on disk, answers like the real helper."""
    seen = seen if seen is not None else []

    def handler(req):
        script = req["params"][b"SCRIPT_FILENAME"].decode()
        info = {"script": script, "exists": os.path.exists(script)}
        if info["exists"]:
            with open(script, "rb") as fh:
                info["sha"] = hashlib.sha256(fh.read()).hexdigest()
            info["dir_mode"] = stat.S_IMODE(os.stat(os.path.dirname(script)).st_mode)
            info["file_mode"] = stat.S_IMODE(os.stat(script).st_mode)
        info["body"] = json.loads(req["stdin"])
        seen.append(info)
        # as HELPER_PHP: act only when the token's SHA-256 is the file's name
        token = req["params"].get(b"OPCACHE_FLEET_TOKEN", b"")
        if hashlib.sha256(token).hexdigest() != os.path.splitext(os.path.basename(script))[0]:
            return [stdout(b"Content-Type: application/json\r\n\r\n" + json.dumps(
                {"helper": "opcache-fleet", "ok": False, "error": "forbidden"}).encode()), end()]
        nonce = info["body"]["nonce"]
        if behaviour == "timeout":
            return [("sleep", 1.5)]
        if behaviour == "garbage":
            return [b"\x00garbage" * 4]
        if behaviour == "crash":
            return [stdout(b"Content-type: text/html\r\n\r\n"), ("close",)]
        if behaviour == "basedir":
            return [stderr(("Unable to open primary script: %s (Operation not permitted)" % script).encode()),
                    stdout(b"Status: 404 Not Found\r\nContent-type: text/html\r\n\r\nNo input file specified.\n"),
                    end()]
        if behaviour == "limit_ext":
            return [stderr(("Access to the script '%s' has been denied (see security.limit_extensions)"
                            % script).encode()),
                    stdout(b"Status: 403 Forbidden\r\nContent-type: text/html\r\n\r\nAccess denied.\n"), end()]
        if behaviour == "unknown":
            return [stderr(b"Primary script unknown"),
                    stdout(b"Status: 404 Not Found\r\n\r\nFile not found.\n"), end()]
        answer = {"helper": "opcache-fleet", "ok": True, "nonce": nonce, "pid": 7, "master_pid": 1,
                  "time": 1000, "ini": {"opcache.restrict_api": ""}, "restricted": False,
                  "files": dict((f, {"cached": False, "mtime": None}) for f in info["body"]["args"].get("files", [])),
                  "warnings": []}
        if behaviour == "wrong_nonce":
            answer["nonce"] = "0" * 32
        if behaviour == "restricted":
            restricted = not script.startswith(str(tmp_path / "api"))
            answer["restricted"] = restricted
            answer["ini"]["opcache.restrict_api"] = str(tmp_path / "api") + "/"
        if behaviour == "no_opcache":
            answer["error"] = "opcache_not_loaded"
        data = json.dumps(answer).encode()
        return [stdout(b"Content-Type: application/json\r\n\r\n" + data), end()]
    return handler, seen


@pytest.fixture
def env(tmp_path, monkeypatch):
    # pytest's tmp_path lives under /tmp, which the helper refuses (PrivateTmp): allow it here
    monkeypatch.setattr(h, "PRIVATE_TMP_DIRS", ())
    peers = []
    base = str(tmp_path / "lib" / "opcache-fleet")

    def make(behaviour="ok"):
        handler, seen = php_peer(tmp_path, behaviour)
        p = FakePeer(str(tmp_path / ("php%d.sock" % len(peers))), handler)
        peers.append(p)
        return p, seen
    yield make, base, tmp_path
    for p in peers:
        p.close()


def test_deploy_call_and_remove(env):
    make, base, dummy = env
    p, seen = make()
    answer = h.run_helper(p.path, "is_cached", {"files": ["/srv/a.php"]}, base_dir=base)
    assert answer["files"] == {"/srv/a.php": {"cached": False, "mtime": None}}
    s = seen[0]
    assert s["exists"] and s["sha"] == HELPER_SHA256
    assert s["dir_mode"] == 0o711 and s["file_mode"] == 0o644
    name = s["script"][len(base) + 1:]
    assert len(name.split("/")[0]) == 32 and len(name.split("/")[1]) == 64 + 4 and name.endswith(".php")
    assert leftovers(base) == []  # random dir and file removed


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_travel_as_data(env, name):
    make, base, dummy = env
    p, seen = make()
    answer = h.run_helper(p.path, "is_cached", {"files": [name]}, base_dir=base)
    assert seen[0]["sha"] == HELPER_SHA256  # the PHP text is byte-identical
    assert seen[0]["body"]["args"]["files"] == [name]  # and the name arrived intact as JSON
    assert list(answer["files"]) == [name]


@pytest.mark.parametrize("behaviour,cause", [
    ("garbage", "protocol"), ("crash", "truncated"), ("timeout", "timeout"), ("wrong_nonce", "nonce"),
    ("basedir", "open_basedir"), ("limit_ext", "security.limit_extensions"), ("unknown", "chroot/PrivateTmp"),
    ("no_opcache", "opcache.enable"),
])
def test_failures_name_the_cause_and_leave_nothing(env, behaviour, cause):
    make, base, dummy = env
    p, seen = make(behaviour)
    with pytest.raises(h.HelperError) as exc:
        h.run_helper(p.path, "status", {}, base_dir=base, timeout=0.5)
    assert exc.value.cause == cause
    assert cause in str(exc.value) and p.path in str(exc.value)
    assert seen and seen[0]["exists"]  # it was there during the request
    assert leftovers(base) == []


def test_connection_failure_leaves_nothing(env):
    dummy, base, tmp_path = env
    with pytest.raises(h.HelperError) as exc:
        h.run_helper(str(tmp_path / "dead.sock"), "status", {}, base_dir=base)
    assert exc.value.cause == "ENOENT"
    assert leftovers(base) == []


def test_restrict_api_relocates_helper_under_prefix(env):
    make, base, tmp_path = env
    os.mkdir(str(tmp_path / "api"))
    p, seen = make("restricted")
    answer = h.run_helper(p.path, "status", {}, base_dir=base)
    assert answer["ok"]
    assert seen[0]["script"].startswith(base) and seen[1]["script"].startswith(str(tmp_path / "api") + "/")
    assert leftovers(base) == [] and os.listdir(str(tmp_path / "api")) == []


def test_restrict_api_inside_document_root_is_refused(env):
    make, base, tmp_path = env
    os.mkdir(str(tmp_path / "api"))
    p, dummy = make("restricted")
    with pytest.raises(h.HelperError) as exc:
        h.run_helper(p.path, "status", {}, base_dir=base, document_roots=[str(tmp_path / "api")])
    assert exc.value.cause == "opcache.restrict_api"
    assert os.listdir(str(tmp_path / "api")) == []


def test_open_basedir_known_from_discovery_fails_before_writing(env):
    make, base, dummy = env
    p, seen = make()
    with pytest.raises(h.HelperError) as exc:
        h.run_helper(p.path, "status", {}, base_dir=base, pool={"open_basedir": "/srv/app:/usr/share/php"})
    assert exc.value.cause == "open_basedir" and "/srv/app:/usr/share/php" in str(exc.value)
    assert seen == [] and leftovers(base) == []


def test_open_basedir_allowing_helper_dir_passes(env):
    make, base, dummy = env
    p, seen = make()
    h.run_helper(p.path, "status", {}, base_dir=base, pool={"open_basedir": os.path.dirname(base)})
    assert len(seen) == 1


def test_chroot_pool_gets_path_relative_to_chroot(env):
    make, dummy, tmp_path = env
    chroot = tmp_path / "jail"
    chroot.mkdir()
    p, seen = make()
    h.run_helper(p.path, "status", {}, pool={"chroot": str(chroot)})
    script = seen[0]["script"]
    assert script.startswith("/var/lib/opcache-fleet/")
    # the fake peer is not chrooted, so it looked at the host path, which does not exist
    assert not seen[0]["exists"]
    assert not os.path.exists(str(chroot / "var"))  # created parents removed again


def test_limit_extensions_picks_allowed_extension(env):
    make, base, dummy = env
    p, seen = make()
    h.run_helper(p.path, "status", {}, base_dir=base, pool={"security.limit_extensions": ".php7 .phtml"})
    assert seen[0]["script"].endswith(".php7")


@pytest.mark.parametrize("value,ext", [(None, ".php"), ("", ".php"), (".php .phar", ".php"),
                                       (".phtml", ".phtml"), ([".inc", ".php"], ".php"), ("junk", ".php")])
def test_pick_extension(value, ext):
    assert h.pick_extension(value) == ext


@pytest.mark.parametrize("base", ["/tmp/opcache", "/var/tmp", "/dev/shm/x"])
def test_private_tmp_is_refused(env, base, monkeypatch):
    make, dummy, dummy = env
    monkeypatch.setattr(h, "PRIVATE_TMP_DIRS", ("/tmp", "/var/tmp", "/dev/shm"))
    p, seen = make()
    with pytest.raises(h.HelperError) as exc:
        h.run_helper(p.path, "status", {}, base_dir=base)
    assert exc.value.cause == "PrivateTmp" and seen == []


def test_world_writable_base_dir_is_refused(env):
    make, base, dummy = env
    os.makedirs(base)
    os.chmod(base, 0o777)
    p, seen = make()
    with pytest.raises(h.HelperError) as exc:
        h.run_helper(p.path, "status", {}, base_dir=base)
    assert exc.value.cause == "helper_dir" and "writable" in str(exc.value) and seen == []


def test_symlinked_base_dir_is_refused(env):
    make, base, tmp_path = env
    os.makedirs(os.path.dirname(base))
    os.symlink(str(tmp_path), base)
    p, dummy = make()
    with pytest.raises(h.HelperError) as exc:
        h.run_helper(p.path, "status", {}, base_dir=base)
    assert exc.value.cause == "helper_dir"


def test_group_readable_mode(env):
    make, base, dummy = env
    p, seen = make()
    import grp
    group = grp.getgrgid(os.getgid()).gr_name
    h.run_helper(p.path, "status", {}, base_dir=base, pool={"group": group})
    assert seen[0]["file_mode"] == 0o640


def test_unknown_action_is_refused():
    with pytest.raises(ValueError):
        h.HelperSession("/x").call("eval", {})


@pytest.mark.parametrize("path,basedir,ok", [
    ("/var/lib/opcache-fleet/a/b.php", "", True),
    ("/var/lib/opcache-fleet/a/b.php", "/srv/app:/tmp", False),
    ("/var/lib/opcache-fleet/a/b.php", "/srv/app:/var/lib/opcache-fleet", True),
    ("/var/lib/opcache-fleet/a/b.php", "/var/lib/", True),
    ("/var/libx/a.php", "/var/lib/", False),
])
def test_open_basedir_allows(path, basedir, ok):
    assert h.open_basedir_allows(path, basedir) is ok


def test_classify_error_from_real_php_fpm_stderr():
    # captured from php-fpm 8.2.36 (a pool with php_admin_value[open_basedir])
    resp = fastcgi.FastCGIResponse(
        b"Status: 404 Not Found\r\nX-Powered-By: PHP/8.2.36\r\nContent-type: text/html; charset=UTF-8\r\n\r\n"
        b"No input file specified.\n",
        b"Unable to open primary script: /var/lib/opcache-fleet/x/y.php (Operation not permitted)", 0, 0, 0.001)
    assert h.classify_error("s", resp, "/var/lib/opcache-fleet/x/y.php").cause == "open_basedir"
    resp = fastcgi.FastCGIResponse(b"Status: 500\r\n\r\n", b"PHP Parse error: boom", 255, 0, 0.001)
    err = h.classify_error("s", resp, "/x.php")
    assert err.cause == "bad_answer" and "PHP Parse error" in str(err)
