# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""report.log_values and its use in next steps: a path or Host header from a log cannot put a
template into a command (Ansible evaluates {{ }} in -e values), nor an unchecked host name.
Issue 11, finding 3."""
import json
import os
import shlex

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.assembly import evaluate_host
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.log_values import (
    safe_host_header, safe_path, template_free)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.next_steps import CommandContext
from unit_paths import FIXTURES_ROOT

PIPE = "/a/{{ lookup('pipe', 'touch /tmp/pwned') }}.php"


def lab_web2(path=None, host_header=None):
    with open(os.path.join(FIXTURES_ROOT, "diagnose", "lab-web2.json")) as fh:
        raw = json.load(fh)
    for inc in raw["evidence"]["incidents"]:
        for r in inc["requests"]:
            if path is not None:
                r["path"] = path
            if host_header is not None:
                r["host"] = host_header
    return raw


def steps(raw):
    return evaluate_host(raw)["next_steps"]


@pytest.mark.parametrize("path,expected", [
    ("/a/report.php", "/a/report.php"),
    ("/b/x.php?id=1&y=%41", "/b/x.php?id=1&y=%41"),          # already encoded: not encoded twice
    (PIPE, "/a/%7B%7B%20lookup('pipe',%20'touch%20/tmp/pwned')%20%7D%7D.php"),
    ("/a/{% raw %}.php", "/a/%7B%%20raw%20%%7D.php"),
    ("/a/{#x#}", "/a/%7B%23x%23%7D"),
    ("/caf\u00e9.php", "/caf%C3%A9.php"),
    ("/a\x1b[31m.php", "/a%1B%5B31m.php"),
])
def test_safe_path_encodes_what_a_uri_cannot_hold(path, expected):
    assert safe_path(path) == expected
    assert template_free(safe_path(path))


@pytest.mark.parametrize("path", ["a/report.php", "", None, "http://evil/x"])
def test_safe_path_refuses_what_is_no_absolute_path(path):
    assert safe_path(path) is None


@pytest.mark.parametrize("value,expected", [
    ("shop.example", "shop.example"),
    ("Shop.Example:8443", "shop.example:8443"),
    ("127.0.0.1", "127.0.0.1"),
    ("[::1]:9000", "[::1]:9000"),
    ("localhost.", "localhost."),
    ("evil {{ 7*6 }}", None),
    ("a b", None),
    ("-x.example", None),
    ("shop.example:99999", None),
    ("shop.example:0", None),
    ("shop.example/path", None),
    ("user@shop.example", None),
    ("", None),
    (None, None),
    ("x" * 254, None),
])
def test_safe_host_header(value, expected):
    assert safe_host_header(value) == expected


def test_template_free_looks_everywhere():
    assert template_free({"a": ["x", {"b": "y"}], "n": 1, "t": True})
    assert not template_free({"a": ["x", {"b": "{{ y }}"}]})
    assert not template_free({"{% if %}": 1})
    assert not template_free(["ok", "{# c #}"])


def test_a_template_in_a_logged_path_does_not_reach_the_hunt_command():
    for step in steps(lab_web2(path=PIPE)):
        assert "{{" not in step["command"] and "}}" not in step["command"]
        assert template_free(step.get("vars")) and template_free(step.get("module_args"))
    hunt = [s for s in steps(lab_web2(path=PIPE)) if s["kind"] == "hunt"][0]
    assert hunt["vars"]["url"] == "http://127.0.0.1/a/%7B%7B%20lookup('pipe',%20'touch%20/tmp/pwned')%20%7D%7D.php"


def test_a_hostile_host_header_is_dropped_a_real_one_kept():
    raw = lab_web2(host_header="evil {{ lookup('pipe','id') }}")
    hunt = [s for s in steps(raw) if s["kind"] == "hunt"][0]
    assert hunt["vars"]["url"].startswith("http://127.0.0.1/")
    raw = lab_web2(host_header="shop.example")
    hunt = [s for s in steps(raw) if s["kind"] == "hunt"][0]
    assert hunt["vars"]["url"].startswith("http://shop.example/")


def test_a_relative_logged_path_gives_no_hunt():
    assert [s["kind"] for s in steps(lab_web2(path="report.php"))] == ["reset"]


def test_a_config_path_with_a_template_is_left_out_of_masters():
    from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.next_steps import _reset_step

    class Model(object):
        masters = [{"master_pid": 1, "config": "/etc/{{x}}/php-fpm.conf"}, {"master_pid": 2, "config": "/etc/b.conf"}]

        def stale_total(self, pids):
            return 0

    step = _reset_step("web1", Model(), CommandContext(), [Model.masters[0]])
    assert step["vars"] == {"mode": "full"}
    assert "{{" not in step["command"]


def test_the_last_guard_refuses_to_render_a_template():
    with pytest.raises(ValueError) as err:
        CommandContext(target="{{ lookup('pipe','id') }}").playbook_step("reset", "reset", "web1", {}, "")
    assert "template delimiter" in str(err.value)


def test_rendered_command_round_trips_through_the_shell():
    hunt = [s for s in steps(lab_web2(path=PIPE)) if s["kind"] == "hunt"][0]
    assert json.loads(shlex.split(hunt["command"])[-1]) == hunt["vars"]
