# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: opcache-fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Is anything listening where nginx sends PHP requests and no php-fpm pool was found?

A php-fpm that is stopped while nginx still routes to it leaves no crash and, without
requests in the window, no 502 either: only its absence tells. For each ``fastcgi_pass``
target on this host that no discovered pool listens on (discovery's ``unmatched_targets``
marked ``local``), one connect() with a short timeout, closed at once without sending a
byte. Remote backends are not probed. Private to opcache-fleet."""
from __future__ import absolute_import, division, print_function

import errno
import socket

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.addresses import parse_nginx_target

# What a failed connect() means for "is php-fpm there?".
DOWN_STATES = ("refused", "missing")


def sockaddr(target):
    """``(family, address)`` to connect to for an nginx fastcgi target; ValueError otherwise."""
    parsed = parse_nginx_target(target)
    if parsed[0] == "unix":
        return socket.AF_UNIX, parsed[1]
    if parsed[0] != "tcp":
        raise ValueError("%r is not a socket address" % (target,))
    host, port = parsed[1], parsed[2]
    try:
        port = int(port)
    except (TypeError, ValueError):
        raise ValueError("%r: port %r is not a number" % (target, port))
    if host in (None, "", "*", "0.0.0.0", "localhost", "localhost.localdomain"):
        host = "127.0.0.1"
    elif host in ("::", "ip6-localhost"):
        host = "::1"
    return (socket.AF_INET6 if ":" in host else socket.AF_INET), (host, port)


def probe(target, timeout=1.0):
    """``(state, detail)``: ``listening``, ``refused`` (nothing listens), ``missing`` (no such
    socket file), ``timeout`` or ``error`` with the reason."""
    try:
        family, address = sockaddr(target)
    except ValueError as exc:
        return "error", str(exc)
    sock = None
    try:
        # socket() itself fails on a host without that family (EAFNOSUPPORT: no IPv6).
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        sock.connect(address)
    except socket.timeout:
        return "timeout", "no answer within %.1f s" % timeout
    except (OSError, IOError) as exc:
        if exc.errno == errno.ECONNREFUSED:
            return "refused", "connection refused"
        if exc.errno == errno.ENOENT:
            return "missing", "no such socket file"
        return "error", exc.strerror or str(exc)
    finally:
        if sock is not None:
            sock.close()
    return "listening", "something listens there, not a discovered php-fpm pool"


def probe_unmatched(nginx, timeout=1.0):
    """One entry per local unmatched target: ``{target, state, detail, uses: [{server_name,
    location, root}]}``, in the order nginx names them."""
    out, by_target = [], {}
    for t in (nginx or {}).get("unmatched_targets") or []:
        if not t.get("local") or not t.get("target"):
            continue
        use = {"server_name": t.get("server_name"), "location": t.get("location"), "root": t.get("root")}
        if t["target"] in by_target:
            by_target[t["target"]]["uses"].append(use)
            continue
        state, detail = probe(t["target"], timeout)
        entry = {"target": t["target"], "state": state, "detail": detail, "uses": [use]}
        by_target[t["target"]] = entry
        out.append(entry)
    return out
