# SPDX-License-Identifier: GPL-3.0-or-later
"""diagnose/upstreams.py against real sockets: what a connect() to an nginx fastcgi target
that no pool was found on says about php-fpm being there."""
import errno
import os
import socket

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.diagnose import upstreams


@pytest.fixture
def short_dir(tmp_path_factory):
    # AF_UNIX paths are limited to ~107 bytes: pytest's tmp paths can be longer.
    d = "/tmp/ofu-%d" % os.getpid()
    os.makedirs(d, exist_ok=True)
    yield d
    for name in os.listdir(d):
        os.unlink(os.path.join(d, name))
    os.rmdir(d)


def unix_socket(path, listen):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    if listen:
        s.listen(1)
    return s


def test_unix_socket_listening_refused_and_missing(short_dir):
    up = os.path.join(short_dir, "up.sock")
    stale = os.path.join(short_dir, "stale.sock")     # left behind by a killed master
    live, dead = unix_socket(up, True), unix_socket(stale, False)
    try:
        assert upstreams.probe("unix:" + up)[0] == "listening"
        assert upstreams.probe("unix:" + stale) == ("refused", "connection refused")
        assert upstreams.probe("unix:" + os.path.join(short_dir, "gone.sock")) == ("missing", "no such socket file")
    finally:
        live.close()
        dead.close()


def test_tcp_loopback_listening_and_refused():
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)   # the probes are never accepted: they wait in the backlog
    port = srv.getsockname()[1]
    try:
        assert upstreams.probe("127.0.0.1:%d" % port)[0] == "listening"
        assert upstreams.probe("localhost:%d" % port)[0] == "listening"
        assert upstreams.probe("fastcgi://127.0.0.1:%d" % port)[0] == "listening"
    finally:
        srv.close()
    assert upstreams.probe("127.0.0.1:%d" % port)[0] == "refused"


def test_a_remote_address_of_the_fixture_is_not_probed_but_a_local_one_is():
    nginx = {"unmatched_targets": [{"target": "203.0.113.10:9074", "local": False}]}
    assert upstreams.probe_unmatched(nginx) == []


def test_a_family_the_host_lacks_is_an_error_not_a_crash(monkeypatch):
    def no_ipv6(family, kind):
        raise OSError(errno.EAFNOSUPPORT, "Address family not supported by protocol")
    monkeypatch.setattr(upstreams.socket, "socket", no_ipv6)
    assert upstreams.probe("[::1]:9000") == ("error", "Address family not supported by protocol")


def test_names_and_variables_are_not_socket_addresses():
    assert upstreams.probe("php_backend")[0] == "error"
    assert upstreams.probe("$upstream")[0] == "error"


def test_probe_unmatched_only_local_targets_once_each(short_dir, monkeypatch):
    calls = []
    monkeypatch.setattr(upstreams, "probe", lambda target, timeout=1.0: calls.append(target) or ("missing", "x"))
    nginx = {"unmatched_targets": [
        {"target": "unix:/run/php/a.sock", "local": True, "server_name": "a", "location": "~ \\.php$", "root": "/srv/a"},
        {"target": "unix:/run/php/a.sock", "local": True, "server_name": "b", "location": "/", "root": "/srv/b"},
        {"target": "203.0.113.10:9000", "local": False, "server_name": "c"},
        {"target": "$backend", "reason": "address uses a variable"},
    ]}
    got = upstreams.probe_unmatched(nginx)
    assert calls == ["unix:/run/php/a.sock"]
    assert len(got) == 1 and got[0]["state"] == "missing"
    assert [u["server_name"] for u in got[0]["uses"]] == ["a", "b"]
    assert upstreams.probe_unmatched(None) == []
