# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""report.next_steps: steps are data ({kind, playbook, limit, inventory, vars, why, command}),
the command is rendered from the data, and the culprit filters read the data, not the command.

Fixture: the lab-web2 diagnose capture (make incident: /a/report.php poisoned).
"""
import copy
import html
import json
import os
import shlex

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.filter import culprit_hunt
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.assembly import (
    SCHEMA_VERSION, build_report, evaluate_host, summary_lines,
)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.next_steps import (
    CommandContext, render_command,
)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.render import render_html, render_markdown
from unit_paths import FIXTURES_ROOT, PROJECT_ROOT

FIXTURES = os.path.join(FIXTURES_ROOT, "diagnose")
# A quote, a command substitution, spaces, a newline, a backtick and a JSON-looking brace.
HOSTILE = "/a/it's $(touch /tmp/pwned) a b\nc`id`.php?x={\"y\":1}"
# HOSTILE as the URL path of a next step, encoded by hand: space %20, newline %0A, backtick %60,
# "{" %7B, '"' %22, "}" %7D; RFC 3986 sub-delims ("'", "$", "(", ")") and ":" stay.
HOSTILE_IN_URL = "/a/it's%20$(touch%20/tmp/pwned)%20a%20b%0Ac%60id%60.php?x=%7B%22y%22:1%7D"


def load(name):
    with open(os.path.join(FIXTURES, name + ".json")) as fh:
        return json.load(fh)


def with_crash_path(path):
    raw = load("lab-web2")
    for inc in raw["evidence"]["incidents"]:
        for r in inc["requests"]:
            r["path"] = path
    return raw


def misconfig(raw):
    raw = copy.deepcopy(raw)
    ev = raw["evidence"]
    ev["incidents"], ev["events"], ev["incidents_total"] = [], [], 0
    ev["counts"] = {"total": 3, "by_category": {"upstream_connect_eacces": 3}, "by_file": {}, "by_source_kind": {}}
    for m in raw["opcache"]["masters"]:
        m["scripts"] = []
        m["stale_counts"] = {"certain": 0, "possible": 0, "fresh": 10, "unknown": 0}
    return raw


def step_of(entry, kind):
    return [s for s in entry["next_steps"] if s["kind"] == kind][0]


# ---------------------------------------------------------------------------- the data

def test_a_playbook_step_is_data():
    reset = step_of(evaluate_host(load("lab-web2")), "reset")
    assert reset == {"kind": "reset", "playbook": "playbooks/emergency_reset.yml", "limit": "lab-web2",
                     "inventory": [], "vars": {"mode": "stale"}, "why": reset["why"],
                     "command": "ansible-playbook playbooks/emergency_reset.yml -l lab-web2 -e '{\"mode\":\"stale\"}'"}


def test_hostile_url_round_trips_through_the_shell_words_and_the_json():
    e = evaluate_host(with_crash_path(HOSTILE))
    hunt = step_of(e, "hunt")
    assert hunt["vars"] == {"url": "http://127.0.0.1" + HOSTILE_IN_URL}
    words = shlex.split(hunt["command"])
    assert words == ["ansible-playbook", "playbooks/culprit_hunt.yml", "-l", "lab-web2", "-e", words[-1]]
    assert json.loads(words[-1]) == hunt["vars"]
    assert "\n" not in hunt["command"]  # JSON escapes it: one line to paste


@pytest.mark.parametrize("step", [
    {"kind": "hunt", "playbook": "playbooks/culprit_hunt.yml", "limit": "web 1", "why": "",
     "inventory": ["-i", "inventories/prod hosts.yml"], "vars": {"url": "http://h" + HOSTILE, "blacklist": True}},
    {"kind": "inspect", "playbook": None, "module": "ansible.builtin.uri", "limit": "web'1", "why": "",
     "inventory": ["-i", "inv"], "module_args": {"url": "http://127.0.0.1" + HOSTILE, "headers": {"Host": "a'b"}}},
])
def test_render_command_gives_back_exactly_the_words(step):
    words = shlex.split(render_command(step))
    if step["playbook"]:
        assert words[:-1] == ["ansible-playbook", step["playbook"]] + step["inventory"] + ["-l", step["limit"], "-e"]
        assert json.loads(words[-1]) == step["vars"]
        assert json.loads(words[-1])["blacklist"] is True  # a JSON boolean, not the string "true"
    else:
        assert words[:-1] == ["ansible", step["limit"]] + step["inventory"] + ["-m", step["module"], "-a"]
        assert json.loads(words[-1]) == step["module_args"]
    assert words[-1] == json.dumps(json.loads(words[-1]), sort_keys=True, separators=(",", ":"))


def test_no_extra_vars_means_no_e():
    step = {"kind": "inspect", "playbook": "playbooks/diagnose.yml", "limit": "web1", "inventory": [], "vars": {},
            "why": ""}
    assert render_command(step) == "ansible-playbook playbooks/diagnose.yml -l web1"
    adhoc = {"kind": "inspect", "playbook": None, "module": "phpfpm.opcache_fleet.fpm_discover", "module_args": {},
             "limit": "web1", "inventory": [], "why": ""}
    assert render_command(adhoc) == "ansible web1 -m phpfpm.opcache_fleet.fpm_discover"


def test_target_goes_in_vars():
    e = evaluate_host(load("lab-web2"), ctx=CommandContext(target="web-eu"))
    for step in e["next_steps"]:
        assert step["vars"]["target"] == "web-eu"
        assert json.loads(shlex.split(step["command"])[-1])["target"] == "web-eu"
        assert "target=web-eu" not in shlex.split(step["command"])
    e = evaluate_host(load("lab-web2"), ctx=CommandContext(target="webservers"))
    assert all("target" not in s["vars"] for s in e["next_steps"])


def test_playbook_references_and_inventory_come_from_the_context():
    ctx = CommandContext(inventory_args=["-i", "inventories/prod"],
                         playbooks={"reset": "phpfpm.opcache_fleet.emergency_reset", "hunt": "/opt/p/culprit_hunt.yml",
                                    "diagnose": "phpfpm.opcache_fleet.diagnose"})
    e = evaluate_host(load("lab-web2"), ctx=ctx)
    assert [(s["playbook"], s["inventory"]) for s in e["next_steps"]] == [
        ("phpfpm.opcache_fleet.emergency_reset", ["-i", "inventories/prod"]),
        ("/opt/p/culprit_hunt.yml", ["-i", "inventories/prod"])]
    assert shlex.split(e["next_steps"][0]["command"])[:6] == [
        "ansible-playbook", "phpfpm.opcache_fleet.emergency_reset", "-i", "inventories/prod", "-l", "lab-web2"]
    assert CommandContext().playbooks["reset"] == "playbooks/emergency_reset.yml"


def test_misconfig_step_names_fpm_discover_by_fqcn():
    e = evaluate_host(misconfig(load("lab-web2")), ctx=CommandContext(inventory_args=["-i", "inv"]))
    assert e["verdict"] == "misconfig"
    step = e["next_steps"][0]
    assert (step["playbook"], step["module"], step["module_args"], step["limit"], step["inventory"]) == (
        None, "phpfpm.opcache_fleet.fpm_discover", {}, "lab-web2", ["-i", "inv"])
    assert shlex.split(step["command"]) == ["ansible", "lab-web2", "-i", "inv", "-m",
                                            "phpfpm.opcache_fleet.fpm_discover"]
    assert "vars" not in step


def test_every_output_shows_the_rendered_command():
    rep = build_report([with_crash_path(HOSTILE)], generated_at="2026-11-26T18:00:00Z")
    hunt = step_of(rep["hosts"][0], "hunt")
    assert rep["schema_version"] == SCHEMA_VERSION == 2
    assert "  next: " + hunt["command"] in summary_lines(rep)
    md = render_markdown(rep).splitlines()
    i = md.index(hunt["command"])  # verbatim (backticks too) inside its fenced block
    assert (md[i - 1], md[i + 1]) == ("```sh", "```")
    assert "<pre>%s</pre>" % html.escape(hunt["command"]) in render_html(rep)


# ---------------------------------------------------------------------------- the culprit filters

def test_the_filter_takes_the_url_from_vars_not_from_the_command():
    rep = build_report([load("lab-web2")], generated_at="2026-11-26T18:00:00Z")
    hunt = step_of(rep["hosts"][0], "hunt")
    assert culprit_hunt.report_hunt_urls(rep, "lab-web2") == ["http://127.0.0.1/a/report.php"]
    hunt["vars"]["url"] = "http://shop.example/a/report.php"
    hunt["command"] = "ansible-playbook playbooks/culprit_hunt.yml -l lab-web2 -e url=http://evil.example/a/report.php"
    assert culprit_hunt.report_hunt_urls(rep, "lab-web2") == ["http://shop.example/a/report.php"]


def test_the_filter_reads_a_hostile_url_whole():
    rep = build_report([with_crash_path(HOSTILE)], generated_at="2026-11-26T18:00:00Z")
    assert culprit_hunt.report_hunt_urls(rep, "lab-web2") == ["http://127.0.0.1" + HOSTILE]


@pytest.mark.parametrize("version", [1, 3])
def test_a_report_of_another_schema_version_is_refused(version):
    rep = build_report([load("lab-web2")], generated_at="2026-11-26T18:00:00Z")
    rep["schema_version"] = version
    with pytest.raises(ValueError) as err:
        culprit_hunt.report_hunt_urls(rep, "lab-web2")
    assert str(err.value) == "report.json schema_version %d; this collection reads 2: re-run diagnose" % version


def test_the_json_schema_describes_the_steps():
    jsonschema = pytest.importorskip("jsonschema")
    with open(os.path.join(PROJECT_ROOT, "docs", "report-schema.json")) as fh:
        schema = json.load(fh)
    raws = [with_crash_path(HOSTILE), misconfig(load("lab-web3"))]
    raws[1]["host"] = "lab-web3"
    rep = json.loads(json.dumps(build_report(raws, generated_at="2026-11-26T18:00:00Z")))
    jsonschema.validate(rep, schema)
    old = copy.deepcopy(rep)
    old["hosts"][0]["next_steps"][0] = {"kind": "reset", "command": "ansible-playbook x.yml", "why": ""}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(old, schema)
    old = copy.deepcopy(rep)
    old["schema_version"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(old, schema)


def test_a_command_with_a_run_of_backticks_gets_a_longer_fence():
    # Paths from logs lose their backticks to percent-encoding; an inventory path keeps them.
    rep = build_report([load("lab-web2")], generated_at="2026-11-26T18:00:00Z",
                       ctx=CommandContext(inventory_args=["-i", "inv```x````.yml"]))
    hunt = step_of(rep["hosts"][0], "hunt")
    md = render_markdown(rep).splitlines()
    i = md.index(hunt["command"])
    assert (md[i - 1], md[i + 1]) == ("`````sh", "`````")


# ---------------------------------------------------------------------------- the vhost's scheme and port

def https_only(raw, port=443):
    """The lab-web2 capture as an HTTPS-only site: its PHP server block listens on ``port`` with ssl
    (port 80 only redirects, from a server block that passes nothing to php-fpm)."""
    raw = copy.deepcopy(raw)
    for t in raw["discovery"]["nginx"]["fastcgi_targets"]:
        t.update(server_names=["shop.lab.test"], listen=["%d ssl" % port],
                 endpoint={"scheme": "https", "port": port, "address": None})
    for inc in raw["evidence"]["incidents"]:
        for r in inc["requests"]:
            r["host"] = "shop.lab.test"
    return raw


def test_the_hunt_of_an_https_only_site_uses_https_and_its_name():
    hunt = step_of(evaluate_host(https_only(load("lab-web2"))), "hunt")
    assert hunt["vars"] == {"url": "https://shop.lab.test/a/report.php"}
    assert "-e validate_certs=false only if it is self-signed" in hunt["why"]
    hunt = step_of(evaluate_host(https_only(load("lab-web2"), 8443)), "hunt")
    assert hunt["vars"] == {"url": "https://shop.lab.test:8443/a/report.php"}
    # the probe after a blacklist reload goes to 127.0.0.1 over https with the name as Host
    assert culprit_hunt.culprit_probes([hunt["vars"]["url"]]) == [
        {"url": "https://127.0.0.1:8443/a/report.php", "status": [200], "headers": {"Host": "shop.lab.test:8443"},
         "validate_certs": False}]


def test_the_vhost_is_chosen_by_name_then_by_location():
    from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.host_model import HostModel
    from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.next_steps import page_endpoint
    raw = load("lab-web2")
    targets = raw["discovery"]["nginx"]["fastcgi_targets"]
    targets[0].update(server_names=["*.shop.test"], endpoint={"scheme": "https", "port": 443})
    targets[1].update(server_names=["admin.test"], endpoint={"scheme": "http", "port": 8080})
    targets[2].update(server_names=["admin.test"], endpoint={"scheme": "https", "port": 9443})
    model = HostModel(raw)
    assert page_endpoint(model, "www.shop.test", "/a/x.php") == ("https", 443)
    assert page_endpoint(model, "admin.test", "/b/x.php") == ("http", 8080)
    assert page_endpoint(model, "admin.test", "/c/x.php?y=1") == ("https", 9443)
    # an unknown name: the location decides among all server blocks
    assert page_endpoint(model, "other.test", "/c/x.php") == ("https", 9443)
    # one location in two server blocks: the name decides
    targets[1]["location"] = targets[0]["location"]
    assert page_endpoint(model, "www.shop.test", "/a/x.php") == ("https", 443)
    assert page_endpoint(model, "admin.test", "/a/x.php") == ("http", 8080)
    for t in targets:
        t.pop("endpoint")
    assert page_endpoint(model, "www.shop.test", "/a/x.php") is None      # an older capture: nothing tells
