# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared fixtures of the unit tests.

Tests import the collection as Ansible does, ``ansible_collections.phpfpm.opcache_fleet...``:
``make setup`` links the checkout as ``.collections/ansible_collections/phpfpm/opcache_fleet``
and ``pytest.ini`` puts ``.collections`` on ``sys.path``. Running a module's main():
module_runner.py.
"""
import os
import time

import pytest

from ansible.module_utils import _internal as module_utils_internal


@pytest.fixture(autouse=True)
def module_side(request, monkeypatch):
    """Run module code as it runs on a managed host: without ansible-core's controller.

    Importing the controller (the action plugin tests do: ``ansible.plugins.action``) sets
    ``ansible.module_utils._internal.is_controller`` for the rest of the process, and with it
    set, module warnings go to the controller's display instead of the module's result. On a
    host it is never set; outside the action plugin tests it is put back to that.
    """
    if os.sep + os.path.join("plugins", "action") + os.sep not in str(request.node.fspath):
        monkeypatch.setattr(module_utils_internal, "is_controller", False)


@pytest.fixture
def tz(monkeypatch):
    """``set_tz(name)`` runs the rest of the test with TZ=name; TZ is restored after."""
    def set_tz(name):
        monkeypatch.setenv("TZ", name)
        time.tzset()
    yield set_tz
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def utc(tz):
    """Run the test with TZ=UTC (local-time stamps resolve as UTC); restore TZ after.

    Test files that need it for every test say ``pytestmark = pytest.mark.usefixtures("utc")``.
    """
    tz("UTC")
