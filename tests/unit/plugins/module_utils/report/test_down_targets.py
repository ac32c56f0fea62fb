# SPDX-License-Identifier: GPL-3.0-or-later
"""A php-fpm that is stopped while nginx still routes to it: no crash, no 502 in the window,
and still never healthy (diagnose_host's upstream_probes, judged by the report)."""
import copy
import json
import os

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.assembly import evaluate_host
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.judge import judge
from unit_paths import FIXTURES_ROOT

SOCK = "unix:/run/php-fpm/www.sock"


def quiet_web2(name="lab-web2"):
    """A lab host as captured on the lab (diagnose fixture), without its crash evidence and
    stale scripts: a healthy host."""
    with open(os.path.join(FIXTURES_ROOT, "diagnose", name + ".json")) as fh:
        raw = json.load(fh)
    raw["evidence"].update(incidents=[], events=[], incidents_total=0,
                           counts={"total": 0, "by_category": {}, "by_file": {}, "by_source_kind": {}})
    for master in raw["opcache"]["masters"]:
        master.update(scripts=[], stale_counts={"certain": 0, "possible": 0, "fresh": 10, "unknown": 0})
    return raw


def stopped(state="missing", detail="no such socket file"):
    """lab-web2 with php-fpm stopped: no master, nginx's target unmatched, the probe's answer."""
    raw = copy.deepcopy(quiet_web2())
    nginx = raw["discovery"]["nginx"]
    nginx["unmatched_targets"] = [dict(t, local=True, reason="no discovered pool listens there")
                                  for t in nginx["fastcgi_targets"]]
    nginx["fastcgi_targets"] = []
    raw["discovery"]["masters"] = []
    raw["opcache"] = {"msg": "no running php-fpm master found", "failed_masters": [], "masters": []}
    raw["upstream_probes"] = [{"target": SOCK, "state": state, "detail": detail,
                               "uses": [{"server_name": t["server_name"], "location": t["location"], "root": t["root"]}
                                        for t in nginx["unmatched_targets"]]}]
    return raw


def test_healthy_fixture_is_healthy_without_probes():
    assert evaluate_host(quiet_web2())["verdict"] == "healthy"


def test_stopped_php_fpm_is_misconfig_with_the_target_and_high_priority():
    e = evaluate_host(stopped())
    assert e["verdict"] == "misconfig" and e["priority"] == "high"
    down = [r for r in e["reasons"] if r["code"] == "fastcgi_target_down"]
    assert len(down) == 1
    assert SOCK in down[0]["text"] and "no such socket file" in down[0]["text"]
    assert "php-fpm is stopped or listens elsewhere" in down[0]["text"] and "server _" in down[0]["text"]
    step = e["next_steps"][0]
    assert "start the php-fpm master that should listen on " + SOCK in step["why"]
    # Each release folder under the nginx root is not served either.
    assert e["sections"] and all(s["verdict"] == "misconfig" for s in e["sections"])


def test_a_socket_where_something_listens_is_not_a_down_target():
    e = evaluate_host(stopped(state="listening", detail="something listens there"))
    assert e["verdict"] == "healthy"
    e = evaluate_host(stopped(state="refused", detail="connection refused"))
    assert e["verdict"] == "misconfig" and "connection refused" in e["reasons"][0]["text"]


def test_judge_down_targets_alone():
    j = judge({"counts": {}, "down_targets": [{"target": "127.0.0.1:9000", "detail": "connection refused",
                                               "uses": [{"server_name": "shop", "location": "/"}]}]})
    assert j["verdict"] == "misconfig"
    assert j["reasons"][0]["text"].startswith("nginx passes PHP requests to 127.0.0.1:9000 (server shop, location /)")


def test_one_of_two_masters_stopped_takes_only_its_release_folder_down():
    """lab-web3: /a/ and /b/ go to the first master's pools, /c/ to php-fpm-alt, now stopped."""
    raw = copy.deepcopy(quiet_web2("lab-web3"))
    nginx = raw["discovery"]["nginx"]
    alt = [t for t in nginx["fastcgi_targets"] if t["pool"] == "alt"]
    nginx["fastcgi_targets"] = [t for t in nginx["fastcgi_targets"] if t["pool"] != "alt"]
    nginx["unmatched_targets"] = [dict(t, local=True) for t in alt]
    raw["discovery"]["masters"] = [m for m in raw["discovery"]["masters"]
                                   if all(p["name"] != "alt" for p in m["pools"])]
    raw["upstream_probes"] = [{"target": alt[0]["target"], "state": "refused", "detail": "connection refused",
                               "uses": [{"server_name": "_", "location": alt[0]["location"], "root": alt[0]["root"]}]}]
    e = evaluate_host(raw)
    assert e["verdict"] == "misconfig"
    verdicts = dict((s["prefix"], s["verdict"]) for s in e["sections"])
    assert verdicts == {"/a/": "healthy", "/b/": "healthy", "/c/": "misconfig"}
