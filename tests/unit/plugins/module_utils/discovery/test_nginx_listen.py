# SPDX-License-Identifier: GPL-3.0-or-later
import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.nginx_listen import listen_endpoint, parse_listen


@pytest.mark.parametrize("args,want", [
    ("80", ("http", 80, None)),
    ("80 default_server", ("http", 80, None)),
    ("[::]:443 ssl http2", ("https", 443, None)),
    ("127.0.0.1:8443 ssl", ("https", 8443, None)),
    ("10.0.0.5:80", ("http", 80, "10.0.0.5")),
    ("*:8080", ("http", 8080, None)),
    ("localhost", ("http", 80, None)),
    ("10.0.0.5", ("http", 80, "10.0.0.5")),
    ("443 ssl proxy_protocol", ("https", 443, None)),
])
def test_parse_listen(args, want):
    e = parse_listen(args)
    assert (e["scheme"], e["port"], e["address"]) == want


@pytest.mark.parametrize("args", ["unix:/run/nginx.sock", "443 quic reuseport", "", "99999", "a:b:c"])
def test_listens_a_host_cannot_use_are_none(args):
    assert parse_listen(args) is None


def test_ssl_on_makes_every_listen_tls():
    assert parse_listen("8443", ssl_on=True)["scheme"] == "https"


def test_the_endpoint_prefers_plain_http_on_any_address():
    assert listen_endpoint(["443 ssl", "8080"])["port"] == 8080
    assert listen_endpoint(["10.0.0.5:80", "443 ssl"]) == {"scheme": "https", "port": 443, "address": None}
    assert listen_endpoint([]) == {"scheme": "http", "port": 80, "address": None}    # nginx's default
    assert listen_endpoint(["unix:/run/a.sock"]) is None
