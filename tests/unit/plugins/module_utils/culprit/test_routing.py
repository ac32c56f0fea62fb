# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""culprit/routing.py: which nginx server, location and php-fpm pool serve a probe URL."""
import json
import os

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.culprit import routing
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.culprit.errors import HuntError
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.culprit.probe import parse_probe_url
from unit_paths import FIXTURES_ROOT

with open(os.path.join(FIXTURES_ROOT, "culprit", "lab3_nginx.json")) as _f:
    # fpm_discover's ``nginx`` answer on lab3 (shared with test_hunt.py's module tests)
    LAB3_NGINX = json.load(_f)


@pytest.mark.parametrize("url,pool,master", [
    ("http://127.0.0.1/a/report.php", "site-a", 2816),
    ("http://127.0.0.1/b/report.php", "site-b", 2816),
    ("http://127.0.0.1/c/index.php?x=1", "alt", 2878),
])
def test_select_fastcgi_target(url, pool, master):
    t = routing.select_fastcgi_target(LAB3_NGINX, parse_probe_url(url))
    assert t["pool"] == pool and t["master_pid"] == master
    assert t["script_filename"] == "/srv/app/releases" + parse_probe_url(url)["uri"]


@pytest.mark.parametrize("url,cause,text", [
    ("http://127.0.0.1/a/style.css", "nginx_location", "does not pass requests to php-fpm"),
    ("http://127.0.0.1/.git/config.php", "nginx_location", "does not pass requests"),
    ("http://127.0.0.1:8080/a/x.php", "nginx_server", "no nginx server listens on port 8080"),
    ("http://www.shop.example/x.PHP", "fastcgi_target", "matches no running php-fpm pool"),
])
def test_select_fastcgi_target_errors(url, cause, text):
    with pytest.raises(HuntError) as err:
        routing.select_fastcgi_target(LAB3_NGINX, parse_probe_url(url))
    assert err.value.cause == cause and text in str(err.value)


def test_select_without_nginx():
    with pytest.raises(HuntError) as err:
        routing.select_fastcgi_target({"servers": [], "errors": ["nginx -T failed"]},
                                      parse_probe_url("http://127.0.0.1/x.php"))
    assert err.value.cause == "nginx" and "give socket" in str(err.value) and "nginx -T failed" in str(err.value)


def test_match_location_rules():
    locs = [{"location": "/"}, {"location": "/static/"}, {"location": "^~ /static/php/"},
            {"location": "= /exact.php"}, {"location": "~ \\.php$"}, {"location": "~* /UPPER"},
            {"location": "@named"}, {"location": "~ ([unclosed"}]

    def pick(uri):
        return routing.match_location(locs, uri)[0]["location"]
    assert pick("/exact.php") == "= /exact.php"
    assert pick("/static/php/x.php") == "^~ /static/php/"
    assert pick("/static/x.php") == "~ \\.php$"
    assert pick("/static/x.css") == "/static/"
    assert pick("/upper/x") == "~* /UPPER"
    assert pick("/x.txt") == "/"
    _loc, warnings = routing.match_location(locs, "/nothing")
    assert warnings and "regex not understood" in warnings[0]


def test_select_server_by_name_then_default():
    servers = LAB3_NGINX["servers"]
    assert routing.select_server(servers, "www.shop.example", 80)["server_name"] == "shop.example"
    assert routing.select_server(servers, "other.example", 80)["server_name"] == "_"
    assert routing.select_server(servers, "x", 81) is None
    assert routing._name_matches("*.example.com", "a.example.com")
    assert routing._name_matches("example.*", "example.org")
    assert routing._name_matches("~^www\\d+\\.", "www2.x")
    assert routing._name_matches(".example.com", "example.com")
    assert not routing._name_matches("_", "x")


def test_order_target_pools():
    target = {"pools": [{"name": "site-b"}, {"name": "site-a"}], "sockets": ["127.0.0.1:9001", "/run/a.sock"]}
    out = routing.order_target_pools(target, "site-a")
    assert out["sockets"] == ["/run/a.sock", "127.0.0.1:9001"] and out["pools"][0]["name"] == "site-a"
    assert routing.order_target_pools(target, "nope") is target
