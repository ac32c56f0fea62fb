# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""fleet_report module: writes the three files (plus raw on request); every fail_json path."""
import json
import os

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.modules import fleet_report
from module_runner import patch_exit_fail, run_main
from unit_paths import FIXTURES_ROOT

FIXTURES = os.path.join(FIXTURES_ROOT, "diagnose")


@pytest.fixture(autouse=True)
def module_io(monkeypatch):
    patch_exit_fail(monkeypatch)


def run_module(args):
    return run_main(fleet_report, args)


def lab_web2():
    with open(os.path.join(FIXTURES, "lab-web2.json")) as fh:
        return json.load(fh)


def test_writes_json_md_html_and_lists_unreachable(tmp_path):
    res, failed = run_module({"hosts": [lab_web2(), {"host": "lab-web9", "status": "unreachable", "error": "gone"}],
                              "output_dir": str(tmp_path), "timestamp": "20261126T172000Z"})
    assert not failed and res["changed"] is False
    assert res["report_dir"] == str(tmp_path / "20261126T172000Z")
    assert sorted(os.listdir(res["report_dir"])) == ["report.html", "report.json", "report.md"]
    rep = json.load(open(res["files"]["json"]))
    assert rep["schema_version"] == res["schema_version"] == 1
    assert res["verdicts"] == {"lab-web2": "opcache_suspect", "lab-web9": "unreachable"}
    assert res["summary"][0] == "fleet: 2 host(s): opcache_suspect 1, unreachable 1"


def test_same_second_gets_a_new_directory_and_raw_on_request(tmp_path):
    args = {"hosts": [lab_web2()], "output_dir": str(tmp_path), "timestamp": "20261126T172000Z", "keep_raw": True}
    first, dummy = run_module(args)
    second, dummy = run_module(args)
    assert second["report_dir"] == first["report_dir"] + "-2"
    assert json.load(open(second["files"]["raw"]))[0]["host"] == "lab-web2"


def test_default_timestamp_is_utc_basic_format(tmp_path):
    res, failed = run_module({"hosts": [lab_web2()], "output_dir": str(tmp_path)})
    assert not failed
    name = os.path.basename(res["report_dir"])
    assert len(name) == 16 and name.endswith("Z") and name[8] == "T"


@pytest.mark.parametrize("args,message", [
    ({"timestamp": "../x"}, "timestamp must be a plain name"),
    ({"timestamp": ".hidden"}, "timestamp must be a plain name"),
    ({"thresholds": {"speed": 1}}, "thresholds: keys must be misconfig, capacity or timeouts"),
    ({"thresholds": {"capacity": 0}}, "bad: capacity"),
    ({"hosts": [{"status": "ok"}]}, "hosts[0] has no host name"),
])
def test_bad_arguments(tmp_path, args, message):
    full = {"hosts": [lab_web2()], "output_dir": str(tmp_path)}
    full.update(args)
    res, failed = run_module(full)
    assert failed and message in res["msg"]
    assert os.listdir(str(tmp_path)) == []


def test_unwritable_output_dir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    res, failed = run_module({"hosts": [lab_web2()], "output_dir": str(blocker / "reports")})
    assert failed and res["msg"].startswith("output_dir %s: cannot write the report" % (blocker / "reports"))


def test_invalidation_record_from_the_host_resolves_the_crashes(tmp_path):
    import base64
    raw = lab_web2()
    m = raw["opcache"]["masters"][0]
    record = {"%s:%s" % (m["master_pid"], m["status"]["opcache_statistics"]["start_time"]): {
        "last_restart_time": 0, "files": {"/srv/app/releases/a/src/Report/CsvExporter.php": 1795713120}}}
    raw["opcache_invalidations"] = {"content": base64.b64encode(json.dumps(record).encode()).decode()}
    res, failed = run_module({"hosts": [raw], "output_dir": str(tmp_path), "timestamp": "20261126T180000Z"})
    assert not failed and res["resolved_by_reset"] == ["lab-web2"] and res["crashes_after_reset"] == []
    assert "resolved by reset" in res["summary"][1]
    rep = json.load(open(res["files"]["json"]))
    assert rep["hosts"][0]["reset_check"]["invalidated_files"] == ["/srv/app/releases/a/src/Report/CsvExporter.php"]
