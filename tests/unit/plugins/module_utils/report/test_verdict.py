# -*- coding: utf-8 -*-
"""fleet_verdict: verdicts per host, pool and release folder; reasons; next-step commands.

The two fixtures are diagnose results captured on the lab (make incident on lab-web2:
/a/report.php poisoned; lab-web3: /b/report.php poisoned, pool site-b of the first master).
"""
import base64
import copy
import datetime
import json
import os
import shlex

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.verdict import (
    CommandContext, build_report, evaluate_host, judge, load_invalidations, parse_time,
    release_roots, summary_lines, _location_matches,
)
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


# ------------------------------------------------------------------ small helpers




def test_release_roots_split_a_releases_directory_only():
    assert release_roots("/srv/app/releases", ["a", "/srv/app/releases/b"]) == \
        ["/srv/app/releases/a", "/srv/app/releases/b"]
    assert release_roots("/var/www/html", ["a", "b"]) == ["/var/www/html"]
    assert release_roots("/srv/app/releases/", []) == ["/srv/app/releases/"]


@pytest.mark.parametrize("location,uri,expected", [
    (r"~ ^/a/.+\.php$", "/a/index.php", True),
    (r"~ ^/a/.+\.php$", "/b/index.php", False),
    (r"~* \.PHP$", "/b/index.php", True),
    ("/b/", "/b/index.php", True),
    ("= /x.php", "/x.php", True),
    ("@fallback", "/x.php", False),
    ("~ ([", "/x.php", None),
])
def test_location_matches(location, uri, expected):
    assert _location_matches(location, uri) is expected


# ------------------------------------------------------------------ judge

def test_judge_healthy_when_nothing_happened():
    j = judge({"counts": {}}, {})
    assert j["verdict"] == "healthy" and j["also"] == [] and j["reasons"][0]["code"] == "no_faults"


def test_judge_crash_tied_to_502_is_opcache_suspect_with_support():
    stats = {"counts": {"upstream_reset": 3}, "crashes": 2, "tied_crashes": 2, "tied_502s": 3,
             "crash_paths": {"/a/report.php": 3}, "signals": {"SIGSEGV": 2}, "opcache_so": 1}
    j = judge(stats, {"stale": 1, "collisions": ["App\\X"], "cache_full": True, "oom_restarts": 2})
    assert j["verdict"] == "opcache_suspect" and j["confidence"] == "high"
    codes = [r["code"] for r in j["reasons"]]
    assert codes[0] == "crashes_tied_to_502"
    assert {"opcache_so_segfault", "stale_scripts", "class_collisions", "cache_full", "oom_restarts"} <= set(codes)
    assert "/a/report.php (3)" in j["reasons"][0]["text"]


def test_judge_crash_without_502_is_low_confidence():
    j = judge({"counts": {}, "crashes": 1, "signals": {"SIGSEGV": 1}})
    assert (j["verdict"], j["confidence"], j["reasons"][0]["code"]) == ("opcache_suspect", "low", "worker_crashes")


@pytest.mark.parametrize("category,verdict", [
    ("max_children", "capacity"), ("seems_busy", "capacity"), ("upstream_connect_eagain", "capacity"),
    ("upstream_timeout", "timeouts"), ("exec_timeout", "timeouts"),
    ("upstream_connect_eacces", "misconfig"), ("upstream_connect_enoent", "misconfig"),
    ("upstream_connect_refused", "misconfig"), ("primary_script_unknown", "misconfig"),
])
def test_judge_each_category_gives_its_verdict(category, verdict):
    j = judge({"counts": {category: 2}})
    assert j["verdict"] == verdict and j["reasons"][0]["code"] == category and j["confidence"] is None


def test_judge_priority_and_also():
    j = judge({"counts": {"max_children": 1, "upstream_timeout": 4, "upstream_connect_eacces": 1},
               "crashes": 1, "tied_crashes": 1, "tied_502s": 1, "crash_paths": {"/x": 1}})
    assert j["verdict"] == "opcache_suspect" and j["also"] == ["misconfig", "capacity", "timeouts"]


def test_judge_thresholds():
    assert judge({"counts": {"max_children": 2}}, thresholds={"capacity": 3})["verdict"] == "healthy"


def test_supporting_signs_alone_are_notes_not_a_verdict():
    j = judge({"counts": {}}, {"stale": 3, "collisions": ["App\\Legacy\\Cache"], "overrides": ["site-b: x=0"]})
    assert j["verdict"] == "healthy"
    assert [n["code"] for n in j["notes"]] == ["stale_scripts", "class_collisions", "pool_opcache_overrides"]


# ------------------------------------------------------------------ whole hosts (lab captures)

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
    assert e["next_steps"][0]["command"] == \
        "ansible-playbook playbooks/emergency_reset.yml -l lab-web2 -e mode=stale"
    assert e["next_steps"][1]["command"] == \
        "ansible-playbook playbooks/culprit_hunt.yml -l lab-web2 -e url=http://127.0.0.1/a/report.php"


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
    reset = e["next_steps"][0]["command"]
    assert "-e masters=/etc/php/8.2/fpm/php-fpm.conf" in reset
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
    assert e["next_steps"][0]["command"].split()[0] in ("ansible", "ansible-playbook")


def test_command_context_inventory_and_target():
    ctx = CommandContext(inventory_args=["-i", "inventories/prod hosts.yml"], target="web-eu")
    e = evaluate_host(load("lab-web2"), ctx=ctx)
    words = shlex.split(e["next_steps"][0]["command"])
    assert words[:6] == ["ansible-playbook", "playbooks/emergency_reset.yml", "-i", "inventories/prod hosts.yml",
                         "-l", "lab-web2"]
    assert "target=web-eu" in words


def test_hostile_crash_path_is_shell_quoted_in_the_hunt_command():
    raw = load("lab-web2")
    evil = "/a/x.php?$(rm -rf /)'<script>"
    for inc in raw["evidence"]["incidents"]:
        for r in inc["requests"]:
            r["path"] = evil
    e = evaluate_host(raw)
    hunt = [s for s in e["next_steps"] if s["kind"] == "hunt"][0]["command"]
    assert shlex.split(hunt)[-1] == "url=http://127.0.0.1" + evil


def test_nothing_stale_means_full_reset():
    raw = load("lab-web2")
    for m in raw["opcache"]["masters"]:
        m["scripts"], m["stale_counts"] = [], {"certain": 0, "possible": 0}
    e = evaluate_host(raw)
    assert "-e mode=full" in e["next_steps"][0]["command"]


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
    assert e["verdict"] == "healthy"


def test_build_report_and_summary():
    rep = build_report([load("lab-web2"), healthy(load("lab-web3")),
                        {"host": "lab-web9", "status": "unreachable", "error": "no such container"}],
                       generated_at="2026-11-26T17:20:00Z", window={"since": "24h"})
    assert rep["schema_version"] == 1
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


# ------------------------------------------------------------------ crashes against OPcache resets
# lab-web2: OPcache started 17:10:54; crashes tied to 502s at 17:10:58, 17:11:02, 17:11:04 (pool www,
# master 6087, /a/report.php); no reset in the capture. lab-web3 as captured: crashes until 17:15:33,
# then opcache_reset() of both masters (17:22:20 and 17:19:40) by a benchmark, nothing since.

def epoch(iso):
    return int(datetime.datetime.fromisoformat(iso).timestamp())


def web2_with(stats=None, invalidated=None, inv_key=None, inv_last_restart=0):
    raw = copy.deepcopy(load("lab-web2"))
    m = raw["opcache"]["masters"][0]
    m["status"]["opcache_statistics"].update(stats or {})
    if invalidated is not None:
        key = inv_key or "%s:%s" % (m["master_pid"], m["status"]["opcache_statistics"]["start_time"])
        data = {key: {"last_restart_time": inv_last_restart, "files": invalidated}}
        raw["opcache_invalidations"] = {"content": base64.b64encode(json.dumps(data).encode()).decode()}
    return raw


def test_no_reset_since_the_crashes_leaves_the_verdict_as_it_was():
    e = evaluate_host(load("lab-web2"))
    assert e["reset_check"] is None and e["resolved_by_reset"] is False and e["priority"] == "high"
    assert e["reasons"][0]["code"] == "crashes_tied_to_502"
    assert [s["kind"] for s in e["next_steps"]] == ["reset", "hunt"]
    assert [(c["kind"], c["time"]) for c in e["masters"][0]["cache_events"]] == [("start", "2026-11-26T17:10:54+00:00")]
    assert all(p["reset_check"] is None for p in e["pools"])


def test_no_opcache_status_means_no_reset_check():
    raw = web2_with({"last_restart_time": epoch("2026-11-26T17:30:00+00:00"), "manual_restarts": 1})
    raw["opcache"] = {"msg": "ECONNREFUSED", "masters": [], "failed_masters": []}
    e = evaluate_host(raw)
    assert e["reset_check"] is None and [s["kind"] for s in e["next_steps"]] == ["reset", "hunt"]


def test_full_reset_after_the_last_crash_resolves_and_keeps_the_evidence():
    raw = web2_with({"last_restart_time": epoch("2026-11-26T17:44:02+00:00"), "manual_restarts": 1})
    e = evaluate_host(raw)
    assert e["verdict"] == "opcache_suspect" and e["resolved_by_reset"] is True and e["priority"] == "low"
    chk = e["reset_check"]
    assert chk["state"] == "resolved_by_reset" and chk["reset_kind"] == "reset" and chk["master_pid"] == 6087
    assert chk["last_crash"] == "2026-11-26T17:11:04+00:00" and chk["reset_at"] == "2026-11-26T17:44:02+00:00"
    assert chk["crashes_since"] == 0 and chk["gateway_502s_since"] == 0
    text = e["reasons"][0]["text"]
    assert e["reasons"][0]["code"] == "resolved_by_reset"
    assert text.startswith("last crash 17:11:04 (tied to 502s); OPcache reset at 17:44:02; no crash")
    # the evidence stays, after the resolution
    assert "crashes_tied_to_502" in [r["code"] for r in e["reasons"][1:]]
    assert e["evidence"]["tied_502s"] == 6
    # verify the page, then hunt + blacklist if it comes back; never another reset
    kinds = [s["kind"] for s in e["next_steps"]]
    assert kinds == ["inspect", "hunt"]
    assert shlex.split(e["next_steps"][0]["command"]) == [
        "ansible", "lab-web2", "-m", "ansible.builtin.uri", "-a", '{"url": "http://127.0.0.1/a/report.php"}']
    assert e["next_steps"][1]["command"] == ("ansible-playbook playbooks/culprit_hunt.yml -l lab-web2 "
                                             "-e url=http://127.0.0.1/a/report.php -e blacklist=true")
    pools = dict((p["name"], p) for p in e["pools"])
    secs = dict((s["prefix"], s) for s in e["sections"])
    assert pools["www"]["resolved_by_reset"] and pools["www"]["priority"] == "low"
    assert secs["/a/"]["resolved_by_reset"] and secs["/a/"]["reasons"][0]["code"] == "resolved_by_reset"
    assert secs["/b/"]["reset_check"] is None and secs["/b/"]["priority"] is None


def test_real_capture_reset_by_a_benchmark_after_the_crashes():
    e = evaluate_host(load("lab-web3"))
    assert e["resolved_by_reset"] and e["reset_check"]["reset_at"] == "2026-11-26T17:22:20+00:00"
    assert e["reset_check"]["last_crash"] == "2026-11-26T17:12:19+00:00"
    pools = dict((p["name"], p) for p in e["pools"])
    assert pools["site-b"]["resolved_by_reset"] and pools["site-a"]["resolved_by_reset"]
    assert pools["alt"]["verdict"] == "healthy" and pools["alt"]["reset_check"] is None
    assert "reset" not in [s["kind"] for s in e["next_steps"]]
    resets = e["timeline"]["resets"]
    assert ("2026-11-26T17:22:20+00:00", "reset", 6856) in [(r["t"], r["kind"], r["master_pid"]) for r in resets]


def test_stale_invalidation_after_the_crash_resolves_and_names_the_files():
    inv = {"/srv/app/releases/a/src/Report/CsvExporter.php": epoch("2026-11-26T17:12:00+00:00")}
    e = evaluate_host(web2_with(invalidated=inv))
    chk = e["reset_check"]
    assert chk["state"] == "resolved_by_reset" and chk["reset_kind"] == "invalidate"
    assert chk["invalidated_files"] == ["/srv/app/releases/a/src/Report/CsvExporter.php"]
    assert "cached files invalidated (CsvExporter.php) at 17:12:00" in e["reasons"][0]["text"]
    assert "deploys need a reset" in e["next_steps"][1]["why"]
    assert e["masters"][0]["cache_events"][-1] == {
        "kind": "invalidate", "time": "2026-11-26T17:12:00+00:00", "files": list(inv),
        "text": "1 cached file invalidated (opcache_reset stale/files or the culprit hunt)"}


@pytest.mark.parametrize("change", [{"inv_key": "6087:1795700000"}, {"inv_last_restart": 1795713100}])
def test_invalidations_of_another_cache_generation_are_ignored(change):
    inv = {"/srv/app/releases/a/src/Report/CsvExporter.php": epoch("2026-11-26T17:12:00+00:00")}
    e = evaluate_host(web2_with(invalidated=inv, **change))
    assert e["reset_check"] is None and [s["kind"] for s in e["next_steps"]] == ["reset", "hunt"]


def test_unreadable_invalidation_record_is_a_note_not_a_failure():
    raw = web2_with()
    raw["opcache_invalidations"] = {"content": base64.b64encode(b"{not json").decode()}
    e = evaluate_host(raw)
    assert e["reset_check"] is None and "invalidations_unreadable" in [n["code"] for n in e["notes"]]
    absent = web2_with()
    absent["opcache_invalidations"] = {"msg": "file not found: /var/lib/opcache-fleet/invalidated.json"}
    assert "invalidations_unreadable" not in [n["code"] for n in evaluate_host(absent)["notes"]]


def test_master_restarted_after_the_crash_resolves():
    e = evaluate_host(web2_with({"start_time": epoch("2026-11-26T17:20:00+00:00")}))
    assert e["reset_check"]["reset_kind"] == "start" and e["resolved_by_reset"]
    assert "php-fpm master (re)started or reloaded (new OPcache) at 17:20:00" in e["reasons"][0]["text"]


def test_crashes_after_a_full_reset_say_the_reset_did_not_cure_it():
    # reset at 17:11:00: the crashes of 17:11:02 and 17:11:04 came after it
    e = evaluate_host(web2_with({"last_restart_time": epoch("2026-11-26T17:11:00+00:00"), "manual_restarts": 1}))
    chk = e["reset_check"]
    assert chk["state"] == "crashes_after_reset" and not e["resolved_by_reset"] and e["priority"] == "high"
    assert (chk["crashes_since"], chk["gateway_502s_since"]) == (2, 2)
    assert chk["last_since"] == "2026-11-26T17:11:04+00:00"
    assert chk["paths_since"] == [{"path": "/a/crash.php", "count": 1}, {"path": "/a/report.php", "count": 1}]
    assert e["reasons"][0]["code"] == "crashes_after_reset"
    text = e["reasons"][0]["text"]
    assert text.startswith("THE RESET DID NOT CURE IT: OPcache reset at 17:11:00 after the last crash 17:10:58")
    assert "2 crashes and 2 crash 502s since (last 17:11:04; /a/crash.php (1), /a/report.php (1))" in text
    assert "not a stale-cache problem" in text
    assert [s["kind"] for s in e["next_steps"]] == ["hunt", "inspect"]
    assert e["next_steps"][0]["command"].endswith("-e url=http://127.0.0.1/a/crash.php")
    assert "another reset will not cure it" in e["next_steps"][1]["why"]


def test_crashes_after_an_invalidation_point_at_another_file_and_a_full_reset():
    inv = {"/srv/app/releases/a/src/Util/Str.php": epoch("2026-11-26T17:11:00+00:00")}
    e = evaluate_host(web2_with(invalidated=inv))
    assert e["reset_check"]["state"] == "crashes_after_reset"
    assert "another cached file crashes" in e["reasons"][0]["text"]
    assert [s["kind"] for s in e["next_steps"]] == ["hunt", "reset"]
    assert e["next_steps"][1]["command"].endswith("-e mode=full")


def test_a_502_after_the_reset_without_a_logged_crash_still_counts():
    raw = web2_with({"last_restart_time": epoch("2026-11-26T17:12:00+00:00"), "manual_restarts": 1})
    raw["evidence"]["events"].append({"category": "upstream_reset", "source_kind": "nginx", "path": "/a/report.php",
                                      "timestamp": "2026-11-26T17:13:00+00:00",
                                      "upstream": "fastcgi://unix:/run/php-fpm/www.sock:"})
    chk = evaluate_host(raw)["reset_check"]
    assert chk["state"] == "crashes_after_reset" and (chk["crashes_since"], chk["gateway_502s_since"]) == (0, 1)


def test_capped_events_fall_back_on_last_seen():
    raw = web2_with({"last_restart_time": epoch("2026-11-26T17:12:00+00:00"), "manual_restarts": 1})
    raw["evidence"]["events_truncated"] = True
    raw["evidence"]["last_seen"]["upstream_reset"] = "2026-11-26T17:30:00+00:00"
    assert evaluate_host(raw)["reset_check"]["state"] == "crashes_after_reset"


def test_same_second_crash_counts_before_the_reset():
    e = evaluate_host(web2_with({"last_restart_time": epoch("2026-11-26T17:11:04+00:00"), "manual_restarts": 1}))
    assert e["reset_check"]["state"] == "resolved_by_reset"
    # a reset in the second of the first crash is not "after the crashes began"
    e = evaluate_host(web2_with({"last_restart_time": epoch("2026-11-26T17:10:58+00:00"), "manual_restarts": 1}))
    assert e["reset_check"] is None


def test_two_masters_one_reset_one_not():
    raw = without_resets(load("lab-web3"))
    raw["evidence"]["incidents"][-1]["pool"] = "alt"  # the untied 17:15:33 crash, now on the second master
    first = [m for m in raw["opcache"]["masters"] if m["master_pid"] == 6856][0]
    first["status"]["opcache_statistics"].update(last_restart_time=epoch("2026-11-26T17:22:20+00:00"),
                                                 manual_restarts=1)
    e = evaluate_host(raw)
    assert e["reset_check"] is None and not e["resolved_by_reset"] and e["priority"] == "high"
    pools = dict((p["name"], p) for p in e["pools"])
    assert pools["site-b"]["resolved_by_reset"] and pools["alt"]["reset_check"] is None
    reset = [s for s in e["next_steps"] if s["kind"] == "reset"][0]["command"]
    assert reset.endswith("-e masters=/etc/php-fpm-alt/php-fpm.conf")


def test_fleet_lists_resolved_hosts_and_puts_their_steps_last():
    resolved = web2_with({"last_restart_time": epoch("2026-11-26T17:44:02+00:00"), "manual_restarts": 1})
    broken = copy.deepcopy(load("lab-web2"))
    broken["host"] = "lab-web5"
    rep = build_report([resolved, broken], generated_at="2026-11-26T18:00:00Z")
    assert rep["fleet"]["resolved_by_reset"] == ["lab-web2"] and rep["fleet"]["crashes_after_reset"] == []
    assert [(s["host"], s["kind"], s["priority"]) for s in rep["fleet"]["next_steps"]] == [
        ("lab-web5", "reset", "high"), ("lab-web2", "inspect", "low")]
    lines = summary_lines(rep)
    assert any(line.startswith("lab-web2: opcache_suspect (high), resolved by reset, priority low - last crash")
               for line in lines)
    assert any("/a/ /srv/app/releases/a: opcache_suspect (resolved by reset)" in line for line in lines)


@pytest.mark.parametrize("value,expected", [
    ({"data": {"1:2": {}}}, ({"1:2": {}}, None)),
    ({"content": base64.b64encode(b"[1]").decode()}, ({}, "invalidated.json is not a JSON object")),
    ({"msg": "file not found"}, ({}, None)),
    (None, ({}, None)),
])
def test_load_invalidations(value, expected):
    assert load_invalidations(value) == expected


def test_parse_time():
    assert parse_time("2026-11-26T17:44:02Z").timestamp() == epoch("2026-11-26T17:44:02+00:00")
    assert parse_time(0) is None and parse_time("yesterday") is None and parse_time(None) is None
    assert parse_time("2026-11-26T18:44:02+01:00").timestamp() == epoch("2026-11-26T17:44:02+00:00")
