# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""fleet_report action plugin: writes the three files (plus raw on request), writes nothing in
check mode, every argument error, and how next steps name playbooks and inventories."""
import base64
import json
import os
from unittest import mock

import pytest

from ansible.errors import AnsibleActionFail
from ansible_collections.phpfpm.opcache_fleet.plugins.action import fleet_report
from unit_paths import FIXTURES_ROOT

FIXTURES = os.path.join(FIXTURES_ROOT, "diagnose")


def run_action(args, check=False, task_vars=None):
    task = mock.MagicMock()
    task.args = args
    task.check_mode = check
    task.async_val = 0
    task.action = "phpfpm.opcache_fleet.fleet_report"
    connection = mock.MagicMock()
    connection._shell.tmpdir = None
    action = fleet_report.ActionModule(task, connection, mock.MagicMock(), None, None, None)
    action._load_name = "phpfpm.opcache_fleet.fleet_report"
    return action.run(task_vars=task_vars or {})


def lab_web2():
    with open(os.path.join(FIXTURES, "lab-web2.json")) as fh:
        return json.load(fh)


def test_writes_json_md_html_lists_unreachable_and_says_changed(tmp_path):
    res = run_action({"hosts": [lab_web2(), {"host": "lab-web9", "status": "unreachable", "error": "gone"}],
                      "output_dir": str(tmp_path), "timestamp": "20261126T172000Z"})
    assert res["changed"] is True and res["written"] is True
    assert res["report_dir"] == str(tmp_path / "20261126T172000Z")
    assert sorted(os.listdir(res["report_dir"])) == ["report.html", "report.json", "report.md"]
    rep = json.load(open(res["files"]["json"]))
    assert rep["schema_version"] == res["schema_version"]
    assert rep["check_mode"] is False
    assert res["verdicts"] == {"lab-web2": "opcache_suspect", "lab-web9": "unreachable"}
    assert res["summary"][0] == "fleet: 2 host(s): opcache_suspect 1, unreachable 1"


def test_report_is_for_its_owner_only(tmp_path):
    """Finding 9 of issue 11: the report holds client addresses and request lines from logs."""
    old = os.umask(0o022)
    try:
        res = run_action({"hosts": [lab_web2()], "output_dir": str(tmp_path), "timestamp": "20261126T172000Z",
                          "keep_raw": True})
    finally:
        os.umask(old)
    assert os.stat(res["report_dir"]).st_mode & 0o777 == 0o700
    assert sorted(os.stat(p).st_mode & 0o777 for p in res["files"].values()) == [0o600] * 4


def test_check_mode_writes_nothing_but_judges(tmp_path):
    out = tmp_path / "reports"
    res = run_action({"hosts": [lab_web2()], "output_dir": str(out), "timestamp": "20261126T172000Z"}, check=True)
    assert not out.exists()
    assert res["written"] is False and res["files"] == {} and res["changed"] is True
    assert res["report_dir"] == str(out / "20261126T172000Z")
    assert res["verdicts"] == {"lab-web2": "opcache_suspect"}
    assert "not written" in res["msg"]


def test_relative_output_dir_is_below_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = run_action({"hosts": [lab_web2()], "timestamp": "20261126T172000Z"})
    assert res["report_dir"] == str(tmp_path / "reports" / "20261126T172000Z")
    assert os.path.isfile(str(tmp_path / "reports" / "20261126T172000Z" / "report.json"))


def test_same_second_gets_a_new_directory_and_raw_on_request(tmp_path):
    args = {"hosts": [lab_web2()], "output_dir": str(tmp_path), "timestamp": "20261126T172000Z", "keep_raw": True}
    first = run_action(dict(args))
    second = run_action(dict(args))
    assert second["report_dir"] == first["report_dir"] + "-2"
    assert json.load(open(second["files"]["raw"]))[0]["host"] == "lab-web2"


def test_default_timestamp_is_utc_basic_format(tmp_path):
    res = run_action({"hosts": [lab_web2()], "output_dir": str(tmp_path)})
    name = os.path.basename(res["report_dir"])
    assert len(name) == 16 and name.endswith("Z") and name[8] == "T"


@pytest.mark.parametrize("args,message", [
    ({"timestamp": "../x"}, "timestamp must be a plain name"),
    ({"timestamp": ".hidden"}, "timestamp must be a plain name"),
    ({"thresholds": {"speed": 1}}, "thresholds: keys must be misconfig, capacity or timeouts"),
    ({"thresholds": {"capacity": 0}}, "bad: capacity"),
    ({"hosts": [{"status": "ok"}]}, "hosts[0] has no host name"),
    ({"playbooks": {"cure": "x.yml"}}, "playbooks: keys must be diagnose, hunt, reset; bad: cure"),
    ({"stale_cap": "many"}, "stale_cap"),
    ({"colour": "red"}, "colour"),
])
def test_bad_arguments_fail_and_write_nothing(tmp_path, args, message):
    full = {"hosts": [lab_web2()], "output_dir": str(tmp_path)}
    full.update(args)
    with pytest.raises(AnsibleActionFail) as err:
        run_action(full)
    assert message in str(err.value)
    assert os.listdir(str(tmp_path)) == []


def test_unwritable_output_dir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(AnsibleActionFail) as err:
        run_action({"hosts": [lab_web2()], "output_dir": str(blocker / "reports")})
    assert str(err.value).startswith("output_dir %s: cannot write the report" % (blocker / "reports"))


def test_invalidation_record_from_the_host_resolves_the_crashes(tmp_path):
    raw = lab_web2()
    m = raw["opcache"]["masters"][0]
    record = {"%s:%s" % (m["master_pid"], m["status"]["opcache_statistics"]["start_time"]): {
        "last_restart_time": 0, "files": {"/srv/app/releases/a/src/Report/CsvExporter.php": 1795713120}}}
    raw["opcache_invalidations"] = {"content": base64.b64encode(json.dumps(record).encode()).decode()}
    res = run_action({"hosts": [raw], "output_dir": str(tmp_path), "timestamp": "20261126T180000Z"})
    assert res["resolved_by_reset"] == ["lab-web2"] and res["crashes_after_reset"] == []
    assert "resolved by reset" in res["summary"][1]
    rep = json.load(open(res["files"]["json"]))
    assert rep["hosts"][0]["reset_check"]["invalidated_files"] == ["/srv/app/releases/a/src/Report/CsvExporter.php"]


def _reset_playbook(res):
    rep = json.load(open(res["files"]["json"]))
    return [s for s in rep["hosts"][0]["next_steps"] if s["kind"] == "reset"][0]


def test_next_steps_name_the_playbooks_beside_the_running_one(tmp_path, monkeypatch):
    checkout = tmp_path / "checkout"
    (checkout / "playbooks").mkdir(parents=True)
    for name in ("diagnose", "emergency_reset", "culprit_hunt"):
        (checkout / "playbooks" / (name + ".yml")).write_text("---\n")
    monkeypatch.chdir(checkout)
    res = run_action({"hosts": [lab_web2()], "output_dir": str(tmp_path / "r")},
                     task_vars={"playbook_dir": str(checkout / "playbooks")})
    assert "ansible-playbook playbooks/emergency_reset.yml " in _reset_playbook(res)["command"]
    monkeypatch.chdir(tmp_path)
    res = run_action({"hosts": [lab_web2()], "output_dir": str(tmp_path / "r")},
                     task_vars={"playbook_dir": str(checkout / "playbooks")})
    assert "ansible-playbook checkout/playbooks/emergency_reset.yml " in _reset_playbook(res)["command"]


def test_suggested_playbooks_by_fqcn_from_an_installed_collection_or_a_users_playbook(tmp_path):
    pb = tmp_path / "ansible_collections" / "acme" / "tools" / "playbooks"
    pb.mkdir(parents=True)
    (pb / "emergency_reset.yml").write_text("---\n")
    assert fleet_report.suggested_playbooks(str(pb), str(tmp_path)) == {
        "reset": "acme.tools.emergency_reset", "hunt": "acme.tools.culprit_hunt", "diagnose": "acme.tools.diagnose"}
    fqcn = {"reset": "phpfpm.opcache_fleet.emergency_reset", "hunt": "phpfpm.opcache_fleet.culprit_hunt",
            "diagnose": "phpfpm.opcache_fleet.diagnose"}
    assert fleet_report.suggested_playbooks(None, "/elsewhere") == fqcn
    assert fleet_report.suggested_playbooks(str(tmp_path), str(tmp_path)) == fqcn


def test_suggested_inventory(tmp_path):
    inv = tmp_path / "inv" / "hosts.yml"
    inv.parent.mkdir()
    inv.write_text("all: {}\n")
    other = tmp_path / "other.yml"
    other.write_text("all: {}\n")
    cwd = str(tmp_path)
    assert fleet_report.suggested_inventory([str(inv)], [str(inv)], cwd) == []
    assert fleet_report.suggested_inventory([str(inv), str(other)], [str(inv)], cwd) == [
        "-i", "inv/hosts.yml", "-i", "other.yml"]
    assert fleet_report.suggested_inventory([str(other)], [], "/nowhere") == ["-i", str(other)]
    assert fleet_report.suggested_inventory(["web1,web2,"], [], cwd) == ["-i", "web1,web2,"]


def test_a_stopped_master_is_down_and_an_unread_log_unexplained(tmp_path):
    """Issue 10: verdicts down (before a host's crashes) and unexplained in what the task returns."""
    down, unread = lab_web2(), lab_web2()
    down["host"], unread["host"] = "lab-down", "lab-unread"
    down["upstream_probes"] = [{"target": "unix:/run/php-fpm/www.sock", "state": "refused", "detail": "connection refused",
                                "uses": [{"server_name": "_", "location": "/", "root": "/srv/app/releases"}]}]
    ev = unread["evidence"]
    ev["incidents"], ev["incidents_total"] = [], 0
    ev["counts"] = {"total": 0, "by_category": {}, "by_file": {}, "by_source_kind": {}}
    ev["fpm_sources"] = [{"master_pid": 6087, "config": "/etc/php-fpm.conf", "error_log": "syslog",
                          "error_log_kind": "syslog", "source": "journalctl -u php-fpm.service", "status": "not_read",
                          "events": 0, "reason": "its log goes to the journal and journalctl is not on this host"}]
    res = run_action({"hosts": [unread, down], "output_dir": str(tmp_path), "timestamp": "20261126T172000Z"})
    assert res["verdicts"] == {"lab-down": "down", "lab-unread": "unexplained"}
    assert res["summary"][0] == "fleet: 2 host(s): down 1, unexplained 1"
    assert ("lab-unread: unexplained - crash evidence not read: master 6087 (/etc/php-fpm.conf): its log goes to the "
            "journal and journalctl is not on this host") in res["summary"]
    rep = json.load(open(res["files"]["json"]))
    assert [s["host"] for s in rep["fleet"]["next_steps"]] == ["lab-down", "lab-unread"]
    assert rep["hosts"][1]["also"][0] == "opcache_suspect"
