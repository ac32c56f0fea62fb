# SPDX-License-Identifier: GPL-3.0-or-later
"""Two php-fpm masters on one host that both have a pool [www] (issue 10 point 5): a pool is
its master and its name in the pools' verdicts, the 502s tied to them, the release folders
and the reset the report suggests. The lab-web3 capture (two masters), its crashing pool
site-b of php8.2-fpm and the pool alt of php-fpm-alt both renamed www."""
import copy
import json
import os

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.assembly import evaluate_host
from unit_paths import FIXTURES_ROOT

PACKAGED, ALT = "/etc/php/8.2/fpm/php-fpm.conf", "/etc/php-fpm-alt/php-fpm.conf"


def two_www(tag_masters=True):
    with open(os.path.join(FIXTURES_ROOT, "diagnose", "lab-web3.json")) as fh:
        raw = json.load(fh)
    raw = copy.deepcopy(raw)
    rename = {"site-b": "www", "alt": "www"}
    for m in raw["discovery"]["masters"]:
        for p in m["pools"]:
            p["name"] = rename.get(p["name"], p["name"])
    for t in raw["discovery"]["nginx"]["fastcgi_targets"]:
        t["pool"] = rename.get(t["pool"], t["pool"])
    raw["upstream_pools"] = dict((k, rename.get(v, v)) for k, v in raw["upstream_pools"].items())
    raw["upstream_masters"] = dict((t["target"], t["config"]) for t in raw["discovery"]["nginx"]["fastcgi_targets"])
    for rec in raw["evidence"]["incidents"] + raw["evidence"]["events"]:
        if rec.get("pool"):
            rec["pool"] = rename.get(rec["pool"], rec["pool"])
            if tag_masters:      # as collect_evidence tags them: the crash came from php8.2-fpm's log
                assert rec["file"] == "/var/log/php8.2-fpm.log"
                rec["master"] = PACKAGED
    # no reset since the crashes: the report suggests one
    for m in raw["opcache"]["masters"]:
        m["status"]["opcache_statistics"].update(last_restart_time=0, manual_restarts=0)
    return raw


def pools(entry):
    return dict(((p["config"], p["name"]), p) for p in entry["pools"])


def test_the_crashes_of_one_masters_www_stay_in_that_pool():
    e = evaluate_host(two_www())
    p = pools(e)
    assert p[(PACKAGED, "www")]["crashes"] == 5 and p[(PACKAGED, "www")]["verdict"] != "healthy"
    assert p[(PACKAGED, "www")]["tied_502s"] == 5
    assert p[(ALT, "www")]["crashes"] == 0 and p[(ALT, "www")]["tied_502s"] == 0
    assert p[(ALT, "www")]["verdict"] == "healthy"


def test_the_incidents_name_their_master():
    e = evaluate_host(two_www())
    assert set((i["pool"], i["config"]) for i in e["evidence"]["incidents"]) == {("www", PACKAGED), ("site-a", PACKAGED)}


def test_the_reset_step_names_only_the_crashing_master():
    steps = [s for s in evaluate_host(two_www())["next_steps"] if s["kind"] == "reset"]
    assert steps and all(s["vars"].get("masters") == PACKAGED for s in steps)


def test_release_folders_name_the_pool_with_its_master():
    secs = dict((s["prefix"], s) for s in evaluate_host(two_www())["sections"])
    assert secs["/b/"]["pools"] == ["www (%s)" % PACKAGED] and secs["/c/"]["pools"] == ["www (%s)" % ALT]
    assert secs["/a/"]["pools"] == ["site-a"]
    assert secs["/c/"]["verdict"] == "healthy"


def test_a_crash_whose_master_is_not_known_counts_for_both_pools_of_its_name():
    """A record without masters (a log two masters write, or an older record): which [www]
    crashed cannot be told, and neither pool is called healthy on it."""
    p = pools(evaluate_host(two_www(tag_masters=False)))
    assert p[(PACKAGED, "www")]["crashes"] == 5 and p[(ALT, "www")]["crashes"] == 5
    assert p[(ALT, "www")]["verdict"] != "healthy"
