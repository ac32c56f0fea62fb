# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""How a request reaches an nginx server block from the host itself: the scheme, port and
address of its ``listen`` directives (private helper of fpm_discover).

Private to opcache-fleet. Standard library only. A command the report suggests (the culprit
hunt, a check of the page) asks the host's own nginx for a page: it must use the server's
real scheme and port. An HTTPS-only site answers on 443 with ``ssl`` and only redirects on
80 from another server block; a hunt sent to ``http://...:80`` never reaches PHP there.
"""
from __future__ import absolute_import, division, print_function

import re

__metaclass__ = type

__all__ = ["listen_endpoint", "parse_listen"]

# addresses that a request from the host to 127.0.0.1 (or ::1) reaches
_ANY = ("", "*", "0.0.0.0", "[::]", "127.0.0.1", "[::1]", "localhost")
_ADDR_PORT = re.compile(r"^(?:(\[[0-9A-Fa-f:.]+\]|[^:\[\]]+):)?(\d{1,5})$")


def parse_listen(args, ssl_on=False):
    """One ``listen`` (its arguments joined by spaces, as the discovery keeps them) ->
    ``{scheme, port, address}`` or None for a unix socket, a QUIC (UDP) listen or
    something unreadable. ``ssl_on``: the server has the old ``ssl on;`` directive.
    ``address`` is None when the listen takes every address (or a loopback one)."""
    parts = (args or "").split()
    if not parts or parts[0].startswith("unix:"):
        return None
    flags = set(p.split("=", 1)[0] for p in parts[1:])
    if "quic" in flags:
        return None
    m = _ADDR_PORT.match(parts[0])
    if m is None:
        # "listen localhost;" or "listen 10.0.0.5;": an address with nginx's default port
        if re.match(r"^[\w.\-]+$|^\[[0-9A-Fa-f:.]+\]$", parts[0]) and not parts[0].isdigit():
            addr, port = parts[0], 80
        else:
            return None
    else:
        addr, port = m.group(1) or "", int(m.group(2))
    if not 0 < port < 65536:
        return None
    scheme = "https" if ("ssl" in flags or ssl_on) else "http"
    return {"scheme": scheme, "port": port, "address": None if addr in _ANY else addr}


def listen_endpoint(listens, ssl_on=False):
    """The listen a request from the host itself should use, of a server's ``listens``:
    plain HTTP on an address 127.0.0.1 reaches first (no certificate involved), then HTTPS,
    then listens on a specific address; None when it has none usable (unix sockets only)."""
    parsed = [e for e in (parse_listen(one, ssl_on) for one in listens or ["80"]) if e is not None]
    if not parsed:
        return None
    parsed.sort(key=lambda e: (e["address"] is not None, e["scheme"] != "http", e["port"]))
    return parsed[0]
