# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The HTML report escapes every string that can come from a host, in each place it shows
one: stale script paths, class-collision names and files, cache-event text and files, next
step commands, and attribute values (quote=True). Issue 11: each of these escapes was
removable without a unit test noticing."""
import json
import os

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.assembly import build_report
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.next_steps import CommandContext
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.render import render_html
from unit_paths import FIXTURES_ROOT

EVIL = '<img src=x onerror=alert(1)>'
ESCAPED = '&lt;img src=x onerror=alert(1)&gt;'


def report():
    with open(os.path.join(FIXTURES_ROOT, "diagnose", "lab-web2.json")) as fh:
        raw = json.load(fh)
    return build_report([raw], generated_at="2026-11-26T18:00:00Z",
                        ctx=CommandContext(inventory_args=["-i", "inv/%s.yml" % EVIL]))


def host_and_master(rep):
    host = rep["hosts"][0]
    return host, host["masters"][0]


def assert_escaped(page):
    assert ESCAPED in page
    assert "<img" not in page


def test_the_report_used_here_has_the_places_under_test():
    rep = report()
    host, master = host_and_master(rep)
    assert host["next_steps"] and "masters" in host and "stale_scripts" in master


def test_stale_script_paths_are_escaped():
    rep = report()
    host, master = host_and_master(rep)
    master["stale_scripts"] = [{"stale": "certain", "path": "/srv/app/%s.php" % EVIL}]
    host["next_steps"] = []
    assert_escaped(render_html(rep))


def test_collision_names_and_files_are_escaped():
    for field in ("name", "files"):
        rep = report()
        host, master = host_and_master(rep)
        master["stale_scripts"], host["next_steps"] = [], []
        item = {"name": "App\\Report", "root": "/srv/app", "files": ["/srv/app/a.php", "/srv/app/b.php"]}
        item[field] = EVIL if field == "name" else ["/srv/app/%s.php" % EVIL]
        host["collisions"] = {"items": [item]}
        assert_escaped(render_html(rep))


def test_cache_event_text_and_files_are_escaped():
    for field in ("text", "files"):
        rep = report()
        host, master = host_and_master(rep)
        master["stale_scripts"], host["next_steps"] = [], []
        event = {"time": "2026-11-26T17:00:00Z", "kind": "invalidate", "text": "reset", "files": ["/srv/a.php"]}
        event[field] = EVIL if field == "text" else ["/srv/%s.php" % EVIL]
        master["cache_events"] = [event]
        assert_escaped(render_html(rep))


def test_next_step_commands_are_escaped():
    rep = report()
    host, master = host_and_master(rep)
    master["stale_scripts"] = []
    assert any(EVIL in s["command"] for s in host["next_steps"])
    assert_escaped(render_html(rep))


def test_attribute_values_escape_quotes():
    """A host name with a quote must not end the id="host-..." attribute."""
    rep = report()
    host, master = host_and_master(rep)
    master["stale_scripts"], host["next_steps"] = [], []
    host["name"] = 'web1" onmouseover="alert(1)'
    page = render_html(rep)
    assert 'id="host-web1&quot; onmouseover=&quot;alert(1)"' in page
    assert 'onmouseover="alert(1)' not in page
