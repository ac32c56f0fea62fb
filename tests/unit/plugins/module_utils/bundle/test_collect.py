# SPDX-License-Identifier: GPL-3.0-or-later
"""bundle/collect.py: the bundle's files and manifest from one diagnose record (diagnose itself
is replaced by the record it would return; everything after it runs for real)."""
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.bundle import collect

NGINX = ('2026/12/07 08:03:46 [error] 758#758: *55 recv() failed (104: Connection reset by peer) while reading '
         'response header from upstream, client: 203.0.113.9, server: _, request: "GET /c/report.php HTTP/1.1", '
         'upstream: "fastcgi://10.0.4.12:9000", host: "127.0.0.1"\n')
PARAMS = {"since": "2h", "helper_dir": "/var/lib/opcache-fleet", "request_timeout": 10.0, "context": 3,
          "max_crash_lines": 200, "max_cores": 5}


def gather(monkeypatch, tmp_path):
    log = tmp_path / "error.log"
    log.write_text(NGINX)
    seen = {}

    def diagnose(module, run, opts):
        seen.update(opts)
        return {"discovery": {"masters": [], "warnings_found": []}, "opcache": {"masters": []},
                "evidence": {"window": {"since": "x"}, "events": [
                    {"category": "upstream_reset", "file": str(log), "line_no": 1, "client": "203.0.113.9"}]}}

    monkeypatch.setattr(collect, "diagnose", diagnose)
    files, manifest = collect.gather(None, lambda argv: (127, "", "not run"), PARAMS, which=lambda name: None)
    return seen, dict((f["name"], f) for f in files), dict((e["name"], e) for e in manifest["files"])


def test_the_crash_lines_are_redacted_once_and_counted_once(monkeypatch, tmp_path):
    seen, files, entries = gather(monkeypatch, tmp_path)
    text = files["crash_lines.txt"]["content"]
    assert "client: <client>, " in text and 'upstream: "fastcgi://<address>:9000"' in text
    assert entries["crash_lines.txt"]["redactions"] == 2  # the client and the private upstream, no more, no less


def test_diagnose_runs_with_diagnose_hosts_defaults_the_window_and_no_class_scan(monkeypatch, tmp_path):
    seen, files, entries = gather(monkeypatch, tmp_path)
    assert seen["since"] == "2h" and seen["skip"] == ["collisions"] and seen["max_events"] == 3000
    assert seen["release_dir_pattern"] == collect.DIAGNOSE_ARGS["release_dir_pattern"]["default"]
    assert "evidence.json" in files and "203.0.113.9" not in files["evidence.json"]["content"]
