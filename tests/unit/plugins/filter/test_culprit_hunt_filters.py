# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters of playbooks/culprit_hunt.yml: hosts and URLs from diagnose's report (docs/report-schema.md)."""
import importlib.util
import os

import pytest
from unit_paths import PROJECT_ROOT

ROOT = PROJECT_ROOT
_spec = importlib.util.spec_from_file_location(
    "culprit_hunt_filters", os.path.join(ROOT, "playbooks", "filter_plugins", "culprit_hunt.py"))
f = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(f)

REPORT = {"schema_version": 1, "hosts": [
    {"name": "web1", "verdict": "opcache_suspect",
     "pools": [{"name": "www", "verdict": "opcache_suspect",
                "top_crash_paths": [{"path": "/a/report.php", "count": 7}, {"path": "/a/x.php", "count": 1}]}],
     "next_steps": [{"kind": "reset", "command": "ansible-playbook playbooks/emergency_reset.yml -l web1"},
                    {"kind": "hunt", "command": "ansible-playbook playbooks/culprit_hunt.yml -l web1 -e "
                                                "'url=http://shop.example/a/report.php'"}]},
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


@pytest.mark.parametrize("bad", [{}, {"hosts": "x"}, [], "text"])
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
    assert f.culprit_probes(["u1"], "200") == [{"url": "u1", "status": [200]}]
