# SPDX-License-Identifier: GPL-3.0-or-later
"""The Molecule harness: SCENARIOS naming no scenario fails instead of running nothing."""
import importlib.util
import os

import pytest
from unit_paths import PROJECT_ROOT

_spec = importlib.util.spec_from_file_location(
    "molecule_scenarios", os.path.join(PROJECT_ROOT, "tests", "molecule", "test_scenarios.py"))
scenarios = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(scenarios)


def test_all_scenarios_without_selection():
    assert scenarios.select_scenarios([], ["culprit", "lab"]) == ["culprit", "lab"]


def test_selection_keeps_the_named_ones():
    assert scenarios.select_scenarios(["lab"], ["culprit", "lab"]) == ["lab"]


@pytest.mark.parametrize("wanted,found,message", [
    (["labb"], ["culprit", "lab"], "SCENARIOS names no such Molecule scenario: labb (there are: culprit, lab)"),
    (["lab", "nope"], ["lab"], "no such Molecule scenario: nope"),
    ([], [], "no Molecule scenario found"),
])
def test_a_selection_that_runs_nothing_is_an_error(wanted, found, message):
    with pytest.raises(ValueError) as err:
        scenarios.select_scenarios(wanted, found)
    assert message in str(err.value)


def test_the_harness_fails_on_an_unknown_name():
    """Through pytest itself, as scripts/molecule-all.sh runs it: rc != 0, the name printed."""
    import subprocess
    import sys
    env = dict(os.environ, SCENARIOS="no-such-scenario")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           os.path.join(PROJECT_ROOT, "tests", "molecule")],
                          cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    assert proc.returncode != 0
    assert b"no-such-scenario" in proc.stdout
