# SPDX-License-Identifier: GPL-3.0-or-later
import json
import os

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache import control as c
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.errors import ControlError
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.state import STATE_FILE
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.helper import HelperError
from opcache_answers import stats


class FakeOPcache(object):
    """A master's OPcache as the helper would report it."""

    def __init__(self, scripts=None, pending_polls=0, reset_ok=True):
        self.status = stats()
        self.scripts = scripts or {}
        self.pending_polls = pending_polls
        self.reset_ok = reset_ok
        self.calls = []
        self.time = 2000
        self.apcu = None          # the helper's raw ``apcu`` answer, when the master has APCu
        self.apcu_clear_takes = True


def apcu_answer(entries=120, start_time=1500, expunges=0):
    """The helper's ``apcu`` answer of a 32 MiB APCu holding ``entries`` 16 KiB entries."""
    used = entries * 16536
    return {"loaded": True, "version": "5.1.22", "enabled": True, "ini": {"apc.shm_size": "32M"},
            "cache": {"num_slots": 4099, "ttl": 0, "num_hits": 10, "num_misses": entries, "num_inserts": entries,
                      "num_entries": entries, "expunges": expunges, "start_time": start_time,
                      "mem_size": used, "memory_type": "mmap"},
            "sma": {"num_seg": 1, "seg_size": 33554304, "avail_mem": 33554304 - used - 34176, "free_blocks": 1,
                    "free_in_blocks": 33554304 - used - 34176, "largest_free_block": 33554304 - used - 34176}}


class FakeSession(object):
    def __init__(self, cache, fail=None):
        self.cache = cache
        self.fail = fail
        self.closed = False
        self.warnings = []

    def call(self, action, args=None):
        cache = self.cache
        cache.calls.append(action)
        if self.fail:
            raise self.fail
        ans = {"master_pid": 42, "pool": "www", "php_version": "8.2.36", "time": cache.time,
               "socket": "/run/x.sock", "elapsed": 0.001, "ini": {}}
        st = json.loads(json.dumps(cache.status))
        if action == "status":
            if st["restart_pending"]:
                if cache.pending_polls:
                    cache.pending_polls -= 1
                else:  # the next request performs the restart
                    s = cache.status
                    s["restart_pending"] = False
                    s["opcache_statistics"]["last_restart_time"] = cache.time
                    s["opcache_statistics"]["num_cached_scripts"] = 0
                    cache.scripts = {}
                    st = json.loads(json.dumps(s))
            ans["status"] = st
            if cache.apcu is not None:
                ans["apcu"] = json.loads(json.dumps(cache.apcu))
            ans["configuration"] = {"directives": {"opcache.enable": True}, "blacklist": []}
            if (args or {}).get("scripts"):
                ans["scripts"] = None if st["restart_pending"] else [dict(v, full_path=k) for k, v in cache.scripts.items()]
        elif action == "reset":
            ans["reset"] = cache.reset_ok
            if cache.reset_ok:
                cache.status["restart_pending"] = True
                cache.status["opcache_statistics"]["manual_restarts"] += 1
        elif action == "invalidate":
            res = {}
            for f in args["files"]:
                e = cache.scripts.get(f)
                if e:
                    e["cached"] = False
                res[f] = {"invalidated": bool(e), "cached": False}
            ans["files"] = res
        elif action == "apcu_clear":
            # as apc_cache_clear() does: wipe, start_time = now, counters back to 0
            ans["apcu_before"] = json.loads(json.dumps(cache.apcu))
            ans["clear_time"] = cache.time
            ans["cleared"] = True
            if cache.apcu_clear_takes:  # APCu 5.1 restarts its start_time from CLOCK_MONOTONIC
                cache.apcu = apcu_answer(entries=0, start_time=37)
            ans["apcu"] = json.loads(json.dumps(cache.apcu))
        elif action == "is_cached":
            ans["files"] = dict((f, {"cached": bool(cache.scripts.get(f, {}).get("cached"))}) for f in args["files"])
        return ans

    def close(self):
        self.closed = True


def factory_for(cache, fail=None, sessions=None):
    def factory(sock, **kw):
        s = FakeSession(cache, fail)
        if sessions is not None:
            sessions.append(s)
        return s
    return factory


def target(n=1):
    return {"master_pid": 42, "config": "/etc/php/8.2/fpm/php-fpm.conf", "php_version": "8.2.36",
            "pools": [{"name": "p%d" % i} for i in range(n)], "pool_names": ["p%d" % i for i in range(n)],
            "sockets": ["/run/p%d.sock" % i for i in range(n)], "document_roots": []}


def script(mtime, cached=True, hits=1, **kw):
    d = {"cached": cached, "mtime": mtime, "hits": hits, "last_used_timestamp": 1500}
    d.update(kw)
    return d


# ------------------------------------------------------------------ status / reset flows

def test_master_status_with_scripts(tmp_path):
    cache = FakeOPcache({"/a.php": script(2000), "/b.php": script(10)})
    sessions = []
    m = c.master_status(target(), scripts=True, session_factory=factory_for(cache, sessions=sessions),
                        helper_dir=str(tmp_path))
    assert m["master_pid"] == 42 and m["status"]["opcache_statistics"]["num_cached_scripts"] == 3
    assert m["stale_counts"] == {"certain": 0, "possible": 1, "fresh": 1, "unknown": 0}
    assert all(s.closed for s in sessions)


def test_full_reset_once_and_verified():
    cache = FakeOPcache(pending_polls=2)
    r = c.reset_master(target(3), "full", session_factory=factory_for(cache), sleep=lambda s: None)
    assert cache.calls.count("reset") == 1
    assert r["changed"] and r["verified"] and r["polls"] == 3
    assert r["before"]["manual_restarts"] == 0 and r["after"]["manual_restarts"] == 1


def test_full_reset_verification_timeout():
    cache = FakeOPcache(pending_polls=10 ** 6)
    clock = iter(range(0, 10 ** 6)).__next__
    with pytest.raises(ControlError) as exc:
        c.reset_master(target(), "full", timeout=5, session_factory=factory_for(cache), sleep=lambda s: None,
                       clock=lambda: float(clock()))
    assert exc.value.cause == "verify_timeout" and "restart_pending=True" in str(exc.value)
    assert exc.value.details["result"]["verified"] is False


def test_full_reset_refused_by_opcache():
    cache = FakeOPcache(reset_ok=False)
    with pytest.raises(ControlError) as exc:
        c.reset_master(target(), "full", session_factory=factory_for(cache))
    assert exc.value.cause == "opcache_reset"


def test_full_reset_check_mode_changes_nothing():
    cache = FakeOPcache()
    r = c.reset_master(target(), "full", check_mode=True, session_factory=factory_for(cache))
    assert r["changed"] and r["verified"] is None and "reset" not in cache.calls


def test_stale_reset_then_idempotent(tmp_path):
    cache = FakeOPcache({"/a/report.php": script(1990), "/a/index.php": script(10)})
    r = c.reset_master(target(), "stale", session_factory=factory_for(cache), helper_dir=str(tmp_path),
                       sleep=lambda s: None)
    assert r["changed"] and r["verified"] and [f["path"] for f in r["files"]] == ["/a/report.php"]
    assert r["files"][0]["verdict"] == "not cached"
    # traffic recompiles it from the fixed source: the second run must find nothing stale
    cache.scripts["/a/report.php"]["cached"] = True
    cache.time = 2001
    r2 = c.reset_master(target(), "stale", session_factory=factory_for(cache), helper_dir=str(tmp_path))
    # nothing invalidated is nothing verified (issue 10): the result says there was nothing to do
    assert not r2["changed"] and r2["files"] == [] and r2["verified"] is False
    assert r2["note"] == "nothing to invalidate: no cached script is stale"


def test_stale_check_mode(tmp_path):
    cache = FakeOPcache({"/a/report.php": script(2000)})
    r = c.reset_master(target(), "stale", check_mode=True, session_factory=factory_for(cache),
                       helper_dir=str(tmp_path))
    assert r["changed"] and r["files"][0]["path"] == "/a/report.php" and "invalidate" not in cache.calls
    assert not os.path.exists(str(tmp_path / STATE_FILE))


def test_files_and_glob_modes(tmp_path):
    cache = FakeOPcache({"/a/x.php": script(1), "/a/y.php": script(1), "/b/x.php": script(1)})
    r = c.reset_master(target(), "files", files=["/a/x.php", "/nope.php"], session_factory=factory_for(cache),
                       helper_dir=str(tmp_path))
    assert [f["path"] for f in r["files"]] == ["/a/x.php"] and r["not_cached"] == ["/nope.php"] and r["verified"]
    r = c.reset_master(target(), "glob", patterns=["/b/*"], session_factory=factory_for(cache),
                       helper_dir=str(tmp_path))
    assert [f["path"] for f in r["files"]] == ["/b/x.php"] and r["changed"]


def _deploy(tmp_path):
    """A Deployer-style site: releases/1, releases/2 and current -> releases/2."""
    site = tmp_path / "site"
    for rel in ("1", "2"):
        (site / "releases" / rel / "src").mkdir(parents=True)
        (site / "releases" / rel / "src" / "Cart.php").write_text("<?php\n")
    os.symlink("releases/2", str(site / "current"))
    return str(site)


def test_files_by_their_symlinked_spelling(tmp_path):
    site = _deploy(tmp_path)
    real = site + "/releases/2/src/Cart.php"
    cache = FakeOPcache({real: script(1), site + "/releases/1/src/Cart.php": script(1)})
    r = c.reset_master(target(), "files", files=[site + "/current/src/Cart.php"], session_factory=factory_for(cache),
                       helper_dir=str(tmp_path / "h"), sleep=lambda s: None)
    assert [f["path"] for f in r["files"]] == [real] and r["changed"] and r["verified"]
    assert r["cached_as"] == {site + "/current/src/Cart.php": real} and r["not_cached"] == []


def test_a_file_cached_under_neither_name_is_not_verified(tmp_path):
    site = _deploy(tmp_path)
    cache = FakeOPcache({site + "/releases/1/src/Cart.php": script(1)})
    r = c.reset_master(target(), "files", files=[site + "/current/src/Cart.php"], session_factory=factory_for(cache),
                       helper_dir=str(tmp_path / "h"))
    assert not r["changed"] and r["verified"] is False and r["files"] == []
    assert r["not_cached"] == [site + "/current/src/Cart.php"] and "none of the requested files" in r["note"]
    assert "invalidate" not in cache.calls


def test_a_key_cached_under_a_symlinked_spelling_is_found_by_the_real_path(tmp_path):
    site = _deploy(tmp_path)
    cache = FakeOPcache({site + "/current/src/Cart.php": script(1)})      # opcache.revalidate_path=1 keys
    r = c.reset_master(target(), "files", files=[site + "/releases/2/src/Cart.php"], session_factory=factory_for(cache),
                       helper_dir=str(tmp_path / "h"), sleep=lambda s: None)
    assert [f["path"] for f in r["files"]] == [site + "/current/src/Cart.php"] and r["verified"]


def test_glob_through_current(tmp_path):
    site = _deploy(tmp_path)
    cache = FakeOPcache({site + "/releases/2/src/Cart.php": script(1), site + "/releases/1/src/Cart.php": script(1)})
    want = [site + "/current/src/*.php", site + "/releases/2/src/*.php"]
    assert c.resolved_patterns([site + "/current/src/*.php"]) == want
    assert c.resolved_patterns(["*.php", "/srv/*"]) == ["*.php", "/srv/*"]
    r = c.reset_master(target(), "glob", patterns=[site + "/current/src/*.php"], session_factory=factory_for(cache),
                       helper_dir=str(tmp_path / "h"), sleep=lambda s: None)
    assert [f["path"] for f in r["files"]] == [site + "/releases/2/src/Cart.php"] and r["verified"]


def test_unreachable_pool_falls_through_to_the_next(tmp_path):
    cache = FakeOPcache()
    calls = []

    def factory(sock, **kw):
        calls.append(sock)
        if sock == "/run/p0.sock":
            return FakeSession(cache, HelperError(sock, "ECONNREFUSED", "connection refused"))
        return FakeSession(cache)
    m = c.master_status(target(2), session_factory=factory)
    assert calls == ["/run/p0.sock", "/run/p1.sock"] and m["unusable_sockets"][0]["cause"] == "ECONNREFUSED"


def test_all_pools_unusable_names_the_cause():
    cache = FakeOPcache()
    err = HelperError("/run/p0.sock", "open_basedir", "the pool's open_basedir excludes the helper")
    with pytest.raises(ControlError) as exc:
        c.master_status(target(1), session_factory=factory_for(cache, fail=err))
    assert exc.value.cause == "open_basedir" and "open_basedir" in str(exc.value)


class DyingFirstPoll(FakeSession):
    """The first request after the reset dies (worker SIGSEGV): the poll must be retried."""

    def call(self, action, args=None):
        if self.cache.calls and self.cache.calls[-1] in ("reset", "invalidate") and not getattr(self, "died", False):
            self.died = True
            self.cache.calls.append(action)
            raise HelperError("/run/x.sock", "truncated", "connection reset by peer before END_REQUEST")
        return FakeSession.call(self, action, args)


def test_full_reset_retries_a_poll_whose_worker_died():
    cache = FakeOPcache()
    r = c.reset_master(target(), "full", session_factory=lambda s, **kw: DyingFirstPoll(cache),
                       sleep=lambda s: None)
    assert r["verified"] and r["after"]["manual_restarts"] == 1 and r["polls"] == 2
    assert "truncated" in r["poll_errors"][0] and "crash evidence" in r["warnings"][0]


def test_files_reset_retries_a_poll_whose_worker_died(tmp_path):
    cache = FakeOPcache(scripts={"/srv/a.php": script(1500)})
    r = c.reset_master(target(), "files", files=["/srv/a.php"], helper_dir=str(tmp_path),
                       session_factory=lambda s, **kw: DyingFirstPoll(cache), sleep=lambda s: None)
    assert r["verified"] and r["files"][0]["verdict"] == "not cached" and len(r["poll_errors"]) == 1


def test_full_reset_poll_with_other_error_still_fails():
    class Blocked(FakeSession):
        def call(self, action, args=None):
            if self.cache.calls and self.cache.calls[-1] == "reset":
                raise HelperError("/run/x.sock", "open_basedir", "blocked")
            return FakeSession.call(self, action, args)
    cache = FakeOPcache()
    with pytest.raises(HelperError) as exc:
        c.reset_master(target(), "full", session_factory=lambda s, **kw: Blocked(cache), sleep=lambda s: None)
    assert exc.value.cause == "open_basedir"


# ------------------------------------------------------------------ issue 11

def make_fc(path):
    sysid = path / ("0123456789abcdef" * 2)
    sysid.mkdir(parents=True)
    (sysid / "x.php.bin").write_text("x")
    return str(path)


class AnswersFileCache(FakeSession):
    """A session whose helper reports ``ini['opcache.file_cache']`` (the pool user controls it)."""
    file_cache = None

    def call(self, action, args=None):
        ans = FakeSession.call(self, action, args)
        ans["ini"] = {"opcache.file_cache": self.file_cache}
        return ans


def test_purge_takes_the_directory_from_the_configuration_not_the_helper(tmp_path):
    # finding 4: the helper's answer names another directory: refused, nothing deleted there
    configured = make_fc(tmp_path / "configured")
    elsewhere = make_fc(tmp_path / "elsewhere")
    t = dict(target(), opcache={"opcache.file_cache": configured})
    AnswersFileCache.file_cache = elsewhere
    cache = FakeOPcache()
    with pytest.raises(ControlError) as exc:
        c.reset_master(t, "full", purge=True, session_factory=lambda s, **kw: AnswersFileCache(cache),
                       sleep=lambda s: None)
    assert exc.value.cause == "opcache.file_cache"
    assert configured in str(exc.value) and elsewhere in str(exc.value)
    assert os.listdir(elsewhere) and os.listdir(configured) and "reset" not in cache.calls


def test_purge_uses_the_configured_directory(tmp_path):
    configured = make_fc(tmp_path / "configured")
    t = dict(target(), opcache={"opcache.file_cache": configured}, master_pid=None)
    AnswersFileCache.file_cache = configured
    cache = FakeOPcache()
    r = c.reset_master(t, "full", purge=True, session_factory=lambda s, **kw: AnswersFileCache(cache),
                       sleep=lambda s: None)
    assert r["file_cache"]["directory"] == configured and r["file_cache"]["files"] == 1
    assert os.listdir(configured) == [] and r["verified"]


def test_purge_refused_when_only_the_helper_knows_a_file_cache(tmp_path):
    elsewhere = make_fc(tmp_path / "elsewhere")
    AnswersFileCache.file_cache = elsewhere
    cache = FakeOPcache()
    with pytest.raises(ControlError) as exc:
        c.reset_master(target(), "full", purge=True, session_factory=lambda s, **kw: AnswersFileCache(cache))
    assert exc.value.cause == "opcache.file_cache" and os.listdir(elsewhere)


class BadShape(FakeSession):
    """The first answer is not the shape the helper writes (a hostile or broken peer)."""

    def call(self, action, args=None):
        raise AttributeError("'str' object has no attribute 'get'")


def test_open_master_closes_the_session_on_any_error():
    # finding 8: an unexpected exception in the first call must not leave the helper behind
    cache = FakeOPcache()
    sessions = []

    def factory(sock, **kw):
        s = BadShape(cache)
        sessions.append(s)
        return s
    with pytest.raises(AttributeError):
        c.master_status(target(), session_factory=factory)
    assert sessions and all(s.closed for s in sessions)


class StillCached(FakeSession):
    """The invalidation 'works' but later requests still see the file cached ``polls`` times."""

    def __init__(self, cache, polls):
        FakeSession.__init__(self, cache)
        self.polls = polls
        self.asked = []

    def call(self, action, args=None):
        ans = FakeSession.call(self, action, args)
        if action == "invalidate":
            ans["files"] = dict((f, {"invalidated": True, "cached": True}) for f in args["files"])
        if action == "is_cached":
            self.asked.append(list(args["files"]))
            still = self.polls > 0
            self.polls -= 1
            ans["files"] = dict((f, {"cached": still}) for f in args["files"])
        return ans


@pytest.mark.parametrize("mode,kw", [("files", {"files": ["/srv/a.php"]}), ("glob", {"patterns": ["/srv/*"]}),
                                     ("stale", {})])
def test_still_cached_after_invalidation_is_not_success(tmp_path, mode, kw):
    # mutation gap: "still cached" taken for success
    cache = FakeOPcache(scripts={"/srv/a.php": script(2000)})
    session = StillCached(cache, polls=10 ** 6)
    clock = iter(range(0, 10 ** 6)).__next__
    with pytest.raises(ControlError) as exc:
        c.reset_master(target(), mode, helper_dir=str(tmp_path), timeout=3, session_factory=lambda s, **k: session,
                       sleep=lambda s: None, clock=lambda: float(clock()), **kw)
    assert exc.value.cause == "verify_timeout" and "/srv/a.php" in str(exc.value)
    res = exc.value.details["result"]
    assert res["verified"] is False and res["unverified"] == ["/srv/a.php"]
    assert res["files"][0]["verdict"] == "still cached"


@pytest.mark.parametrize("mode,kw", [("files", {"files": ["/srv/a.php"]}), ("glob", {"patterns": ["/srv/*"]}),
                                     ("stale", {})])
def test_a_file_stays_pending_until_a_later_request_sees_it_gone(tmp_path, mode, kw):
    # mutation gap: "never keeping a file pending"
    cache = FakeOPcache(scripts={"/srv/a.php": script(2000), "/srv/b.php": script(2000)})
    session = StillCached(cache, polls=2)
    r = c.reset_master(target(), mode, helper_dir=str(tmp_path), session_factory=lambda s, **k: session,
                       sleep=lambda s: None, **kw)
    assert r["verified"] is True
    assert len(session.asked) == 3 and session.asked[1] == session.asked[0] == session.asked[2]
    assert all(f["verdict"] == "not cached" for f in r["files"])


# ------------------------------------------------------------------ a superseded release (issue 10)

def _switched(tmp_path):
    """The Deployer site, then a third release and current switched to it."""
    site = _deploy(tmp_path)
    (tmp_path / "site" / "releases" / "3" / "src").mkdir(parents=True)
    os.unlink(site + "/current")
    os.symlink("releases/3", site + "/current")
    return site


def test_stale_mode_resets_a_master_that_serves_a_superseded_release(tmp_path):
    site = _switched(tmp_path)
    switched = os.lstat(site + "/current").st_mtime
    old = site + "/releases/2/src/Cart.php"
    cache = FakeOPcache({old: script(10, last_used_timestamp=switched + 5),
                         site + "/releases/3/src/Cart.php": script(10)})
    r = c.reset_master(target(), "stale", session_factory=factory_for(cache), helper_dir=str(tmp_path),
                       sleep=lambda s: None)
    # nothing is stale by its mtime, yet the master is reset in full and verified
    assert cache.calls.count("reset") == 1 and "invalidate" not in cache.calls
    assert r["changed"] and r["verified"] and r["after"]["manual_restarts"] == 1
    assert r["escalated"]["to"] == "full" and r["escalated"]["stale_files"] == 0
    assert "releases/2" in r["escalated"]["reason"] and "releases/3" in r["escalated"]["reason"]
    g, = r["superseded_releases"]
    assert (g["release"], g["live_release"], g["count"], g["used_since_switch"]) == (
        site + "/releases/2", os.path.realpath(site + "/releases/3"), 1, 1)
    # the reset dropped the old entries: a second run has nothing to do
    r2 = c.reset_master(target(), "stale", session_factory=factory_for(cache), helper_dir=str(tmp_path))
    assert not r2["changed"] and "escalated" not in r2 and cache.calls.count("reset") == 1


def test_stale_mode_check_mode_says_it_would_reset(tmp_path):
    site = _switched(tmp_path)
    cache = FakeOPcache({site + "/releases/1/src/Cart.php": script(10)})
    r = c.reset_master(target(), "stale", check_mode=True, session_factory=factory_for(cache),
                       helper_dir=str(tmp_path))
    assert r["changed"] and r["verified"] is None and "reset" not in cache.calls
    assert r["escalated"]["to"] == "full" and r["superseded_releases"][0]["used_since_switch"] == 0


def test_the_live_release_is_not_superseded(tmp_path):
    site = _deploy(tmp_path)
    cache = FakeOPcache({site + "/releases/2/src/Cart.php": script(10)})
    r = c.reset_master(target(), "stale", session_factory=factory_for(cache), helper_dir=str(tmp_path))
    assert not r["changed"] and "escalated" not in r and "reset" not in cache.calls


# ------------------------------------------------------------------ APCu beside OPcache

def test_master_status_reports_apcu():
    cache = FakeOPcache()
    cache.apcu = apcu_answer(entries=1900)
    m = c.master_status(target(), session_factory=factory_for(cache))
    assert m["apcu"]["state"] == "near_full" and m["apcu"]["entries"] == 1900
    cache.apcu = None
    assert c.master_status(target(), session_factory=factory_for(cache))["apcu"] is None


def test_apcu_cleared_after_the_reset_and_verified_in_a_later_request():
    cache = FakeOPcache()
    cache.apcu = apcu_answer(entries=120, start_time=1500)
    r = c.reset_master(target(), "full", session_factory=factory_for(cache), sleep=lambda s: None, apcu=True)
    assert cache.calls.count("apcu_clear") == 1
    assert cache.calls.index("apcu_clear") > cache.calls.index("reset")
    assert cache.calls[-1] == "status"  # the verdict comes from a request after the clear
    assert r["apcu"]["cleared"] is True and r["apcu"]["verified"] is True
    assert r["apcu"]["before"]["entries"] == 120 and r["apcu"]["after"]["entries"] == 0
    assert r["apcu"]["after"]["start_time"] == 37 and r["apcu"]["clear_time"] == 2000


def test_apcu_not_asked_is_not_touched():
    cache = FakeOPcache()
    cache.apcu = apcu_answer(entries=120)
    r = c.reset_master(target(), "full", session_factory=factory_for(cache), sleep=lambda s: None)
    assert "apcu_clear" not in cache.calls and "apcu" not in r


def test_a_clear_that_no_later_request_sees_is_not_verified():
    cache = FakeOPcache()
    cache.apcu = apcu_answer(entries=120, start_time=1500)
    cache.apcu_clear_takes = False
    clock = iter(range(0, 10 ** 6)).__next__
    with pytest.raises(ControlError) as exc:
        c.reset_master(target(), "full", session_factory=factory_for(cache), sleep=lambda s: None, apcu=True,
                       timeout=5, clock=lambda: float(clock()))
    assert exc.value.cause == "verify_timeout" and "apcu_clear_cache() ran" in str(exc.value)
    assert exc.value.details["result"]["apcu"]["verified"] is False


@pytest.mark.parametrize("apcu, why", [
    (apcu_answer(entries=0), "holds no entries"),
    ({"loaded": False}, "not loaded"),
    (dict(apcu_answer(), enabled=False), "disabled"),
    (None, "not loaded"),
])
def test_apcu_with_nothing_to_clear_is_left_alone(apcu, why):
    cache = FakeOPcache()
    cache.apcu = apcu
    r = c.reset_master(target(), "stale", session_factory=factory_for(cache), sleep=lambda s: None, apcu=True,
                       helper_dir="/nonexistent")
    assert "apcu_clear" not in cache.calls
    assert why in r["apcu"]["skipped"] and r["apcu"]["cleared"] is False and r["apcu"]["verified"] is None
    assert r["changed"] is False


def test_apcu_clear_in_check_mode_changes_nothing():
    cache = FakeOPcache()
    cache.apcu = apcu_answer(entries=7)
    r = c.reset_master(target(), "stale", check_mode=True, session_factory=factory_for(cache), apcu=True,
                       helper_dir="/nonexistent")
    assert "apcu_clear" not in cache.calls and r["changed"] is True
    assert "7 entries" in r["apcu"]["would"] and r["apcu"]["verified"] is None


def test_apcu_figures_unreadable_refuse_the_clear():
    cache = FakeOPcache()
    cache.apcu = {"loaded": True, "enabled": True, "cache": "junk", "sma": {"num_seg": "x"}}
    with pytest.raises(ControlError) as exc:
        c.reset_master(target(), "full", session_factory=factory_for(cache), sleep=lambda s: None, apcu=True)
    assert exc.value.cause == "apcu_unreadable" and "apcu_clear" not in cache.calls


class DyingAfterTheReset(FakeSession):
    """The first request after the verified reset (the one that reads APCu) meets a dying worker."""

    def call(self, action, args=None):
        calls = self.cache.calls
        if action == "status" and "reset" in calls and calls[-1] == "status" and not getattr(self.cache, "died", False):
            self.cache.died = True
            calls.append(action)
            raise HelperError("/run/x.sock", "truncated", "connection reset by peer before END_REQUEST")
        return FakeSession.call(self, action, args)


def test_apcu_read_after_the_reset_is_retried_when_its_worker_dies():
    cache = FakeOPcache()
    cache.apcu = apcu_answer(entries=120, start_time=1500)
    r = c.reset_master(target(), "full", session_factory=lambda s, **kw: DyingAfterTheReset(cache),
                       sleep=lambda s: None, apcu=True)
    assert cache.died and r["verified"] and r["apcu"]["cleared"] and r["apcu"]["verified"]
    assert "truncated" in r["poll_errors"][0]
