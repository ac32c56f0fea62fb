# SPDX-License-Identifier: GPL-3.0-or-later
"""opcache_cure: bad input gets a clear error before anything is probed or changed."""
import json

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.modules import opcache_cure
from module_runner import run_main_exit


@pytest.mark.parametrize("args,msg", [
    ({"urls": ["ftp://host/x.php"]}, "url must start with http:// or https://"),
    ({"urls": ["/b/report.php"]}, "url must start with http:// or https://"),
    ({"urls": []}, "urls must name at least one failing page"),
    ({"urls": ["http://h/x"], "steps": []}, "steps must allow at least one of stale, full, reload, restart"),
    ({"urls": ["http://h/x"], "steps": ["stale", "reboot"]}, "value of steps must be one or more of"),
    ({"urls": ["http://h/x"], "expected_status": 502}, "expected_status must be an HTTP status other than 502"),
    ({"urls": ["http://h/x"], "watch_seconds": -1}, "watch_seconds must be 0 or more, got -1.0"),
    ({"urls": ["http://h/x"], "retries": 11}, "retries must be between 0 and 10, got 11"),
    ({"urls": ["http://h/x"], "timeout": 0}, "timeout must be positive, got 0.0"),
    ({"urls": ["http://h/x"], "pool": {"name": "www"}}, "missing parameter(s) required by 'pool': socket"),
])
def test_cure_argument_errors(capsys, monkeypatch, args, msg):
    def no_discovery(*a, **kw):
        raise AssertionError("bad input must be refused before discovery")
    monkeypatch.setattr(opcache_cure, "masters_for", no_discovery)
    run_main_exit(opcache_cure, args)
    out = json.loads(capsys.readouterr().out)
    assert out["failed"] and msg in out["msg"], out["msg"]
    assert not out.get("changed")
