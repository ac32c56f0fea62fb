# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""How a php-fpm master was started: its systemd unit (``systemctl show``: ExecStart
argv, Environment, EnvironmentFiles) and the php-fpm options of a command line.

Private to opcache-fleet. Standard library only, Python 3.8+. php-fpm rewrites its
argv and environ, so the options it was started with (``-c``, ``-d``, ``-y``) and the
environment (``PHP_INI_SCAN_DIR``, ``PHPRC``) are read back from the unit here.
"""
from __future__ import absolute_import, division, print_function

import re
import shlex

__metaclass__ = type


def parse_fpm_argv(argv):
    """php-fpm options that matter here, from an argv list (argv[0] is the binary)."""
    opts = {"config": None, "prefix": None, "php_ini": None, "no_ini": False,
            "defines": {}, "pid": None}
    with_value = {"-y": "config", "--fpm-config": "config", "-p": "prefix",
                  "--prefix": "prefix", "-c": "php_ini", "--php-ini": "php_ini",
                  "-g": "pid", "--pid": "pid", "-d": "define", "--define": "define"}
    i = 1
    while i < len(argv):
        arg = argv[i]
        key, value = None, None
        if arg in with_value:
            key = with_value[arg]
            value = argv[i + 1] if i + 1 < len(argv) else None
            i += 1
        elif arg.startswith("--") and "=" in arg and arg.split("=", 1)[0] in with_value:
            name, value = arg.split("=", 1)
            key = with_value[name]
        elif len(arg) > 2 and arg[:2] in with_value and not arg.startswith("--"):
            key, value = with_value[arg[:2]], arg[2:]
        elif arg in ("-n", "--no-php-ini"):
            opts["no_ini"] = True
        i += 1
        if key is None or value is None:
            continue
        if key == "define":
            name, equals, dvalue = value.partition("=")
            opts["defines"][name.strip()] = dvalue if equals else "1"
        else:
            opts[key] = value
    return opts


def parse_systemctl_show(text):
    """``systemctl show -p ExecStart -p Environment -p EnvironmentFiles`` -> dict.

    ``exec_argv`` is the argv of the first ExecStart, ``environment`` the parsed
    Environment= assignments, ``environment_files`` the EnvironmentFiles paths with
    ``optional`` set for ``-``/ignore_errors=yes entries.
    """
    info = {"exec_argv": None, "environment": {}, "environment_files": []}
    for line in text.splitlines():
        key, dummy, value = line.partition("=")
        if key == "ExecStart" and info["exec_argv"] is None:
            m = re.search(r"argv\[\]=(.*?) ;", value)
            if m:
                try:
                    info["exec_argv"] = shlex.split(m.group(1))
                except ValueError:
                    info["exec_argv"] = m.group(1).split()
        elif key == "Environment" and value:
            try:
                items = shlex.split(value)
            except ValueError:
                items = value.split()
            for item in items:
                name, sep, val = item.partition("=")
                if sep:
                    info["environment"][name] = val
        elif key == "EnvironmentFiles" and value:
            m = re.match(r"^(\S+)(?:\s+\(ignore_errors=(yes|no)\))?", value)
            if m:
                info["environment_files"].append(
                    {"path": m.group(1), "optional": m.group(2) == "yes"})
    return info


def parse_env_file(text):
    """systemd EnvironmentFile: ``KEY=value`` lines, ``#``/``;`` comments, optional quotes."""
    env = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("export "):
            line = line[len("export "):]
        key, sep, value = line.partition("=")
        if not sep:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        env[key.strip()] = value
    return env


def systemd_unit_info(run_command, unit, fs):
    """:func:`parse_systemctl_show` of ``unit``, its EnvironmentFiles merged into
    ``environment`` (Environment= wins, as in systemd); None when unknown."""
    if not unit:
        return None
    rc, out, _err = run_command(["systemctl", "show", unit, "-p", "ExecStart", "-p",
                                 "Environment", "-p", "EnvironmentFiles"])
    if rc != 0:
        return None
    info = parse_systemctl_show(out)
    env = {}
    for item in info["environment_files"]:
        try:
            env.update(parse_env_file(fs.read_text(item["path"])))
        except (IOError, OSError):
            pass
    env.update(info["environment"])
    info["environment"] = env
    return info
