"""proc_masters: php-fpm masters from a fake /proc, systemd and binary output, discover()."""
import json
import os

import pytest

from ansible.module_utils import proc_masters
from ansible.module_utils.proc_masters import (
    discover,
    find_fpm_masters,
    list_processes,
    parse_cgroup_unit,
    parse_env_file,
    parse_fpm_argv,
    parse_php_info,
    parse_systemctl_show,
    php_command,
)

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "discover")


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


def run_fixture(name, overrides=None, extra=None):
    runner = FakeRunner(name, extra)
    base = os.path.join(FIXTURES, name)
    result = discover(runner, proc_root=os.path.join(base, "proc"),
                      fs_root=os.path.join(base, "root"), overrides=overrides)
    return result, runner
