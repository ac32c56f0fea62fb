# SPDX-License-Identifier: GPL-3.0-or-later
"""fpm_config: php-fpm config semantics (values, sections, includes, paths) and php.ini files."""
import os

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.fpm_config import (
    HostFS,
    effective_ini,
    evaluate_full_path,
    iter_ini_lines,
    load_fpm_config,
    opcache_directives,
    parse_ini_value,
    parse_php_ini,
    parse_time,
)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.ini.scan_order import files_in_scan_order


def write(root, path, text):
    full = os.path.join(str(root), path.lstrip("/"))
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w") as handle:
        handle.write(text)


@pytest.mark.parametrize("raw, expected", [
    (" /run/php/php8.2-fpm.sock", "/run/php/php8.2-fpm.sock"),
    (" www-data ; the pool user", "www-data"),
    (' "quoted ; not a comment" ', "quoted ; not a comment"),
    (" 'single ${HOME}' ", "single ${HOME}"),
    (' "${HOME}/x" ', "/home/u/x"),
    (" ${HOME}/y", "/home/u/y"),
    (" ${UNSET}z", "z"),
    (" yes", "1"), (" On", "1"), (" TRUE", "1"),
    (" no", ""), (" off", ""), (" none", ""), (" Null", ""),
    (' "off"', "off"),
    (" ", ""),
    (' "a" b', "a b"),
])
def test_parse_ini_value(raw, expected):
    assert parse_ini_value(raw, {"HOME": "/home/u"}) == expected


@pytest.mark.parametrize("value, seconds", [
    ("30", 30), ("30s", 30), ("5m", 300), ("2h", 7200), ("1d", 86400), ("0", 0),
    ("", None), (None, None), ("5x", None), ("abc", None),
])
def test_parse_time(value, seconds):
    assert parse_time(value) == seconds


def test_evaluate_full_path_prefix_order():
    assert evaluate_full_path("/abs", "/pool", "/glob", "/usr") == "/abs"
    assert evaluate_full_path("log/x", "/pool", "/glob", "/usr") == "/pool/log/x"
    assert evaluate_full_path("log/x", None, "/glob", "/usr") == "/glob/log/x"
    assert evaluate_full_path("log/x", None, None, "/var") == "/var/log/x"


def test_iter_ini_lines_kinds():
    text = "; c\n[www]\nlisten = a\nphp_admin_value[ opcache.enable ] = 0\n???\n# hash\n"
    kinds = [(k, n, key, v) for dummy, k, n, key, v in iter_ini_lines(text)]
    assert kinds == [
        ("section", "www", None, None),
        ("entry", "listen", None, "a"),
        ("array", "php_admin_value", "opcache.enable", "0"),
        ("invalid", None, None, "???"),
    ]


def test_debian_like_tree_with_includes_and_defaults(tmp_path):
    write(tmp_path, "/etc/php/8.2/fpm/php-fpm.conf",
          "[global]\npid = /run/php/php8.2-fpm.pid\nerror_log = /var/log/php8.2-fpm.log\n"
          "include=/etc/php/8.2/fpm/pool.d/*.conf\n")
    write(tmp_path, "/etc/php/8.2/fpm/pool.d/www.conf",
          "[www]\nuser = www-data\ngroup = www-data\nlisten = /run/php/php8.2-fpm.sock\n"
          "pm = dynamic\npm.max_children = 5\n;access.log = log/$pool.access.log\n")
    write(tmp_path, "/etc/php/8.2/fpm/pool.d/zz-api.conf",
          "[api]\nuser = api\nlisten = 127.0.0.1:9001\npm = ondemand\npm.max_children = 3\n"
          "slowlog = log/$pool.slow.log\nrequest_slowlog_timeout = 10s\n"
          "request_terminate_timeout = 1m\nphp_admin_value[opcache.memory_consumption] = 64\n"
          "php_value[extension] = redis.so\nphp_flag[display_errors] = on\n"
          "php_admin_flag[log_errors] = off\nsecurity.limit_extensions = .php\n"
          "php_admin_value[open_basedir] = /srv/api:/tmp\n")
    write(tmp_path, "/etc/php/8.2/fpm/pool.d/notes.txt", "[ignored]\n")
    cfg = load_fpm_config("/etc/php/8.2/fpm/php-fpm.conf", fs=HostFS(str(tmp_path)))
    assert cfg["errors"] == []
    assert cfg["config_files"] == ["/etc/php/8.2/fpm/php-fpm.conf",
                                   "/etc/php/8.2/fpm/pool.d/www.conf",
                                   "/etc/php/8.2/fpm/pool.d/zz-api.conf"]
    assert cfg["error_log"] == "/var/log/php8.2-fpm.log"
    assert cfg["error_log_kind"] == "file"
    assert cfg["emergency_restart_threshold"] == 0
    www, api = cfg["pools"]
    assert (www["name"], www["listen"], www["listen_kind"], www["user"]) == (
        "www", "/run/php/php8.2-fpm.sock", "unix", "www-data")
    assert www["access_log"] is None
    assert www["security_limit_extensions"] == [".php", ".phar"]
    assert (api["listen"], api["listen_kind"], api["pm"], api["pm_max_children"]) == (
        "127.0.0.1:9001", "tcp", "ondemand", 3)
    assert api["slowlog"] == "/usr/log/api.slow.log"
    assert (api["request_slowlog_timeout"], api["request_terminate_timeout"]) == (10, 60)
    assert api["php_values"] == {"extension": "redis.so", "display_errors": "1"}
    assert api["php_admin_values"]["log_errors"] == "0"
    assert api["opcache_overrides"] == {
        "opcache.memory_consumption": {"value": "64", "via": "php_admin_value"}}
    assert api["extension_overrides"] == [
        {"directive": "extension", "value": "redis.so", "via": "php_value"}]
    assert api["open_basedir"] == "/srv/api:/tmp"
    assert api["security_limit_extensions"] == [".php"]


def test_error_log_default_and_prefix(tmp_path):
    write(tmp_path, "/opt/fpm/etc/php-fpm.conf",
          "[global]\ninclude = etc/fpm.d/*.conf\n")
    write(tmp_path, "/opt/fpm/etc/fpm.d/www.conf",
          "[www]\nlisten = var/run/$pool.sock\naccess.log = log/$pool.access.log\nchdir = /\n")
    cfg = load_fpm_config("/opt/fpm/etc/php-fpm.conf", fs=HostFS(str(tmp_path)), prefix="/opt/fpm")
    assert cfg["config_files"][1] == "/opt/fpm/etc/fpm.d/www.conf"
    assert cfg["error_log"] == "/opt/fpm/log/php-fpm.log"
    pool = cfg["pools"][0]
    assert pool["listen"] == "/opt/fpm/var/run/www.sock"
    assert pool["access_log"] == "/opt/fpm/log/www.access.log"
    # without -p: error_log falls back to localstatedir, relative include to the PHP prefix
    cfg = load_fpm_config("/opt/fpm/etc/php-fpm.conf", fs=HostFS(str(tmp_path)),
                          php_prefix="/opt/fpm", localstatedir="/var/opt/fpm")
    assert cfg["error_log"] == "/var/opt/fpm/log/php-fpm.log"
    assert len(cfg["pools"]) == 1


@pytest.mark.parametrize("value, kind, expected", [
    ("syslog", "syslog", "syslog"),
    ("/proc/self/fd/2", "stderr", "/proc/self/fd/2"),
    ("log/fpm.log", "file", "/var/log/fpm.log"),
])
def test_error_log_kinds(tmp_path, value, kind, expected):
    write(tmp_path, "/etc/php-fpm.conf", "[global]\nerror_log = %s\n[www]\nlisten = 9000\n" % value)
    cfg = load_fpm_config("/etc/php-fpm.conf", fs=HostFS(str(tmp_path)))
    assert (cfg["error_log"], cfg["error_log_kind"]) == (expected, kind)


def test_reopened_pool_section_and_last_value_wins(tmp_path):
    write(tmp_path, "/etc/php-fpm.conf",
          "[www]\nlisten = /run/a.sock\n[global]\nemergency_restart_threshold = 5\n"
          "emergency_restart_interval = 1m\nprocess_control_timeout = 10s\n"
          "[WWW]\nlisten = /run/b.sock\n")
    cfg = load_fpm_config("/etc/php-fpm.conf", fs=HostFS(str(tmp_path)))
    assert len(cfg["pools"]) == 1
    assert cfg["pools"][0]["listen"] == "/run/b.sock"
    assert cfg["pools"][0]["sources"] == ["/etc/php-fpm.conf:1", "/etc/php-fpm.conf:7"]
    assert (cfg["emergency_restart_threshold"], cfg["emergency_restart_interval"],
            cfg["process_control_timeout"]) == (5, 60, 10)


def test_env_substitution_in_fpm_config(tmp_path):
    write(tmp_path, "/etc/php-fpm.conf", "[www]\nlisten = ${SOCK_DIR}/$pool.sock\nuser = \"${APP_USER}\"\n")
    cfg = load_fpm_config("/etc/php-fpm.conf", fs=HostFS(str(tmp_path)),
                          env={"SOCK_DIR": "/run/app", "APP_USER": "app"})
    assert cfg["pools"][0]["listen"] == "/run/app/www.sock"
    assert cfg["pools"][0]["user"] == "app"


def test_broken_trees_report_errors(tmp_path):
    write(tmp_path, "/etc/php-fpm.conf",
          "include=/etc/php-fpm.d/*.conf\ninclude=/etc/missing.conf\nphp_value[x] = 1\n???\n")
    write(tmp_path, "/etc/php-fpm.d/loop.conf", "include=/etc/php-fpm.d/loop.conf\n")
    cfg = load_fpm_config("/etc/php-fpm.conf", fs=HostFS(str(tmp_path)))
    text = "\n".join(cfg["errors"])
    assert "more than 5 nested includes" in text
    assert "nothing matches the include pattern '/etc/missing.conf'" in text
    assert "arrays are not allowed in the global section" in text
    assert "/etc/php-fpm.conf:4: cannot parse line (neither a [section] nor a name = value entry)" in text
    assert "???" not in text  # the line itself is never copied (it may come from any file)
    assert "no pool section found" in text
    cfg = load_fpm_config("/etc/nope.conf", fs=HostFS(str(tmp_path)))
    assert cfg["errors"][0].startswith("cannot read /etc/nope.conf")


def test_chroot_prefix_and_php_value_paths(tmp_path):
    write(tmp_path, "/etc/php-fpm.conf",
          "[jail]\nprefix = /srv/jail\nchroot = $prefix\nlisten = /run/jail.sock\n"
          "php_admin_value[error_log] = log/php.log\n"
          "[free]\nprefix = /srv/free\nlisten = 9002\nphp_admin_value[error_log] = log/php.log\n"
          "php_value[session.save_path] = sess\nphp_value[memory_limit] = 64M\n")
    jail, free = load_fpm_config("/etc/php-fpm.conf", fs=HostFS(str(tmp_path)))["pools"]
    assert jail["chroot"] == "/srv/jail"
    assert jail["php_admin_values"]["error_log"] == "log/php.log"  # not expanded in a chroot
    assert free["php_admin_values"]["error_log"] == "/srv/free/log/php.log"
    assert free["php_values"] == {"session.save_path": "/srv/free/sess", "memory_limit": "64M"}


def test_php_ini_files_and_effective_values(tmp_path):
    write(tmp_path, "/etc/php.ini", "[PHP]\nopcache.enable = 0\nmemory_limit = 128M\n"
          "[PATH=/srv/legacy]\nopcache.enable = 0\n")
    write(tmp_path, "/etc/php.d/10-opcache.ini",
          "zend_extension=opcache\nopcache.enable=1\nopcache.validate_timestamps = Off\n"
          "opcache.blacklist_filename=/etc/php.d/opcache*.blacklist\n")
    write(tmp_path, "/etc/php.d/20-redis.ini", "extension=redis\n")
    write(tmp_path, "/etc/php.d/README", "not an ini\n")
    write(tmp_path, "/etc/extra.d/99-local.ini", "opcache.memory_consumption=256\n")
    fs = HostFS(str(tmp_path))
    files = files_in_scan_order("/etc/php.ini", "/etc/php.d::/etc/extra.d", fs=fs)
    assert files == ["/etc/php.ini", "/etc/php.d/10-opcache.ini", "/etc/php.d/20-redis.ini",
                     "/etc/extra.d/99-local.ini"]
    values, extensions, errors = effective_ini(fs, files + ["/etc/gone.ini"])
    assert [e["value"] for e in extensions] == ["opcache", "redis"]
    assert errors and "/etc/gone.ini" in errors[0]
    assert opcache_directives(values) == {
        "opcache.blacklist_filename": "/etc/php.d/opcache*.blacklist",
        "opcache.enable": "1",
        "opcache.memory_consumption": "256",
        "opcache.validate_timestamps": "",
    }
    assert values["opcache.enable"]["file"] == "/etc/php.d/10-opcache.ini"
    assert "[PATH=/srv/legacy] opcache.enable" in values


def test_parse_php_ini_arrays_and_sections():
    entries = parse_php_ini("[PHP]\nfoo[] = a\n[HOST=x.test]\nbar = 1\n")
    assert entries == [(2, "foo[]", "a"), (4, "[HOST=x.test] bar", "1")]


def test_hostfs_real_root():
    fs = HostFS()
    assert fs.real("/etc/hosts") == "/etc/hosts"
    assert fs.listdir("/definitely/not/here") == []
