# SPDX-License-Identifier: GPL-3.0-or-later
"""discovery.addresses: the one parser of php-fpm listen, nginx fastcgi_pass and log upstreams."""
import socket

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.addresses import (
    connect_address,
    listen_kind,
    listen_matches,
    nginx_listen_port,
    normalize_upstream,
    parse_listen,
    parse_nginx_target,
)


# ------------------------------------------------------------------ connecting to a pool

@pytest.mark.parametrize("listen,expected", [
    ("/run/php/php8.2-fpm.sock", (socket.AF_UNIX, "/run/php/php8.2-fpm.sock")),
    ("unix:/run/php/x.sock", (socket.AF_UNIX, "/run/php/x.sock")),
    ("9001", (socket.AF_INET, ("127.0.0.1", 9001))),
    ("127.0.0.1:9001", (socket.AF_INET, ("127.0.0.1", 9001))),
    ("localhost:9000", (socket.AF_INET, ("localhost", 9000))),
    ("*:9000", (socket.AF_INET, ("127.0.0.1", 9000))),
    ("0.0.0.0:9000", (socket.AF_INET, ("127.0.0.1", 9000))),
    ("[::1]:9002", (socket.AF_INET6, ("::1", 9002))),
    ("[::]:9002", (socket.AF_INET6, ("::1", 9002))),
])
def test_connect_address(listen, expected):
    assert connect_address(listen) == expected


@pytest.mark.parametrize("bad", ["", "relative.sock", "::1:9000", "[::1]9000", "host:0", "host:70000", "1:x"])
def test_connect_address_rejects(bad):
    with pytest.raises(ValueError):
        connect_address(bad)


# ------------------------------------------------------------------ php-fpm listen

@pytest.mark.parametrize("listen, kind", [
    ("/run/php/x.sock", "unix"), ("9001", "tcp"), ("127.0.0.1:9001", "tcp"),
    ("[::]:9001", "tcp"), ("run/x.sock", "unix"), (None, None),
])
def test_listen_kind(listen, kind):
    assert listen_kind(listen) == kind


@pytest.mark.parametrize("listen, parsed", [
    ("[::]:9000", ("tcp", None, "9000")),
    ("*:9000", ("tcp", None, "9000")),
    ("9000", ("tcp", None, "9000")),
    ("10.0.0.5:9000", ("tcp", "10.0.0.5", "9000")),
    ("/var/run/php/x.sock", ("unix", "/run/php/x.sock")),
    ("unix:/run/php/x.sock", ("unix", "/run/php/x.sock")),
    (None, None),
])
def test_parse_listen(listen, parsed):
    assert parse_listen(listen) == parsed


# ------------------------------------------------------------------ nginx fastcgi_pass

def test_parse_nginx_target_forms():
    assert parse_nginx_target("fastcgi://127.0.0.1:9000") == ("tcp", "127.0.0.1", "9000")
    assert parse_nginx_target("unix:/var/run/php/x.sock") == ("unix", "/run/php/x.sock")
    assert parse_nginx_target("php") == ("name", "php")
    assert parse_nginx_target("$backend") == ("variable", "$backend")


@pytest.mark.parametrize("pool, target, local, expected", [
    ("/run/php/x.sock", "unix:/run/php/x.sock", (), True),
    ("/var/run/php/x.sock", "unix:/run/php/x.sock", (), True),
    ("/run/php/x.sock", "unix:/run/php/y.sock", (), False),
    ("9001", "127.0.0.1:9001", (), True),
    ("9001", "127.0.0.1:9002", (), False),
    ("127.0.0.1:9001", "127.0.0.1:9001", (), True),
    ("[::]:9001", "127.0.0.1:9001", (), True),
    ("0.0.0.0:9001", "localhost:9001", (), True),
    ("127.0.0.1:9001", "localhost:9001", (), True),
    ("localhost:9001", "127.0.0.1:9001", (), True),
    ("127.0.0.1:9001", "[::1]:9001", (), False),
    ("[::1]:9001", "[::1]:9001", (), True),
    ("9001", "10.0.0.5:9001", (), False),
    ("9001", "10.0.0.5:9001", ("10.0.0.5",), True),
    ("10.0.0.5:9001", "10.0.0.5:9001", (), True),
    ("127.0.0.1:9001", "10.0.0.5:9001", ("10.0.0.5",), False),
    ("/run/php/x.sock", "127.0.0.1:9001", (), False),
])
def test_listen_matches(pool, target, local, expected):
    assert listen_matches(parse_listen(pool), parse_nginx_target(target), local) is expected


def test_listen_matches_none():
    assert listen_matches(None, ("unix", "/x"), ()) is False


@pytest.mark.parametrize("listen, port", [
    ("80", 80), ("[::]:443 ssl", 443), ("*:8080", 8080), ("127.0.0.1", 80),
    ("unix:/run/nginx.sock", None), ("443 ssl http2 default_server", 443),
])
def test_nginx_listen_port(listen, port):
    assert nginx_listen_port(listen) == port


# ------------------------------------------------------------------ the upstream key

@pytest.mark.parametrize("raw,norm", [
    ("fastcgi://unix:/run/php/php8.2-fpm.sock:", "unix:/run/php/php8.2-fpm.sock"),
    ("unix:/run/php/php8.2-fpm.sock", "unix:/run/php/php8.2-fpm.sock"),
    ("/run/php/php8.2-fpm.sock", "unix:/run/php/php8.2-fpm.sock"),
    ("fastcgi://127.0.0.1:9000", "127.0.0.1:9000"),
    ("127.0.0.1:9001", "127.0.0.1:9001"),
    ('"fastcgi://127.0.0.1:9000"', "127.0.0.1:9000"),
    ("fastcgi://[::1]:9000", "[::1]:9000"),
    # The three spellings the report's old copy got wrong (it kept the path or the URI):
    ("unix:/run/x.sock:/index.php", "unix:/run/x.sock"),
    ("http://unix:/tmp/x.sock:/uri", "unix:/tmp/x.sock"),
    ("http://10.0.0.1:8080/path", "10.0.0.1:8080"),
    ("[::1]:9000/uri", "[::1]:9000"),
    (None, None),
    ("", None),
])
def test_normalize_upstream(raw, norm):
    assert normalize_upstream(raw) == norm
