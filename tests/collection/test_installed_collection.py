# SPDX-License-Identifier: GPL-3.0-or-later
"""The collection as a user gets it: built, installed elsewhere, used with no project ansible.cfg.

Builds the tarball with ``ansible-galaxy collection build``, installs it into a temporary
collections path, then, from a directory outside the checkout with a neutral
``ansible.cfg`` (only that collections path), renders module docs, syntax-checks the
playbooks by their FQCN, and runs a user's playbook that calls read-only FQCN modules on
localhost against log files it writes. The modules that change hosts run against the
lab in the Molecule scenarios.
"""
import json
import os
import subprocess
import sys
import tarfile

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.dirname(sys.executable)
FQCN = "phpfpm.opcache_fleet"
MAX_TARBALL = 5 * 1024 * 1024

NGINX_LINE = ('2026/11/26 17:01:02 [error] 2481#2481: *1828457 recv() failed (104: Connection reset by peer) '
              'while reading response header from upstream, client: 10.0.0.9, server: shop, '
              'request: "GET /a/report.php HTTP/1.1", upstream: "fastcgi://unix:/run/php/php8.2-fpm.sock:", '
              'host: "shop"\n')
FPM_LINE = ('[26-Nov-2026 17:01:02] WARNING: [pool www] child 24352 exited on signal 11 (SIGSEGV) '
            'after 301.965713 seconds from start\n')

PLAYBOOK = """\
- name: A user's playbook that calls the installed collection by FQCN
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Scan the logs
      phpfpm.opcache_fleet.fpm_evidence:
        paths: ["{nginx}", "{fpm}"]
        since: all
        kernel: false   # this machine's own journal is not the test's input
      register: evidence
    - name: Keep the result
      ansible.builtin.copy:
        content: "{{{{ evidence | to_json }}}}"
        dest: "{out}"
        mode: "0600"
"""


def run(argv, cwd, env, check=True):
    """(rc, stdout); stderr (warnings) only shown when the command fails."""
    proc = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          stdin=subprocess.DEVNULL, check=False)
    text = proc.stdout.decode("utf-8", "replace")
    if check:
        assert proc.returncode == 0, "%s failed (rc=%d):\n%s\n%s" % (
            " ".join(argv), proc.returncode, text[-4000:], proc.stderr.decode("utf-8", "replace")[-2000:])
    return proc.returncode, text


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    base = tmp_path_factory.mktemp("installed")
    build, colls, user = base / "build", base / "collections", base / "user"
    for d in (build, colls, user):
        d.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["PATH"] = BIN + os.pathsep + env.get("PATH", "")
    run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(build), ROOT],
        cwd=str(user), env=env)
    tarballs = list(build.glob("phpfpm-opcache_fleet-*.tar.gz"))
    assert len(tarballs) == 1
    # --force: an equal version installed elsewhere (Molecule installs the project into
    # ~/.ansible/collections) must not make the install a no-op.
    run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--force", "-p", str(colls), str(tarballs[0])],
        cwd=str(user), env=env)
    (user / "ansible.cfg").write_text("[defaults]\ncollections_path = %s\n" % colls)
    env["ANSIBLE_CONFIG"] = str(user / "ansible.cfg")
    return {"tarball": tarballs[0], "collections": colls, "user": user, "env": env}


def test_tarball_is_small_and_leaves_the_lab_out(installed):
    assert os.path.getsize(str(installed["tarball"])) < MAX_TARBALL
    with tarfile.open(str(installed["tarball"])) as tar:
        names = tar.getnames()
    assert "galaxy.yml" not in names and "MANIFEST.json" in names and "meta/runtime.yml" in names
    assert "plugins/modules/opcache_reset.py" in names and "LICENSE" in names
    for left_out in ("molecule/", "lab/", "bench/", "roles/lab/", ".collections/", ".venv/", ".cache/"):
        assert not [n for n in names if n.startswith(left_out)], left_out
    assert not [n for n in names if "__pycache__" in n]


def test_installed_copy_is_the_one_loaded(installed):
    _rc, out = run([os.path.join(BIN, "ansible-doc"), FQCN + ".opcache_reset"],
                   cwd=str(installed["user"]), env=installed["env"])
    assert str(installed["collections"]) in out and ROOT not in out


@pytest.mark.parametrize("module", ["opcache_reset", "fpm_evidence", "fpm_discover", "opcache_status",
                                    "opcache_ini", "opcache_blacklist", "opcache_culprit",
                                    "php_class_collisions", "fleet_report", "evidence_bundle", "opcache_cure"])
def test_ansible_doc_renders(installed, module):
    _rc, out = run([os.path.join(BIN, "ansible-doc"), "--json", FQCN + "." + module],
                   cwd=str(installed["user"]), env=installed["env"])
    doc = json.loads(out)[FQCN + "." + module]
    assert doc["doc"]["options"]
    assert doc["return"]


@pytest.mark.parametrize("playbook", ["diagnose", "emergency_reset", "opcache_config", "culprit_hunt", "evidence_bundle", "cure"])
def test_playbooks_syntax_check_by_fqcn(installed, playbook):
    run([os.path.join(BIN, "ansible-playbook"), "--syntax-check", "-i", "localhost,", FQCN + "." + playbook],
        cwd=str(installed["user"]), env=installed["env"])


def test_users_playbook_calls_fpm_evidence(installed, tmp_path):
    nginx, fpm, out = tmp_path / "error.log", tmp_path / "php8.2-fpm.log", tmp_path / "result.json"
    nginx.write_text(NGINX_LINE)
    fpm.write_text(FPM_LINE)
    book = installed["user"] / "site.yml"
    book.write_text(PLAYBOOK.format(nginx=nginx, fpm=fpm, out=out))
    run([os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "-e", "ansible_python_interpreter=" + sys.executable,
         str(book)],
        cwd=str(installed["user"]), env=installed["env"])
    result = json.loads(out.read_text())
    assert result["counts"]["by_category"] == {"upstream_reset": 1, "child_signal": 1}
    assert result["changed"] is False


REPORT_PLAYBOOK = """\
- name: A user's playbook that writes the fleet report with the installed action plugin
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Judge the recorded host
      phpfpm.opcache_fleet.fleet_report:
        hosts: "{{{{ [lookup('ansible.builtin.file', '{record}') | from_json] }}}}"
        timestamp: 20261126T172000Z
      register: report
    - name: Keep the result
      ansible.builtin.copy:
        content: "{{{{ report | to_json }}}}"
        dest: "{out}"
        mode: "0600"
      check_mode: false
"""


@pytest.mark.parametrize("check", [False, True])
def test_users_playbook_writes_the_report_with_the_action_plugin(installed, tmp_path, check):
    """The action plugin of the installed copy: the report under ./reports of the directory
    ansible-playbook runs in, next steps by FQCN (no playbooks beside the user's); --check
    writes nothing."""
    cwd = tmp_path / "work"
    cwd.mkdir()
    record, out = os.path.join(ROOT, "tests", "unit", "fixtures", "diagnose", "lab-web2.json"), tmp_path / "r.json"
    book = installed["user"] / "report.yml"
    book.write_text(REPORT_PLAYBOOK.format(record=record, out=out))
    run([os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "-e", "ansible_python_interpreter=" + sys.executable,
         str(book)] + (["--check"] if check else []), cwd=str(cwd), env=installed["env"])
    result = json.loads(out.read_text())
    assert result["verdicts"] == {"lab-web2": "opcache_suspect"}
    assert result["report_dir"] == str(cwd / "reports" / "20261126T172000Z")
    assert result["changed"] is True and result["written"] is (not check)
    if check:
        assert not (cwd / "reports").exists()
        return
    report = json.loads((cwd / "reports" / "20261126T172000Z" / "report.json").read_text())
    reset = [s for s in report["hosts"][0]["next_steps"] if s["kind"] == "reset"][0]
    assert reset["command"].startswith("ansible-playbook phpfpm.opcache_fleet.emergency_reset ")


EVENT_SOURCE_RUN = r"""
import asyncio, json, runpy, sys
source = runpy.run_path(sys.argv[1])   # as ansible-rulebook loads a collection's source
nginx, fpm = sys.argv[2], sys.argv[3]
events = []

class Queue:
    async def put(self, event):
        events.append(event)

async def scenario():
    task = asyncio.ensure_future(source["main"](Queue(), {
        "hosts": [{"host": "web1", "nginx_logs": [nginx], "fpm_logs": [fpm]}], "poll_interval": 0.05}))
    await asyncio.sleep(0.5)
    for i in range(3):
        with open(nginx, "a") as f:
            f.write(sys.argv[4].replace("*1828457", "*%d" % i))
        with open(fpm, "a") as f:
            f.write(sys.argv[5].replace("child 24352", "child %d" % (100 + i)))
    await asyncio.sleep(1.0)
    task.cancel()

asyncio.run(scenario())
storm = sys.modules["ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.storm"]
print(json.dumps({"events": events, "storm_from": storm.__file__}))
"""


def test_installed_rulebook_and_event_source_work_outside_the_checkout(installed, tmp_path):
    """The installed collection ships the rulebook and its source; the source, run with
    runpy by a Python that has no ansible_collections on its path (as ansible-rulebook runs
    it), imports its helpers from the installed copy and fires on a storm in real files."""
    coll = installed["collections"] / "ansible_collections" / "phpfpm" / "opcache_fleet"
    assert (coll / "extensions" / "eda" / "rulebooks" / "crash_storm.yml").is_file()
    assert not (coll / "inventories" / "lab").exists()
    nginx, fpm = tmp_path / "error.log", tmp_path / "php-fpm.log"
    nginx.write_text("")
    fpm.write_text("")
    plugin = coll / "extensions" / "eda" / "plugins" / "event_source" / "crash_storm.py"
    _rc, out = run([sys.executable, "-I", "-c", EVENT_SOURCE_RUN, str(plugin), str(nginx), str(fpm), NGINX_LINE,
                    FPM_LINE], cwd=str(installed["user"]), env=installed["env"])
    result = json.loads(out.strip().splitlines()[-1])
    assert result["storm_from"].startswith(str(installed["collections"]))
    assert len(result["events"]) == 1
    body = result["events"][0]["opcache_fleet"]
    assert (body["host"], body["tied_crashes"], body["reset_approved"]) == ("web1", 3, False)
