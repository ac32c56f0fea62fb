# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""report_render: JSON, Markdown and HTML of the fleet report; escaping of everything from logs."""
import json
import os
import re
from html.parser import HTMLParser

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.assembly import build_report
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.render import (
    SCRIPT, md_code, md_text, parse_ts, render_html, render_json, render_markdown, timeline_svg,
)
from unit_paths import FIXTURES_ROOT, PROJECT_ROOT

FIXTURES = os.path.join(FIXTURES_ROOT, "diagnose")
HOSTILE = "/a/<script>alert(1)</script>.php"


def load(name):
    with open(os.path.join(FIXTURES, name + ".json")) as fh:
        return json.load(fh)


def hostile_report():
    raw = load("lab-web2")
    ev = raw["evidence"]
    ev["events"].append({"category": "upstream_reset", "source_kind": "nginx", "timestamp": "2026-11-26T17:11:03+00:00",
                         "request": "GET %s HTTP/1.1" % HOSTILE, "path": HOSTILE, "uri": HOSTILE,
                         "upstream": "fastcgi://unix:/run/php-fpm/www.sock:\"><img src=x onerror=alert(2)>"})
    ev["incidents"][0]["requests"].append({"path": HOSTILE, "host": "127.0.0.1", "timestamp": "2026-11-26T17:11:03+00:00"})
    raw["discovery"]["masters"][0]["pools"][0]["name"] = "www<b>"
    unreachable = {"host": "lab-web9", "status": "unreachable", "error": "Failed to connect: <script>x</script>"}
    return build_report([raw, unreachable], generated_at="2026-11-26T17:20:00Z", window={"since": "24h"})


class Collect(HTMLParser):
    def __init__(self):
        HTMLParser.__init__(self)
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def test_html_escapes_every_log_string():
    out = render_html(hostile_report())
    # the one script is the report's own filter (allowed by its hash), none from a log
    assert out.lower().count("<script") == 1 and "<script>%s</script>" % SCRIPT in out
    assert "onerror=alert(2)>" not in out
    p = Collect()
    p.feed(out)
    assert [t for t, dummy in p.tags].count("script") == 1 and "img" not in [t for t, dummy in p.tags]
    assert "b" not in [t for t, dummy in p.tags]
    text = "".join(p.text)
    assert HOSTILE in text  # shown as text
    assert "<script>x</script>" in text  # the unreachable host's error, as text


def test_html_is_one_self_contained_file():
    out = render_html(hostile_report())
    assert out.startswith("<!DOCTYPE html>") and out.rstrip().endswith("</html>")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", out)
    assert "<link" not in out and "<svg" in out
    assert "Content-Security-Policy" in out


def test_html_lists_unreachable_host_and_others():
    out = render_html(hostile_report())
    assert 'id="host-lab-web9"' in out and ">unreachable<" in out
    assert 'id="host-lab-web2"' in out and ">opcache_suspect<" in out


def test_markdown_puts_log_strings_in_code_spans():
    out = render_markdown(hostile_report())
    # every <script> sits inside a code span or a fenced block
    stripped = re.sub(r"```.*?```", "", out, flags=re.S)
    stripped = re.sub(r"(`+)(?:(?!\1).)+?\1", "", stripped)
    assert "<" not in stripped.replace("&lt;", "")
    assert "`%s`" % HOSTILE in out or HOSTILE in out


def test_md_code_and_md_text():
    assert md_code("a|b") == "`a\\|b`"
    assert md_code("x `y` z") == "``x `y` z``"
    assert md_code("`edge`") == "`` `edge` ``"
    assert md_code(None) == "-"
    assert md_code("a\x1bb\nc") == "`a\\x1bb c`"
    assert md_text("<b>*x*</b>") == "&lt;b&gt;\\*x\\*&lt;/b&gt;"


def test_json_round_trip():
    rep = hostile_report()
    assert json.loads(render_json(rep)) == json.loads(json.dumps(rep))


@pytest.mark.parametrize("value,expected", [
    ("2026-11-26T17:10:58+00:00", 1795713058.0),
    ("2026-11-26T17:10:58Z", 1795713058.0),
    ("2026-11-26T18:10:58.500000+01:00", 1795713058.5),
    ("garbage", None), (None, None),
])
def test_parse_ts(value, expected):
    assert parse_ts(value) == expected


def test_timeline_svg_lanes_and_empty():
    pts = [{"t": "2026-11-26T17:10:58+00:00", "kind": "502"}, {"t": "2026-11-26T17:10:58+00:00", "kind": "crash"},
           {"t": "2026-11-26T17:11:30+00:00", "kind": "502"}]
    svg = timeline_svg({"points": pts}, "2026-11-25T17:10:00+00:00", parse_ts("2026-11-26T17:20:00Z"))
    assert svg.count("<rect") == 3 and ">502s<" in svg and ">crashes<" in svg
    empty = timeline_svg({"points": []})
    assert "no 502s or crashes" in empty and "<rect" not in empty


def test_report_follows_the_json_schema():
    jsonschema = pytest.importorskip("jsonschema")
    with open(os.path.join(PROJECT_ROOT, "docs", "report-schema.json")) as fh:
        schema = json.load(fh)
    rep = json.loads(render_json(hostile_report()))
    jsonschema.validate(rep, schema)
    rep["hosts"][0]["verdict"] = "broken"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(rep, schema)


def resolved_report():
    """lab-web2 after opcache_reset() at 17:44:02 (its crashes ended 17:11:04) and lab-web3 as captured."""
    raw = load("lab-web2")
    raw["opcache"]["masters"][0]["status"]["opcache_statistics"].update(last_restart_time=1795715042,
                                                                        manual_restarts=1)
    return build_report([raw, load("lab-web3")], generated_at="2026-11-26T18:00:00Z", window={"since": "24h"})


def test_resolved_by_reset_is_shown_in_every_output():
    rep = resolved_report()
    assert rep["hosts"][0]["resolved_by_reset"]
    md = render_markdown(rep)
    assert "**resolved by reset**, priority low" in md and "(resolved by reset)" in md
    assert "cache `2026-11-26T17:44:02+00:00` reset" in md
    page = render_html(rep)
    assert page.count(">resolved by reset</span>") >= 3
    assert 'class="reset"' in page and "OPcache reset at 2026-11-26 17:44:02 UTC" in page


def test_reset_did_not_cure_it_is_shown():
    raw = load("lab-web2")
    raw["opcache"]["masters"][0]["status"]["opcache_statistics"].update(last_restart_time=1795713060,
                                                                        manual_restarts=1)
    rep = build_report([raw], generated_at="2026-11-26T18:00:00Z")
    assert "RESET DID NOT CURE IT" in render_markdown(rep) and ">RESET DID NOT CURE IT</span>" in render_html(rep)


def test_timeline_svg_draws_resets_inside_the_range_only():
    pts = [{"t": "2026-11-26T17:10:58+00:00", "kind": "crash"}]
    resets = [{"t": "2026-11-26T17:15:00+00:00", "kind": "reset", "master_pid": 1},
              {"t": "2020-01-01T00:00:00+00:00", "kind": "start", "master_pid": 1}]
    svg = timeline_svg({"points": pts, "resets": resets}, None, parse_ts("2026-11-26T17:20:00Z"))
    assert svg.count('class="reset"') == 1


def test_resolved_report_follows_the_json_schema():
    jsonschema = pytest.importorskip("jsonschema")
    with open(os.path.join(PROJECT_ROOT, "docs", "report-schema.json")) as fh:
        schema = json.load(fh)
    rep = json.loads(render_json(resolved_report()))
    jsonschema.validate(rep, schema)
    rep["hosts"][0]["reset_check"]["state"] = "fixed"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(rep, schema)


def test_php_messages_are_in_every_output():
    """fpm_evidence's php_messages (notices counted in bulk, issue 12) reach report.json,
    report.md and report.html, script names escaped."""
    raw = load("lab-web2")
    raw["evidence"]["php_messages"] = {
        "total": 46, "by_severity": {"Warning": 31, "Deprecated": 15}, "distinct": 12,
        "top": ([{"severity": "Warning", "script": "/var/www/html/cart.php", "count": 30},
                 {"severity": "Deprecated", "script": HOSTILE, "count": 15}] +
                [{"severity": "Notice", "script": "/x%d.php" % i, "count": 1} for i in range(20)])}
    rep = build_report([raw], generated_at="2026-11-26T17:20:00Z", window={"since": "24h"})
    pm = json.loads(render_json(rep))["hosts"][0]["evidence"]["php_messages"]
    assert pm["total"] == 46 and pm["by_severity"] == {"Warning": 31, "Deprecated": 15}
    assert pm["top"][0] == {"severity": "Warning", "script": "/var/www/html/cart.php", "count": 30}
    assert len(pm["top"]) == 10
    md = render_markdown(rep)
    assert "PHP messages in FastCGI stderr: 46 (Warning 31, Deprecated 15)" in md
    assert "- 30 Warning `/var/www/html/cart.php`" in md
    page = render_html(rep)
    assert "PHP messages in FastCGI stderr: 46" in page and "<td>/var/www/html/cart.php</td>" not in page
    assert "<code>/var/www/html/cart.php</code>" in page and "<script>alert(1)" not in page
    # a host without notices says nothing about them
    plain = build_report([load("lab-web2")], generated_at="2026-11-26T17:20:00Z", window={"since": "24h"})
    assert "PHP messages" not in render_markdown(plain)
