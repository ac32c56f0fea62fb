# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""report.assembly: host entries (pools, release folders, next steps), the fleet report, summary lines.

The two fixtures are diagnose results captured on the lab (make incident on lab-web2:
/a/report.php poisoned; lab-web3: /b/report.php poisoned, pool site-b of the first master).
"""
import copy
import json
import os
import shlex

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.assembly import (
    build_report, evaluate_host, summary_lines,
)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.next_steps import CommandContext
from unit_paths import FIXTURES_ROOT

FIXTURES = os.path.join(FIXTURES_ROOT, "diagnose")


def load(name):
    with open(os.path.join(FIXTURES, name + ".json")) as fh:
        return json.load(fh)


def healthy(raw):
    """The same host with no crash evidence and nothing stale."""
    raw = copy.deepcopy(raw)
    ev = raw["evidence"]
    ev["incidents"], ev["events"], ev["incidents_total"] = [], [], 0
    ev["counts"] = {"total": 0, "by_category": {}, "by_file": {}, "by_source_kind": {}}
    for m in raw["opcache"]["masters"]:
        m["scripts"] = []
        m["stale_counts"] = {"certain": 0, "possible": 0, "fresh": 10, "unknown": 0}
    return raw


def with_counts(raw, **counts):
    raw = healthy(raw)
    raw["evidence"]["counts"]["by_category"] = counts
    return raw


def test_poisoned_host_release_folder_and_pool():
    e = evaluate_host(load("lab-web2"))
    assert e["status"] == "ok" and e["verdict"] == "opcache_suspect"
    secs = dict((s["prefix"], s) for s in e["sections"])
    assert set(secs) == {"/a/", "/b/", "/c/"}
    assert secs["/a/"]["verdict"] == "opcache_suspect"
    assert "/a/report.php" in [p["path"] for p in secs["/a/"]["crash_paths"]]
    assert secs["/a/"]["root"] == "/srv/app/releases/a" and secs["/a/"]["pools"] == ["www"]
    assert secs["/b/"]["verdict"] == "healthy" and secs["/c/"]["verdict"] == "healthy"
    assert [(p["name"], p["verdict"]) for p in e["pools"]] == [("www", "opcache_suspect")]
    # the stale script is in release a: a sign for /a/ only
    assert "stale_scripts" in [r["code"] for r in secs["/a/"]["reasons"]]
    assert "stale_scripts" not in [n["code"] for n in secs["/b/"]["notes"]]


def test_poisoned_host_next_steps_are_reset_then_hunt():
    e = evaluate_host(load("lab-web2"))
    kinds = [s["kind"] for s in e["next_steps"]]
    assert kinds == ["reset", "hunt"]
    reset, hunt = e["next_steps"]
    assert (reset["playbook"], reset["limit"], reset["inventory"], reset["vars"]) == (
        "playbooks/emergency_reset.yml", "lab-web2", [], {"mode": "stale"})
    assert (hunt["playbook"], hunt["limit"], hunt["vars"]) == (
        "playbooks/culprit_hunt.yml", "lab-web2", {"url": "http://127.0.0.1/a/report.php"})
    assert reset["command"] == "ansible-playbook playbooks/emergency_reset.yml -l lab-web2 -e '{\"mode\":\"stale\"}'"
    assert hunt["command"] == ("ansible-playbook playbooks/culprit_hunt.yml -l lab-web2 "
                               "-e '{\"url\":\"http://127.0.0.1/a/report.php\"}'")


def without_resets(raw):
    """The same capture as if OPcache had never been reset after the crashes."""
    raw = copy.deepcopy(raw)
    for m in raw["opcache"]["masters"]:
        m["status"]["opcache_statistics"].update(last_restart_time=0, manual_restarts=0)
    return raw


def test_two_masters_reset_names_the_master_of_the_crashing_pool():
    e = evaluate_host(without_resets(load("lab-web3")))
    assert e["verdict"] == "opcache_suspect"
    pools = dict((p["name"], p) for p in e["pools"])
    assert pools["site-b"]["verdict"] == "opcache_suspect" and pools["alt"]["verdict"] == "healthy"
    assert pools["site-b"]["opcache_overrides"][0]["directive"] == "opcache.revalidate_freq"
    reset = e["next_steps"][0]
    assert reset["kind"] == "reset" and reset["vars"]["masters"] == "/etc/php/8.2/fpm/php-fpm.conf"
    assert json.loads(shlex.split(reset["command"])[-1])["masters"] == "/etc/php/8.2/fpm/php-fpm.conf"
    secs = dict((s["prefix"], s) for s in e["sections"])
    assert secs["/b/"]["verdict"] == "opcache_suspect" and secs["/b/"]["pools"] == ["site-b"]
    assert secs["/c/"]["pools"] == ["alt"] and secs["/c/"]["verdict"] == "healthy"


def test_healthy_host_everything_healthy():
    e = evaluate_host(healthy(load("lab-web2")))
    assert e["verdict"] == "healthy" and e["next_steps"] == []
    assert all(s["verdict"] == "healthy" for s in e["sections"])
    assert all(p["verdict"] == "healthy" for p in e["pools"])
    # the demo app's deliberate App\Legacy\Cache twin is a note, not a verdict
    assert "class_collisions" in [n["code"] for n in e["notes"]]


@pytest.mark.parametrize("category,verdict,kind", [
    ("max_children", "capacity", "inspect"), ("upstream_timeout", "timeouts", "inspect"),
    ("upstream_connect_eacces", "misconfig", "inspect"),
])
def test_other_verdicts_have_a_command(category, verdict, kind):
    e = evaluate_host(with_counts(load("lab-web2"), **{category: 3}))
    assert e["verdict"] == verdict and e["next_steps"][0]["kind"] == kind
    step = e["next_steps"][0]
    assert shlex.split(step["command"])[0] == ("ansible" if step["playbook"] is None else "ansible-playbook")


def test_command_context_inventory_and_target():
    ctx = CommandContext(inventory_args=["-i", "inventories/prod hosts.yml"], target="web-eu")
    e = evaluate_host(load("lab-web2"), ctx=ctx)
    words = shlex.split(e["next_steps"][0]["command"])
    assert words[:6] == ["ansible-playbook", "playbooks/emergency_reset.yml", "-i", "inventories/prod hosts.yml",
                         "-l", "lab-web2"]
    assert e["next_steps"][0]["inventory"] == ["-i", "inventories/prod hosts.yml"]
    assert e["next_steps"][0]["vars"]["target"] == "web-eu" and json.loads(words[-1])["target"] == "web-eu"


def test_hostile_crash_path_is_shell_quoted_in_the_hunt_command():
    raw = load("lab-web2")
    evil = "/a/x.php?$(rm -rf /)'<script>"
    for inc in raw["evidence"]["incidents"]:
        for r in inc["requests"]:
            r["path"] = evil
    e = evaluate_host(raw)
    hunt = [s for s in e["next_steps"] if s["kind"] == "hunt"][0]
    # Percent-encoded where RFC 3986 allows no such character (space, "<", ">"): same file for nginx.
    assert hunt["vars"] == {"url": "http://127.0.0.1/a/x.php?$(rm%20-rf%20/)'%3Cscript%3E"}
    assert json.loads(shlex.split(hunt["command"])[-1]) == hunt["vars"]


def test_nothing_stale_means_full_reset():
    raw = load("lab-web2")
    for m in raw["opcache"]["masters"]:
        m["scripts"], m["stale_counts"] = [], {"certain": 0, "possible": 0}
    e = evaluate_host(raw)
    assert e["next_steps"][0]["vars"] == {"mode": "full"}


def test_stale_list_is_capped():
    raw = load("lab-web2")
    m = raw["opcache"]["masters"][0]
    m["scripts"] = [{"full_path": "/srv/app/releases/a/f%d.php" % i, "stale": "possible"} for i in range(80)]
    e = evaluate_host(raw, stale_cap=5)
    assert len(e["masters"][0]["stale_scripts"]) == 5 and e["masters"][0]["stale_scripts_truncated"]


@pytest.mark.parametrize("status", ["unreachable", "failed", "no_result"])
def test_host_without_results(status):
    e = evaluate_host({"host": "web9", "status": status, "error": "ssh: connect to host web9 port 22: timed out"})
    assert e["verdict"] == status and e["next_steps"] == [] and "timed out" in e["reasons"][0]["text"]


def test_failed_steps_are_reported_not_fatal():
    raw = load("lab-web2")
    raw["evidence"] = {"msg": "since: cannot parse 'yesterday'"}
    raw["opcache"] = {"msg": "ECONNREFUSED", "masters": [], "failed_masters": []}
    raw["collisions"] = {"msg": "roots: boom"}
    e = evaluate_host(raw)
    assert e["evidence"]["error"] == "since: cannot parse 'yesterday'"
    assert e["masters"][0]["opcache_error"] == "ECONNREFUSED"
    assert e["collisions"]["error"] == "roots: boom"
    # no crash evidence was read at all: the host is not healthy, it is unexplained (issue 10)
    assert e["verdict"] == "unexplained" and e["priority"] == "medium"
    assert [r["text"] for r in e["reasons"]] == [
        "crash evidence not read: this host (no log was read): the evidence step failed: since: cannot parse 'yesterday'"]
    assert "the evidence step failed" in e["next_steps"][0]["why"]


def test_build_report_and_summary():
    rep = build_report([load("lab-web2"), healthy(load("lab-web3")),
                        {"host": "lab-web9", "status": "unreachable", "error": "no such container"}],
                       generated_at="2026-11-26T17:20:00Z", window={"since": "24h"})
    assert rep["schema_version"] == 2
    assert rep["fleet"]["verdict_counts"] == {"opcache_suspect": 1, "healthy": 1, "unreachable": 1}
    assert [s["host"] for s in rep["fleet"]["next_steps"]] == ["lab-web2"]
    lines = summary_lines(rep)
    assert lines[0].startswith("fleet: 3 host(s)")
    assert any(line.startswith("lab-web9: unreachable") for line in lines)
    assert any("/a/ /srv/app/releases/a: opcache_suspect - /a/report.php" in line for line in lines)
    json.dumps(rep)  # serialisable


def test_summary_lines_strip_terminal_escapes():
    raw = load("lab-web2")
    for inc in raw["evidence"]["incidents"]:
        for r in inc["requests"]:
            r["path"] = "/a/\x1b[31mred.php"
    lines = summary_lines(build_report([raw], generated_at="x"))
    assert not any("\x1b" in line for line in lines)
    assert any("\\x1b[31mred.php" in line for line in lines)


def test_a_failed_php_fpm_start_is_a_note():
    """A master that could not bind its socket explains the 502s: the report says so
    (lifecycle events of issue 12), and the ordinary lifecycle stays out of it."""
    raw = healthy(load("lab-web2"))
    raw["evidence"]["events"] = [
        {"category": "lifecycle", "lifecycle_event": "ready", "timestamp": "2026-11-26T17:00:00+00:00",
         "file": "/var/log/php-fpm/error.log", "line_no": 1},
        {"category": "lifecycle", "lifecycle_event": "listen_failed", "listen": "/run/php-fpm/www.sock",
         "reason": "Address already in use", "errno": 98, "timestamp": "2026-11-26T17:01:00+00:00",
         "file": "/var/log/php-fpm/error.log", "line_no": 7},
        {"category": "lifecycle", "lifecycle_event": "config_error", "config_file": "/etc/php-fpm.d/www.conf",
         "config_line": 12, "directive": "pm.max_chidlren", "timestamp": None,
         "file": "/var/log/php-fpm/error.log", "line_no": 9}]
    notes = [n["text"] for n in evaluate_host(raw)["notes"] if n["code"] == "fpm_failed_start"]
    assert notes == [
        "php-fpm listen failed, listen /run/php-fpm/www.sock, reason Address already in use at "
        "2026-11-26T17:01:00+00:00 (/var/log/php-fpm/error.log:7)",
        "php-fpm config error, /etc/php-fpm.d/www.conf:12, directive pm.max_chidlren at an unknown time "
        "(/var/log/php-fpm/error.log:9)"]


def _collision(name, root, files, all_vendor=False):
    return {"name": name, "key": name.lower(), "kinds": ["class"], "root": root, "across_releases": False,
            "all_vendor": all_vendor, "files": [{"path": f, "line": 3, "kind": "class", "vendor": "/vendor/" in f,
                                                 "conditional": False} for f in files]}


def test_vendor_only_twins_are_listed_but_never_a_sign():
    """Two vendor packages shipping one polyfill: the autoloader loads one; no note, no verdict."""
    raw = healthy(load("lab-web2"))
    raw["collisions"] = {"collisions": [_collision("Acme\\Polyfill\\Str", "/srv/fc",
                                                   ["/srv/fc/vendor/a/Str.php", "/srv/fc/vendor/b/Str.php"], True)],
                         "files_scanned": 4}
    e = evaluate_host(raw)
    assert [c["name"] for c in e["collisions"]["items"]] == ["Acme\\Polyfill\\Str"]
    assert "class_collisions" not in [n["code"] for n in e["notes"] + e["reasons"]]
    raw["collisions"]["collisions"].append(_collision("App\\Billing\\Invoice", "/srv/fc",
                                                      ["/srv/fc/src/A.php", "/srv/fc/src/B.php"]))
    e = evaluate_host(raw)
    note = [n for n in e["notes"] if n["code"] == "class_collisions"]
    assert len(note) == 1 and "App\\Billing\\Invoice" in note[0]["text"] and "Acme" not in note[0]["text"]


def test_a_partial_class_scan_and_refused_roots_are_noted():
    raw = healthy(load("lab-web2"))
    raw["collisions"] = {"collisions": [], "files_scanned": 1200, "truncated": True, "truncated_by": "max_seconds",
                         "files_not_read": 800, "roots_refused": [{"path": "/", "reason": "a system directory"}]}
    e = evaluate_host(raw)
    col = e["collisions"]
    assert col["partial"] and col["truncated_by"] == "max_seconds" and col["files_not_read"] == 800
    assert col["roots_refused"] == [{"path": "/", "reason": "a system directory"}]
    notes = dict((n["code"], n["text"]) for n in e["notes"])
    assert notes["class_scan_partial"].startswith("class scan partial: its time budget ran out after 1200 files read "
                                                  "(800 listed files not read)")
    assert notes["class_scan_root_refused"] == "code root / not scanned: a system directory"
    raw["collisions"] = {"collisions": [], "files_scanned": 5}
    assert not [n for n in evaluate_host(raw)["notes"] if n["code"].startswith("class_scan")]


def test_a_symlinked_root_passed_as_document_root_is_noted_with_its_nginx_line():
    raw = healthy(load("lab-web2"))
    sf = {"value": "$document_root$fastcgi_script_name", "file": "/etc/nginx/sites/shop.conf", "line": 14}
    target = {"target": "unix:/run/php/shop.sock", "root": "/var/www/shop/current/public", "location": "~ \\.php$",
              "root_resolved": "/var/www/shop/releases/7/public", "script_filename": sf, "pool": "www"}
    raw["discovery"]["nginx"]["fastcgi_targets"] = [target, dict(target, location="/api/")]
    notes = [n for n in evaluate_host(raw)["notes"] if n["code"] == "document_root_symlink"]
    assert len(notes) == 1          # one per nginx line and root
    assert notes[0]["text"].startswith("nginx /etc/nginx/sites/shop.conf:14 passes SCRIPT_FILENAME "
                                       "$document_root$fastcgi_script_name while the root /var/www/shop/current/public "
                                       "is a symlink to /var/www/shop/releases/7/public")
    assert "$realpath_root$fastcgi_script_name" in notes[0]["text"]
    for other in (dict(target, script_filename=dict(sf, value="$realpath_root$fastcgi_script_name")),
                  dict(target, root_resolved="/var/www/shop/current/public"), dict(target, script_filename=None)):
        raw["discovery"]["nginx"]["fastcgi_targets"] = [other]
        assert "document_root_symlink" not in [n["code"] for n in evaluate_host(raw)["notes"]]


def test_scripts_of_a_superseded_release_are_noted_per_master():
    raw = healthy(load("lab-web2"))
    master = raw["opcache"]["masters"][0]
    group = {"site": "/var/www/shop", "live_link": "/var/www/shop/current", "live_release": "/var/www/shop/releases/3",
             "release": "/var/www/shop/releases/2", "switched_at": 1796380000, "count": 14, "used_since_switch": 3,
             "scripts": ["/var/www/shop/releases/2/public/index.php"]}
    master["superseded_releases"] = [group]
    notes = [n for n in evaluate_host(raw)["notes"] if n["code"].startswith("old_release")]
    assert [n["code"] for n in notes] == ["old_release_served"]
    assert notes[0]["text"].startswith("master %s (" % master["master_pid"])
    assert ("14 cached script(s) of /var/www/shop/releases/2, while /var/www/shop/current points to "
            "/var/www/shop/releases/3 (switched at 2026-12-04T10:26:40+00:00)") in notes[0]["text"]
    assert "3 of them served since the switch, the old release is still being served" in notes[0]["text"]
    assert "mode=stale resets this master in full" in notes[0]["text"]
    master["superseded_releases"] = [dict(group, used_since_switch=0)]
    assert [n["code"] for n in evaluate_host(raw)["notes"] if n["code"].startswith("old_release")] == [
        "old_release_cached"]
    master["superseded_releases"] = []
    assert not [n for n in evaluate_host(raw)["notes"] if n["code"].startswith("old_release")]


def test_apcu_state_per_master_in_json_markdown_and_html():
    from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.apcu import summarize_apcu
    from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.render import render_html, render_markdown
    raw = load("lab-web2")  # the incident host: report.md details its masters
    master = raw["opcache"]["masters"][0]
    # the helper's answer on lab-web2 after apcu.php?fill=95&punch=1 (960 entries, holes between them)
    master["apcu"] = summarize_apcu({
        "loaded": True, "version": "5.1.22", "enabled": True, "ini": {"apc.shm_size": "32M"},
        "cache": {"num_slots": 4099, "ttl": 0, "num_hits": 0, "num_misses": 0, "num_inserts": 1921,
                  "num_entries": 960, "expunges": 0, "start_time": 1796628302, "mem_size": 15949624,
                  "memory_type": "mmap"},
        "sma": {"num_seg": 1, "seg_size": 33554312, "avail_mem": 17604688, "free_blocks": 961,
                "free_in_blocks": 17573936, "largest_free_block": 1687816}})
    rep = build_report([raw], generated_at="x")
    host = rep["hosts"][0]
    entry = [m for m in host["masters"] if m["master_pid"] == master["master_pid"]][0]
    assert entry["apcu"]["state"] == "fragmented" and entry["apcu"]["entries"] == 960
    assert host["verdict"] == evaluate_host(load("lab-web2"))["verdict"]  # a note, never a verdict
    notes = [n for n in host["notes"] if n["code"] == "apcu_fragmented"]
    assert len(notes) == 1 and notes[0]["text"].startswith("master %s (" % master["master_pid"])
    assert "90% of its 16.8 MiB free lies outside the largest free block" in notes[0]["text"]
    line = "APCu: fragmented; 960 entries; memory 15.2 MiB used of 32.0 MiB; fragmentation 90.4 %; expunges 0"
    assert line in render_markdown(rep)
    assert "<td>fragmented; 960 entries;" in render_html(rep)
    others = [m for m in host["masters"] if m["master_pid"] != master["master_pid"]]
    assert all(m["apcu"] is None for m in others)
    # on a healthy host report.md names the note in its table of notes
    raw = healthy(raw)
    assert "`apcu_fragmented`" in render_markdown(build_report([raw], generated_at="x"))
