# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""report.reset_check: did an OPcache reset, reload or invalidation stop the crashes?

Through evaluate_host/build_report on the lab captures, as the report shows it.
"""
import base64
import copy
import datetime
import json
import os
import shlex

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.assembly import (
    build_report, evaluate_host, summary_lines,
)
from unit_paths import FIXTURES_ROOT

FIXTURES = os.path.join(FIXTURES_ROOT, "diagnose")


def load(name):
    with open(os.path.join(FIXTURES, name + ".json")) as fh:
        return json.load(fh)


def without_resets(raw):
    """The same capture as if OPcache had never been reset after the crashes."""
    raw = copy.deepcopy(raw)
    for m in raw["opcache"]["masters"]:
        m["status"]["opcache_statistics"].update(last_restart_time=0, manual_restarts=0)
    return raw


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
    verify, hunt = e["next_steps"]
    assert (verify["playbook"], verify["module"], verify["module_args"], verify["limit"]) == (
        None, "ansible.builtin.uri", {"url": "http://127.0.0.1/a/report.php"}, "lab-web2")
    assert shlex.split(verify["command"]) == [
        "ansible", "lab-web2", "-m", "ansible.builtin.uri", "-a", '{"url":"http://127.0.0.1/a/report.php"}']
    assert hunt["vars"] == {"url": "http://127.0.0.1/a/report.php", "blacklist": True}
    assert hunt["command"] == ("ansible-playbook playbooks/culprit_hunt.yml -l lab-web2 "
                               "-e '{\"blacklist\":true,\"url\":\"http://127.0.0.1/a/report.php\"}'")
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
    assert e["next_steps"][0]["vars"] == {"url": "http://127.0.0.1/a/crash.php"}
    assert e["next_steps"][1]["playbook"] == "playbooks/diagnose.yml" and e["next_steps"][1]["vars"] == {"since": "1h"}
    assert "another reset will not cure it" in e["next_steps"][1]["why"]


def test_crashes_after_an_invalidation_point_at_another_file_and_a_full_reset():
    inv = {"/srv/app/releases/a/src/Util/Str.php": epoch("2026-11-26T17:11:00+00:00")}
    e = evaluate_host(web2_with(invalidated=inv))
    assert e["reset_check"]["state"] == "crashes_after_reset"
    assert "another cached file crashes" in e["reasons"][0]["text"]
    assert [s["kind"] for s in e["next_steps"]] == ["hunt", "reset"]
    assert e["next_steps"][1]["vars"] == {"mode": "full"}


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
    reset = [s for s in e["next_steps"] if s["kind"] == "reset"][0]
    assert reset["vars"]["masters"] == "/etc/php-fpm-alt/php-fpm.conf"


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
