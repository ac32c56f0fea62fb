# SPDX-License-Identifier: GPL-3.0-or-later
"""The live crash-storm rules (evidence/storm.py) line by line, on the log shapes the lab's
real nginx and php-fpm write."""
import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.storm import StormSettings, StormWatch

NGINX_104 = ('2026/12/06 11:20:%02d [error] 812#812: *%d recv() failed (104: Connection reset by peer) while reading '
             'response header from upstream, client: 127.0.0.1, server: _, request: "GET /a/report.php HTTP/1.1", '
             'upstream: "fastcgi://unix:/run/php/php8.2-fpm.sock:", host: "127.0.0.1"')
NGINX_CLOSED = ('2026/12/06 11:20:%02d [error] 812#812: *%d upstream prematurely closed connection while reading '
                'response header from upstream, client: ::1, server: _, request: "GET /b/x.php HTTP/1.1", '
                'upstream: "fastcgi://127.0.0.1:9001", host: "localhost"')
NGINX_REFUSED = ('2026/12/06 11:20:%02d [error] 812#812: *%d connect() to unix:/run/php/php8.2-fpm.sock failed '
                 '(111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: _, '
                 'request: "GET /a/index.php HTTP/1.1", upstream: "fastcgi://unix:/run/php/php8.2-fpm.sock:", '
                 'host: "127.0.0.1"')
FPM_SIG = ('[06-Dec-2026 11:20:%02d] WARNING: [pool www] child %d exited on signal %d (%s) '
           'after 12.345678 seconds from start')
JOURNAL_SIG = '[WARNING] [pool www] child %d exited on signal 11 (SIGSEGV) after 3.1 seconds from start'
KERNEL_SEGV = 'php-fpm8.2[%d]: segfault at 0 ip 00007f3a sp 00007ffc error 4 in opcache.so[7f3a0000+5a000]'
HEAP = '[06-Dec-2026 11:20:01] WARNING: [pool www] child %d said into stderr: "zend_mm_heap corrupted"'


def crash(watch, host, t, pid, sig=11, name="SIGSEGV"):
    return watch.feed(host, "php-fpm", (FPM_SIG % (t % 60, pid, sig, name)).encode(), t)


def reset(watch, host, t, conn, line=NGINX_104):
    return watch.feed(host, "nginx", (line % (t % 60, conn)).encode(), t)


def storm_of(watch, host, start, n, pid0=100, conn0=1000, gap=1.0):
    """n requests that each crash their worker: the 502 and the crash line arrive together."""
    out = None
    for i in range(n):
        t = start + i * gap
        a = reset(watch, host, t, conn0 + i)[1]
        b = crash(watch, host, t + 0.01, pid0 + i)[1]
        out = out or a or b
    return out


def test_three_tied_crashes_fire_and_two_do_not():
    watch = StormWatch(StormSettings(threshold=3, window=60))
    assert storm_of(watch, "web1", 0, 2) is None
    assert watch.tally("web1", 2) == (2, 2, 2)
    counted, storm = reset(watch, "web1", 10, 2000)
    assert counted == ["502"] and storm is None
    counted, storm = crash(watch, "web1", 10.2, 777)
    assert counted == ["crash"]
    assert storm is not None
    got = storm
    assert (got["tied_crashes"], got["crashes"], got["gateway_502"]) == (3, 3, 3)
    assert got["signals"] == {"SIGSEGV": 3}
    assert got["pools"] == ["www"]
    assert got["requests"] == ["GET /a/report.php HTTP/1.1"]


def test_a_single_crash_among_many_502s_is_quiet():
    watch = StormWatch(StormSettings(threshold=3))
    crash(watch, "web1", 0, 1)
    for i in range(10):
        storm = reset(watch, "web1", 0.1 * i, 50 + i)[1]
        assert storm is None
    assert watch.tally("web1", 1) == (1, 1, 10)


@pytest.mark.parametrize("line", [NGINX_REFUSED, NGINX_104])
def test_502s_without_a_crash_are_quiet(line):
    watch = StormWatch(StormSettings(threshold=3))
    for i in range(20):
        storm = reset(watch, "web1", i * 0.5, 300 + i, line=line)[1]
        assert storm is None
    assert watch.tally("web1", 10)[0] == 0


def test_refused_connections_are_not_502s_of_a_crash():
    watch = StormWatch(StormSettings(threshold=1))
    counted = reset(watch, "web1", 0, 1, line=NGINX_REFUSED)[0]
    assert counted == []


@pytest.mark.parametrize("sig,name", [(9, "SIGKILL"), (15, "SIGTERM"), (3, "SIGQUIT")])
def test_workers_killed_by_someone_are_not_crashes(sig, name):
    watch = StormWatch(StormSettings(threshold=1))
    reset(watch, "web1", 0, 1)
    counted, storm = crash(watch, "web1", 0.1, 42, sig, name)
    assert counted == [] and storm is None


@pytest.mark.parametrize("sig,name", [(6, "SIGABRT"), (7, "SIGBUS"), (11, "SIGSEGV")])
def test_crash_signals_count(sig, name):
    watch = StormWatch(StormSettings(threshold=1))
    reset(watch, "web1", 0, 1)
    counted, storm = crash(watch, "web1", 0.1, 42, sig, name)
    assert counted == ["crash"] and storm["signals"] == {name: 1}


def test_crashes_without_502s_nearby_are_not_tied():
    watch = StormWatch(StormSettings(threshold=3, window=60, tie_seconds=5))
    for i in range(3):
        crash(watch, "web1", i * 20, 10 + i)       # crashes at 0, 20, 40
    for i in range(3):
        reset(watch, "web1", 6 + i * 20, 90 + i)   # each 502 6 s after its crash, 14 s before the next
    assert watch.tally("web1", 50) == (0, 3, 3)


def test_one_502_ties_one_crash_only():
    watch = StormWatch(StormSettings(threshold=2))
    reset(watch, "web1", 0, 1)
    crash(watch, "web1", 0.1, 1)
    storm = crash(watch, "web1", 0.2, 2)[1]
    assert storm is None and watch.tally("web1", 1) == (1, 2, 1)


def test_crashes_spread_over_more_than_the_window_do_not_fire():
    watch = StormWatch(StormSettings(threshold=3, window=30))
    assert storm_of(watch, "web1", 0, 6, gap=16) is None
    assert watch.tally("web1", 80)[0] == 2


def test_the_same_record_seen_twice_counts_once():
    watch = StormWatch(StormSettings(threshold=2))
    line = (FPM_SIG % (1, 4242, 11, "SIGSEGV")).encode()
    assert watch.feed("web1", "php-fpm", line, 0) == (["crash"], None)
    assert watch.feed("web1", "php-fpm", line, 0.5) == ([], None)        # a re-read after copytruncate
    assert watch.feed("web1", "php-fpm", (JOURNAL_SIG % 4242).encode(), 0.6) == ([], None)   # the journal
    assert watch.feed("web1", "kernel", (KERNEL_SEGV % 4242).encode(), 0.7) == ([], None)   # the kernel
    nginx = (NGINX_104 % (1, 555)).encode()
    assert watch.feed("web1", "nginx", nginx, 0.1)[0] == ["502"]
    assert watch.feed("web1", "nginx", nginx, 0.2)[0] == []
    assert watch.tally("web1", 1) == (1, 1, 1)


def test_heap_corruption_then_the_signal_of_the_same_child_is_one_crash():
    watch = StormWatch(StormSettings(threshold=2))
    assert watch.feed("web1", "php-fpm", (HEAP % 31).encode(), 0)[0] == ["crash"]
    assert crash(watch, "web1", 0.1, 31)[0] == []


def test_a_kernel_segfault_of_php_counts_and_one_of_another_program_does_not():
    watch = StormWatch(StormSettings(threshold=1))
    reset(watch, "web1", 0, 1)
    other = b"mysqld[99]: segfault at 0 ip 00007f3a sp 00007ffc error 4 in libc.so.6[7f3a0000+5a000]"
    assert watch.feed("web1", "kernel", other, 0.1) == ([], None)
    counted, storm = watch.feed("web1", "kernel", (KERNEL_SEGV % 5).encode(), 0.2)
    assert counted == ["crash"] and storm["signals"] == {"kernel_segfault": 1}


def test_text_written_by_strangers_plants_nothing():
    """A Referer holding a php-fpm crash line in the nginx log, and an nginx 104 record in
    what a child wrote to the php-fpm log: neither is a crash nor a 502."""
    watch = StormWatch(StormSettings(threshold=1))
    forged_referer = ('2026/12/06 11:20:01 [error] 812#812: *9 open() "/srv/app/x.php" failed (2: No such file or '
                      'directory), client: 10.0.0.9, server: _, request: "GET /x.php HTTP/1.1", host: "a", '
                      'referrer: "[06-Dec-2026 11:20:01] WARNING: [pool www] child 7 exited on signal 11 (SIGSEGV) '
                      'after 1.0 seconds from start"')
    for i in range(3):
        assert watch.feed("web1", "nginx", forged_referer.encode(), i) == ([], None)
    child_said = ('[06-Dec-2026 11:20:01] WARNING: [pool www] child 8 said into stderr: "' + NGINX_104 % (1, 5) + '"')
    assert watch.feed("web1", "php-fpm", child_said.encode(), 3) == ([], None)
    assert watch.feed("web1", "php-fpm", (NGINX_104 % (1, 6)).encode(), 3) == ([], None)
    assert watch.tally("web1", 3) == (0, 0, 0)


def test_cooldown_keeps_a_host_quiet_then_it_fires_again():
    watch = StormWatch(StormSettings(threshold=3, window=60, cooldown=100))
    assert storm_of(watch, "web1", 0, 3) is not None
    assert storm_of(watch, "web1", 10, 5, pid0=200, conn0=2000) is None
    assert storm_of(watch, "web1", 103, 3, pid0=300, conn0=3000) is not None
    assert watch.fired == 2


def test_hosts_are_counted_apart():
    watch = StormWatch(StormSettings(threshold=3))
    storm_of(watch, "web1", 0, 2)
    storm_of(watch, "web3", 0, 2, pid0=300, conn0=3000)
    assert watch.tally("web1", 3) == (2, 2, 2) and watch.tally("web3", 3) == (2, 2, 2)
    storm = storm_of(watch, "web3", 3, 1, pid0=900, conn0=9000)
    assert storm is not None and storm["tied_crashes"] == 3
    assert watch.tally("web1", 4) == (2, 2, 2)


@pytest.mark.parametrize("kwargs,message", [
    ({"threshold": 0}, "threshold must be more than 0, got 0"),
    ({"threshold": 2.5}, "threshold must be a whole number, got 2.5"),
    ({"threshold": True}, "threshold must be a whole number, got True"),
    ({"window": "60"}, "window must be a number, got '60'"),
    ({"cooldown": -1}, "cooldown must be 0 or more, got -1"),
    ({"window": 3, "tie_seconds": 5}, "tie_seconds (5) must not be longer than window (3)"),
])
def test_bad_settings_name_the_setting(kwargs, message):
    with pytest.raises(ValueError) as err:
        StormSettings(**kwargs)
    assert str(err.value) == message
