# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""systemd: php-fpm argv options, ``systemctl show`` output, EnvironmentFiles."""
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.systemd import (
    parse_env_file,
    parse_fpm_argv,
    parse_systemctl_show,
    systemd_unit_info,
)


def test_parse_fpm_argv_forms():
    opts = parse_fpm_argv(["/usr/sbin/php-fpm8.2", "--nodaemonize", "--fpm-config",
                           "/etc/php/8.2/fpm/php-fpm.conf", "-c", "/etc/php.ini",
                           "-d", "opcache.enable=0", "--define=memory_limit=1G", "-dfoo",
                           "-p/opt/fpm", "--pid=/run/x.pid", "-R"])
    assert opts == {"config": "/etc/php/8.2/fpm/php-fpm.conf", "prefix": "/opt/fpm",
                    "php_ini": "/etc/php.ini", "no_ini": False, "pid": "/run/x.pid",
                    "defines": {"opcache.enable": "0", "memory_limit": "1G", "foo": "1"}}
    assert parse_fpm_argv(["php-fpm", "-y/etc/a.conf", "-n", "-c"])["config"] == "/etc/a.conf"
    assert parse_fpm_argv(["php-fpm", "--no-php-ini"])["no_ini"] is True


def test_parse_systemctl_show_and_env_file():
    info = parse_systemctl_show(
        "ExecStart={ path=/usr/sbin/php-fpm8.2 ; argv[]=/usr/sbin/php-fpm8.2 --nodaemonize "
        "--fpm-config /etc/php-fpm.conf -c /etc/php.ini ; ignore_errors=no ; start_time=[x] }\n"
        "Environment=PHP_INI_SCAN_DIR=/etc/php.d \"A=b c\"\n"
        "EnvironmentFiles=/etc/sysconfig/php-fpm (ignore_errors=yes)\n")
    assert info["exec_argv"] == ["/usr/sbin/php-fpm8.2", "--nodaemonize", "--fpm-config",
                                 "/etc/php-fpm.conf", "-c", "/etc/php.ini"]
    assert info["environment"] == {"PHP_INI_SCAN_DIR": "/etc/php.d", "A": "b c"}
    assert info["environment_files"] == [{"path": "/etc/sysconfig/php-fpm", "optional": True}]
    assert parse_systemctl_show("ExecStart=\nEnvironment=\n")["exec_argv"] is None
    assert parse_env_file("# c\n; c\nexport A=1\nB=\"two words\"\nC='x'\nbroken\n") == {
        "A": "1", "B": "two words", "C": "x"}


class _FS:
    def __init__(self, files):
        self.files = files

    def read_text(self, path):
        if path not in self.files:
            raise IOError(2, "No such file", path)
        return self.files[path]


def test_systemd_unit_info_merges_environment_files():
    show = ("ExecStart={ path=/usr/sbin/php-fpm ; argv[]=/usr/sbin/php-fpm --nodaemonize ; x }\n"
            "Environment=PHPRC=/etc/unit\n"
            "EnvironmentFiles=/etc/sysconfig/php-fpm (ignore_errors=no)\n"
            "EnvironmentFiles=/etc/missing (ignore_errors=yes)\n")
    calls = []

    def run(argv, environ_update=None):
        calls.append(argv)
        return 0, show, ""

    fs = _FS({"/etc/sysconfig/php-fpm": "PHPRC=/etc/file\nPHP_INI_SCAN_DIR=/etc/php.d\n"})
    info = systemd_unit_info(run, "php-fpm.service", fs)
    assert calls == [["systemctl", "show", "php-fpm.service", "-p", "ExecStart", "-p",
                      "Environment", "-p", "EnvironmentFiles"]]
    assert info["exec_argv"] == ["/usr/sbin/php-fpm", "--nodaemonize"]
    # Environment= wins over the EnvironmentFiles, as in systemd
    assert info["environment"] == {"PHPRC": "/etc/unit", "PHP_INI_SCAN_DIR": "/etc/php.d"}
    assert systemd_unit_info(run, None, fs) is None
    assert systemd_unit_info(lambda argv, environ_update=None: (1, "", "x"), "a.service", fs) is None
