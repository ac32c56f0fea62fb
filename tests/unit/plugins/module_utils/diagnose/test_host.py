# SPDX-License-Identifier: GPL-3.0-or-later
"""diagnose_host's steps: what each derives from discovery, the invalidation record, and that
a failing step is recorded while the others still run."""
import base64
import json
import os

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.diagnose import host
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.errors import ControlError

DISCOVERY = {
    "masters": [
        {"master_pid": 10, "config": "/etc/php/8.2/fpm/php-fpm.conf",
         "pools": [{"name": "www", "listen": "/run/php/a.sock", "slowlog": "/var/log/slow-a.log",
                    "chdir": "/srv/app/releases/"},
                   {"name": "api", "listen": "127.0.0.1:9001", "slowlog": "/var/log/slow-a.log"}]},
        {"master_pid": 20, "config": "/etc/php/7.4/fpm/php-fpm.conf",
         "pools": [{"name": "www", "listen": "/run/php/b.sock", "slowlog": "/var/log/slow-b.log"}]},
    ],
    "nginx": {"error_logs": ["/var/log/nginx/error.log"],
              "fastcgi_targets": [{"target": "unix:/run/php/a.sock", "pool": "www", "root": "/srv/app/releases//"},
                                  {"target": "127.0.0.1:9009", "pool": None, "root": "/srv/other"},
                                  {"target": "unix:/run/php/b.sock", "pool": "www", "root": "/"}]},
    "fpm_error_logs": ["/var/log/php8.2-fpm.log"],
    "warnings": [],
}
OPTS = {"since": "2h", "until": None, "correlation_window": 2.0, "kernel": False, "max_events": 7,
        "stale_cap": 2, "release_dir_pattern": r"/(releases?|deploys?)/*$", "extra_code_roots": [],
        "helper_dir": "/nonexistent-helper", "request_timeout": 1.0, "skip": [],
        "fpm_error_logs": None, "nginx_error_logs": None}


def test_upstream_pools_keep_targets_tied_to_a_pool():
    assert host.upstream_pools(DISCOVERY) == {"unix:/run/php/a.sock": "www", "unix:/run/php/b.sock": "www"}


def test_slowlogs_once_each_in_order():
    assert host.slowlogs(DISCOVERY) == ["/var/log/slow-a.log", "/var/log/slow-b.log"]


def test_evidence_params_follow_discovery_and_window():
    p = host.evidence_params(DISCOVERY, OPTS)
    assert p["nginx_error_logs"] == ["/var/log/nginx/error.log"]
    assert p["fpm_logs"] == ["/var/log/php8.2-fpm.log"]
    assert p["slowlogs"] == ["/var/log/slow-a.log", "/var/log/slow-b.log"]
    assert (p["since"], p["until"], p["max_events"], p["include_events"], p["kernel"]) == ("2h", None, 7, True, False)
    assert p["upstream_pools"] == host.upstream_pools(DISCOVERY)
    assert p["paths"] is None and p["include_rotated"] is True


def test_document_roots_strip_trailing_slashes_but_not_root():
    assert host.document_roots(DISCOVERY) == ["/srv/app/releases", "/srv/other", "/"]


def test_release_folders_skip_symlinks_hidden_and_files(tmp_path):
    rel = tmp_path / "releases"
    for name in ("20261201", "20261205", ".git"):
        (rel / name).mkdir(parents=True)
    (rel / "README").write_text("x")
    os.symlink(str(rel / "20261205"), str(rel / "current"))
    assert host.release_folders(str(rel)) == [str(rel / "20261201"), str(rel / "20261205")]
    assert host.release_folders(str(tmp_path / "missing")) == []


def test_code_roots_split_releases_and_keep_other_roots(tmp_path):
    rel = tmp_path / "srv" / "releases"
    (rel / "a").mkdir(parents=True)
    (rel / "b").mkdir()
    empty = tmp_path / "deploys"
    empty.mkdir()
    other = tmp_path / "site" / "public"
    other.mkdir(parents=True)
    disc = {"masters": [{"pools": [{"chdir": str(empty)}]}],
            "nginx": {"fastcgi_targets": [{"root": str(rel) + "/"}, {"root": str(other)}]}}
    releases, roots = host.code_roots(disc, OPTS["release_dir_pattern"], ["/extra"])
    assert releases == {str(rel): [str(rel / "a"), str(rel / "b")], str(empty): []}
    # A releases directory with no folders is scanned as itself; one with folders is not.
    assert roots == sorted([str(rel / "a"), str(rel / "b"), str(other), str(empty), "/extra"])


def _front_controller(tmp_path, composer=None):
    """A Laravel-style app: public/index.php, src/, vendor/ and composer.json above public/."""
    app = tmp_path / "shop"
    for d in ("public", "src/Billing", "vendor/acme/lib"):
        (app / d).mkdir(parents=True)
    (app / "composer.json").write_text(json.dumps(composer or {"autoload": {"psr-4": {"App\\": "src/"}}}))
    return app


def test_a_front_controllers_web_root_is_scanned_from_the_application(tmp_path):
    app = _front_controller(tmp_path)
    assert host.app_roots(str(app / "public")) == [str(app)]
    assert host.app_roots(str(app / "public") + "/") == [str(app)]
    plain = tmp_path / "site" / "public"          # a web root with nothing above it stays as is
    plain.mkdir(parents=True)
    assert host.app_roots(str(plain)) == [str(plain)]
    assert host.app_roots("/public") == ["/public"]


def test_an_application_reached_through_a_symlink_is_one_root_by_its_real_path(tmp_path):
    app = _front_controller(tmp_path)
    os.symlink(str(app), str(tmp_path / "live"))
    assert host.app_roots(str(tmp_path / "live" / "public")) == [str(app)]
    disc = {"masters": [], "nginx": {"fastcgi_targets": [{"root": str(app / "public")},
                                                         {"root": str(tmp_path / "live" / "public")}]}}
    assert host.code_roots(disc, OPTS["release_dir_pattern"], [])[1] == [str(app)]


def test_composer_autoload_dirs_outside_the_application_are_roots_too(tmp_path):
    shared = tmp_path / "shared" / "lib"
    shared.mkdir(parents=True)
    app = _front_controller(tmp_path, {"autoload": {"psr-4": {"App\\": ["src/", "../shared/lib"]},
                                                    "classmap": ["missing/"]},
                                       "autoload-dev": {"psr-0": {"T_": "src/"}}})
    assert host.composer_autoload_dirs(str(app)) == [str(app / "src"), str(shared)]
    assert host.app_roots(str(app / "public")) == [str(app), str(shared)]
    (app / "composer.json").write_text("{not json")
    assert host.composer_autoload_dirs(str(app)) == []


def test_system_directories_are_never_scanned(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(host, "find_collisions", lambda roots, **kw: seen.append((roots, kw)) or
                        {"collisions": [], "warnings": []})
    res = host.collisions(["/", "/usr/", str(tmp_path)], max_files=10, max_seconds=5)
    assert seen == [([str(tmp_path)], {"scope": "per_root", "max_files": 10, "max_seconds": 5})]
    assert [r["path"] for r in res["roots_refused"]] == ["/", "/usr/"]
    assert any("code root / refused" in w for w in res["warnings_found"])
    only = host.collisions(["/"])
    assert only["skipped"] and only["roots_refused"][0]["path"] == "/"


def test_read_invalidations_content_absent_fifo_and_oversized(tmp_path, monkeypatch):
    data = {"masters": {"10": {"files": ["/srv/a.php"]}}}
    (tmp_path / "invalidated.json").write_text(json.dumps(data))
    got = host.read_invalidations(str(tmp_path))
    assert json.loads(base64.b64decode(got["content"])) == data
    absent = host.read_invalidations(str(tmp_path / "none"))
    assert absent["failed"] and "No such file" in absent["msg"] and "invalidated.json" in absent["msg"]
    fifo_dir = tmp_path / "fifo"
    fifo_dir.mkdir()
    os.mkfifo(str(fifo_dir / "invalidated.json"))
    fifo = host.read_invalidations(str(fifo_dir))   # must not block on a FIFO without a writer
    assert fifo["failed"] and "FIFO" in fifo["msg"]
    monkeypatch.setattr(host, "MAX_INVALIDATIONS_BYTES", 5)
    big = host.read_invalidations(str(tmp_path))
    assert big["failed"] and "not read" in big["msg"] and "content" not in big


def test_opcache_state_keeps_stale_scripts_only_up_to_the_cap(monkeypatch):
    scripts = [{"full_path": "/s%d.php" % i, "stale": s}
               for i, s in enumerate(["fresh", "certain", "unknown", "possible", "certain"])]

    def status(target, scripts=False, timeout=None, helper_dir=None):
        assert scripts is True and helper_dir == "/h" and timeout == 1.0
        if target["master_pid"] == 20:
            raise ControlError("connect to /run/php/b.sock: ENOENT", cause="ENOENT", details={"tried": ["/run/php/b.sock"]})
        return {"master_pid": target["master_pid"], "scripts": list(scripts_list)}

    scripts_list = scripts
    monkeypatch.setattr(host, "master_status", status)
    got = host.opcache_state(DISCOVERY, "/h", 2, 1.0)
    assert [m["master_pid"] for m in got["masters"]] == [10]
    assert [s["full_path"] for s in got["masters"][0]["scripts"]] == ["/s1.php", "/s3.php"]
    assert got["failed_masters"][0]["master_pid"] == 20 and got["failed_masters"][0]["cause"] == "ENOENT"
    assert got["failed_masters"][0]["tried"] == ["/run/php/b.sock"]
    assert "ENOENT" in got["msg"]


def test_opcache_state_without_masters_says_so():
    got = host.opcache_state({"masters": [], "nginx": {}}, "/h", 5, 1.0)
    assert got["masters"] == [] and got["msg"] == "no running php-fpm master found"


@pytest.fixture
def fake_steps(monkeypatch):
    calls = []
    monkeypatch.setattr(host, "discover", lambda run, overrides=None: calls.append(("discover", overrides)) or
                        dict(DISCOVERY))
    monkeypatch.setattr(host, "collect_evidence", lambda module, p, fpm_plans=None, **kw:
                        calls.append(("evidence", p["since"], fpm_plans, kw)) or {"counts": {}})
    monkeypatch.setattr(host, "opcache_state", lambda d, h, c, t, deploys=None: calls.append(("opcache", c)) or {"masters": []})
    monkeypatch.setattr(host, "collisions", lambda roots, max_files=0, max_seconds=0:
                        calls.append(("collisions", roots)) or {"collisions": []})
    return calls


def test_diagnose_runs_discovery_once_and_every_step(fake_steps):
    rec = host.diagnose(None, None, dict(OPTS, fpm_error_logs=["/x.log"]))
    assert [c[0] for c in fake_steps] == ["discover", "evidence", "opcache", "collisions"]
    assert fake_steps[0][1] == {"fpm_error_logs": ["/x.log"], "nginx_error_logs": None}
    assert rec["status"] == "ok" and rec["evidence"] == {"counts": {}} and rec["collisions"] == {"collisions": []}
    assert rec["upstream_pools"] == host.upstream_pools(DISCOVERY)
    assert set(rec["timings"]) == {"discovery", "evidence", "opcache", "collisions", "total"}
    assert fake_steps[1][2] == []       # the user named the php-fpm logs: the masters' own are not looked for


def test_diagnose_passes_where_each_master_logs(fake_steps):
    host.diagnose(None, None, OPTS)
    plans = fake_steps[1][2]
    assert [p["master_pid"] for p in plans] == [m["master_pid"] for m in DISCOVERY["masters"]]


def test_a_failing_step_is_recorded_and_the_others_run(fake_steps, monkeypatch):
    def broken(module, p, fpm_plans=None, **kw):
        raise ValueError("since: 'yesterday' is not a time")
    monkeypatch.setattr(host, "collect_evidence", broken)
    rec = host.diagnose(None, None, OPTS)
    assert rec["evidence"] == {"failed": True, "msg": "since: 'yesterday' is not a time"}
    assert [c[0] for c in fake_steps] == ["discover", "opcache", "collisions"]


def test_skip_opcache_and_collisions(fake_steps):
    rec = host.diagnose(None, None, dict(OPTS, skip=["opcache", "collisions"]))
    assert [c[0] for c in fake_steps] == ["discover", "evidence"]
    assert rec["opcache"] == {"msg": "skipped"} and rec["opcache_invalidations"] == {}
    assert rec["collisions"]["skipped"] and rec["collision_roots"] == []
    assert "/srv/app/releases" in rec["releases"]    # the release table does not depend on the scan


def test_failed_discovery_stops_with_its_reason(monkeypatch):
    def broken(run, overrides=None):
        raise OSError("/proc: Permission denied")
    monkeypatch.setattr(host, "discover", broken)
    with pytest.raises(host.StepError, match="discovery failed: /proc: Permission denied"):
        host.diagnose(None, None, OPTS)
