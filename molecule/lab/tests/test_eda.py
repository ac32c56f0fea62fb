# SPDX-License-Identifier: GPL-3.0-or-later
"""The crash_storm rulebook (Event-Driven Ansible) against a real lab host: ansible-rulebook
runs the collection's rulebook, its source follows the host's real nginx and php-fpm logs
through `podman exec -i`, and real requests make real crashes and 502s.

Run A (reset not approved, the default): one crash stays quiet; 502s whose workers were
killed (SIGKILL) or that found php-fpm stopped stay quiet; a storm of crashes fires and the
rulebook's diagnose writes a report for the host, and no reset runs. Run B (reset approved):
a poisoned OPcache entry crashes its page, the storm fires, diagnose and then the stale reset
run, and the page answers 200 again. After each run the rulebook is killed (SIGKILL): no
follower is left behind in the host.
"""
import json
import os
import re
import signal
import subprocess
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
HOST = os.environ.get("EDA_TEST_HOST", "mol-lab-web1")   # lab-web1 to try it on `make lab`
FPM_LOG = "/var/log/php8.2-fpm.log"
FPM_UNIT = "php8.2-fpm"
KILL9_PAGE = "/srv/app/releases/a/eda_kill9.php"


def on_host(*argv, check=True):
    return subprocess.run(["podman", "exec", HOST] + list(argv), capture_output=True, text=True, check=check).stdout


def http_code(path):
    return on_host("curl", "-s", "-o", "/dev/null", "--max-time", "10", "-w", "%{http_code}", "http://127.0.0.1" + path)


def followers():
    return on_host("pgrep", "-f", "tail -F -n 0 --", check=False).split()


class Rulebook:
    """ansible-rulebook in its own session, its output in a log file."""

    def __init__(self, tmp, name, **rulebook_vars):
        self.dir = tmp / name
        self.dir.mkdir()
        self.reports = self.dir / "reports"
        self.log_path = self.dir / "rulebook.log"
        inventory = self.dir / "hosts.yml"
        inventory.write_text(json.dumps({"all": {"hosts": {HOST: {
            "ansible_connection": "containers.podman.podman", "ansible_python_interpreter": "/usr/bin/python3"}}}}))
        variables = {
            "opcache_fleet_eda_hosts": [{"host": HOST, "via": ["podman", "exec", "-i", HOST],
                                         "nginx_logs": ["/var/log/nginx/error.log"], "fpm_logs": [FPM_LOG]}],
            "opcache_fleet_eda_report_dir": str(self.reports),
        }
        variables.update(rulebook_vars)
        (self.dir / "vars.yml").write_text(json.dumps(variables))
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            ["ansible-rulebook", "-v", "-i", str(inventory), "-r", "phpfpm.opcache_fleet.crash_storm",
             "--vars", str(self.dir / "vars.yml")],
            cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            # The project's ansible.cfg (collections path: the checkout and containers.podman), not
            # the one Molecule writes for its own runs.
            env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                     ANSIBLE_FORCE_COLOR="0"))

    def text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_for(self, pattern, timeout, after=0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            text = self.text()
            m = re.compile(pattern).search(text, after)
            if m:
                return m
            assert self.proc.poll() is None, "ansible-rulebook exited:\n" + text[-4000:]
            time.sleep(0.3)
        raise AssertionError("no %r in the rulebook log within %ss:\n%s" % (pattern, timeout, self.text()[-4000:]))

    def wait_following(self):
        self.wait_for(r"crash_storm: %s: following /var/log/nginx/error.log" % HOST, 120)
        self.wait_for(r"crash_storm: %s: following %s" % (HOST, re.escape(FPM_LOG)), 10)
        time.sleep(1.5)   # tail -F starts at the end: let both followers open their file first

    def report(self, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            done = sorted(self.reports.glob("*/report.html")) if self.reports.is_dir() else []
            if done:
                return json.loads((done[0].parent / "report.json").read_text())
            assert self.proc.poll() is None, "ansible-rulebook exited:\n" + self.text()[-4000:]
            time.sleep(1)
        raise AssertionError("no report within %ss:\n%s" % (timeout, self.text()[-4000:]))

    def kill(self):
        """SIGKILL, the rulebook and everything it started on this machine: nothing gets to
        clean up, so what is left in the host is what a crash of the watcher would leave."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.log.close()


def assert_no_follower_left():
    deadline = time.time() + 15
    while followers() and time.time() < deadline:
        time.sleep(0.5)
    assert followers() == [], on_host("ps", "-ef")


def count(pattern, text):
    return len(re.findall(pattern, text))


@pytest.fixture(scope="module")
def php_pages():
    on_host("sh", "-c", "printf '%%s\\n' '<?php' 'posix_kill(getmypid(), 9);' > %s" % KILL9_PAGE)
    yield
    on_host("rm", "-f", KILL9_PAGE)


def test_quiet_on_one_crash_and_on_502s_without_crashes_then_a_storm_runs_diagnose(tmp_path_factory, php_pages):
    rb = Rulebook(tmp_path_factory.mktemp("eda"), "run_a", opcache_fleet_eda_window=30)
    try:
        rb.wait_following()

        # One crash: counted, tied to its 502, and no storm.
        assert http_code("/a/crash.php") == "502"
        rb.wait_for(r"crash_storm: %s .*tied crashes 1/3" % HOST, 15)

        # 502s of workers someone killed (SIGKILL): 502s, no crash.
        for _ in range(4):
            assert http_code("/a/eda_kill9.php") == "502"
        rb.wait_for(r"crashes 1, 502s 5\)", 15)
        assert "exited on signal 9 (SIGKILL)" in on_host("tail", "-n", "20", FPM_LOG)

        # 502s with php-fpm stopped: nginx cannot connect; nothing to count.
        on_host("systemctl", "stop", FPM_UNIT)
        try:
            for _ in range(4):
                assert http_code("/a/index.php") == "502"
        finally:
            on_host("systemctl", "start", FPM_UNIT)
        nginx_tail = on_host("tail", "-n", "8", "/var/log/nginx/error.log")
        assert re.search(r"connect\(\) to unix:\S+ failed \((2|111): ", nginx_tail), nginx_tail
        time.sleep(3)
        quiet = rb.text()
        assert "storm on" not in quiet
        assert count(r"crash_storm: %s [^:]+: crash;" % HOST, quiet) == 1

        # A storm: three more crashes, each with its 502.
        start = len(quiet)
        for _ in range(3):
            assert http_code("/b/crash.php") == "502"
            time.sleep(0.5)
        rb.wait_for(r"crash_storm: storm on %s: \d+ tied crashes in 30s" % HOST, 20, after=start)
        report = rb.report(240)
        host = next(h for h in report["hosts"] if h["name"] == HOST)
        assert host["evidence"]["crashes"] >= 4 and host["evidence"]["tied_502s"] >= 4
        assert host["verdict"] != "healthy"
        rb.wait_for(r"PLAY RECAP", 30)
        time.sleep(2)
        text = rb.text()
        assert "PLAY [Reset OPcache" not in text    # not approved: diagnose only
        assert count(r"storm on ", text) == 1
    finally:
        rb.kill()
    assert_no_follower_left()


def test_an_approved_rulebook_diagnoses_then_resets_the_stale_entry_and_the_page_is_cured(tmp_path_factory):
    poison = subprocess.run(["podman", "cp", os.path.join(ROOT, "lab", "poison.sh"), HOST + ":/tmp/eda-poison.sh"],
                            capture_output=True, text=True, check=False)
    assert poison.returncode == 0, poison.stderr
    on_host("systemctl", "restart", FPM_UNIT)   # an empty cache, then one poisoned entry
    out = on_host("bash", "/tmp/eda-poison.sh", "/srv/app/releases/c", "src/Util/Str.php", "report.php", "a,b")
    assert "poisoned" in out
    assert http_code("/c/report.php") == "502"

    rb = Rulebook(tmp_path_factory.mktemp("eda"), "run_b", opcache_fleet_eda_reset_approved=True)
    try:
        rb.wait_following()
        for _ in range(3):
            assert http_code("/c/report.php") == "502"
            time.sleep(0.5)
        rb.wait_for(r"crash_storm: storm on %s" % HOST, 20)
        report = rb.report(240)
        assert next(h for h in report["hosts"] if h["name"] == HOST)["verdict"] == "opcache_suspect"
        # After the diagnosis, the approved rule's second action: the verified stale reset.
        rb.wait_for(r"PLAY \[Reset OPcache of the php-fpm masters, verified\]", 120)
        recap = rb.wait_for(r"PLAY RECAP \*+\s+%s\s+:[^\n]*failed=(\d+)" % HOST, 120,
                            after=rb.text().index("PLAY [Reset OPcache"))
        assert recap.group(1) == "0", rb.text()[-4000:]
        assert http_code("/c/report.php") == "200"
    finally:
        rb.kill()
        on_host("rm", "-f", "/tmp/eda-poison.sh", check=False)
    assert_no_follower_left()
