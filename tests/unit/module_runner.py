# SPDX-License-Identifier: GPL-3.0-or-later
"""Run a module's main() in-process from a unit test, with the given module args.

Two ways, as the tests need them:

- ``run_main(module, args)`` while ``patch_exit_fail(monkeypatch)`` is in effect:
  exit_json/fail_json raise ExitJson/FailJson instead of printing and exiting;
  returns ``(result, failed)``.
- ``run_main_exit(module, args, check=, diff=)``: the real exit path (the module prints
  its JSON result and exits); ``run_main_json(module, capsys, args, ...)`` also reads
  that result back from captured stdout.
"""
import json

import pytest

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args


class ExitJson(Exception):
    """exit_json was called; args[0] is the result."""


class FailJson(Exception):
    """fail_json was called; args[0] is the result, msg included."""


def patch_exit_fail(monkeypatch, on_exit=None):
    """Make AnsibleModule.exit_json/fail_json raise ExitJson/FailJson carrying the result.

    ``on_exit(module, result)``, when given, may add to the result of exit_json
    (warnings, for instance) before it is raised.
    """
    def exit_json(self, **kwargs):
        if on_exit is not None:
            on_exit(self, kwargs)
        raise ExitJson(kwargs)

    def fail_json(self, msg, **kwargs):
        kwargs["msg"] = msg
        raise FailJson(kwargs)

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)


def run_main(module, args):
    """module.main() with args (patch_exit_fail in effect): (result, failed)."""
    with patch_module_args(args):
        with pytest.raises((ExitJson, FailJson)) as info:
            module.main()
    return info.value.args[0], isinstance(info.value, FailJson)


def run_main_exit(module, args, check=False, diff=False):
    """module.main() with args, in check and/or diff mode on request, until it exits."""
    args = dict(args)
    if check:
        args["_ansible_check_mode"] = True
    if diff:
        args["_ansible_diff"] = True
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()


def run_main_json(module, capsys, args, check=False, diff=False):
    """run_main_exit, then the JSON result the module printed."""
    run_main_exit(module, args, check=check, diff=diff)
    return json.loads(capsys.readouterr().out)
