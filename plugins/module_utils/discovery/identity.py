# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: opcache-fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which php-fpm master a pool belongs to, as one short key (issue 10).

Pool names are not unique on a host: php7.4-fpm beside php8.2-fpm, or two systemd
template instances, both ship ``[www]``. A pool is therefore (master key, pool name)
wherever crashes, 502s, verdicts and next steps are tied to it. The key is the master's
configuration file: it survives a restart (the pid does not) and it is what
``emergency_reset.yml -e masters=...`` selects a master by. A master whose configuration
is not known is keyed by its pid. Private to opcache-fleet. Standard library only.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type


def master_key(master):
    """The key of a master entry (discovery's ``masters[]``, an fpm_sources plan, an
    opcache target: anything with ``config`` and ``master_pid``); None when it has neither."""
    if not isinstance(master, dict):
        return None
    if master.get("config"):
        return master["config"]
    if master.get("master_pid") is not None:
        return "pid %s" % master["master_pid"]
    return None
