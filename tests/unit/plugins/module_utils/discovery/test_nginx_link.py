# SPDX-License-Identifier: GPL-3.0-or-later
"""nginx_host.link_nginx_to_pools: which fastcgi targets no pool serves, and which of those
are on this host (a php-fpm should answer there) or elsewhere (a remote backend)."""
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.addresses import parse_nginx_target
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.nginx_host import link_nginx_to_pools


def use(target):
    return {"target": target, "address": parse_nginx_target(target), "via": None, "server_name": "s",
            "root": "/srv/s", "location": "~ \\.php$"}


def test_unmatched_targets_are_marked_local_or_remote():
    targets = ["unix:/run/php/php8.2-fpm.sock", "127.0.0.1:9000", "localhost:9001", "[::1]:9002",
               "10.0.0.7:9000", "192.0.2.5:9000", "php_backend", "$upstream"]
    nginx = {"_uses": [use(t) for t in targets], "fastcgi_targets": [], "unmatched_targets": []}
    masters = [{"master_pid": 1, "config": "/etc/php-fpm.conf",
                "pools": [{"name": "www", "listen": "/run/php/www.sock", "nginx": []}]}]
    link_nginx_to_pools(nginx, masters, local_addresses=("10.0.0.7",))
    got = dict((t["target"], t.get("local")) for t in nginx["unmatched_targets"])
    assert got == {"unix:/run/php/php8.2-fpm.sock": True, "127.0.0.1:9000": True, "localhost:9001": True,
                   "[::1]:9002": True, "10.0.0.7:9000": True, "192.0.2.5:9000": False,
                   "php_backend": None, "$upstream": None}
    assert nginx["fastcgi_targets"] == []
