# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab fleet: each layout serves the demo app, and a real crash leaves the real
nginx and php-fpm log lines at that layout's own log paths."""
import re
import time

import pytest

RELEASES = ("a", "b", "c")

# Per layout (by host suffix): php-fpm log of the master behind each release folder.
LAYOUTS = {
    "web1": {"a": "/var/log/php8.2-fpm.log", "b": "/var/log/php8.2-fpm.log", "c": "/var/log/php8.2-fpm.log"},
    "web2": {"a": "/var/log/php-fpm/error.log", "b": "/var/log/php-fpm/error.log", "c": "/var/log/php-fpm/error.log"},
    "web3": {"a": "/var/log/php8.2-fpm.log", "b": "/var/log/php8.2-fpm.log", "c": "/var/log/php-fpm-alt.log"},
    # the journal of a unit (error_log = syslog), and the file a foreground master's stderr is piped into
    "web4": {"a": "journal:php-fpm-journal", "b": "/var/log/php-fpm-stderr.log", "c": "journal:php-fpm-journal"},
}
MASTERS = {"web1": 1, "web2": 1, "web3": 2, "web4": 2}


def layout(host):
    name = host.backend.get_hostname()
    return LAYOUTS[name.rsplit("-", 1)[-1]], name.rsplit("-", 1)[-1]


def fpm_read(log):
    """The shell command that prints a php-fpm log: a file, or the journal of a unit. (Lines are
    counted rather than a journal cursor kept: with -u, --after-cursor skipped the first entry
    after the cursor on Debian 12's journalctl.)"""
    if log.startswith("journal:"):
        return "journalctl -q --no-pager -o cat -u %s" % log[8:]
    return "cat %s" % log


def fpm_mark(host, log):
    """Where the php-fpm log ends now, in lines."""
    return int(host.check_output("%s | wc -l" % fpm_read(log)))


def fpm_lines_after(host, log, mark):
    return host.check_output("%s | tail -n +%d" % (fpm_read(log), mark + 1))


def http_code(host, path):
    out = host.check_output("curl -s -o /dev/null -w '%%{http_code}' --max-time 10 http://127.0.0.1/%s", path)
    return int(out)


@pytest.mark.parametrize("release", RELEASES)
@pytest.mark.parametrize("page", ["index.php", "report.php", "health.php"])
def test_pages_answer_200(host, release, page):
    assert http_code(host, "%s/%s" % (release, page)) == 200


def test_masters_running(host):
    _, suffix = layout(host)
    masters = host.check_output("pgrep -c -f '^php-fpm: master process'")
    assert int(masters) == MASTERS[suffix]


def test_layout_paths(host):
    _, suffix = layout(host)
    if suffix == "web2":
        assert host.file("/etc/php-fpm.conf").exists
        assert host.file("/etc/php-fpm.d/www.conf").exists
        assert host.file("/etc/php.d/opcache-default.blacklist").exists
        assert host.socket("unix:///run/php-fpm/www.sock").is_listening
        assert "opcache.blacklist_filename=/etc/php.d/opcache*.blacklist" in host.file("/etc/php.d/10-opcache.ini").content_string
    elif suffix == "web3":
        assert host.socket("unix:///run/php/php8.2-fpm.sock").is_listening
        assert host.socket("tcp://127.0.0.1:9001").is_listening
        assert host.socket("unix:///run/php-fpm-alt/www.sock").is_listening
    elif suffix == "web4":
        assert host.socket("unix:///run/php-fpm-journal/www.sock").is_listening
        assert host.socket("unix:///run/php-fpm-stderr/www.sock").is_listening
        assert "error_log = syslog" in host.file("/etc/php-fpm-journal/php-fpm.conf").content_string
        assert "error_log = /proc/self/fd/2" in host.file("/etc/php-fpm-stderr/php-fpm.conf").content_string
        # the foreground master's standard error is a pipe (to cat), as under a container runtime
        pid = host.check_output("pgrep -f '^php-fpm: master process \\(/etc/php-fpm-stderr/'")
        assert host.check_output("readlink /proc/%s/fd/2", pid).startswith("pipe:")
    else:
        assert host.socket("unix:///run/php/php8.2-fpm.sock").is_listening


def test_validate_timestamps_off(host):
    out = host.check_output("cd /srv/app/releases/a && php -r 'echo 1;' >/dev/null; grep -rh validate_timestamps /etc/php* 2>/dev/null || true")
    assert "opcache.validate_timestamps=0" in out


@pytest.mark.parametrize("release", RELEASES)
def test_crash_page_gives_502_and_real_log_lines(host, release):
    logs, _ = layout(host)
    fpm_log = logs[release]
    fpm_before = fpm_mark(host, fpm_log)
    nginx_before = int(host.check_output("wc -l < /var/log/nginx/error.log"))

    assert http_code(host, "%s/crash.php" % release) == 502

    deadline = time.time() + 10
    while True:
        fpm_new = fpm_lines_after(host, fpm_log, fpm_before)
        nginx_new = host.check_output("tail -n +%d /var/log/nginx/error.log" % (nginx_before + 1))
        if "SIGSEGV" in fpm_new or time.time() > deadline:
            break
        time.sleep(0.2)
    # a file line says "WARNING: [pool www] ...", a syslog (journal) line "[WARNING] [pool www] ..."
    assert re.search(r"(WARNING: |\[WARNING\] )\[pool [\w.-]+\] child \d+ exited on signal 11 \(SIGSEGV\) "
                     r"after [\d.]+ seconds from start", fpm_new)
    assert re.search(
        r"recv\(\) failed \(104: Connection reset by peer\) while reading response header from upstream.*"
        r'request: "GET /%s/crash\.php HTTP/1\.1"' % release,
        nginx_new,
    )


def test_deploy_site_current_and_its_two_vhosts(host):
    """The Deployer-style site: releases/<timestamp>/, current -> the last, served through
    current/public by a $document_root vhost (8090) and a $realpath_root one (8091)."""
    link = host.file("/srv/deploy/current")
    assert link.is_symlink and link.linked_to == "/srv/deploy/releases/20261206120000"
    assert host.file("/srv/deploy/releases/20261201093000/src/Release.php").contains("20261201093000")
    for port in (8090, 8091):
        assert host.check_output("curl -s http://127.0.0.1:%d/shop/cart" % port) == "deploy release 20261206120000"
    conf = host.file("/etc/nginx/conf.d/lab.conf").content_string
    assert "fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name" in conf
    assert "fastcgi_param SCRIPT_FILENAME $realpath_root$fastcgi_script_name" in conf
