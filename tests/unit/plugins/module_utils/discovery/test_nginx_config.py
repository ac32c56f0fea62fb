# SPDX-License-Identifier: GPL-3.0-or-later
"""nginx_config: nginx -T dumps, error logs, servers, fastcgi_pass targets and pool matching."""
import os

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.nginx_config import (
    NginxParseError,
    analyse,
    error_log_paths,
    load_dump,
    parse_block,
    parse_local_addresses,
    parse_version_output,
    resolve_targets,
    split_dump,
    tokenize,
)
from unit_paths import FIXTURES_ROOT

FIXTURES = os.path.join(FIXTURES_ROOT, "discover")


def read(name, path):
    with open(os.path.join(FIXTURES, name, path)) as handle:
        return handle.read()


def test_tokenize_quotes_comments_and_variables():
    text = 'log_format main \'$a "b" \\\' c\';  # comment ; {\nset $x "${y}z";\nrewrite ^/(.*)$ /a?$1 last;'
    tokens = [t for t, dummy, dummy in tokenize(text)]
    assert tokens == ["log_format", "main", "$a \"b\" ' c", ";", "set", "$x", "${y}z", ";",
                      "rewrite", "^/(.*)$", "/a?$1", "last", ";"]


def test_parse_block_errors():
    with pytest.raises(NginxParseError, match="unexpected '}'"):
        parse_block("a;\n}", "f.conf")
    with pytest.raises(NginxParseError, match="unexpected end of file"):
        parse_block("http {\n", "f.conf")
    with pytest.raises(NginxParseError, match="block without a directive name"):
        parse_block("{ }", "f.conf")


def test_split_dump_and_no_dump():
    files = split_dump("# configuration file /a.conf:\nx;\n\n# configuration file /b.conf:\ny;\n")
    assert [p for p, dummy in files] == ["/a.conf", "/b.conf"]
    with pytest.raises(NginxParseError, match="no '# configuration file'"):
        load_dump("nginx: [emerg] unknown directive\n")


def test_version_output():
    info = parse_version_output(
        "nginx version: nginx/1.22.1\nconfigure arguments: --with-cc-opt='-g -O2' "
        "--prefix=/usr/share/nginx --conf-path=/etc/nginx/nginx.conf "
        "--error-log-path=stderr --http-log-path=/var/log/nginx/access.log\n")
    assert info == {"version": "1.22.1", "prefix": "/usr/share/nginx",
                    "conf_path": "/etc/nginx/nginx.conf", "error_log_path": "stderr"}


SYNTH = """# configuration file /etc/nginx/nginx.conf:
user www-data;
http {
    error_log logs/http.log info;
    include sites/*.conf;
    upstream pool_b { server 127.0.0.1:9001 weight=5; server [::1]:9002 backup; }
}
# configuration file /etc/nginx/sites/a.conf:
server {
    listen 80 default_server;
    server_name a.test;
    root /srv/a;
    error_log syslog:server=unix:/dev/log;
    location / {
        location ~ \\.php$ {
            fastcgi_pass unix:/var/run/php/a.sock;
            error_log /var/log/nginx/a-php.log debug;
        }
    }
    location /b/ {
        alias /srv/b/;
        if ($request_method = POST) { fastcgi_pass pool_b; }
    }
    location /dyn { fastcgi_pass $backend; }
    location /nop { fastcgi_pass nowhere; }
}
# configuration file /etc/nginx/sites/z.conf:
server { server_name z.test; root html; location ~ \\.php$ { root /srv/z; fastcgi_pass localhost:9000; } }
"""


def test_synthetic_dump_analysis():
    tree, files, errors = load_dump(SYNTH)
    assert errors == []
    assert files == ["/etc/nginx/nginx.conf", "/etc/nginx/sites/a.conf", "/etc/nginx/sites/z.conf"]
    analysis = analyse(tree, prefix="/usr/share/nginx", default_error_log="/var/log/nginx/error.log")
    entries = analysis["error_log_entries"]
    assert [(e["context"], e["kind"], e["path"]) for e in entries] == [
        ("main", "file", "/var/log/nginx/error.log"),
        ("http", "file", "/usr/share/nginx/logs/http.log"),
        ("server", "syslog", "syslog:server=unix:/dev/log"),
        ("location", "file", "/var/log/nginx/a-php.log"),
    ]
    assert entries[0]["default"] is True
    assert error_log_paths(entries) == ["/var/log/nginx/error.log",
                                        "/usr/share/nginx/logs/http.log",
                                        "/var/log/nginx/a-php.log"]
    a, z = analysis["servers"]
    assert (a["server_name"], a["listen"], a["root"]) == ("a.test", ["80 default_server"], "/srv/a")
    assert z["root"] == "/usr/share/nginx/html" and z["listen"] == ["80"]
    uses = resolve_targets(analysis)
    summary = [(u["target"], u["via"], u["server_name"], u["root"], u["location"]) for u in uses]
    assert summary == [
        ("unix:/var/run/php/a.sock", None, "a.test", "/srv/a", "~ \\.php$"),
        ("127.0.0.1:9001", "pool_b", "a.test", "/srv/b/", "/b/"),
        ("[::1]:9002", "pool_b", "a.test", "/srv/b/", "/b/"),
        ("$backend", None, "a.test", "/srv/a", "/dyn"),
        ("nowhere", None, "a.test", "/srv/a", "/nop"),
        ("localhost:9000", None, "z.test", "/srv/z", "~ \\.php$"),
    ]
    assert uses[0]["address"] == ("unix", "/run/php/a.sock")
    assert uses[3]["address"][0] == "variable"
    assert uses[4]["address"] == ("name", "nowhere")


def test_missing_include_is_reported():
    _tree, _files, errors = load_dump("# configuration file /etc/nginx/nginx.conf:\ninclude extra.conf;\n")
    assert errors == ["/etc/nginx/nginx.conf:1: include /etc/nginx/extra.conf not found in the dump"]


def test_local_addresses():
    fib = ("Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 10.88.0.7\n        /32 host LOCAL\n"
           "     |-- 10.88.255.255\n        /32 link BROADCAST\n")
    inet6 = "fe800000000000000000000000000001 02 40 20 80 eth0\n"
    assert parse_local_addresses(fib, inet6) == {"10.88.0.7", "fe80::1"}


def test_remi_fixture_dump():
    tree, files, errors = load_dump(read("remi", "nginx-T.txt"))
    assert errors == []
    analysis = analyse(tree)
    assert analysis["upstreams"] == {"php-fpm": [
        {"address": "unix:/var/opt/remi/php81/run/php-fpm/www.sock", "flags": []}]}
    uses = resolve_targets(analysis)
    assert [(u["target"], u["via"], u["server_name"]) for u in uses] == [
        ("unix:/var/opt/remi/php81/run/php-fpm/www.sock", "php-fpm", "shop.example.com")]


def test_default_error_log_stderr_as_debian_builds_it():
    tree, _files, _errors = load_dump("# configuration file /etc/nginx/nginx.conf:\nevents {}\n")
    entries = analyse(tree, default_error_log="stderr")["error_log_entries"]
    assert [(e["path"], e["kind"], e["default"]) for e in entries] == [("stderr", "stderr", True)]
    assert error_log_paths(entries) == []


FASTCGI_PARAMS = """# configuration file /etc/nginx/nginx.conf:
http {
    fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
    include sites/*.conf;
}
# configuration file /etc/nginx/sites/shop.conf:
server {
    server_name shop.test;
    root /var/www/shop/current/public;
    location ~ \\.php$ {
        fastcgi_pass unix:/run/php/shop.sock;
    }
    location /api/ {
        include fastcgi_params;
        fastcgi_pass unix:/run/php/shop.sock;
    }
    location /real/ {
        include fastcgi_params;
        fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
        fastcgi_param SCRIPT_FILENAME $realpath_root$fastcgi_script_name;
        fastcgi_pass unix:/run/php/shop.sock;
    }
}
# configuration file /etc/nginx/fastcgi_params:
fastcgi_param QUERY_STRING $query_string;
"""


def test_script_filename_follows_nginx_inheritance():
    """fastcgi_param comes from the level above only when a block has none of its own (issue 10)."""
    tree, files, errors = load_dump(FASTCGI_PARAMS)
    assert errors == []
    uses = dict((u["location"], u["script_filename"]) for u in resolve_targets(analyse(tree)))
    # inherited from http
    assert uses["~ \\.php$"] == {"value": "$document_root$fastcgi_script_name", "file": "/etc/nginx/nginx.conf",
                                 "line": 2}
    # fastcgi_params brings a fastcgi_param of its own and no SCRIPT_FILENAME: nothing is inherited
    assert uses["/api/"] is None
    # the last of a level wins
    assert uses["/real/"] == {"value": "$realpath_root$fastcgi_script_name", "file": "/etc/nginx/sites/shop.conf",
                              "line": 14}


HTTPS_ONLY = """# configuration file /etc/nginx/nginx.conf:
http {
    include sites/*.conf;
}
# configuration file /etc/nginx/sites/shop.conf:
server {
    listen 80;
    listen [::]:80;
    server_name shop.test www.shop.test;
    return 301 https://$host$request_uri;
}
server {
    listen 443 ssl http2;
    listen [::]:443 ssl;
    listen 443 quic reuseport;
    server_name shop.test www.shop.test;
    root /var/www/shop/public;
    location ~ \\.php$ {
        fastcgi_pass unix:/run/php/shop.sock;
    }
}
server {
    listen 8443;
    ssl on;
    server_name old.test;
    location ~ \\.php$ {
        fastcgi_pass unix:/run/php/shop.sock;
    }
}
server {
    listen 8080;
    listen 443 ssl;
    server_name both.test;
    location ~ \\.php$ {
        fastcgi_pass unix:/run/php/shop.sock;
    }
}
"""


def test_each_target_says_how_its_server_is_reached():
    """An HTTPS-only site passes PHP only from its 443 ssl server: that is how a request from the
    host reaches it (issue 10); plain HTTP wins where a server has both; `ssl on;` makes a listen TLS."""
    tree, files, errors = load_dump(HTTPS_ONLY)
    assert errors == []
    uses = dict((u["server_name"], u) for u in resolve_targets(analyse(tree)))
    assert set(uses) == {"shop.test", "old.test", "both.test"}
    assert uses["shop.test"]["endpoint"] == {"scheme": "https", "port": 443, "address": None}
    assert uses["shop.test"]["server_names"] == ["shop.test", "www.shop.test"]
    assert uses["old.test"]["endpoint"] == {"scheme": "https", "port": 8443, "address": None}
    assert uses["both.test"]["endpoint"] == {"scheme": "http", "port": 8080, "address": None}
