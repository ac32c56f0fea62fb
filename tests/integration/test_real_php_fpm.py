# SPDX-License-Identifier: GPL-3.0-or-later
"""Optional developer test: a REAL php-fpm master this test starts itself (private
sockets in a private directory), no containers.

NOT part of `make test` (CI does not install php-fpm on the controller, and it should not:
the lab image is the real thing). The same checks, and more, run on the lab image in
Molecule: molecule/opcache_control (hostile names, stale then full, open_basedir,
timeout, helper leftovers). Run this one when iterating on the helper without podman:

    apt-get install php8.2-fpm    # once, on a developer machine
    .venv/bin/pytest -rs tests/integration -q

Without php-fpm (or without root) every test is SKIPPED with the reason printed by -rs.
"""
import glob
import os
import pathlib
import shutil
import subprocess
import sys
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, ".collections"))  # the checkout as phpfpm.opcache_fleet (make setup)

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache import fastcgi  # noqa: E402
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache import control as opcache_control  # noqa: E402
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache import state as opcache_state  # noqa: E402
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache import targets as opcache_targets  # noqa: E402
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache import helper as opcache_helper  # noqa: E402

BINARIES = sorted(glob.glob("/usr/sbin/php-fpm*")) + [p for p in (shutil.which("php-fpm"),) if p]
OPCACHE_SO = sorted(glob.glob("/usr/lib/php/*/opcache.so"))
pytestmark = pytest.mark.skipif(
    not BINARIES or os.geteuid() != 0,
    reason="optional developer test: needs php-fpm installed on this machine and root "
           "(molecule/opcache_control runs these checks on the lab image)")

HOSTILE = ["/srv/a'b.php", '/srv/a"b.php', "/srv/$x.php", "/srv/${system('id')}.php", "/srv/a\nb.php",
           "/srv/?><?php echo 1; ?>.php", "/srv/`id`.php", "/srv/a\\'.php"]


@pytest.fixture(scope="module")
def fpm():
    # Not under /tmp: the helper refuses it (PrivateTmp) and pytest's tmp dirs are 0700,
    # which the pool user (www-data) cannot traverse.
    base = "/var/lib/opcache-fleet-test-%d" % os.getpid()
    d = pathlib.Path(base + "-site")
    d.mkdir()
    os.chmod(str(d), 0o755)
    (d / "docroot").mkdir()
    (d / "docroot" / "page.php").write_text("<?php echo 'v1';")
    os.chmod(str(d / "docroot"), 0o755)
    os.chmod(str(d / "docroot" / "page.php"), 0o644)
    ini = d / "php.ini"
    ini.write_text("zend_extension=opcache\nopcache.enable=1\nopcache.validate_timestamps=0\n"
                   "opcache.file_update_protection=0\nextension=posix\n")
    conf = d / "fpm.conf"
    conf.write_text(
        "[global]\npid = {d}/fpm.pid\nerror_log = {d}/fpm.log\ndaemonize = no\n"
        "[www]\nuser = www-data\ngroup = www-data\nlisten = {d}/www.sock\nlisten.mode = 0666\n"
        "pm = static\npm.max_children = 2\n"
        "[jailed]\nuser = www-data\ngroup = www-data\nlisten = {d}/basedir.sock\nlisten.mode = 0666\n"
        "pm = static\npm.max_children = 1\nphp_admin_value[open_basedir] = {d}/docroot\n".format(d=d))
    proc = subprocess.Popen([BINARIES[0], "-n", "-c", str(ini), "-y", str(conf), "-F"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Ready when a real request is answered through each pool (sockets appear before workers
    # are ready; on a loaded machine that gap is long enough to fail a first request).
    deadline = time.time() + 30
    for sock in (d / "www.sock", d / "basedir.sock"):
        while True:
            try:
                fastcgi.request(str(sock), fastcgi.php_params(str(d / "docroot" / "page.php"), method="GET"),
                                b"", timeout=2)
                break
            except fastcgi.FastCGIError:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
    yield {"dir": d, "www": str(d / "www.sock"), "basedir": str(d / "basedir.sock"), "base": base}
    proc.terminate()
    proc.wait(10)
    shutil.rmtree(base, ignore_errors=True)
    shutil.rmtree(str(d), ignore_errors=True)


def leftovers(base):
    return [os.path.join(a, n) for a, ds, fs in os.walk(base) for n in ds + fs
            if n != opcache_state.STATE_FILE]


def test_hostile_names_round_trip_as_data(fpm):
    answer = opcache_helper.run_helper(fpm["www"], "is_cached", {"files": HOSTILE}, base_dir=fpm["base"])
    assert sorted(answer["files"]) == sorted(HOSTILE)
    assert all(v == {"cached": False, "mtime": None} for v in answer["files"].values())
    assert leftovers(fpm["base"]) == []


def test_stale_then_full_on_real_fpm(fpm):
    page = str(fpm["dir"] / "docroot" / "page.php")

    def get():
        return fastcgi.request(fpm["www"], fastcgi.php_params(page, method="GET"), b"").body
    assert get() == b"v1"
    time.sleep(1.1)
    with open(page, "w") as f:
        f.write("<?php echo 'v2';")
    assert get() == b"v1"  # validate_timestamps=0: the cache serves the old code
    target = opcache_targets.explicit_target(fpm["www"])
    r = opcache_control.reset_master(target, "stale", helper_dir=fpm["base"])
    assert r["changed"] and r["verified"] and page in [x["path"] for x in r["files"]]
    assert get() == b"v2"
    again = opcache_control.reset_master(target, "stale", helper_dir=fpm["base"])
    assert not again["changed"]
    full = opcache_control.reset_master(target, "full", helper_dir=fpm["base"])
    assert full["verified"] and full["after"]["manual_restarts"] == full["before"]["manual_restarts"] + 1
    assert leftovers(fpm["base"]) == []


def test_open_basedir_pool_names_it_and_leaves_nothing(fpm):
    with pytest.raises(opcache_helper.HelperError) as exc:
        opcache_helper.run_helper(fpm["basedir"], "status", {}, base_dir=fpm["base"])
    assert exc.value.cause == "open_basedir" and "Operation not permitted" in exc.value.stderr
    assert leftovers(fpm["base"]) == []


def test_timeout_leaves_nothing(fpm):
    with pytest.raises(opcache_helper.HelperError) as exc:
        opcache_helper.run_helper(fpm["www"], "status", {"scripts": True}, base_dir=fpm["base"], timeout=1e-6)
    assert exc.value.cause == "timeout"
    assert leftovers(fpm["base"]) == []
