# SPDX-License-Identifier: GPL-3.0-or-later
"""culprit_hunt: probe parsing, nginx selection, ranking, and the hunt against a simulated
php-fpm + OPcache (include order, crash mid-request, last_used_timestamp in whole seconds)."""
import json
import os

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.culprit import hunt as ch

from ansible_collections.phpfpm.opcache_fleet.plugins.modules import opcache_culprit
from module_runner import run_main_exit
from unit_paths import FIXTURES_ROOT

APP = "/srv/app/releases/a"
with open(os.path.join(FIXTURES_ROOT, "culprit", "lab3_nginx.json")) as _f:
    # fpm_discover's ``nginx`` answer on lab3 (shared with test_hunt.py's module tests)
    LAB3_NGINX = json.load(_f)


# ----------------------------------------------------------------- a simulated site

class Clock(object):
    def __init__(self, t=1000.25):
        self.t = t
        self.sleeps = []

    def __call__(self):
        return self.t

    def sleep(self, d):
        """Advance; background traffic (on_tick) runs once in every second crossed."""
        self.sleeps.append(d)
        end = self.t + d
        sec = int(self.t) + 1
        while sec <= end:
            self.t = sec + 0.0005
            if self.on_tick is not None:
                self.on_tick()  # pylint: disable=not-callable
            sec += 1
        self.t = end

    on_tick = None


class Site(object):
    """Pages include files in order; a poisoned cached file crashes the request when it
    runs, after OPcache updated its last_used_timestamp (it is looked up, then run)."""

    def __init__(self, clock, pages, poisoned=None, modified_after_start=(), always_crash=()):
        self.clock = clock
        self.pages = pages
        self.poisoned = poisoned          # path whose CACHED version crashes
        self.always_crash = set(always_crash)   # crash whatever the cache holds (crash.php)
        self.start_time = 900
        self.last_restart_time = 0
        self.scripts = {}
        self.calls = []
        files = sorted(set(f for inc in pages.values() for f in inc))
        for f in files:
            mt = 950 if f in modified_after_start else 800
            self.scripts[f] = {"hits": 0, "last_used_timestamp": 901, "cached": True, "mtime": mt}
        self.restart_after_probes = None
        self.probes = 0

    def request(self, page):
        sec = int(self.clock())
        for f in self.pages[page]:
            s = self.scripts.setdefault(f, {"hits": 0, "mtime": 800})
            if not s.get("cached"):
                s["cached"] = True      # recompiled from the (fixed) source on disk
                s["hits"] = 0
            s["last_used_timestamp"] = sec
            s["hits"] += 1
            if f == self.poisoned or f in self.always_crash:
                return 502
        return 200


class Session(object):
    def __init__(self, site):
        self.site = site
        self.warnings = []

    def call(self, action, args=None):
        site = self.site
        site.calls.append((action, args))
        ans = {"master_pid": 42, "pool": "www", "socket": "/run/php/x.sock", "time": int(site.clock()),
               "status": {"opcache_enabled": True, "restart_pending": False,
                          "opcache_statistics": {"start_time": site.start_time,
                                                 "last_restart_time": site.last_restart_time}}}
        if action == "status":
            ans["scripts"] = [dict(v, full_path=k) for k, v in site.scripts.items()]
            helper = "/var/lib/opcache-fleet/%s/%s.php" % ("a" * 32, "b" * 32)
            ans["scripts"].append({"full_path": helper, "cached": False, "hits": 0, "mtime": 999,
                                   "last_used_timestamp": int(site.clock())})
        elif action == "invalidate":
            res = {}
            for f in args["files"]:
                e = site.scripts.get(f)
                if e and e.get("cached"):
                    e["cached"] = False
                    if f == site.poisoned:
                        site.poisoned = None
                res[f] = {"invalidated": bool(e), "cached": False}
            ans["files"] = res
        return ans

    def close(self):
        pass


def make_probe(site, page, clock, status_for_pass=200):
    def probe():
        t0 = clock()
        site.probes += 1
        if site.restart_after_probes and site.probes > site.restart_after_probes:
            site.start_time += 100
        code = site.request(page)
        clock.t += 0.004
        return {"status": code if code != 200 else status_for_pass, "error": None, "detail": None,
                "t0": t0, "t1": clock()}
    return probe


def demo_pages():
    boot = [APP + "/report.php", APP + "/bootstrap.php", APP + "/config/app.php", APP + "/lib/helpers.php"]
    report = boot + [APP + "/src/Report/%s.php" % n for n in
                     ("ReportContext", "SummaryBuilder", "LineFormatter", "TotalsTable", "ChartData",
                      "CsvExporter")] + [APP + "/src/Model/Invoice.php", APP + "/src/Util/Money.php"]
    http = ("Request", "Response", "Router", "Controller")
    index = [APP + "/index.php"] + boot[1:] + [APP + "/src/Http/%s.php" % n for n in http] + \
        [APP + "/src/Model/%s.php" % n for n in ("Customer", "Order", "Product", "Address")] + \
        [APP + "/src/Legacy/Cache.php", APP + "/lib/legacy/cache_compat.php"]
    other = ["/srv/app/releases/b/x%02d.php" % i for i in range(20)]
    return {"report": report, "index": index, "other": other, "crash": [APP + "/crash.php"]}


def new_hunt(site, clock, page="report", **kw):
    kw.setdefault("ranking_probes", 2)
    return ch.Hunt(make_probe(site, page, clock), Session(site), clock=clock, sleep=clock.sleep, uri="/a/x.php",
                   **kw)


# ----------------------------------------------------------------- the hunt

def test_finds_stale_culprit_with_three_probes():
    clock = Clock()
    culprit = APP + "/src/Report/CsvExporter.php"
    site = Site(clock, demo_pages(), poisoned=culprit, modified_after_start=[culprit])
    res = new_hunt(site, clock).run()
    assert res["culprit"] == culprit and res["found"] and res["changed"]
    assert res["probes"] == 3
    assert res["cached_scripts"] >= 30
    assert res["ranking"][0]["path"] == culprit
    assert res["steps"][0]["probe"]["outcome"] == "pass" and res["steps"][0]["passed"]
    report = demo_pages()["report"]
    assert set(res["include_set"]) == set(report[:report.index(culprit) + 1])
    # the helper never is a candidate
    assert not any("/var/lib/opcache-fleet/" in r["path"] for r in res["ranking"])


def test_include_set_narrows_without_stale_signal():
    clock = Clock()
    culprit = APP + "/src/Report/TotalsTable.php"
    site = Site(clock, demo_pages(), poisoned=culprit)
    res = new_hunt(site, clock).run()
    assert res["culprit"] == culprit
    # the request stopped at the culprit: files after it are not in the include set
    assert APP + "/src/Report/ChartData.php" not in res["include_set"]
    assert len(res["include_set"]) == 8
    assert res["probes"] <= 2 + 8


def test_background_traffic_is_intersected_away_and_demoted():
    clock = Clock()
    culprit = APP + "/src/Report/LineFormatter.php"
    site = Site(clock, demo_pages(), poisoned=culprit)
    # index.php is requested in every second (a busy home page)
    clock.on_tick = lambda: site.request("index")
    site.request("index")
    res = new_hunt(site, clock).run()
    assert res["culprit"] == culprit
    # a page requested in every second stays in the intersection, but it was also seen used in
    # the probe-free gap second: its files rank after the report-only ones
    assert APP + "/bootstrap.php" in res["used_elsewhere"]
    assert APP + "/src/Http/Router.php" in res["used_elsewhere"]
    ranked = [r["path"] for r in res["ranking"]]
    last_report_only = max(ranked.index(APP + "/src/Report/%s.php" % n)
                           for n in ("ReportContext", "SummaryBuilder", "LineFormatter"))
    assert ranked.index(APP + "/bootstrap.php") > last_report_only
    assert ranked.index(APP + "/src/Http/Router.php") > last_report_only
    assert res["probes"] <= 5


def test_no_crash_gives_no_culprit_and_changes_nothing():
    clock = Clock()
    site = Site(clock, demo_pages(), poisoned=None)
    res = new_hunt(site, clock).run()
    assert res["culprit"] is None and not res["found"] and not res["changed"]
    assert res["crashing"] is False and res["probes"] == 1
    assert "nothing crashes" in res["msg"]
    assert not [c for c in site.calls if c[0] == "invalidate"]


def test_404_fails_and_changes_nothing():
    clock = Clock()
    site = Site(clock, demo_pages(), poisoned=None)
    hunt = ch.Hunt(lambda: {"status": 404, "error": None, "t0": clock(), "t1": clock()}, Session(site),
                   clock=clock, sleep=clock.sleep)
    with pytest.raises(ch.HuntError) as err:
        hunt.run()
    assert err.value.cause == "probe_not_crash"
    assert "answered HTTP 404 (expected 200): not a crash" in str(err.value)
    assert not [c for c in site.calls if c[0] == "invalidate"]


@pytest.mark.parametrize("probe,cause,text", [
    ({"status": None, "error": "connect", "detail": "[Errno 111] refused"}, "probe_connect",
     "could not connect to nginx"),
    ({"status": None, "error": "timeout", "detail": "timed out"}, "probe_timeout", "a timeout, not a crash"),
    ({"status": 504, "error": None}, "probe_not_crash", "answered HTTP 504"),
])
def test_first_probe_failures_that_are_not_crashes(probe, cause, text):
    clock = Clock()
    site = Site(clock, demo_pages())
    hunt = ch.Hunt(lambda: dict(probe, t0=clock(), t1=clock()), Session(site), clock=clock, sleep=clock.sleep)
    with pytest.raises(ch.HuntError) as err:
        hunt.run()
    assert err.value.cause == cause and text in str(err.value)


class FakeLog(object):
    def __init__(self, lines):
        self.lines = lines
        self.marked = 0

    def mark(self):
        self.marked += 1

    def new_lines(self):
        return self.lines


def _error_line(name):
    """One nginx error-log line of fixtures/culprit (a connect failure or a worker reset)."""
    with open(os.path.join(FIXTURES_ROOT, "culprit", name)) as f:
        return f.read().rstrip("\n")


CONNECT_LINE = _error_line("nginx_error_connect.log")
RESET_LINE = _error_line("nginx_error_reset.log")


def test_502_from_a_connect_error_is_not_a_crash():
    clock = Clock()
    site = Site(clock, demo_pages(), poisoned=APP + "/bootstrap.php")
    hunt = new_hunt(site, clock, log_watch=FakeLog([CONNECT_LINE]))
    with pytest.raises(ch.HuntError) as err:
        hunt.run()
    assert err.value.cause == "upstream_connect"
    assert "nginx could not connect to php-fpm" in str(err.value)
    assert not [c for c in site.calls if c[0] == "invalidate"]


def test_502_with_reset_line_is_confirmed_in_the_probe_log():
    clock = Clock()
    culprit = APP + "/lib/helpers.php"
    site = Site(clock, demo_pages(), poisoned=culprit)
    res = new_hunt(site, clock, log_watch=FakeLog([RESET_LINE])).run()
    assert res["culprit"] == culprit
    assert res["probe_log"][0]["log"] == "crash"


def test_check_mode_ranks_and_touches_nothing():
    clock = Clock()
    culprit = APP + "/src/Report/CsvExporter.php"
    site = Site(clock, demo_pages(), poisoned=culprit, modified_after_start=[culprit])
    res = new_hunt(site, clock, check_mode=True).run()
    assert res["culprit"] is None and not res["changed"] and res["probes"] == 2
    assert res["ranking"][0]["path"] == culprit
    assert not [c for c in site.calls if c[0] == "invalidate"]
    assert site.poisoned == culprit


def test_check_mode_without_probes_ranks_by_staleness():
    clock = Clock()
    culprit = APP + "/src/Report/CsvExporter.php"
    site = Site(clock, demo_pages(), poisoned=culprit, modified_after_start=[culprit])
    res = new_hunt(site, clock, check_mode=True, check_mode_probes=False).run()
    assert res["probes"] == 0 and res["include_set"] is None and res["crashing"] is None
    assert res["ranking"][0]["path"] == culprit and res["ranking"][0]["in_include_set"] is None
    assert "no probe made" in res["msg"]


def test_group_size_returns_the_group():
    clock = Clock()
    culprit = APP + "/src/Report/ChartData.php"
    site = Site(clock, demo_pages(), poisoned=culprit)
    res = new_hunt(site, clock, group_size=4).run()
    assert isinstance(res["culprit"], list) and culprit in res["culprit"] and len(res["culprit"]) <= 4
    assert all(len(s["invalidated"]) <= 4 for s in res["steps"])


def test_no_candidate_cures_a_crash_that_is_not_cached_code():
    clock = Clock()
    site = Site(clock, demo_pages(), always_crash=[APP + "/crash.php"])
    res = new_hunt(site, clock, page="crash").run()
    assert res["culprit"] is None and not res["found"]
    assert "no candidate cured the probe" in res["msg"] and "no culprit is claimed" in res["msg"]
    assert res["changed"]   # something was invalidated


def test_max_probes_stops_the_hunt():
    clock = Clock()
    site = Site(clock, demo_pages(), always_crash=[APP + "/crash.php"])
    res = new_hunt(site, clock, page="crash", max_probes=4).run()
    assert res["probes"] == 4 and res["culprit"] is None
    assert any("max_probes=4 reached" in w for w in res["warnings"])


def test_cache_restart_during_the_hunt_stops_it():
    clock = Clock()
    site = Site(clock, demo_pages(), always_crash=[APP + "/crash.php"])
    site.restart_after_probes = 2
    with pytest.raises(ch.HuntError) as err:
        new_hunt(site, clock, page="crash").run()
    assert err.value.cause == "cache_restarted"


def test_intermittent_crash_claims_nothing():
    clock = Clock()
    site = Site(clock, demo_pages(), poisoned=APP + "/lib/helpers.php")
    answers = iter([502, 200])

    def probe():
        t = clock()
        clock.t += 0.003
        return {"status": next(answers), "error": None, "t0": t, "t1": clock()}
    res = ch.Hunt(probe, Session(site), clock=clock, sleep=clock.sleep).run()
    assert res["intermittent"] and not res["found"] and not res["changed"]
    assert "not reproducible" in res["msg"]


def test_probes_are_made_in_different_seconds_with_a_gap():
    clock = Clock(t=1000.95)       # late in a second: the first probe waits for the next
    culprit = APP + "/src/Util/Money.php"
    site = Site(clock, demo_pages(), poisoned=culprit)
    res = new_hunt(site, clock).run()
    seconds = [p["second"] for p in res["probe_log"][:2]]
    assert seconds[0] == 1001 and seconds[1] >= seconds[0] + 2


def test_invalidations_are_recorded():
    clock = Clock()
    culprit = APP + "/src/Report/CsvExporter.php"
    site = Site(clock, demo_pages(), poisoned=culprit, modified_after_start=[culprit])
    seen = {}
    res = new_hunt(site, clock, on_invalidated=lambda ans, files: seen.update(files)).run()
    assert res["found"] and list(seen) == [culprit]


def test_collisions_rank_after_stale_inside_the_include_set():
    clock = Clock()
    culprit = APP + "/config/app.php"
    site = Site(clock, demo_pages(), poisoned=culprit)

    def find(roots):
        assert roots == [APP]
        return {"collisions": [{"across_releases": False, "files": [{"path": culprit}, {"path": APP + "/x.php"}]},
                               {"across_releases": True, "files": [{"path": APP + "/bootstrap.php"}]}]}
    res = new_hunt(site, clock, find_collisions=find).run()
    assert res["ranking"][0]["path"] == culprit and res["ranking"][0]["collision"]
    assert res["probes"] == 3 and res["collision_roots"] == [APP]


# ----------------------------------------------------------------- the module's argument checks

@pytest.fixture
def tmp_helper_ok(monkeypatch):
    from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache import helper as opcache_helper
    monkeypatch.setattr(opcache_helper, "PRIVATE_TMP_DIRS", ())


def run_module(args, check=False):
    run_main_exit(opcache_culprit, args, check=check)


@pytest.mark.parametrize("args,msg", [
    ({}, "one of the following is required: url, incident"),
    ({"url": "http://x/", "incident": {}}, "parameters are mutually exclusive: url|incident"),
    ({"url": "http://x/", "pool": {"chroot": "/j"}}, "missing parameter(s) required by 'pool': socket"),
    ({"url": "http://x/", "ranking_probes": 9}, "ranking_probes must be between 0 and 5, got 9"),
    ({"url": "http://x/", "group_size": 0}, "group_size must be 1 or more, got 0"),
    ({"url": "http://x/", "max_probes": 2}, "max_probes must exceed ranking_probes (at least 3), got 2"),
    ({"url": "http://x/", "expected_status": 502}, "expected_status must be an HTTP status other than 502"),
    ({"url": "http://x/", "probe_timeout": 0}, "probe_timeout must be positive, got 0.0"),
    ({"url": "http://x/", "collision_roots": ["rel"]}, "collision_roots: 'rel' is not an absolute path"),
    ({"url": "http://x/", "helper_dir": "/tmp/h"}, "helper_dir=/tmp/h is under /tmp"),
    ({"url": "ftp://x/"}, "url must start with http:// or https://"),
    ({"incident": {"requests": [{"method": "POST", "path": "/x"}]}}, "only GET and HEAD requests are replayed"),
])
def test_module_argument_errors(capsys, args, msg):
    run_module(args)
    out = json.loads(capsys.readouterr().out)
    assert out["failed"] and msg in out["msg"]
    assert not out.get("changed")


def test_module_dead_socket_names_cause(capsys, tmp_path, monkeypatch):
    from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache import helper as opcache_helper
    monkeypatch.setattr(opcache_helper, "PRIVATE_TMP_DIRS", ())
    sock = str(tmp_path / "php.sock")
    run_module({"url": "http://127.0.0.1/x.php", "socket": sock, "helper_dir": str(tmp_path / "h")})
    out = json.loads(capsys.readouterr().out)
    assert out["failed"] and out["cause"] == "ENOENT" and "cannot reach the php-fpm master" in out["msg"]
    assert not out["changed"]


def test_module_nginx_mapping_failure(capsys, monkeypatch):
    from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery import masters as proc_masters
    monkeypatch.setattr(proc_masters, "discover", lambda run_command: {"masters": [], "nginx": LAB3_NGINX})
    run_module({"url": "http://127.0.0.1/a/style.css"})
    out = json.loads(capsys.readouterr().out)
    assert out["failed"] and out["cause"] == "nginx_location"


def test_module_master_not_described(capsys, monkeypatch):
    from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery import masters as proc_masters
    monkeypatch.setattr(proc_masters, "discover", lambda run_command: {"masters": [], "nginx": LAB3_NGINX})
    run_module({"url": "http://127.0.0.1/a/x.php"})
    out = json.loads(capsys.readouterr().out)
    assert out["failed"] and out["cause"] == "master" and "which discovery did not describe" in out["msg"]


def test_module_hunt_error_reports_no_change(capsys, monkeypatch, tmp_path, tmp_helper_ok):
    """A HuntError from the hunt (here: a 404 probe) fails the task with changed false."""
    clock = Clock()
    site = Site(clock, demo_pages())
    monkeypatch.setattr(opcache_culprit, "open_master", lambda target, **kw: (Session(site), {}, []))
    monkeypatch.setattr(opcache_culprit, "http_probe",
                        lambda req, timeout: {"status": 404, "error": None, "t0": 1.0, "t1": 1.0})
    run_module({"url": "http://127.0.0.1/a/x.php", "socket": "/run/x.sock", "ranking_probes": 1,
                "helper_dir": str(tmp_path / "h"), "collisions": False})
    out = json.loads(capsys.readouterr().out)
    assert out["failed"] and out.get("cause") == "probe_not_crash" and out["changed"] is False, out
    assert out["probes"] == 1 and out["invalidated"] == []


def test_module_helper_error_midway(capsys, monkeypatch, tmp_path, tmp_helper_ok):
    from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.helper import HelperError

    class Broken(object):
        warnings = []

        def call(self, action, args=None):
            raise HelperError("/run/x.sock", "timeout", "no answer")

        def close(self):
            pass
    monkeypatch.setattr(opcache_culprit, "open_master", lambda target, **kw: (Broken(), {}, []))
    run_module({"url": "http://127.0.0.1/a/x.php", "socket": "/run/x.sock", "helper_dir": str(tmp_path / "h")})
    out = json.loads(capsys.readouterr().out)
    assert out["failed"] and out["cause"] == "timeout" and "the helper failed during the hunt" in out["msg"]


def test_module_success_path(capsys, monkeypatch, tmp_path, tmp_helper_ok):
    clock = Clock()
    culprit = APP + "/src/Report/CsvExporter.php"
    site = Site(clock, demo_pages(), poisoned=culprit, modified_after_start=[culprit])
    probe = make_probe(site, "report", clock)
    monkeypatch.setattr(opcache_culprit, "open_master", lambda target, **kw: (Session(site), {}, []))
    monkeypatch.setattr(opcache_culprit, "http_probe", lambda req, timeout: probe())
    monkeypatch.setattr(opcache_culprit, "Hunt",
                        lambda *a, **kw: ch.Hunt(*a, clock=clock, sleep=clock.sleep, **kw))
    run_module({"url": "http://127.0.0.1/a/report.php", "socket": "/run/x.sock",
                "helper_dir": str(tmp_path / "h"), "collisions": False})
    out = json.loads(capsys.readouterr().out)
    assert out["culprit"] == culprit and out["changed"] and out["probes"] == 3
    assert out["target"]["socket"] == "/run/php/x.sock"
    assert os.path.exists(str(tmp_path / "h" / "invalidated.json"))


def test_helper_call_on_a_dying_worker_is_retried_once():
    from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.helper import HelperError
    clock = Clock()
    culprit = APP + "/src/Report/CsvExporter.php"
    site = Site(clock, demo_pages(), poisoned=culprit, modified_after_start=[culprit])
    session = Session(site)
    real = session.call
    failures = {"n": 0}

    def flaky(action, args=None):
        if action == "status" and failures["n"] == 1:
            failures["n"] += 1
            raise HelperError("/run/x.sock", "truncated", "connection reset by peer before END_REQUEST")
        if action == "status":
            failures["n"] += 1
        return real(action, args)
    session.call = flaky
    res = ch.Hunt(make_probe(site, "report", clock), session, clock=clock, sleep=clock.sleep).run()
    assert res["culprit"] == culprit
    assert any("retried once" in w for w in res["warnings"])


def test_helper_error_that_is_not_transient_is_raised():
    from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.helper import HelperError
    clock = Clock()
    site = Site(clock, demo_pages())
    session = Session(site)

    def broken(action, args=None):
        raise HelperError("/run/x.sock", "open_basedir", "blocked")
    session.call = broken
    with pytest.raises(HelperError):
        ch.Hunt(make_probe(site, "report", clock), session, clock=clock, sleep=clock.sleep).run()
