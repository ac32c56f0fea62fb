# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""evidence_correlate: incidents (502 <-> crash <-> kernel), modes, counts, caps, merge."""


import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.addresses import normalize_upstream as normalize
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.correlate import Correlator, correlate
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.timestamps import TimeContext
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.line_events import events_from_line

T0 = 1795712462.0   # 2026-11-26T17:01:02Z
SOCK = "fastcgi://unix:/run/php/php8.2-fpm.sock:"


pytestmark = pytest.mark.usefixtures("utc")   # TZ=UTC for every test (conftest.py)


def ev(category, ts, **fields):
    kind = {"upstream_reset": "nginx", "upstream_prematurely_closed": "nginx", "kernel_segfault": "kernel",
            "general_protection": "kernel", "coredump": "coredump"}.get(category, "php-fpm")
    d = {"file": fields.pop("file", "/var/log/%s.log" % kind), "line_no": fields.pop("line_no", 1),
         "source_kind": kind, "category": category, "_ts": ts}
    d.update(fields)
    return d


def gw(ts, path="/a/crash.php", upstream=SOCK, cat="upstream_reset", **kw):
    return ev(cat, ts, method="GET", path=path, upstream=upstream, client="127.0.0.1", host="h", **kw)


def crash(ts, pid=24352, pool="www", signum=11, name="SIGSEGV", **kw):
    return ev("child_signal", ts, pool=pool, pid=pid, signal_number=signum, signal_name=name,
              core_dumped=False, uptime_s=301.9, **kw)


def test_lab_lines_make_one_incident_with_the_kernel_module():
    tctx = TimeContext(ref_epoch=T0 + 86400)
    lines = [
        '2026/11/26 17:01:02 [error] 2481#2481: *18 recv() failed (104: Connection reset by peer) while reading '
        'response header from upstream, client: 127.0.0.1, server: _, request: "GET /a/crash.php HTTP/1.1", '
        'upstream: "fastcgi://unix:/run/php/php8.2-fpm.sock:", host: "127.0.0.1"',
        '[26-Nov-2026 17:01:02] WARNING: [pool www] child 24352 exited on signal 11 (SIGSEGV) after 301.965713 '
        'seconds from start',
        'Nov 26 17:01:02 lab-web1 kernel: php-fpm8.2[24352]: segfault at 0 ip 00007f sp 00007ffe error 4 in '
        'opcache.so[7f3a00000000+5a000]',
    ]
    events = [e for i, l in enumerate(lines) for e in events_from_line(l, "f%d" % i, 1, tctx)]
    rep = correlate(events, upstream_pools={"unix:/run/php/php8.2-fpm.sock": "www"})
    (inc,) = rep["incidents"]
    assert inc["pool"] == "www" and inc["pid"] == 24352 and inc["signal_name"] == "SIGSEGV"
    assert inc["module"] == "opcache.so" and inc["kernel"]["process"] == "php-fpm8.2"
    assert inc["request_paths"] == ["/a/crash.php"]
    assert inc["requests"][0]["match"] == "upstream_map"
    assert inc["timestamp"] == "2026-11-26T17:01:02+00:00"
    assert rep["correlation"]["mode"] == "upstream_map"
    assert rep["top_crash_paths"] == {"www": [{"path": "/a/crash.php", "count": 1}]}
    assert rep["crashes_per_hour"] == {"2026-11-26T17:00:00+00:00": 1}
    assert rep["counts"]["by_category"] == {"upstream_reset": 1, "child_signal": 1, "kernel_segfault": 1}
    assert rep["first_seen"]["child_signal"] == "2026-11-26T17:01:02+00:00"


def test_without_mapping_the_match_is_by_time_and_says_so():
    rep = correlate([gw(T0 + 1), crash(T0)])
    assert rep["correlation"]["mode"] == "time_only"
    assert "time only" in rep["correlation"]["note"]
    assert rep["incidents"][0]["requests"][0]["match"] == "time_only"


def test_mapping_keeps_502s_to_their_pool():
    pools = {"unix:/run/php/site-a.sock": "site-a", "/run/php/site-b.sock": "site-b"}
    events = [gw(T0, path="/a/x.php", upstream="fastcgi://unix:/run/php/site-a.sock:"),
              gw(T0, path="/b/y.php", upstream="fastcgi://unix:/run/php/site-b.sock:"),
              crash(T0, pid=1, pool="site-b"), crash(T0, pid=2, pool="site-a")]
    rep = correlate(events, upstream_pools=pools)
    by_pid = dict((i["pid"], i["request_paths"]) for i in rep["incidents"])
    assert by_pid == {1: ["/b/y.php"], 2: ["/a/x.php"]}
    assert rep["unmatched"] == {"gateway_errors": 0, "crashes": 0}


def test_unmapped_upstream_falls_back_to_time_only_as_mixed():
    rep = correlate([gw(T0, upstream="fastcgi://127.0.0.1:9009"), gw(T0, upstream=SOCK), crash(T0)],
                    upstream_pools={"unix:/run/php/php8.2-fpm.sock": "www"})
    assert rep["correlation"]["mode"] == "mixed"
    assert len(rep["incidents"][0]["requests"]) == 2


def test_outside_the_window_nothing_is_tied():
    rep = correlate([gw(T0 + 5), crash(T0)], window_s=2)
    assert rep["unmatched"] == {"gateway_errors": 1, "crashes": 1}
    rep = correlate([gw(T0 + 5), crash(T0)], window_s=6)
    assert rep["unmatched"]["gateway_errors"] == 0


def test_each_502_goes_to_the_closest_crash():
    rep = correlate([crash(T0, pid=1), crash(T0 + 2, pid=2), gw(T0 + 1.8, path="/late")])
    by_pid = dict((i["pid"], i["request_paths"]) for i in rep["incidents"])
    assert by_pid == {1: [], 2: ["/late"]}


def test_exit_code_11_is_not_a_crash():
    rep = correlate([ev("child_exit_code", T0, pool="www", pid=8, exit_code=11), gw(T0)])
    assert rep["incidents"] == []
    assert rep["crashes_per_hour"] == {}
    assert rep["unmatched"]["gateway_errors"] == 1


def test_sigterm_child_is_an_incident_only_with_a_502():
    rep = correlate([crash(T0, pid=5, signum=15, name="SIGTERM")])
    assert rep["incidents"] == []
    rep = correlate([crash(T0, pid=5, signum=15, name="SIGTERM"), gw(T0)])
    (inc,) = rep["incidents"]
    assert inc["crash"] is False and rep["crashes_per_hour"] == {}


def test_heap_corruption_and_signal_of_one_child_merge():
    rep = correlate([ev("heap_corruption", T0, pool="www", pid=43, stderr="zend_mm_heap corrupted"),
                     crash(T0, pid=43, signum=6, name="SIGABRT"), gw(T0)])
    (inc,) = rep["incidents"]
    assert inc["heap_corruption"] is True and inc["signal_name"] == "SIGABRT"
    assert len(inc["evidence"]) == 2 and len(inc["requests"]) == 1


def test_coredump_and_general_protection_attach_by_pid():
    rep = correlate([crash(T0, pid=9), ev("general_protection", T0 + 1, pid=9, process="php-fpm", module="relay.so"),
                     ev("coredump", T0 + 2, pid=9, process="php-fpm", uid=33),
                     ev("kernel_segfault", T0, pid=10, process="mysqld", module="libc.so.6")])
    (inc,) = rep["incidents"]
    assert inc["module"] == "relay.so" and inc["coredump"] is True and inc["core_dumped"] is True


def test_keys_are_capped():
    c = Correlator(max_keys=3)
    for i in range(10):
        c.add(crash(T0 + i * 3600, pid=i, file="/f%d" % i))
    rep = c.report()
    assert len(rep["counts"]["by_file"]) == 3
    assert len(rep["crashes_per_hour"]) == 3
    assert rep["limits"]["keys_dropped"] > 0
    assert rep["counts"]["by_category"]["child_signal"] == 10


def test_records_are_capped_keeping_the_most_recent():
    c = Correlator(max_records=100)
    for i in range(1000):
        c.add(crash(T0 + i, pid=i))
    assert len(c.crashes) <= 100
    assert max(r[0] for r in c.crashes) == T0 + 999
    assert c.report()["limits"]["records_dropped"] > 0


def test_incidents_are_capped():
    c = Correlator(max_incidents=5)
    for i in range(20):
        c.add(crash(T0 + i * 60, pid=i))
    rep = c.report()
    assert rep["incidents_total"] == 20 and rep["incidents_truncated"] is True
    assert [i["pid"] for i in rep["incidents"]] == [15, 16, 17, 18, 19]


def test_merge_and_shift_lines():
    a, b = Correlator(), Correlator()
    a.add(gw(T0, line_no=3))
    b.add(crash(T0, line_no=2))
    b.shift_lines(100)
    a.merge(b)
    rep = a.report()
    assert rep["incidents"][0]["line_no"] == 102
    assert rep["counts"]["total"] == 2


def test_undated_events_are_counted_but_not_tied():
    rep = correlate([gw(None), crash(T0)])
    assert rep["unmatched"]["gateway_errors"] == 1
    assert rep["counts"]["total"] == 2


def test_each_502_is_tied_to_its_own_crash_when_several_share_a_second():
    # Stamps are whole seconds: three workers died in the same second as three 502s.
    events = [crash(T0, pid=1), crash(T0, pid=2), crash(T0 + 1, pid=3),
              gw(T0), gw(T0), gw(T0 + 1)]
    rep = correlate(events, upstream_pools={"unix:/run/php/php8.2-fpm.sock": "www"})
    assert sorted(len(i["requests"]) for i in rep["incidents"]) == [1, 1, 1]
    assert {i["pid"] for i in rep["incidents"]} == {1, 2, 3}


def test_more_502s_than_crashes_still_all_tied():
    events = [crash(T0, pid=1), gw(T0), gw(T0), gw(T0 + 1)]
    rep = correlate(events, upstream_pools={"unix:/run/php/php8.2-fpm.sock": "www"})
    (inc,) = rep["incidents"]
    assert len(inc["requests"]) == 3


# ---------------------------------------------------------- issue 11: mutation gaps
def test_a_worker_killed_by_sigabrt_alone_is_a_crash():
    # glibc's abort() after heap corruption it detected without printing: signal 6 only
    rep = correlate([crash(T0, pid=77, signum=6, name="SIGABRT")])
    (inc,) = rep["incidents"]
    assert inc["pid"] == 77 and inc["crash"] is True and inc["heap_corruption"] is False
    assert sum(rep["crashes_per_hour"].values()) == 1
    # a worker stopped by SIGTERM (request_terminate_timeout, a reload) is no crash
    rep = correlate([crash(T0, pid=78, signum=15, name="SIGTERM")])
    assert rep["incidents"] == [] and rep["crashes_per_hour"] == {}


def test_a_crash_after_the_502_is_tied_only_within_the_window():
    # nginx logs the reset when it reads it; php-fpm's master logs the child's death
    # when it reaps it, usually the same second, at most window_s later
    rep = correlate([gw(T0), crash(T0 + 1.5)], window_s=2)
    assert [len(i["requests"]) for i in rep["incidents"]] == [1]
    for late in (T0 + 3, T0 + 15):
        rep = correlate([gw(T0), crash(late)], window_s=2)
        (inc,) = rep["incidents"]
        assert inc["requests"] == [] and rep["unmatched"] == {"gateway_errors": 1, "crashes": 1}


# Two masters on one host, both with a pool [www] (php7.4-fpm beside php8.2-fpm): a pool is
# its master and its name (issue 10 point 5).
OLD_SOCK, NEW_SOCK = "unix:/run/php/php7.4-fpm.sock", "unix:/run/php/php8.2-fpm.sock"
TWO_WWW = dict(upstream_pools={OLD_SOCK: "www", NEW_SOCK: "www"},
               upstream_masters={OLD_SOCK: "/etc/php/7.4/fpm/php-fpm.conf", NEW_SOCK: "/etc/php/8.2/fpm/php-fpm.conf"},
               source_masters={"/var/log/php7.4-fpm.log": "/etc/php/7.4/fpm/php-fpm.conf",
                               "/var/log/php8.2-fpm.log": "/etc/php/8.2/fpm/php-fpm.conf"})


def test_a_crash_of_one_masters_www_is_not_tied_to_the_502s_of_the_other():
    rep = correlate([gw(T0, path="/old.php", upstream="fastcgi://" + OLD_SOCK + ":"),
                     crash(T0, file="/var/log/php8.2-fpm.log")], **TWO_WWW)
    (inc,) = rep["incidents"]
    assert inc["master"] == "/etc/php/8.2/fpm/php-fpm.conf" and inc["pool"] == "www"
    assert inc["requests"] == [] and rep["unmatched"]["gateway_errors"] == 1


def test_the_502s_of_a_masters_www_are_tied_to_that_masters_crash_of_two():
    rep = correlate([crash(T0, pid=1, file="/var/log/php7.4-fpm.log"),
                     crash(T0, pid=2, file="/var/log/php8.2-fpm.log"),
                     gw(T0, path="/new.php", upstream="fastcgi://" + NEW_SOCK + ":")], **TWO_WWW)
    by_pid = dict((i["pid"], i) for i in rep["incidents"])
    assert by_pid[2]["request_paths"] == ["/new.php"] and by_pid[1]["request_paths"] == []
    assert rep["correlation"]["upstream_masters"][normalize(NEW_SOCK)] == "/etc/php/8.2/fpm/php-fpm.conf"


def test_a_crash_in_a_log_of_no_known_master_is_tied_by_pool_name():
    rep = correlate([gw(T0, upstream="fastcgi://" + OLD_SOCK + ":"), crash(T0, file="/var/log/shared.log")], **TWO_WWW)
    (inc,) = rep["incidents"]
    assert inc["master"] is None and inc["request_paths"] == ["/a/crash.php"]


def test_two_masters_crashes_of_one_pid_name_are_not_merged():
    rep = correlate([crash(T0, pid=7, file="/var/log/php7.4-fpm.log"),
                     ev("heap_corruption", T0, pool="www", pid=7, file="/var/log/php8.2-fpm.log")], **TWO_WWW)
    assert sorted(i["master"] for i in rep["incidents"]) == ["/etc/php/7.4/fpm/php-fpm.conf",
                                                             "/etc/php/8.2/fpm/php-fpm.conf"]
