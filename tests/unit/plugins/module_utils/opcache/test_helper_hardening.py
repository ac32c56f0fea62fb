# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 11: the helper against hostile peers, leftovers, signals and planted paths.

Findings 7 (bounded messages, peer credentials), 8 (leftover helpers: cleanup on every
answer shape and on SIGTERM/SIGHUP, sweep, per-run token) and 9 (helper_dir inside a
document root, symlinked or foreign parents).
"""
import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache import helper as h
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache import helper_php

from fake_fcgi import FakePeer, end, stderr, stdout
from fake_fcgi import helper_leftovers as leftovers


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setattr(h, "PRIVATE_TMP_DIRS", ())
    peers = []
    base = str(tmp_path / "lib" / "opcache-fleet")

    def make(handler):
        p = FakePeer(str(tmp_path / ("php%d.sock" % len(peers))), handler)
        peers.append(p)
        return p
    yield make, base, tmp_path
    for p in peers:
        p.close()


def json_answer(obj):
    return [stdout(b"Content-Type: application/json\r\n\r\n" + json.dumps(obj).encode()), end()]


def good(req, **over):
    body = json.loads(req["stdin"])
    ans = {"helper": "opcache-fleet", "ok": True, "nonce": body["nonce"], "pid": 7, "master_pid": 1,
           "time": 1000, "ini": {"opcache.restrict_api": ""}, "restricted": False, "warnings": [],
           "status": None, "configuration": None}
    ans.update(over)
    return ans


# ------------------------------------------------------------------ finding 8: answer shapes

@pytest.mark.parametrize("shape", [
    "a string", 42, [1, 2], None,
    {"ini": "not a dict"}, {"ini": {"opcache.restrict_api": "/x"}, "restricted": True, "status": []},
    {"status": "up"}, {"configuration": [1]}, {"scripts": {"a": 1}}, {"files": ["/a.php"]},
    {"warnings": "careful"}, {"reset": "yes"}, {"restricted": True, "ini": "x"},
])
def test_any_unexpected_answer_shape_is_a_clear_error_and_leaves_nothing(env, shape):
    make, base, dummy = env

    def handler(req):
        if isinstance(shape, dict):
            return json_answer(good(req, **shape))
        return json_answer(shape)
    p = make(handler)
    with pytest.raises(h.HelperError) as exc:
        h.run_helper(p.path, "status", {}, base_dir=base)
    assert exc.value.cause == "bad_answer" and p.path in str(exc.value)
    assert leftovers(base) == []


# ------------------------------------------------------------------ finding 8: the token

def test_each_request_carries_the_token_whose_hash_names_the_file(env):
    make, base, dummy = env
    seen = []

    def handler(req):
        script = req["params"][b"SCRIPT_FILENAME"].decode()
        token = req["params"].get(b"OPCACHE_FLEET_TOKEN", b"").decode()
        name = os.path.splitext(os.path.basename(script))[0]
        seen.append((token, name))
        return json_answer(good(req))
    p = make(handler)
    with h.HelperSession(p.path, base_dir=base) as s:
        s.call("status", {})
        s.call("status", {})
    (t1, n1), (t2, n2) = seen
    assert len(t1) >= 32 and t1 == t2  # one token per deployment, sent on every request
    assert n1 == hashlib.sha256(t1.encode("ascii")).hexdigest()  # only its HASH is on disk
    assert t1 not in n1


def test_helper_php_refuses_without_the_token_and_when_old():
    php = helper_php.HELPER_PHP
    # the check comes before anything is read or done
    guard = php.index("OPCACHE_FLEET_TOKEN")
    assert guard < php.index("php://input") and guard < php.index("opcache_get_status(")
    assert "hash_equals(" in php and "hash('sha256'" in php and "PATHINFO_FILENAME" in php
    assert "filemtime(__FILE__)" in php and "'forbidden'" in php


def test_a_forbidden_answer_names_the_token(env):
    make, base, dummy = env
    p = make(lambda req: json_answer({"helper": "opcache-fleet", "ok": False, "error": "forbidden"}))
    with pytest.raises(h.HelperError) as exc:
        h.run_helper(p.path, "status", {}, base_dir=base)
    assert exc.value.cause == "forbidden" and "token" in str(exc.value)
    assert leftovers(base) == []


def test_mtime_is_refreshed_before_each_call(env):
    make, base, dummy = env
    mtimes = []

    def handler(req):
        mtimes.append(os.stat(req["params"][b"SCRIPT_FILENAME"].decode()).st_mtime)
        return json_answer(good(req))
    p = make(handler)
    with h.HelperSession(p.path, base_dir=base) as s:
        s.call("status", {})
        os.utime(s.deployment.host_path, (1, 1))  # as if the session had been idle for ages
        s.call("status", {})
    assert mtimes[1] > time.time() - 60


# ------------------------------------------------------------------ finding 8: signals

CHILD = r"""
import sys, time
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache import helper as h
h.PRIVATE_TMP_DIRS = ()
dep = h.HelperDeployment(base_dir=sys.argv[1]).create()
print(dep.host_path, flush=True)
time.sleep(30)
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_remove_the_helper(tmp_path, signum):
    base = str(tmp_path / "lib" / "opcache-fleet")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    proc = subprocess.Popen([sys.executable, "-c", CHILD, base], stdout=subprocess.PIPE, env=env,
                            cwd=str(tmp_path))
    try:
        path = proc.stdout.readline().decode().strip()
        assert path and os.path.exists(path)
        proc.send_signal(signum)
        rc = proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert rc == -signum  # still dies of the signal
    assert not os.path.exists(path) and not os.path.exists(os.path.dirname(path))


# ------------------------------------------------------------------ finding 8: the sweep

def plant_old_helper(base, age, text=helper_php.HELPER_BYTES, name="ab" * 16):
    d = os.path.join(base, name)
    os.makedirs(d)
    f = os.path.join(d, "cd" * 16 + ".php")
    with open(f, "wb") as fh:
        fh.write(text)
    then = time.time() - age
    os.utime(f, (then, then))
    os.utime(d, (then, then))
    return d, f


def test_old_leftover_helpers_are_swept_at_start(env):
    make, base, dummy = env
    old_dir, old_file = plant_old_helper(base, 3600)
    older_version = b"<?php\n// opcache-fleet helper. an older text\n"
    old2_dir, dummy = plant_old_helper(base, 3600, older_version, name="ef" * 16)
    young_dir, young_file = plant_old_helper(base, 10, name="01" * 16)  # another run's, in use
    other_dir, other_file = plant_old_helper(base, 3600, b"<?php echo 'mine';", name="23" * 16)
    p = make(lambda req: json_answer(good(req)))
    with h.HelperSession(p.path, base_dir=base) as s:
        s.call("status", {})
    assert not os.path.exists(old_dir) and not os.path.exists(old2_dir)
    assert os.path.exists(young_file) and os.path.exists(other_file)  # not ours or not old: kept
    assert any("swept 2 helper" in w and old_dir in w for w in s.warnings)


def test_sweep_does_not_follow_symlinks(env):
    make, base, tmp_path = env
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / ("cd" * 16 + ".php")).write_bytes(helper_php.HELPER_BYTES)
    os.makedirs(base)
    os.symlink(str(victim), os.path.join(base, "ab" * 16))
    then = time.time() - 3600
    os.utime(os.path.join(base, "ab" * 16), (then, then), follow_symlinks=False)
    p = make(lambda req: json_answer(good(req)))
    h.run_helper(p.path, "status", {}, base_dir=base)
    assert (victim / ("cd" * 16 + ".php")).exists()


# ------------------------------------------------------------------ finding 7: bounded messages

def test_a_huge_stderr_line_gives_a_bounded_message(env):
    make, base, dummy = env
    line = b"PHP Fatal error: " + b"B" * 200000
    p = make(lambda req: [stderr(line[i:i + 65535]) for i in range(0, len(line), 65535)] +
             [stdout(b"Status: 500\r\n\r\n"), end()])
    with pytest.raises(h.HelperError) as exc:
        h.run_helper(p.path, "status", {}, base_dir=base)
    assert exc.value.cause == "bad_answer" and "PHP Fatal error" in str(exc.value)
    assert len(str(exc.value)) < 600 and len(exc.value.stderr) < 4200
    assert leftovers(base) == []


def test_a_huge_nonce_gives_a_bounded_message(env):
    make, base, dummy = env
    p = make(lambda req: json_answer(good(req, nonce="N" * 60000)))
    with pytest.raises(h.HelperError) as exc:
        h.run_helper(p.path, "status", {}, base_dir=base)
    assert exc.value.cause == "nonce" and len(str(exc.value)) < 600


# ------------------------------------------------------------------ finding 7: peer credentials

def test_a_socket_not_held_by_the_master_is_refused(env):
    make, base, dummy = env
    p = make(lambda req: json_answer(good(req)))
    other = subprocess.Popen(["sleep", "30"])  # a live process that is not this peer's ancestor
    try:
        with pytest.raises(h.HelperError) as exc:
            h.run_helper(p.path, "status", {}, base_dir=base, master_pid=other.pid)
    finally:
        other.kill()
        other.wait()
    assert exc.value.cause == "peer"
    assert ("pid %d" % os.getpid()) in str(exc.value) and str(other.pid) in str(exc.value)
    assert p.requests and p.requests[0]["params"] == {}  # nothing was sent to it
    assert leftovers(base) == []


def test_the_masters_own_socket_is_accepted(env):
    make, base, dummy = env
    p = make(lambda req: json_answer(good(req)))
    assert h.run_helper(p.path, "status", {}, base_dir=base, master_pid=os.getpid())["ok"]


# ------------------------------------------------------------------ finding 9: placement

def test_helper_dir_inside_a_document_root_is_refused(env):
    make, base, tmp_path = env
    p = make(lambda req: json_answer(good(req)))
    with pytest.raises(h.HelperError) as exc:
        h.run_helper(p.path, "status", {}, base_dir=base, document_roots=[str(tmp_path / "lib")])
    assert exc.value.cause == "helper_dir" and "document root" in str(exc.value)
    assert str(tmp_path / "lib") in str(exc.value) and p.requests == []
    assert not os.path.exists(base)


def test_helper_dir_inside_a_document_root_through_a_symlink_is_refused(env):
    # nginx's root is a symlink to where helper_dir lies: the paths differ, the directories do not
    make, base, tmp_path = env
    os.symlink(str(tmp_path / "lib"), str(tmp_path / "www"))
    os.makedirs(base)
    p = make(lambda req: json_answer(good(req)))
    with pytest.raises(h.HelperError) as exc:
        h.run_helper(p.path, "status", {}, base_dir=base, document_roots=[str(tmp_path / "www")])
    assert exc.value.cause == "helper_dir" and str(tmp_path / "www") in str(exc.value)
    assert p.requests == [] and os.listdir(base) == []


def test_a_symlinked_parent_is_not_followed_when_creating(env):
    make, base, tmp_path = env
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(str(elsewhere), str(tmp_path / "lib"))  # planted where helper_dir's parent goes
    p = make(lambda req: json_answer(good(req)))
    with pytest.raises(h.HelperError) as exc:
        h.run_helper(p.path, "status", {}, base_dir=base)
    assert exc.value.cause == "helper_dir" and "symlink" in str(exc.value)
    assert str(tmp_path / "lib") in str(exc.value)
    assert os.listdir(str(elsewhere)) == [] and p.requests == []


def test_a_parent_writable_by_others_is_refused(env):
    make, base, tmp_path = env
    (tmp_path / "lib").mkdir()
    os.chmod(str(tmp_path / "lib"), 0o777)
    p = make(lambda req: json_answer(good(req)))
    with pytest.raises(h.HelperError) as exc:
        h.run_helper(p.path, "status", {}, base_dir=base)
    assert exc.value.cause == "helper_dir" and "writable" in str(exc.value)
    assert str(tmp_path / "lib") in str(exc.value) and p.requests == []
    assert os.listdir(str(tmp_path / "lib")) == []
