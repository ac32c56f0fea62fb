# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The verdict ``unexplained`` (issue 10): a host is never healthy on evidence it did not see.

Crash 502s (nginx: connection reset or closed by php-fpm) that no worker crash explains, and
php-fpm masters whose crash log was not read (evidence.fpm_sources, from diagnose_host), keep a
host from ``healthy``. Records made before fpm_sources say nothing about what was read.
Fixtures: the lab captures (lab-web2: one master, pid 6087; lab-web3: two masters).
"""
import copy
import json
import os
import re

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.assembly import build_report, evaluate_host
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.judge import judge, priority_of
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.render import (
    CSS, attention_hosts, render_html, render_markdown,
)
from unit_paths import FIXTURES_ROOT, PROJECT_ROOT

JOURNAL = "journalctl -u php-fpm.service"
NO_JOURNALCTL = "its log goes to the journal and journalctl is not on this host"
UNTIED_TEXT = "4 nginx 502s (connection reset/closed by php-fpm) that no worker crash in the evidence read explains"


def load(name):
    with open(os.path.join(FIXTURES_ROOT, "diagnose", name + ".json")) as fh:
        return json.load(fh)


def quiet(name="lab-web2", host=None):
    """A lab capture without its crash evidence and stale scripts: a healthy host."""
    raw = load(name)
    raw["host"] = host or name
    raw["evidence"].update(incidents=[], events=[], incidents_total=0,
                           counts={"total": 0, "by_category": {}, "by_file": {}, "by_source_kind": {}})
    for master in raw["opcache"]["masters"]:
        master.update(scripts=[], stale_counts={"certain": 0, "possible": 0, "fresh": 10, "unknown": 0})
    return raw


def source(pid, config, status="scanned", kind="file", src="/var/log/php-fpm/error.log", reason=None, events=0):
    return {"master_pid": pid, "config": config, "error_log": "syslog" if kind == "syslog" else src,
            "error_log_kind": kind, "source": src, "status": status, "events": events, "reason": reason}


READ = source(6087, "/etc/php-fpm.conf")
NOT_READ = source(6087, "/etc/php-fpm.conf", status="not_read", kind="syslog", src=JOURNAL, reason=NO_JOURNALCTL)


def with_untied(raw, n=4, sources=None):
    """``n`` nginx 502s of a crash's kind (reset 3, prematurely closed the rest) and no crash."""
    raw = copy.deepcopy(raw)
    raw["evidence"]["counts"]["by_category"].update(upstream_reset=min(n, 3), upstream_prematurely_closed=max(0, n - 3))
    if sources is not None:
        raw["evidence"]["fpm_sources"] = sources
    return raw


def codes(entry):
    return [r["code"] for r in entry["reasons"]]


# ---------------------------------------------------------------------------- the judge

def test_untied_crash_502s_are_unexplained_with_the_sources_read():
    j = judge({"counts": {"upstream_reset": 3, "upstream_prematurely_closed": 1}, "sources_read": [JOURNAL]})
    assert j["verdict"] == "unexplained" and j["confidence"] is None and j["also"] == []
    assert j["reasons"] == [{"code": "untied_502s", "text": UNTIED_TEXT + "; crash evidence read: " + JOURNAL}]
    assert priority_of(j["verdict"], False, j["also"], j["reasons"]) == "high"


def test_crash_502s_all_tied_leave_nothing_unexplained():
    stats = {"counts": {"upstream_reset": 3}, "crashes": 3, "tied_crashes": 3, "tied_502s": 3, "crash_paths": {"/x": 3}}
    j = judge(stats)
    assert j["verdict"] == "opcache_suspect" and j["also"] == []
    j = judge(dict(stats, tied_502s=2))
    assert j["verdict"] == "opcache_suspect" and j["also"] == ["unexplained"]
    assert "1 nginx 502 (connection reset/closed by php-fpm)" in j["reasons"][-1]["text"]


def test_other_502s_leave_a_host_healthy_and_are_counted():
    """Connect failures below the thresholds, too big a header: not a crash's 502s."""
    j = judge({"counts": {"upstream_too_big_header": 2, "upstream_connect_refused": 1}}, thresholds={"misconfig": 5})
    assert j["verdict"] == "healthy"
    assert j["reasons"][0]["text"].endswith("(3 other 502s, none of a crash's kind)")


def test_crash_502s_of_a_scope_judged_at_the_host_are_not_other_502s():
    """A pool's or a folder's crash 502s are judged with the host's (untied_502s 0 here): its
    healthy reason counts the 502s of other kinds only."""
    j = judge({"counts": {"upstream_reset": 2, "upstream_too_big_header": 1}, "untied_502s": 0})
    assert j["verdict"] == "healthy" and j["reasons"][0]["text"].endswith("(1 other 502, none of a crash's kind)")


def test_a_master_whose_log_was_not_read_is_unexplained_medium():
    nr = {"master_pid": 412, "config": "/etc/php/8.2/fpm/php-fpm.conf", "reason": NO_JOURNALCTL}
    j = judge({"counts": {}, "not_read": [nr], "sources_read": []})
    assert j["verdict"] == "unexplained"
    assert j["reasons"] == [{"code": "evidence_not_read", "text": "crash evidence not read: master 412 "
                             "(/etc/php/8.2/fpm/php-fpm.conf): " + NO_JOURNALCTL}]
    assert priority_of(j["verdict"], False, j["also"], j["reasons"]) == "medium"


def test_a_reset_that_resolved_the_crashes_leaves_untied_502s_high():
    j = judge({"counts": {"upstream_reset": 3}, "crashes": 1, "tied_crashes": 1, "tied_502s": 1})
    assert j["also"] == ["unexplained"]
    assert priority_of("opcache_suspect", True, j["also"], j["reasons"]) == "high"
    assert priority_of("opcache_suspect", True, [], j["reasons"]) == "low"


# ---------------------------------------------------------------------------- a host

def test_untied_502s_make_a_quiet_host_unexplained():
    e = evaluate_host(with_untied(quiet(), sources=[READ]))
    assert e["verdict"] == "unexplained" and e["priority"] == "high" and e["also"] == []
    assert e["reasons"] == [{"code": "untied_502s", "text": UNTIED_TEXT + "; crash evidence read: "
                             "/var/log/php-fpm/error.log"}]
    assert e["evidence"]["untied_502s"] == 4
    step = e["next_steps"][0]
    assert (step["kind"], step["playbook"], step["vars"]) == ("inspect", "playbooks/diagnose.yml", {"since": "1h"})
    assert step["why"].startswith("4 nginx 502s (connection reset/closed by php-fpm) with no crash to explain them "
                                  "(the last crash 502 at 2026-11-26T17:11:04+00:00): read those 502 lines")
    assert "OOM kills and SIGKILL" in step["why"] and len(e["next_steps"]) == 1
    # judged for the host only: the pools' and folders' figures come from capped lists
    assert set(p["verdict"] for p in e["pools"]) == set(s["verdict"] for s in e["sections"]) == {"healthy"}


def test_no_untied_502_no_unread_log_is_healthy():
    e = evaluate_host(with_untied(quiet(), n=0, sources=[READ]))
    assert e["verdict"] == "healthy" and e["evidence"]["untied_502s"] == 0
    assert e["evidence"]["fpm_sources"] == [READ]


def test_an_old_record_without_fpm_sources_says_nothing_of_what_was_read():
    raw = with_untied(quiet())
    assert "fpm_sources" not in raw["evidence"]
    e = evaluate_host(raw)
    assert e["verdict"] == "unexplained" and e["reasons"] == [{"code": "untied_502s", "text": UNTIED_TEXT}]
    assert e["evidence"]["fpm_sources"] is None
    assert evaluate_host(quiet())["verdict"] == "healthy"


def test_a_master_whose_log_was_not_read_is_named_with_what_to_do():
    e = evaluate_host(with_untied(quiet(), n=0, sources=[NOT_READ]))
    assert e["verdict"] == "unexplained" and e["priority"] == "medium"
    assert e["reasons"] == [{"code": "evidence_not_read", "text": "crash evidence not read: master 6087 "
                             "(/etc/php-fpm.conf): " + NO_JOURNALCTL}]
    # its pool and the release folders the pool serves cannot be called healthy either
    assert [(p["name"], p["verdict"], p["priority"]) for p in e["pools"]] == [("www", "unexplained", "medium")]
    assert set(s["verdict"] for s in e["sections"]) == {"unexplained"}
    why = e["next_steps"][0]["why"]
    assert "master 6087 (/etc/php-fpm.conf): " + NO_JOURNALCTL + "; set error_log to a file or install journalctl" in why


def test_an_unread_log_first_then_the_untied_502s():
    e = evaluate_host(with_untied(quiet(), sources=[NOT_READ]))
    assert e["verdict"] == "unexplained" and e["priority"] == "high"
    assert codes(e) == ["untied_502s", "evidence_not_read"]
    assert e["reasons"][0]["text"].endswith("; crash evidence read: none")
    assert [s["why"][:40] for s in e["next_steps"]] == ["the crash log of php-fpm was not read, s",
                                                        "4 nginx 502s (connection reset/closed by"]


def test_only_the_masters_not_read_make_their_scopes_unexplained():
    """lab-web3: the alt master (pid 6905, pool alt, /c/) not read; the first master read."""
    raw = quiet("lab-web3")
    raw["evidence"]["fpm_sources"] = [
        source(6856, "/etc/php/8.2/fpm/php-fpm.conf", src="/var/log/php8.2-fpm.log", events=2),
        source(6905, "/etc/php-fpm-alt/php-fpm.conf", status="not_read", kind="file", src=None,
               reason="/var/log/php-fpm-alt.log: permission denied")]
    e = evaluate_host(raw)
    assert e["verdict"] == "unexplained" and len(e["reasons"]) == 1
    assert dict((p["name"], p["verdict"]) for p in e["pools"]) == {
        "site-a": "healthy", "site-b": "healthy", "alt": "unexplained"}
    assert dict((s["prefix"], s["verdict"]) for s in e["sections"]) == {
        "/a/": "healthy", "/b/": "healthy", "/c/": "unexplained"}
    assert "make the file readable" in e["next_steps"][0]["why"]


def test_crashes_with_untied_502s_stay_opcache_suspect_with_unexplained_also():
    raw = load("lab-web2")
    raw["evidence"]["counts"]["by_category"]["upstream_reset"] += 2
    e = evaluate_host(raw)
    assert e["verdict"] == "opcache_suspect" and e["also"] == ["unexplained"] and e["priority"] == "high"
    assert e["reasons"][-1]["code"] == "untied_502s" and e["reasons"][-1]["text"].startswith("2 nginx 502s")
    assert [s["kind"] for s in e["next_steps"]] == ["reset", "hunt"]
    assert evaluate_host(load("lab-web2"))["also"] == []


def test_capped_incidents_take_the_correlators_count_of_untied_502s():
    """Incidents past the module's cap (the oldest) took their tied 502s with them: the
    counts minus the listed incidents' 502s would call those untied."""
    raw = load("lab-web2")
    ev = raw["evidence"]
    ev["incidents_total"] = len(ev["incidents"]) + 10
    ev["counts"]["by_category"]["upstream_reset"] += 10
    assert ev["unmatched"]["gateway_errors"] == 0
    e = evaluate_host(raw)
    assert e["also"] == [] and e["evidence"]["untied_502s"] == 0
    ev["unmatched"]["gateway_errors"] = 3
    e = evaluate_host(raw)
    assert e["also"] == ["unexplained"] and e["evidence"]["untied_502s"] == 3


def test_a_502_of_a_worker_killed_without_crashing_is_unexplained_and_says_so():
    """SIGKILL (the OOM killer) is no crash: the 502 tied to it is not a crash's, it is named."""
    raw = quiet()
    raw["evidence"]["counts"]["by_category"]["upstream_reset"] = 1
    raw["evidence"]["incidents"] = [{"timestamp": "2026-11-26T17:11:04+00:00", "pool": "www", "pid": 7001,
                                     "signal_name": "SIGKILL", "signal_number": 9, "crash": False,
                                     "requests": [{"path": "/a/big.php", "category": "upstream_reset"}]}]
    raw["evidence"]["incidents_total"] = 1
    e = evaluate_host(raw)
    assert e["verdict"] == "unexplained"
    assert e["reasons"][0]["text"] == ("1 nginx 502 (connection reset/closed by php-fpm) that no worker crash in the "
                                       "evidence read explains; 1 came as a worker died without crashing (SIGKILL: "
                                       "killed or exited)")


# ---------------------------------------------------------------------------- the report

def fleet():
    web3 = quiet("lab-web3", "web-n1")
    web3["evidence"]["fpm_sources"] = [
        source(6856, "/etc/php/8.2/fpm/php-fpm.conf", src="/var/log/php8.2-fpm.log", events=2),
        source(6905, "/etc/php-fpm-alt/php-fpm.conf", status="not_read", kind="syslog", src="journalctl -t php-fpm",
               reason="<b>journalctl</b> failed: Permission denied")]
    down = quiet(host="web-d1")
    down["upstream_probes"] = [{"target": "unix:/run/php-fpm/www.sock", "state": "missing", "detail": "no such socket file",
                                "uses": [{"server_name": "_", "location": "/", "root": "/srv/app/releases"}]}]
    hosts = [quiet(host="web-h1"), load("lab-web2"), with_untied(quiet(host="web-u1"), sources=[READ]), web3, down]
    return build_report(hosts, generated_at="2026-11-26T18:00:00Z", window={"since": "24h"})


def test_the_fleet_counts_and_orders_down_first():
    rep = fleet()
    assert rep["fleet"]["verdict_counts"] == {"healthy": 1, "opcache_suspect": 1, "unexplained": 2, "down": 1}
    assert [h["name"] for h in attention_hosts(rep)] == ["web-d1", "lab-web2", "web-u1", "web-n1"]
    assert [s["host"] for s in rep["fleet"]["next_steps"]] == ["web-d1", "lab-web2", "web-u1", "web-n1"]


def test_html_shows_the_new_verdicts_and_the_crash_logs():
    page = render_html(fleet())
    counts = page[page.index('<table class="counts">'):]
    assert re.findall(r'<span class="v ([a-z_]+)">', counts[:counts.index("</table>")]) == [
        "down", "opcache_suspect", "unexplained", "healthy"]
    assert '<option value="down">down (1)</option>' in page and '<option value="unexplained">unexplained (2)</option>' in page
    assert ".v.down{background:" in CSS and ".v.unexplained{background:" in CSS
    table = page[page.index('<table id="attention">'):]
    assert re.findall(r'<tr><td><a href="#host-([^"]+)"', table[:table.index("</table>")]) == [
        "web-d1", "lab-web2", "web-u1", "web-n1"]
    host = page[page.index('id="host-web-n1"'):]
    host = host[:host.index("</details>")]
    assert ('<ul class="sources"><li class="notread">crash evidence not read: master 6905 (/etc/php-fpm-alt/php-fpm.conf): '
            "&lt;b&gt;journalctl&lt;/b&gt; failed: Permission denied</li><li>crash evidence read: master 6856 "
            "(/etc/php/8.2/fpm/php-fpm.conf): /var/log/php8.2-fpm.log (2 events)</li></ul>") in host
    assert "<b>journalctl" not in page
    # a record from before fpm_sources: no list
    lab = page[page.index('id="host-lab-web2"'):]
    assert 'class="sources"' not in lab[:lab.index("</details>")]


def test_markdown_shows_the_new_verdicts_and_the_crash_logs():
    md = render_markdown(fleet())
    assert "| down | 1 |" in md and "| unexplained | 2 |" in md
    assert md.index("| `web-d1` | **down** | high |") < md.index("| `lab-web2` | **opcache\\_suspect**")
    assert "| `web-n1` | **unexplained** | medium |" in md and "| `web-u1` | **unexplained** | high |" in md
    assert ("- `crash evidence not read: master 6905 (/etc/php-fpm-alt/php-fpm.conf): <b>journalctl</b> failed: "
            "Permission denied`") in md
    assert "- `crash evidence read: master 6856 (/etc/php/8.2/fpm/php-fpm.conf): /var/log/php8.2-fpm.log (2 events)`" in md


def test_the_json_schema_knows_the_new_verdicts_and_fpm_sources():
    jsonschema = pytest.importorskip("jsonschema")
    with open(os.path.join(PROJECT_ROOT, "docs", "report-schema.json")) as fh:
        schema = json.load(fh)
    rep = json.loads(json.dumps(fleet()))
    jsonschema.validate(rep, schema)
    bad = copy.deepcopy(rep)
    bad["hosts"][3]["evidence"]["fpm_sources"][0]["status"] = "skipped"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_a_capped_journal_window_is_said_in_the_report():
    def report_of(src):
        raw = quiet()
        raw["evidence"]["fpm_sources"] = [src]
        return build_report([raw], generated_at="2026-11-26T18:00:00Z", window={"since": "24h"})
    capped = dict(READ, source=JOURNAL, error_log_kind="syslog", error_log="syslog",
                  truncated="only the most recent 100000 journal entries of the window were read")
    report = report_of(capped)
    assert report["hosts"][0]["evidence"]["fpm_sources"][0]["truncated"].startswith("only the most recent 100000")
    assert "only the most recent 100000 journal entries" in render_html(report)
    assert "truncated" not in report_of(READ)["hosts"][0]["evidence"]["fpm_sources"][0]
