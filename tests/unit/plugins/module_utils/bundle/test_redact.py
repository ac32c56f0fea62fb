# SPDX-License-Identifier: GPL-3.0-or-later
"""bundle/redact.py: client addresses and cookies never leave the host; the rest stays readable."""
import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.bundle.redact import redact

NGINX_V4 = ('2026/12/07 08:03:46 [error] 758#758: *55 recv() failed (104: Connection reset by peer) while reading '
            'response header from upstream, client: 203.0.113.9, server: shop.example, request: "GET /c/report.php '
            'HTTP/1.1", upstream: "fastcgi://10.0.4.12:9000", host: "shop.example"')
NGINX_V6 = ('2026/12/07 08:03:46 [error] 758#758: *57 upstream prematurely closed connection while reading response '
            'header from upstream, client: 2001:db8:85a3::8a2e:370:7334, server: _, request: "POST /cart HTTP/2.0", '
            'upstream: "fastcgi://unix:/run/php/php8.2-fpm.sock:", host: "[2001:db8::1]"')


def test_nginx_client_and_private_upstream_go_loopback_and_times_stay():
    text, n = redact(NGINX_V4)
    assert "203.0.113.9" not in text and "10.0.4.12" not in text and n == 2
    assert "client: <client>, server: shop.example" in text
    assert text.startswith("2026/12/07 08:03:46 [error] 758#758: *55 recv() failed (104: ")
    assert 'upstream: "fastcgi://<address>:9000"' in text


def test_ipv6_client_and_host_go():
    text, n = redact(NGINX_V6)
    assert "2001:db8" not in text and n == 2
    assert "client: <client>, server: _" in text and "unix:/run/php/php8.2-fpm.sock:" in text


def test_a_loopback_client_is_still_a_client_but_loopback_elsewhere_stays():
    text, n = redact('client: 127.0.0.1, server: _, upstream: "fastcgi://127.0.0.1:9001", host: "127.0.0.1"')
    assert text == 'client: <client>, server: _, upstream: "fastcgi://127.0.0.1:9001", host: "127.0.0.1"' and n == 1


@pytest.mark.parametrize("line", [
    "[07-Dec-2026 08:03:46] WARNING: [pool www] child 2418 exited on signal 11 (SIGSEGV) after 0.85 seconds",
    "PHP Fatal error:  Uncaught Error: Call to undefined method Cafe::add() in /srv/app/a.php:12",
    "PHP 8.2.36 (fpm-fcgi) (built: Nov 18 2026 20:02:04) with Zend OPcache v8.2.36",
    "segfault at 7f377e872428 ip 0000562b0b8d9ebd sp 00007ffcd580fec0 error 4 in php-fpm8.2[562b0b6ba000+309000]",
    "2024-04-01T13:37:30+0000 web1 kernel: php-fpm[63712]: segfault at 3a8c",
])
def test_lines_without_clients_or_secrets_are_unchanged(line):
    assert redact(line) == (line, 0)


@pytest.mark.parametrize("line, gone, kept", [
    ('FastCGI sent in stderr: "PHP message: cookie: PHPSESSID=9f8e7d; lang=de" while reading', "9f8e7d", "FastCGI sent"),
    ("Cookie: wordpress_logged_in_abc=admin%7C1700; other=1", "admin%7C1700", "Cookie: "),
    ('request: "GET /login?session_id=s3cr3t&page=2 HTTP/1.1"', "s3cr3t", "page=2"),
    ('request: "GET /api?access_token=eyJhbGci.x.y HTTP/1.1"', "eyJhbGci", "/api?access_token="),
    ("Set-Cookie: PHPSESSID=abcdef0123; path=/; HttpOnly", "abcdef0123", "Set-Cookie: "),
])
def test_cookies_and_session_values_go(line, gone, kept):
    text, n = redact(line)
    assert gone not in text and kept in text and n >= 1 and "<redacted>" in text
