# SPDX-License-Identifier: GPL-3.0-or-later
"""run_command stand-in for discovery tests: answers from a fixture's commands.json."""
import json
import os

from unit_paths import FIXTURES_ROOT

FIXTURES = os.path.join(FIXTURES_ROOT, "discover")


class FakeRunner:
    """run_command stand-in answering from a fixture's commands.json."""

    def __init__(self, name, extra=None):
        self.base = os.path.join(FIXTURES, name)
        path = os.path.join(self.base, "commands.json")
        self.table = {}
        if os.path.exists(path):
            with open(path) as handle:
                self.table = json.load(handle)
        self.table.update(extra or {})
        self.calls = []

    def __call__(self, args, environ_update=None):
        assert isinstance(args, list), "commands must be argument lists"
        self.calls.append((list(args), dict(environ_update or {})))
        entry = self.table.get(" ".join(args))
        if entry is None:
            return 127, "", "%s: not found" % args[0]
        out = entry.get("stdout", "")
        if entry.get("stdout_file"):
            with open(os.path.join(self.base, entry["stdout_file"])) as handle:
                out = handle.read()
        return entry.get("rc", 0), out, entry.get("stderr", "")
