"""Make plugins/module_utils importable as ansible.module_utils.* without Ansible running.

Modules import their helpers as ``ansible.module_utils.<name>`` (that is how Ansible
ships them to managed hosts); unit tests import them the same way.
Shared fixtures: ``utc`` (TZ=UTC). Running a module's main(): module_runner.py.
"""
import os
import sys
import time

import ansible.module_utils
import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODULE_UTILS = os.path.join(ROOT, "plugins", "module_utils")
MODULES = os.path.join(ROOT, "plugins", "modules")

if MODULE_UTILS not in ansible.module_utils.__path__:
    ansible.module_utils.__path__.append(MODULE_UTILS)
if MODULES not in sys.path:
    sys.path.insert(0, MODULES)


@pytest.fixture
def utc(monkeypatch):
    """Run the test with TZ=UTC (local-time stamps resolve as UTC); restore TZ after.

    Test files that need it for every test say ``pytestmark = pytest.mark.usefixtures("utc")``.
    """
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()
