# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared fixtures of the unit tests.

Tests import the collection as Ansible does, ``ansible_collections.phpfpm.opcache_fleet...``:
``make setup`` links the checkout as ``.collections/ansible_collections/phpfpm/opcache_fleet``
and ``pytest.ini`` puts ``.collections`` on ``sys.path``. Running a module's main():
module_runner.py.
"""
import time

import pytest


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
