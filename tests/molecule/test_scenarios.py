# SPDX-License-Identifier: GPL-3.0-or-later
"""Every Molecule scenario, one test each: `molecule test -s <scenario>` against
real nginx + php-fpm containers built from the lab image.

Each scenario destroys its own fleet before and after; its full log is kept in
.cache/molecule/<scenario>.log. SCENARIOS="a b" limits the run.
"""
import os
import subprocess
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def select_scenarios(wanted, found):
    """The scenarios to run: all found, or those named in SCENARIOS. A name that matches no
    scenario, or nothing to run at all, is an error: an empty run must not pass as green."""
    unknown = sorted(set(wanted) - set(found))
    if unknown:
        raise ValueError("SCENARIOS names no such Molecule scenario: %s (there are: %s)"
                         % (", ".join(unknown), ", ".join(found) or "none"))
    chosen = [s for s in found if not wanted or s in wanted]
    if not chosen:
        raise ValueError("no Molecule scenario found under molecule/")
    return chosen


def _scenarios():
    found = sorted(
        name for name in os.listdir(os.path.join(ROOT, "molecule"))
        if os.path.isfile(os.path.join(ROOT, "molecule", name, "molecule.yml"))
    )
    return select_scenarios(os.environ.get("SCENARIOS", "").split(), found)


def _environment():
    env = dict(os.environ)
    env["PATH"] = os.path.join(ROOT, ".venv", "bin") + os.pathsep + env.get("PATH", "")
    env.setdefault("CONTAINERS_CONF", os.path.join(ROOT, "lab", "containers.conf"))
    env["ANSIBLE_CONFIG"] = os.path.join(ROOT, "ansible.cfg")
    env["ANSIBLE_DEPRECATION_WARNINGS"] = "False"
    env["PY_COLORS"] = "0"
    env["ANSIBLE_FORCE_COLOR"] = "0"
    env["NO_COLOR"] = "1"
    return env


@pytest.mark.parametrize("scenario", _scenarios())
def test_molecule_scenario(scenario):
    log_dir = os.path.join(ROOT, ".cache", "molecule")
    os.makedirs(log_dir, exist_ok=True)
    log_path = os.path.join(log_dir, scenario + ".log")
    start = time.time()
    with open(log_path, "wb") as log:
        proc = subprocess.run(
            ["molecule", "test", "-s", scenario],
            cwd=ROOT, env=_environment(), stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, check=False,
        )
    elapsed = time.time() - start
    with open(log_path, "rb") as log:
        tail = log.read()[-6000:].decode("utf-8", "replace")
    print("molecule %s: rc=%d in %.0fs, log %s" % (scenario, proc.returncode, elapsed, log_path))
    assert proc.returncode == 0, "molecule test -s %s failed (rc=%d); end of %s:\n%s" % (
        scenario, proc.returncode, log_path, tail)
