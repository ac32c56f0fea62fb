# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The report for many hosts (issue 14): the fleet summary first, healthy hosts collapsed,
rounded figures and words for booleans in report.md and report.html (raw values in
report.json), capped lists with "and N more", one inline script allowed by its hash, and
nothing a host writes becoming markup. The browser side is tests/browser."""
import base64
import copy
import hashlib
import json
import os
import re
from html.parser import HTMLParser

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.assembly import build_report
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.render import (
    CAPS, SCRIPT, attention_hosts, content_security_policy, render_html, render_json, render_markdown, script_hash,
)
from unit_paths import FIXTURES_ROOT

HIT_RATE = 79.78260869565217


def load(name):
    with open(os.path.join(FIXTURES_ROOT, "diagnose", name + ".json")) as fh:
        return json.load(fh)


def healthy(raw, name):
    """A captured host with its crashes and 502s taken out (stale scripts stay: notes, no verdict)."""
    raw = dict(copy.deepcopy(raw), host=name)
    raw["evidence"].update(incidents=[], events=[], incidents_total=0,
                           counts={"total": 0, "by_category": {}, "by_file": {}, "by_source_kind": {}})
    return raw


def misconfig(name):
    raw = healthy(load("lab-web2"), name)
    raw["evidence"]["counts"]["by_category"] = {"upstream_connect_eacces": 4}
    return raw


def fleet():
    """lab-web2 poisoned (hit rate as in the issue), two healthy hosts, a misconfig one, an unreachable one."""
    poisoned = load("lab-web2")
    poisoned["opcache"]["masters"][0]["status"]["opcache_statistics"]["opcache_hit_rate"] = HIT_RATE
    hosts = [healthy(load("lab-web2"), "web-h1"), poisoned, misconfig("web-m1"), healthy(load("lab-web3"), "web-h2"),
             {"host": "web-u1", "status": "unreachable", "error": "ssh: connect to host web-u1 port 22: timed out"}]
    return build_report(hosts, generated_at="2026-11-26T18:00:00Z", window={"since": "24h"})


class Page(HTMLParser):
    """Tags with their attributes, in order, and the text of each <script>."""

    def __init__(self):
        HTMLParser.__init__(self)
        self.tags, self.scripts, self._in_script = [], [], False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag):
        self._in_script = False if tag == "script" else self._in_script

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data


def parse(page):
    p = Page()
    p.feed(page)
    return p


# ---------------------------------------------------------------------------- numbers and booleans

def test_html_rounds_the_hit_rate_and_says_yes_no():
    page = render_html(fleet())
    assert "hit rate 79.8 %" in page and "full: no" in page and "memory 9.0 MiB used of 128.0 MiB" in page
    assert str(HIT_RATE) not in page and "79.78" not in page
    assert "full=" not in page and "False" not in page and "True" not in page
    assert "validate_timestamps off" in page and "memory_consumption 128 MiB" in page


def test_markdown_rounds_the_hit_rate_and_says_yes_no():
    md = render_markdown(fleet())
    assert "hit rate 79.8 %" in md and "full: no" in md
    assert "79.78" not in md and "False" not in md and "True" not in md
    assert "emergency_restart_threshold not set" in md
    assert "stale scripts: certain 0, possible 1, fresh 61, unknown 0" in md
    assert '{"certain"' not in md


def test_json_keeps_the_raw_values_one_line_per_host():
    text = render_json(fleet())
    rep = json.loads(text)
    master = [h for h in rep["hosts"] if h["name"] == "lab-web2"][0]["masters"][0]["opcache"]
    assert master["hit_rate"] == HIT_RATE and master["cache_full"] is False
    host_lines = [line for line in text.splitlines() if line.startswith('{"also"')]
    assert [json.loads(line.rstrip(","))["name"] for line in host_lines] == [h["name"] for h in rep["hosts"]]


# ---------------------------------------------------------------------------- summary first, healthy collapsed

def test_summary_comes_first_then_the_filter_then_hosts_by_urgency():
    rep = fleet()
    page = render_html(rep)
    tags = parse(page).tags
    ids = [a.get("id") for t, a in tags if a.get("id")]
    assert ids.index("summary") < ids.index("filter") < ids.index("attention-hosts") < ids.index("healthy")
    # the attention table: the hosts that are not healthy, priority high, then no result
    assert [h["name"] for h in attention_hosts(rep)] == ["lab-web2", "web-m1", "web-u1"]
    table = page[page.index('<table id="attention">'):page.index("</table>", page.index('<table id="attention">'))]
    assert re.findall(r'<tr><td><a href="#host-([^"]+)"', table) == ["lab-web2", "web-m1", "web-u1"]
    assert "web-h1" not in table and "<td>high</td>" in table
    counts = page[page.index('<table class="counts">'):]
    assert re.findall(r'<span class="v ([a-z_]+)">', counts[:counts.index("</table>")]) == [
        "opcache_suspect", "misconfig", "unreachable", "healthy"]
    assert "<p>2 healthy host(s)" in page


def test_healthy_hosts_are_collapsed_the_others_open():
    tags = parse(render_html(fleet())).tags
    hosts = dict((a["id"], a) for t, a in tags if t == "details" and a.get("class") == "host")
    assert sorted(hosts) == ["host-lab-web2", "host-web-h1", "host-web-h2", "host-web-m1", "host-web-u1"]
    assert [h for h, a in sorted(hosts.items()) if "open" in a] == ["host-lab-web2", "host-web-m1", "host-web-u1"]
    assert hosts["host-web-h1"]["data-verdict"] == "healthy"
    group = [a for t, a in tags if a.get("id") == "healthy"][0]
    assert "open" not in group
    page = render_html(fleet())
    inside = page[page.index('<details id="healthy">'):]
    assert 'id="host-web-h1"' in inside and 'id="host-web-h2"' in inside and 'id="host-lab-web2"' not in inside


def test_healthy_release_folders_and_pools_are_one_line():
    page = render_html(fleet())
    host = page[page.index('id="host-web-h2"'):]
    host = host[:host.index("</details>")]
    assert "<p>Release folders, all healthy: <code>/a/</code>" in host and "<th>release folder</th>" not in host
    assert "<p>Pools, all healthy: site-a (master " in host and "revalidate_freq 0 s (php_value)" in host


def test_markdown_lists_healthy_hosts_last_in_one_table():
    md = render_markdown(fleet())
    assert md.index("## Fleet summary") < md.index("## Hosts that need attention (3)") < md.index("## Healthy hosts (2)")
    assert "| `web-h1` | `stale_scripts`, `class_collisions` |" in md
    assert "## `web-h1`" not in md and "## `lab-web2`: opcache\\_suspect" in md
    attention = md[md.index("## Hosts that need attention"):md.index("## `lab-web2`")]
    assert "`web-h1`" not in attention and "| `web-m1` | **misconfig** | high |" in attention


def test_the_filter_waits_for_the_script():
    """Without JavaScript the page lists every host: the search form is hidden until the script
    un-hides it, and it counts every host."""
    page = render_html(fleet())
    form = [a for t, a in parse(page).tags if a.get("id") == "filter"][0]
    assert "hidden" in form
    assert '<output id="shown" aria-live="polite">5 of 5 hosts shown</output>' in page
    assert '<option value="misconfig">misconfig (1)</option>' in page


# ---------------------------------------------------------------------------- the script and the CSP

def csp_of(page):
    return [a for t, a in parse(page).tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"][0][
        "content"]


def test_the_csp_allows_exactly_the_page_script_by_its_hash():
    page = render_html(fleet())
    p = parse(page)
    assert p.scripts == [SCRIPT]
    digest = base64.b64encode(hashlib.sha256(p.scripts[0].encode("utf-8")).digest()).decode("ascii")
    directives = dict(d.strip().split(" ", 1) for d in csp_of(page).split(";"))
    assert directives == {"default-src": "'none'", "style-src": "'unsafe-inline'",
                          "script-src": "'sha256-%s'" % digest}
    assert script_hash() == "'sha256-%s'" % digest and csp_of(page) == content_security_policy()
    assert "<script src" not in page and not [a for t, a in p.tags if any(k.startswith("on") for k in a)]


def test_the_script_is_fixed_text():
    """Nothing from the report is put in the script: its hash is the same for every report."""
    other = render_html(build_report([], generated_at="2026-01-01T00:00:00Z"))
    assert parse(other).scripts == [SCRIPT] and csp_of(other) == csp_of(render_html(fleet()))
    assert "</script" not in SCRIPT.lower() and "<!--" not in SCRIPT


def test_hostile_host_names_and_log_text_stay_text():
    rep = fleet()
    evil = "web-<script>alert(1)</script>"
    rep["hosts"][2]["name"] = evil
    rep["hosts"][2]["reasons"][0]["text"] = '</script><script>alert(2)</script><img src=x onerror=alert(3)>'
    rep["fleet"]["resolved_by_reset"] = [evil]
    rep["hosts"][4]["error"] = "<script>alert(4)</script>"
    page = render_html(rep)
    p = parse(page)
    assert p.scripts == [SCRIPT] and [t for t, a in p.tags].count("script") == 1
    assert "img" not in [t for t, a in p.tags]
    assert page.lower().count("<script") == 1
    assert 'id="host-web-&lt;script&gt;alert(1)&lt;/script&gt;"' in page
    assert "&lt;/script&gt;&lt;script&gt;alert(2)&lt;/script&gt;&lt;img src=x onerror=alert(3)&gt;" in page
    md = render_markdown(rep)
    assert "<script>" not in re.sub(r"(`+)(?:(?!\1).)+?\1", "", md)


# ---------------------------------------------------------------------------- bounded sizes

def test_growing_lists_are_capped_with_and_n_more():
    rep = fleet()
    host = [h for h in rep["hosts"] if h["name"] == "lab-web2"][0]
    master = host["masters"][0]
    master["stale_scripts"] = [{"path": "/srv/app/s%d.php" % i, "stale": "possible", "reason": "x"} for i in range(50)]
    master["stale_scripts_truncated"], master["stale_counts"]["possible"] = True, 75
    master["cache_events"] = [{"kind": "invalidate", "time": "2026-11-26T17:30:00+00:00", "text": "7 invalidated",
                               "files": ["/srv/app/f%d.php" % i for i in range(7)]}]
    host["evidence"]["recent_gateway_errors"] = [{"timestamp": "2026-11-26T17:%02d:00+00:00" % i,
                                                  "category": "upstream_reset", "request": "GET /r%d" % i}
                                                 for i in range(20)]
    host["collisions"] = {"total": 80, "items": [{"name": "C%d" % i, "root": "/srv/app", "files": ["/a", "/b"]}
                                                 for i in range(50)]}
    host["pools"] = [dict(host["pools"][0], name="p%d" % i) for i in range(25)]
    host["sections"][0]["crash_paths"] = [{"path": "/a/p%d.php" % i, "count": 10 - i} for i in range(10)]
    page = render_html(rep)
    section = page[page.index('id="host-lab-web2"'):]
    section = section[:section.index("</details>")]
    assert section.count("/srv/app/s") == CAPS["stale_scripts"] == 20
    assert "and 55 more stale scripts (report.json lists the first 50: diagnose_stale_cap)" in section
    assert section.count("/srv/app/f") == CAPS["event_files"] and "and 2 more files (see report.json)" in section
    assert section.count("GET /r") == CAPS["gateway_errors"] and "GET /r19" in section and "GET /r9<" not in section
    assert "and 10 more earlier gateway errors (see report.json)" in section
    assert section.count("<code>C") == CAPS["collisions"] and "and 60 more class names (see report.json)" in section
    assert section.count("<tr><td>p") == CAPS["pools"] and "and 5 more pools (see report.json)" in section
    assert section.count("/a/p") == CAPS["crash_paths"] and "and 5 more pages (see report.json)" in section
    md = render_markdown(rep)
    assert "and 5 more pools (see report.json)" in md and "and 65 more stale scripts (report.json lists the first 50: diagnose_stale_cap)" in md


def test_the_summary_names_at_most_twenty_resolved_or_uncured_hosts():
    rep = fleet()
    rep["fleet"]["resolved_by_reset"] = ["web-r%02d" % i for i in range(25)]
    page, md = render_html(rep), render_markdown(rep)
    summary = page[page.index('<section id="summary">'):page.index("</section>")]
    assert summary.count('<a href="#host-web-r') == 20 and "and 5 more (in the table below)" in summary
    assert "`web-r19` and 5 more (in the table below)." in md and "`web-r20`" not in md


def test_markdown_keeps_the_php_messages_of_healthy_hosts_one_line_each():
    rep = fleet()
    host = [h for h in rep["hosts"] if h["name"] == "web-h1"][0]
    host["evidence"]["php_messages"] = {"total": 6, "by_severity": {"Warning": 3, "Deprecated": 3}, "distinct": 1,
                                        "top": [{"severity": "Warning", "script": "/srv/a/warn.php", "count": 6}]}
    md = render_markdown(rep)
    healthy_part = md[md.index("## Healthy hosts"):]
    assert ("- `web-h1`: PHP messages in FastCGI stderr: 6 (Warning 3, Deprecated 3); most frequent: 6 Warning "
            "`/srv/a/warn.php`") in healthy_part
    assert "`web-h2`: PHP messages" not in md
