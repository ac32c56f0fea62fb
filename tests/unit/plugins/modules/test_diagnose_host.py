# SPDX-License-Identifier: GPL-3.0-or-later
"""diagnose_host module: argument checks before any I/O, a failed discovery fails the call,
warnings of discovery reach Ansible, changed is always false."""
import json

import pytest

from ansible.module_utils import basic

from ansible_collections.phpfpm.opcache_fleet.plugins.modules import diagnose_host
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.diagnose import host
from module_runner import run_main_exit


def result(capsys, args, check=False):
    run_main_exit(diagnose_host, args, check=check)
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("args,msg", [
    ({"stale_cap": -1}, "stale_cap must be 0 or more; got -1"),
    ({"request_timeout": 0}, "request_timeout must be more than 0 seconds; got 0.0"),
    ({"release_dir_pattern": "/(releases"}, "release_dir_pattern is not a regular expression"),
    ({"extra_code_roots": ["srv/app"]}, "extra_code_roots: 'srv/app' is not an absolute path"),
    ({"helper_dir": "/tmp/h"}, "helper_dir=/tmp/h is under /tmp, which systemd PrivateTmp hides"),
    ({"skip": ["evidence"]}, "value of skip must be one or more of: opcache, collisions. Got no match for: evidence"),
])
def test_argument_errors(capsys, monkeypatch, args, msg):
    monkeypatch.setattr(host, "discover", lambda *a, **k: pytest.fail("discovery ran despite a bad argument"))
    out = result(capsys, args)
    assert out["failed"] and msg in out["msg"]


def test_failed_discovery_fails_the_call(capsys, monkeypatch):
    def broken(run, overrides=None):
        raise OSError("/proc: Permission denied")
    monkeypatch.setattr(host, "discover", broken)
    out = result(capsys, {})
    assert out["failed"] and out["msg"] == "discovery failed: /proc: Permission denied"


def test_record_warnings_and_changed_false_in_check_mode(capsys, monkeypatch):
    found = {"masters": [], "nginx": {}, "fpm_error_logs": [],
             "warnings": ["pid 77: not root's own (uid 1000): not trusted"]}
    monkeypatch.setattr(host, "discover", lambda run, overrides=None: found)
    monkeypatch.setattr(host, "collect_evidence", lambda module, p, fpm_plans=None, **kw: {"counts": {"crashes": 0}})
    warned = []
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, text: warned.append(text))
    out = result(capsys, {"skip": ["collisions"]}, check=True)
    assert out["changed"] is False and out["status"] == "ok"
    assert out["evidence"] == {"counts": {"crashes": 0}}
    assert out["opcache"]["msg"] == "no running php-fpm master found"
    assert warned == ["pid 77: not root's own (uid 1000): not trusted"]
