# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: opcache-fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The command runner discovery is given by the modules that run it. Private to opcache-fleet."""
from __future__ import absolute_import, division, print_function


def make_runner(module):
    """run_command(argv, environ_update=None) for the discovery code: an argument list, never
    a shell; a program that cannot start gives rc 127 and the reason."""

    def run(args, environ_update=None):
        try:
            return module.run_command(args, environ_update=environ_update or None,
                                      expand_user_and_vars=False, handle_exceptions=False)
        except (OSError, IOError) as exc:
            return 127, "", str(exc)

    return run
