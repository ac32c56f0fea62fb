# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters of playbooks/culprit_hunt.yml: hosts and URLs from diagnose's report (docs/report-schema.md)."""
import copy

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.filter import culprit_hunt as f
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.assembly import SCHEMA_VERSION

REPORT = {"schema_version": 2, "hosts": [
    {"name": "web1", "verdict": "opcache_suspect",
     "pools": [{"name": "www", "verdict": "opcache_suspect",
                "top_crash_paths": [{"path": "/a/report.php", "count": 7}, {"path": "/a/x.php", "count": 1}]}],
     "next_steps": [{"kind": "reset", "playbook": "playbooks/emergency_reset.yml", "limit": "web1",
                     "inventory": [], "vars": {"mode": "stale"},
                     "command": "ansible-playbook playbooks/emergency_reset.yml -l web1 -e '{\"mode\":\"stale\"}'"},
                    {"kind": "hunt", "playbook": "playbooks/culprit_hunt.yml", "limit": "web1", "inventory": [],
                     "vars": {"url": "http://shop.example/a/report.php"},
                     "command": "ansible-playbook playbooks/culprit_hunt.yml -l web1 -e "
                                "'{\"url\":\"http://shop.example/a/report.php\"}'"}]},
    {"name": "web2", "verdict": "healthy", "pools": [{"name": "www", "verdict": "healthy"}]},
    {"name": "web3", "verdict": "capacity",
     "pools": [{"name": "site-a", "verdict": "capacity"}],
     "sections": [{"prefix": "/c/", "verdict": "opcache_suspect", "crash_paths": [{"path": "/c/report.php", "count": 2}]}]},
    {"name": "web4", "verdict": "opcache_suspect", "pools": [], "next_steps": [],
     "evidence": {"top_crash_paths": {"www": [{"path": "/b/y.php", "count": 3}]}}},
]}


def test_report_targets():
    t = f.report_hunt_targets(REPORT)
    assert [x["host"] for x in t] == ["web1", "web3", "web4"]
    assert t[0]["urls"] == ["http://shop.example/a/report.php"] and t[0]["pools"] == ["www"]
    assert t[1]["urls"] == ["http://127.0.0.1/c/report.php"]
    assert t[2]["urls"] == ["http://127.0.0.1/b/y.php"]
    assert f.report_hunt_targets(REPORT, per_pool=2)[0]["urls"] == [
        "http://shop.example/a/report.php", "http://127.0.0.1/a/x.php"]


def test_report_urls_per_host():
    assert f.report_hunt_urls(REPORT, "web2") == []
    assert f.report_hunt_urls(REPORT, "nope") == []
    assert f.report_hunt_urls(REPORT, "web3") == ["http://127.0.0.1/c/report.php"]


@pytest.mark.parametrize("bad", [{}, {"hosts": "x", "schema_version": 2}, [], "text"])
def test_not_a_report(bad):
    with pytest.raises(ValueError) as err:
        f.report_hunt_targets(bad)
    assert "not a diagnose report" in str(err.value)


def test_summary_and_list():
    results = [
        {"url": "u1", "found": True, "culprit": "/a.php", "probes": 3, "candidates_considered": 45},
        {"url": "u2", "found": True, "culprit": ["/a.php", "/b.php"], "probes": 4, "candidates_considered": 9},
        {"url": "u3", "found": False, "msg": "nothing crashes"},
        {"item": "u4", "failed": True, "msg": "HTTP 404"},
    ]
    assert f.culprit_summary(results) == [
        "u1: culprit /a.php (3 probe(s), 45 cached scripts ranked)",
        "u2: culprit /a.php, /b.php (4 probe(s), 9 cached scripts ranked)",
        "u3: no culprit - nothing crashes", "u4: hunt failed - HTTP 404"]
    assert f.culprit_list(results) == ["/a.php", "/b.php"]
    assert f.culprit_probes(["http://127.0.0.1/a.php"], "200") == [{"url": "http://127.0.0.1/a.php", "status": [200]}]


def test_a_hunt_that_could_not_run_fails_the_host():
    """culprit_hunt.yml loops the module with failed_when: false, so Ansible registers a module
    failure with failed false: the cause the module gave is what tells (it used to print
    "no culprit" and leave the host green)."""
    registered = {"item": "https://shop.lab.test/a/crash.php", "failed": False, "failed_when_result": False,
                  "changed": False, "cause": "probe_connect",
                  "msg": "the probe could not connect to nginx (the TLS certificate of shop.lab.test was not accepted)"}
    ran = {"url": "u3", "found": False, "msg": "no candidate cured the probe", "changed": True}
    assert f.culprit_failures([registered, ran]) == [
        "https://shop.lab.test/a/crash.php: the probe could not connect to nginx (the TLS certificate of "
        "shop.lab.test was not accepted)"]
    assert f.culprit_summary([registered])[0].startswith("https://shop.lab.test/a/crash.php: hunt failed - ")
    assert f.culprit_list([dict(registered, found=None)]) == []


def test_probes_go_to_the_hosts_own_nginx_with_the_host_header():
    """A hunted URL's host may come from a log's Host header: the probe after the blacklist
    reload asks 127.0.0.1 for it (the virtual host), it never connects to that host."""
    assert f.culprit_probes(["http://shop.example/b/report.php?x=1", "https://shop.example:8443/"], 200) == [
        {"url": "http://127.0.0.1/b/report.php?x=1", "status": [200], "headers": {"Host": "shop.example"}},
        {"url": "https://127.0.0.1:8443/", "status": [200], "headers": {"Host": "shop.example:8443"},
         "validate_certs": False}]
    with pytest.raises(ValueError):
        f.culprit_probes(["file:///etc/passwd"])


def test_filters_read_the_report_schema_of_this_collection():
    assert f.REPORT_SCHEMA_VERSION == SCHEMA_VERSION == 2


@pytest.mark.parametrize("version,shown", [(1, "1"), (None, "missing"), (3, "3"), ("2", "2")])
def test_other_schema_versions_are_refused(version, shown):
    old = dict(REPORT, schema_version=version)
    if version is None:
        del old["schema_version"]
    with pytest.raises(ValueError) as err:
        f.report_hunt_urls(old, "web1")
    assert str(err.value) == "report.json schema_version %s; this collection reads 2: re-run diagnose" % shown


def test_hunt_url_comes_from_vars_not_from_the_command_text():
    rep = copy.deepcopy(REPORT)
    host = rep["hosts"][0]
    host["pools"] = []
    hunt = host["next_steps"][1]
    hunt["vars"] = {"url": "http://shop.example/a/report.php?q=1 2", "blacklist": True}
    hunt["command"] = "ansible-playbook playbooks/culprit_hunt.yml -l web1 -e url=http://evil.example/other.php"
    assert f.report_hunt_urls(rep, "web1") == ["http://shop.example/a/report.php?q=1 2"]
    hunt["vars"] = {}
    assert f.report_hunt_urls(rep, "web1") == []


def test_filter_module_lists_the_filters_of_the_playbook():
    assert sorted(f.FilterModule().filters()) == [
        "culprit_failures", "culprit_list", "culprit_probes", "culprit_report_targets", "culprit_report_urls",
        "culprit_summary"]
