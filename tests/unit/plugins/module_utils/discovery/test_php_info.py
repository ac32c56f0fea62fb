# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""php_info: ``php -v`` / ``php -i`` (text and HTML) parsing, the php command line, guesses."""
import os

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.php_info import (
    guess_localstatedir,
    guess_php_prefix,
    parse_php_info,
    parse_php_v_output,
    php_command,
)
from unit_paths import FIXTURES_ROOT

FIXTURES = os.path.join(FIXTURES_ROOT, "discover")

PHPINFO_TEXT = """phpinfo()
PHP Version => 8.2.7

Loaded Configuration File => {ini}
Scan this dir for additional .ini files => {scan}
Additional .ini files parsed => {scan}/10-opcache.ini

PHP API => 20220829
"""

TARGET_KEYS = ("php_ini", "scan_dirs", "additional")


def test_parse_php_info_fixture():
    with open(os.path.join(FIXTURES, "remi", "php-i.txt")) as handle:
        info = parse_php_info(handle.read())
    assert info["php_ini"] == "/etc/opt/remi/php81/php.ini"
    assert info["scan_dir"] == "/etc/opt/remi/php81/php.d"
    assert info["files"] == ["/etc/opt/remi/php81/php.d/10-opcache.ini",
                             "/etc/opt/remi/php81/php.d/20-json.ini"]
    assert info["configure_prefix"] == "/opt/remi/php81/root/usr"
    assert info["localstatedir"] == "/var/opt/remi/php81"
    assert info["version"] == "8.1.31"
    assert info["opcache"]["opcache.enable"] == "On"
    none = parse_php_info("Loaded Configuration File => (none)\n"
                          "Scan this dir for additional .ini files => (none)\n"
                          "Additional .ini files parsed => (none)\n")
    assert (none["php_ini"], none["scan_dir"], none["files"]) == (None, None, [])


def test_php_command_keeps_ini_options():
    assert php_command("/usr/sbin/php-fpm", {"php_ini": "/etc/php.ini", "defines": {"b": "2", "a": "1"}},
                       ["-v"]) == ["/usr/sbin/php-fpm", "-c", "/etc/php.ini", "-d", "a=1", "-d", "b=2", "-v"]
    assert php_command("/x", {"no_ini": True, "php_ini": "/y"}, ["-i"]) == ["/x", "-n", "-i"]


def test_parse_php_info_text_and_none():
    # (was ini/target.py's own parser: the keys opcache_ini/opcache_blacklist use)
    info = parse_php_info(PHPINFO_TEXT.format(ini="/etc/php.ini", scan="/etc/php.d:/etc/more.d"))
    assert info["php_ini"] == "/etc/php.ini" and info["scan_dirs"] == ["/etc/php.d", "/etc/more.d"]
    assert info["additional"] == ["/etc/php.d:/etc/more.d/10-opcache.ini"]
    empty = parse_php_info("Loaded Configuration File => (none)\n"
                           "Scan this dir for additional .ini files => (none)\n")
    assert dict((k, empty[k]) for k in TARGET_KEYS) == {"php_ini": None, "scan_dirs": [], "additional": []}
    assert empty["files"] is None


def test_parse_php_info_html():
    html = ("<tr><td class=\"e\">Loaded Configuration File </td><td class=\"v\">(none) </td></tr>\n"
            "<tr><td class=\"e\">Scan this dir for additional .ini files </td>"
            "<td class=\"v\">/etc/php.d:/etc/more.d </td></tr>\n"
            "<tr><td class=\"e\">Additional .ini files parsed </td><td class=\"v\">/etc/php.d/10-opcache.ini,\n"
            "/etc/more.d/20-x.ini\n</td></tr>\n"
            "<tr><td class=\"e\">opcache.enable</td><td class=\"v\">On</td><td class=\"v\">Off</td></tr>\n")
    info = parse_php_info(html)
    assert info["php_ini"] is None
    assert info["scan_dirs"] == ["/etc/php.d", "/etc/more.d"]
    assert info["additional"] == ["/etc/php.d/10-opcache.ini", "/etc/more.d/20-x.ini"]
    assert info["opcache"] == {"opcache.enable": "Off"}
    assert parse_php_info("") == parse_php_info(None)


def test_parse_php_v_output():
    text = "PHP 8.2.7-1+deb12u1 (fpm-fcgi) (built: Jun 10 2023)\nZend Engine v4.2.7\n"
    assert parse_php_v_output(text) == {"version": "8.2.7-1+deb12u1", "release": "8.2.7", "sapi": "fpm-fcgi"}
    assert parse_php_v_output("PHP 8.1.31\n") == {"version": "8.1.31", "release": "8.1.31", "sapi": None}
    assert parse_php_v_output("nothing") is None and parse_php_v_output(None) is None


def test_guesses_from_the_binary():
    assert guess_php_prefix("/opt/remi/php81/root/usr/sbin/php-fpm") == "/opt/remi/php81/root/usr"
    assert guess_php_prefix("/usr/local/php/php-fpm") == "/usr"
    assert guess_php_prefix(None) == "/usr"
    assert guess_localstatedir("/opt/remi/php81/root/usr/sbin/php-fpm") == "/var/opt/remi/php81"
    assert guess_localstatedir("/usr/sbin/php-fpm8.2") == "/var"
