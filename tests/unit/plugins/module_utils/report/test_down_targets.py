# SPDX-License-Identifier: GPL-3.0-or-later
"""A php-fpm that is stopped while nginx still routes to it: no crash, no 502 in the window,
and still never healthy (diagnose_host's upstream_probes, judged by the report): verdict
``down``, before every other (issue 10)."""
import copy
import json
import os

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.assembly import build_report, evaluate_host
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.judge import judge, priority_of
from unit_paths import FIXTURES_ROOT

SOCK = "unix:/run/php-fpm/www.sock"


def load_fixture(name):
    with open(os.path.join(FIXTURES_ROOT, "diagnose", name + ".json")) as fh:
        return json.load(fh)


def quiet_web2(name="lab-web2"):
    """A lab host as captured on the lab (diagnose fixture), without its crash evidence and
    stale scripts: a healthy host."""
    raw = load_fixture(name if name.startswith("lab-") else "lab-web2")
    raw["host"] = name
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


def test_stopped_php_fpm_is_down_with_the_target_and_high_priority():
    e = evaluate_host(stopped())
    assert e["verdict"] == "down" and e["priority"] == "high"
    down = [r for r in e["reasons"] if r["code"] == "fastcgi_target_down"]
    assert len(down) == 1
    assert SOCK in down[0]["text"] and "no such socket file" in down[0]["text"]
    assert "php-fpm is stopped or listens elsewhere" in down[0]["text"] and "server _" in down[0]["text"]
    step = e["next_steps"][0]
    assert "start the php-fpm master that should listen on " + SOCK in step["why"]
    assert step["module"] == "phpfpm.opcache_fleet.fpm_discover" and len(e["next_steps"]) == 1
    # Each release folder under the nginx root is not served either.
    assert e["sections"] and all(s["verdict"] == "down" and s["priority"] == "high" for s in e["sections"])


def test_the_connect_errors_of_a_down_master_get_no_second_step():
    """nginx's connect() errors to the stopped master's socket make misconfig too (also): the down
    step already runs fpm_discover and says what misconfig's would."""
    raw = stopped()
    raw["evidence"]["counts"]["by_category"]["upstream_connect_enoent"] = 5
    e = evaluate_host(raw)
    assert e["verdict"] == "down" and e["also"] == ["misconfig"]
    assert len(e["next_steps"]) == 1 and "fix the socket permissions" in e["next_steps"][0]["why"]


def test_a_socket_where_something_listens_is_not_a_down_target():
    e = evaluate_host(stopped(state="listening", detail="something listens there"))
    assert e["verdict"] == "healthy"
    e = evaluate_host(stopped(state="refused", detail="connection refused"))
    assert e["verdict"] == "down" and "connection refused" in e["reasons"][0]["text"]


def test_judge_down_targets_alone():
    j = judge({"counts": {}, "down_targets": [{"target": "127.0.0.1:9000", "detail": "connection refused",
                                               "uses": [{"server_name": "shop", "location": "/"}]}]})
    assert j["verdict"] == "down" and j["also"] == []
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
    assert e["verdict"] == "down"
    verdicts = dict((s["prefix"], s["verdict"]) for s in e["sections"])
    assert verdicts == {"/a/": "healthy", "/b/": "healthy", "/c/": "down"}


DOWN = [{"target": "127.0.0.1:9000", "detail": "connection refused", "uses": [{"server_name": "shop", "location": "/"}]}]


def test_down_comes_first_even_with_crashes_and_socket_errors():
    """A master that is down explains the connect() errors and hides nothing else: down first,
    its reason first, the crashes and socket errors after it (also), priority high."""
    stats = {"counts": {"upstream_reset": 2, "upstream_connect_refused": 5}, "crashes": 2, "tied_crashes": 2,
             "tied_502s": 2, "crash_paths": {"/a/report.php": 2}, "down_targets": DOWN}
    j = judge(stats)
    assert j["verdict"] == "down" and j["also"] == ["opcache_suspect", "misconfig"]
    assert [r["code"] for r in j["reasons"]][:2] == ["fastcgi_target_down", "crashes_tied_to_502"]
    assert priority_of(j["verdict"], False, j["also"], j["reasons"]) == "high"


def test_a_down_host_with_crashes_gets_the_start_step_then_the_reset():
    """lab-web2 as captured (crashes on /a/report.php) with its socket down: the down step first,
    then the steps of the crashes (not a second fpm_discover for the connect() errors)."""
    raw = load_fixture("lab-web2")
    raw["upstream_probes"] = [{"target": SOCK, "state": "refused", "detail": "connection refused",
                               "uses": [{"server_name": "_", "location": "~ \\.php$", "root": "/srv/app/releases"}]}]
    raw["evidence"]["counts"]["by_category"]["upstream_connect_refused"] = 3
    e = evaluate_host(raw)
    assert e["verdict"] == "down" and e["also"][:2] == ["opcache_suspect", "misconfig"] and e["priority"] == "high"
    assert e["reasons"][0]["code"] == "fastcgi_target_down"
    assert [s["kind"] for s in e["next_steps"]] == ["inspect", "reset", "hunt"]
    assert e["next_steps"][0]["why"].startswith("start the php-fpm master that should listen on " + SOCK)
    rep = build_report([quiet_web2("web-ok"), load_fixture("lab-web2"), raw], generated_at="2026-11-26T18:00:00Z")
    assert rep["fleet"]["verdict_counts"] == {"healthy": 1, "opcache_suspect": 1, "down": 1}
