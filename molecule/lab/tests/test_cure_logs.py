# SPDX-License-Identifier: GPL-3.0-or-later
"""The cure ladder's watch on the lab's logs host, whose masters do not log to a file of their
own: php-fpm-journal logs to the journal (syslog), php-fpm-stderr writes to its standard error,
piped through a reader into a file. playbooks/cure.yml runs from the controller, as an operator
runs it.

1. A page whose code crashes, on each master: the watch counts the crashes from the journal
   and from the piped standard error (never "unknown"), and the ladder ends not cured.
2. A healthy page that forges crash lines into the journal itself (PHP's syslog() with
   php-fpm's identifier, from a worker of the master's own unit), while a local user does the
   same with `logger -t php-fpm`: the watch counts neither (not the master's process), and the
   page is found healthy. Nothing is done.
"""
import json
import os
import re
import subprocess
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
HOST = os.environ.get("CURE_TEST_HOST", "mol-lab-web4")   # lab-web4 to try it on `make lab`
FORGE_PAGE = "/srv/app/releases/a/forge_syslog.php"
FORGED = "[WARNING] [pool www] child 4242 exited on signal 11 (SIGSEGV) after 1.000000 seconds from start"


def on_host(*argv, check=True):
    return subprocess.run(["podman", "exec", HOST] + list(argv), capture_output=True, text=True, check=check).stdout


def cure(tmp_path, *extra):
    inventory = tmp_path / "hosts.json"
    inventory.write_text(json.dumps({"all": {"children": {"webservers": {"hosts": {HOST: {
        "ansible_connection": "containers.podman.podman", "ansible_python_interpreter": "/usr/bin/python3"}}}}}}))
    return subprocess.run(
        ["ansible-playbook", "-i", str(inventory), os.path.join(ROOT, "playbooks", "cure.yml")] + list(extra),
        cwd=ROOT, capture_output=True, text=True, check=False,
        env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                 ANSIBLE_FORCE_COLOR="0"))


def test_crashes_are_counted_from_the_journal_and_from_a_piped_stderr(tmp_path):
    # /a/ is served by php-fpm-journal, /b/ by php-fpm-stderr (molecule/lab/tests/test_lab.py LOGS)
    for page, source in (("/a/crash.php", "journal"), ("/b/crash.php", "stderr")):
        run = cure(tmp_path, "-e", "urls=http://127.0.0.1" + page, "-e", "steps=stale", "-e", "watch_seconds=1")
        out = " ".join(run.stdout.split())   # the yaml callback wraps long lines
        assert run.returncode != 0, out
        assert "not_cured=1" in out and "is not cured" in out, out
        before = re.search(r"before: failing crash=1, crashes ([0-9]+|unknown)", out)
        assert before and before.group(1).isdigit() and int(before.group(1)) >= 1, (source, out[-3000:])


def test_crash_lines_forged_into_the_journal_do_not_count(tmp_path):
    # The watched page itself forges: PHP code in the master's own unit calls syslog() with
    # php-fpm's identifier and a crash line (a worker's process, not the master's), and a
    # local user does the same with logger from outside the unit.
    on_host("sh", "-c", "printf '%%s\\n' '<?php' \"openlog('php-fpm', LOG_PID, LOG_DAEMON);\" "
                        "\"syslog(LOG_WARNING, '%s');\" \"echo 'ok';\" > %s" % (FORGED, FORGE_PAGE))
    stop = threading.Event()

    def forge():
        while not stop.is_set():
            on_host("logger", "-t", "php-fpm", FORGED, check=False)
            time.sleep(0.3)
    forger = threading.Thread(target=forge)
    forger.start()
    try:
        run = cure(tmp_path, "-e", "urls=http://127.0.0.1/a/forge_syslog.php", "-e", "watch_seconds=4")
    finally:
        stop.set()
        forger.join()
        on_host("rm", "-f", FORGE_PAGE, check=False)
    out = " ".join(run.stdout.split())   # the yaml callback wraps long lines
    # the forged lines did reach the master's unit in the journal
    assert "child 4242 exited on signal 11" in on_host("journalctl", "-u", "php-fpm-journal", "--since", "-2min",
                                                       "-o", "cat")
    assert run.returncode == 0, out
    assert "healthy=1" in out and "answering pass=" in out and "crashes 0" in out, out
    assert "changed=0" in out, out
