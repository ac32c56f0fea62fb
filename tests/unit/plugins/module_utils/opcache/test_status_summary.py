# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""opcache/status_summary.py: the status figures, stale classification, reset verification."""
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache import status_summary as summary
from opcache_answers import stats


def script(mtime, cached=True, hits=1, **kw):
    d = {"cached": cached, "mtime": mtime, "hits": hits, "last_used_timestamp": 1500}
    d.update(kw)
    return d


def test_classify_scripts():
    st = stats(start_time=1000, last_restart_time=1200)
    scripts = [
        dict(script(1100), full_path="/a/old.php"),
        dict(script(1200), full_path="/a/same_second.php"),
        dict(script(1300), full_path="/a/new.php"),
        dict(script(None), full_path="/a/gone.php"),
        dict(script(1300, cached=False), full_path="/a/invalidated.php"),
        dict(script(1300), full_path="/var/lib/opcache-fleet/" + "a" * 32 + "/" + "b" * 32 + ".php"),
        dict(script(900, timestamp=900), full_path="/b/fresh_ts.php"),
        dict(script(950, timestamp=900), full_path="/b/stale_ts.php"),
        dict(script(1300), full_path="/a/reinvalidated.php"),
    ]
    out = dict((e["full_path"], e["stale"]) for e in summary.classify_scripts(scripts, st, {"/a/reinvalidated.php": 1400}))
    assert out == {"/a/old.php": "fresh", "/a/same_second.php": "possible", "/a/new.php": "possible",
                   "/a/gone.php": "unknown", "/b/fresh_ts.php": "fresh", "/b/stale_ts.php": "certain",
                   "/a/reinvalidated.php": "fresh"}


def test_full_reset_verified():
    before = stats()
    assert not summary.full_reset_verified(before, dict(stats(manual_restarts=1), restart_pending=True))
    assert summary.full_reset_verified(before, stats(manual_restarts=1))
    assert summary.full_reset_verified(before, stats(start_time=1001))
    assert summary.full_reset_verified(before, stats(last_restart_time=5))
    assert not summary.full_reset_verified(before, stats())
    assert not summary.full_reset_verified(before, None)


def test_match_patterns():
    paths = ["/srv/app/releases/a/x.php", "/srv/app/releases/a/lib/y.php", "/srv/app/releases/b/x.php"]
    assert summary.match_patterns(paths, ["/srv/app/releases/a/*"]) == paths[:2]
    assert summary.match_patterns(paths, ["*/x.php"]) == [paths[0], paths[2]]


def test_summarize_status_keeps_the_documented_figures():
    s = summary.summarize_status(stats())
    assert set(s) == {"opcache_enabled", "cache_full", "restart_pending", "restart_in_progress",
                      "memory_usage", "interned_strings_usage", "opcache_statistics"}
    assert {"num_cached_scripts", "hits", "misses", "opcache_hit_rate", "start_time", "last_restart_time",
            "oom_restarts", "hash_restarts", "manual_restarts"} <= set(s["opcache_statistics"])
