# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What an evidence bundle must not carry out of a host: client addresses and cookies.

Private to opcache-fleet. Standard library only, Python 3.8+. :func:`redact` replaces

* the value of nginx's ``client:`` field (loopback too: it is still a client);
* every other IP address, v4 or v6, except loopback and the unspecified address (upstream
  addresses on a private network go too: a maintainer needs none of them);
* cookie headers (``Cookie:``, ``Set-Cookie:``, nginx's ``cookie: "..."``) and the values of
  session and token parameters (``PHPSESSID=...``, ``session_id=...``, ``token=...``).

Time stamps (``17:10:58``) and PHP's ``Class::method`` are not addresses: an IPv6 candidate
must parse as one AND have three colons or more, or stand right after ``client:``.
"""
from __future__ import absolute_import, division, print_function

import ipaddress
import re

__metaclass__ = type

CLIENT = "<client>"
ADDRESS = "<address>"
SECRET = "<redacted>"

_CLIENT_FIELD = re.compile(r"(\bclient: )([^,\s]+)")
_IPV4 = re.compile(r"(?<![\w.])(\d{1,3}(?:\.\d{1,3}){3})(?![\w.]*\d)")
_IPV6 = re.compile(r"(?<![\w:.])([0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:%\w+)?)(?![\w:])")
_COOKIE = re.compile(r"(?i)(\b(?:set-)?cookie\s*[:=]\s*)(\"[^\"\r\n]*\"|[^\r\n]*)")
_SECRET_PARAM = re.compile(r"(?i)(\b[\w.-]*(?:sess(?:ion)?(?:_?id)?|token|auth|passw(?:or)?d|secret)[\w.-]*=)([^;&\s\"',]+)")


def _keep(text):
    try:
        ip = ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        return True  # not an address: a version number, a time
    return ip.is_loopback or ip.is_unspecified


def redact(text):
    """``(redacted text, number of replacements)``."""
    count = [0]

    def sub(replacement):
        def repl(m):
            count[0] += 1
            return m.group(1) + replacement
        return repl

    def address(m):
        if _keep(m.group(1)):
            return m.group(0)
        count[0] += 1
        return ADDRESS

    def address6(m):
        found = m.group(1)
        if found.count(":") < 3 or _keep(found):
            return found
        count[0] += 1
        return ADDRESS

    text = _COOKIE.sub(sub(SECRET), text)
    text = _SECRET_PARAM.sub(sub(SECRET), text)
    text = _CLIENT_FIELD.sub(sub(CLIENT), text)
    text = _IPV4.sub(address, text)
    text = _IPV6.sub(address6, text)
    return text, count[0]
