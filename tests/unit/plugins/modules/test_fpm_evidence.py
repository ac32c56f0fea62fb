# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""fpm_evidence module: wiring, every fail_json path, kernel sources, check mode, events cap."""

import json
import os

import pytest

from ansible.module_utils import basic

from ansible_collections.phpfpm.opcache_fleet.plugins.modules import fpm_evidence
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence import crash_sources
from module_runner import patch_exit_fail, run_main

NGX = ('2026/11/26 17:01:02 [error] 2481#2481: *18 recv() failed (104: Connection reset by peer) while reading '
       'response header from upstream, client: 127.0.0.1, server: _, request: "GET /a/crash.php HTTP/1.1", '
       'upstream: "fastcgi://unix:/run/php/php8.2-fpm.sock:", host: "127.0.0.1"\n')
FPM = ('[26-Nov-2026 17:01:02] WARNING: [pool www] child 24352 exited on signal 11 (SIGSEGV) after 301.965713 '
       'seconds from start\n[26-Nov-2026 17:01:02] NOTICE: [pool www] child 24360 started\n'
       '[26-Nov-2026 17:02:02] WARNING: [pool www] child 8 exited with code 11 after 664.260371 seconds from start\n')
KERN = ('2026-11-26T17:01:02+0000 lab-web1 kernel: php-fpm8.2[24352]: segfault at 0 ip 00007f3a sp 00007ffe '
        'error 4 in opcache.so[7f3a00000000+5a000] likely on CPU 3 (core 1, socket 0)\n')


pytestmark = pytest.mark.usefixtures("utc")   # TZ=UTC for every test (conftest.py)


@pytest.fixture
def module_io(monkeypatch):
    patch_exit_fail(monkeypatch)


@pytest.fixture
def no_tools(monkeypatch):
    """No journalctl/dmesg/coredumpctl and no kernel log files."""
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda self, name, *a, **k: None)
    monkeypatch.setattr(crash_sources, "KERNEL_FILES", ())


@pytest.fixture
def bundle(tmp_path):
    (tmp_path / "error.log").write_text(NGX)
    (tmp_path / "php8.2-fpm.log").write_text(FPM)
    return tmp_path


def run_module(args):
    return run_main(fpm_evidence, args)


def test_bundle_with_events(module_io, no_tools, bundle):
    result, failed = run_module({"paths": [str(bundle / "*.log*")], "since": "all", "include_events": True,
                                 "upstream_pools": {"unix:/run/php/php8.2-fpm.sock": "www"}})
    assert not failed
    assert result["changed"] is False
    assert result["counts"]["by_category"] == {"upstream_reset": 1, "child_signal": 1, "lifecycle": 1,
                                               "child_exit_code": 1}
    (inc,) = result["incidents"]
    assert inc["pool"] == "www" and inc["request_paths"] == ["/a/crash.php"]
    assert result["correlation"]["mode"] == "upstream_map"
    assert result["events_total"] == 4 and result["events_truncated"] is False
    ev = [e for e in result["events"] if e["category"] == "child_exit_code"][0]
    assert ev["exit_code"] == 11 and ev["line_no"] == 3 and ev["file"] == str(bundle / "php8.2-fpm.log")
    assert all(r["status"] == "scanned" for r in result["files"])
    assert result["window"] == {"since": None, "until": None}
    json.dumps(result)


def test_events_cap_and_no_events_by_default(module_io, no_tools, bundle):
    result, dummy = run_module({"paths": [str(bundle / "*.log")], "since": "all", "include_events": True,
                                "max_events": 2})
    assert len(result["events"]) == 2 and result["events_truncated"] is True
    result, dummy = run_module({"paths": [str(bundle / "*.log")], "since": "all"})
    assert "events" not in result and result["events_total"] == 4


def test_discovery_lists_and_missing(module_io, no_tools, bundle):
    result, failed = run_module({"nginx_error_logs": [str(bundle / "error.log")],
                                 "fpm_logs": [str(bundle / "php8.2-fpm.log")],
                                 "slowlogs": [str(bundle / "www.slow.log")], "since": "all"})
    assert not failed
    assert result["missing"] == [str(bundle / "www.slow.log")]
    assert [r["hint"] for r in result["files"]] == ["nginx", "php-fpm"]


def test_default_window_excludes_old_lines(module_io, no_tools, tmp_path):
    old = tmp_path / "old.log"
    old.write_text(NGX.replace("2026/11/26", "2020/01/02"))
    result, dummy = run_module({"paths": [str(old)]})
    assert result["counts"]["total"] == 0
    assert result["files"][0]["status"] == "scanned"        # written just now, stamps are old
    assert result["window"]["since"] is not None
    os.utime(str(old), (1577923200, 1577923200))
    result, dummy = run_module({"paths": [str(old)]})
    assert result["files"][0]["status"] == "skipped"


def test_check_mode_returns_the_same_evidence(module_io, no_tools, bundle):
    args = {"paths": [str(bundle / "*.log")], "since": "all"}
    normal, dummy = run_module(args)
    checked, dummy = run_module(dict(args, _ansible_check_mode=True))
    assert checked["counts"] == normal["counts"] and checked["changed"] is False


def test_kernel_from_journalctl_and_coredumpctl(module_io, monkeypatch, bundle):
    calls = []

    def run_command(self, args, **kw):
        calls.append(args)
        assert kw.get("expand_user_and_vars") is False
        if "-k" in args:
            return 0, KERN.encode(), b""
        if "systemd-coredump" in args:
            return 0, b"", b""
        if args[1] == "list":
            return 0, (b"Thu 2026-11-26 17:01:02 UTC  24352    33    33 SIGSEGV present  "
                       b"/usr/sbin/php-fpm8.2  1.2M\n"), b""
        raise AssertionError(args)

    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda self, name, *a, **k: "/usr/bin/" + name)
    monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
    result, failed = run_module({"paths": [str(bundle / "*.log")], "since": "2026-11-26T00:00:00Z"})
    assert not failed
    (inc,) = result["incidents"]
    assert inc["module"] == "opcache.so" and inc["coredump"] is True
    assert [s["source"] for s in result["kernel_sources"]] == [
        "journalctl -k", "journalctl -t systemd-coredump", "coredumpctl"]
    assert ["--since", "@1795651200"] == calls[0][calls[0].index("--since"):calls[0].index("--since") + 2]
    assert result["counts"]["by_source_kind"]["kernel"] == 1


def test_kernel_falls_back_to_files_then_tolerates_missing_tools(module_io, monkeypatch, bundle):
    kern = bundle / "kern.log"
    kern.write_text(KERN)
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path",
                        lambda self, name, *a, **k: "/bin/journalctl" if name == "journalctl" else None)
    monkeypatch.setattr(basic.AnsibleModule, "run_command",
                        lambda self, args, **kw: (1, b"", b"No journal files were found."))
    monkeypatch.setattr(crash_sources, "KERNEL_FILES", (str(kern), "/nonexistent/messages"))
    result, failed = run_module({"paths": [str(bundle / "*fpm.log")], "since": "all"})
    assert not failed
    srcs = dict((s["source"], s["status"]) for s in result["kernel_sources"])
    assert srcs["journalctl -k"] == "error" and srcs[str(kern)] == "scanned" and srcs["coredumpctl"] == "absent"
    assert result["incidents"][0]["module"] == "opcache.so"


def test_command_that_cannot_start_is_reported(module_io, monkeypatch, bundle):
    def boom(self, args, **kw):
        raise OSError(8, "Exec format error")
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda self, name, *a, **k: "/bin/" + name)
    monkeypatch.setattr(basic.AnsibleModule, "run_command", boom)
    monkeypatch.setattr(crash_sources, "KERNEL_FILES", ())
    result, failed = run_module({"paths": [str(bundle / "*.log")], "since": "all"})
    assert not failed
    assert all(s["status"] in ("error", "absent") for s in result["kernel_sources"])


@pytest.mark.parametrize("args,msg", [
    ({"since": "yesterday"}, "since must be 'all', a relative age like '2h', '3d' or '30m', or an ISO 8601 time; "
                             "got 'yesterday'"),
    ({"until": "later"}, "until must be"),
    ({"since": "2026-11-27T00:00:00Z", "until": "2026-11-26T00:00:00Z"}, "is after until"),
    ({"max_events": -1}, "max_events must be 0 or more; got -1"),
    ({"correlation_window": 0}, "correlation_window must be more than 0 seconds; got 0.0"),
    ({"workers": -2}, "workers must be 0 (automatic) or more; got -2"),
    ({"upstream_pools": {"unix:/x.sock": ""}}, "upstream_pools maps an upstream to a pool name; 'unix:/x.sock' maps to ''"),
    ({"kernel": False}, "nothing to scan: give paths, nginx_error_logs, fpm_logs or slowlogs, or set kernel=true"),
])
def test_bad_input_fails_with_a_clear_message(module_io, no_tools, args, msg):
    result, failed = run_module(args)
    assert failed
    assert msg in result["msg"]


def test_documentation_parses():
    import yaml
    doc = yaml.safe_load(fpm_evidence.DOCUMENTATION)
    assert set(doc["options"]) == set(["paths", "nginx_error_logs", "fpm_logs", "slowlogs", "include_rotated",
                                       "kernel", "since", "until", "upstream_pools", "correlation_window",
                                       "include_events", "max_events", "workers", "prefilter"])
    yaml.safe_load(fpm_evidence.EXAMPLES)
    yaml.safe_load(fpm_evidence.RETURN)


def test_nothing_is_written(module_io, no_tools, bundle):
    before = dict((p, os.stat(str(bundle / p)).st_mtime) for p in os.listdir(str(bundle)))
    run_module({"paths": [str(bundle / "*")], "since": "all"})
    after = dict((p, os.stat(str(bundle / p)).st_mtime) for p in os.listdir(str(bundle)))
    assert before == after


def test_prefilter_grep_and_python_agree_and_grep_without_gnu_grep_fails(module_io, no_tools, bundle, monkeypatch,
                                                                         tmp_path):
    from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence import gnu_grep
    results = {}
    for pf in ("python", "auto"):
        result, failed = run_module({"paths": [str(bundle / "*.log*")], "since": "all", "include_events": True,
                                     "prefilter": pf})
        assert not failed
        assert result["prefilter"]["mode"] == pf
        results[pf] = dict((k, v) for k, v in result.items() if k not in ("elapsed_s", "prefilter"))
    assert results["python"] == results["auto"] and results["auto"]["events_total"] == 4
    monkeypatch.setattr(gnu_grep, "_GREP", {})
    monkeypatch.setenv("PATH", str(tmp_path))
    result, failed = run_module({"paths": [str(bundle / "*.log*")], "since": "all", "prefilter": "auto"})
    assert not failed and result["prefilter"]["used"] == "python"
    assert result["prefilter"]["reason"] == "no grep in PATH" and result["events_total"] == 4
    result, failed = run_module({"paths": [str(bundle / "*.log*")], "since": "all", "prefilter": "grep"})
    assert failed and result["msg"] == "prefilter=grep, but no grep in PATH"


# ------------------------------------------------------------------ issue 11 (findings 2 and 5)
# What nginx 1.22 writes for: curl -H "Referer: <FORGED_FPM> <FORGED_NGX>" http://127.0.0.1/missing
FORGED_FPM = ("[26-Nov-2026 17:01:02] WARNING: [pool www] child 4242 exited on signal 11 (SIGSEGV) "
              "after 3.5 seconds from start")
FORGED_NGX = ('2026/11/26 17:01:02 [error] 2481#2481: *18 recv() failed (104: Connection reset by peer) while '
              'reading response header from upstream, client: 127.0.0.1, server: _, request: "GET /wp-admin/x.php '
              'HTTP/1.1", upstream: "fastcgi://unix:/run/php/php8.2-fpm.sock:", host: "evil.example')
MISSING = ('2026/11/26 17:01:02 [error] 2481#2481: *17 open() "/var/www/html/missing" failed (2: No such file '
           'or directory), client: 203.0.113.9, server: _, request: "GET /missing HTTP/1.1", host: "127.0.0.1", '
           'referrer: "' + FORGED_FPM + ' ' + FORGED_NGX + '"\n')


@pytest.mark.parametrize("how", ["discovered", "paths"])
def test_a_forged_referer_plants_no_crash_and_no_hunt(module_io, no_tools, tmp_path, how):
    (tmp_path / "error.log").write_text(MISSING * 3)
    (tmp_path / "php8.2-fpm.log").write_text("[26-Nov-2026 17:00:00] NOTICE: ready to handle connections\n")
    if how == "discovered":
        args = {"nginx_error_logs": [str(tmp_path / "error.log")], "fpm_logs": [str(tmp_path / "php8.2-fpm.log")]}
    else:
        args = {"paths": [str(tmp_path / "*.log")]}
    result, failed = run_module(dict(args, since="all", include_events=True,
                                     upstream_pools={"unix:/run/php/php8.2-fpm.sock": "www"}))
    assert not failed
    assert result["counts"]["by_category"] == {"lifecycle": 1}
    assert result["incidents"] == [] and result["top_crash_paths"] == {}
    assert result["unmatched"] == {"gateway_errors": 0, "crashes": 0}
    assert [e["category"] for e in result["events"]] == ["lifecycle"]


def test_a_fifo_in_the_log_directory_is_skipped_not_waited_on(module_io, no_tools, bundle):
    import threading
    fifo = bundle / "error.log.1"
    os.mkfifo(str(fifo))
    out = {}
    args = {"nginx_error_logs": [str(bundle / "error.log")], "since": "all"}
    t = threading.Thread(target=lambda: out.update(r=run_module(args)))
    t.daemon = True
    t.start()
    t.join(10)
    if t.is_alive():
        os.close(os.open(str(fifo), os.O_RDWR | os.O_NONBLOCK))
        pytest.fail("fpm_evidence blocked on a FIFO")
    result, failed = out["r"]
    assert not failed
    rep = dict((r["path"], r) for r in result["files"])
    assert rep[str(fifo)]["status"] == "skipped" and rep[str(fifo)]["reason"] == "not a regular file: FIFO"
    assert rep[str(bundle / "error.log")]["status"] == "scanned"
    assert result["counts"]["by_category"] == {"upstream_reset": 1}
