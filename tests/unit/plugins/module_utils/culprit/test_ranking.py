# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""culprit/ranking.py: the ranking key, include sets, used-elsewhere, groups, collision roots."""
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.culprit import ranking

APP = "/srv/app/releases/a"


def test_rank_order():
    classified = [
        {"full_path": "/a/fresh_new.php", "stale": "fresh", "mtime": 900},
        {"full_path": "/a/fresh_old.php", "stale": "fresh", "mtime": 100},
        {"full_path": "/a/possible.php", "stale": "possible", "mtime": 50},
        {"full_path": "/a/certain.php", "stale": "certain", "mtime": 40},
        {"full_path": "/a/coll.php", "stale": "fresh", "mtime": 10},
        {"full_path": "/b/outside_certain.php", "stale": "certain", "mtime": 999},
        {"full_path": "/a/shared_certain.php", "stale": "certain", "mtime": 999},
    ]
    include = set(e["full_path"] for e in classified if e["full_path"].startswith("/a/"))
    rows = ranking.rank_candidates(classified, include, {"/a/shared_certain.php"}, {"/a/coll.php"})
    assert [r["path"] for r in rows] == [
        "/a/certain.php", "/a/possible.php", "/a/coll.php", "/a/fresh_new.php", "/a/fresh_old.php",
        "/a/shared_certain.php", "/b/outside_certain.php"]
    assert [r["rank"] for r in rows] == list(range(1, 8))


def test_include_set_and_used_elsewhere():
    scripts = [{"full_path": "/a.php", "cached": True, "last_used_timestamp": 10},
               {"full_path": "/b.php", "cached": True, "last_used_timestamp": 11},
               {"full_path": "/c.php", "cached": False, "last_used_timestamp": 10},
               {"full_path": "/var/lib/opcache-fleet/%s/%s.php" % ("1" * 32, "2" * 32), "cached": True,
                "last_used_timestamp": 10}]
    assert ranking.include_set(scripts, [10]) == {"/a.php"}
    assert ranking.used_elsewhere([scripts], since=9, probe_secs=[10]) == {"/b.php"}
    assert ranking.used_elsewhere([scripts], since=12, probe_secs=[10]) == set()


def test_groups():
    assert ranking.groups(["a", "b", "c"], 2) == [["a", "b"], ["c"]]
    assert ranking.groups(["a"], 0) == [["a"]]


def test_collision_roots():
    paths = [APP + "/src/A.php", APP + "/lib/b.php"]
    assert ranking.collision_roots_for(paths) == [APP]
    assert ranking.collision_roots_for(["/x.php", "/y/z.php"], APP + "/index.php") == [APP]
    assert ranking.collision_roots_for([], "/var/www/html/index.php") == ["/var/www/html"]
    assert ranking.collision_roots_for([]) == []
