# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Socket addresses as php-fpm, nginx and nginx's error log write them: the one parser.

Private to opcache-fleet. Standard library only, Python 3.8+. Nothing here does I/O.

Three spellings of one thing meet here:

* php-fpm ``listen``: ``/run/php/x.sock``, ``9000``, ``127.0.0.1:9000``, ``*:9000``,
  ``[::1]:9000``, ``[::]:9000`` (fpm_sockets.c: a value with ``:`` or all digits is TCP);
* nginx ``fastcgi_pass`` / upstream ``server``: ``unix:/run/x.sock``, ``host:port``,
  ``fastcgi://host:port``, an upstream name, or a ``$variable``;
* the ``upstream:`` field of an nginx error-log line: ``"fastcgi://unix:/run/x.sock:"``,
  ``"http://unix:/run/x.sock:/index.php"``, ``"fastcgi://127.0.0.1:9000"``,
  ``"http://10.0.0.1:8080/path"``, ``"fastcgi://[::1]:9000/uri"``.

Parsed addresses are tuples: ``("unix", path)`` or ``("tcp", host or None, port)``
(``None`` host: a wildcard, every local address); nginx targets may also be
``("name", upstream)`` or ``("variable", text)``.
"""
from __future__ import absolute_import, division, print_function

import os
import re
import socket

__metaclass__ = type

LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")
WILDCARD_HOSTS = ("", "*", "0.0.0.0", "::")
_SCHEME_RE = re.compile(r"[a-z][a-z0-9+.\-]*://")


def canonical_unix(path):
    """A unix socket path as both sides mean it: normalised, ``/var/run`` as ``/run``."""
    path = os.path.normpath(path)
    if path.startswith("/var/run/"):
        path = "/run/" + path[len("/var/run/"):]
    return path


def split_host_port(text):
    """``host:port`` / ``[v6]:port`` / ``port`` -> ``(host or None, port text or None)``."""
    text = text.strip()
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            return text, None
        rest = text[end + 1:]
        return text[1:end], (rest[1:] if rest.startswith(":") else None)
    if text.isdigit():
        return None, text
    if text.count(":") > 1:  # a bare IPv6 address carries no port
        return text, None
    if ":" in text:
        host, port = text.rsplit(":", 1)
        return host, port
    return text, None


def listen_kind(listen):
    """``tcp`` or ``unix`` for a php-fpm ``listen`` value (fpm_sockets_domain_from_address)."""
    if listen is None:
        return None
    if ":" in listen or listen.isdigit():
        return "tcp"
    return "unix"


def parse_listen(listen):
    """php-fpm ``listen`` (``unix:`` accepted too) -> ``("unix", path)`` or
    ``("tcp", host or None, port text)``; None stays None. Never raises."""
    if listen is None:
        return None
    value = listen.strip()
    if value.startswith("unix:"):
        value = value[len("unix:"):]
    if listen_kind(value) == "unix":
        return ("unix", canonical_unix(value))
    host, port = split_host_port(value)
    if host in WILDCARD_HOSTS or host is None:
        host = None
    return ("tcp", host, port)


def parse_nginx_target(address):
    """``fastcgi_pass`` / upstream ``server`` address -> ``("unix", path)``,
    ``("tcp", host, port)``, ``("variable", text)`` or ``("name", upstream name)``."""
    if address.startswith("unix:"):
        return ("unix", canonical_unix(address[5:]))
    if "$" in address:
        return ("variable", address)
    for scheme in ("fastcgi://", "http://"):
        if address.startswith(scheme):
            address = address[len(scheme):]
    host, port = split_host_port(address)
    if port is None:
        return ("name", address)
    return ("tcp", host, port)


def is_loopback(host):
    """True for a loopback name or address (``None``, a wildcard, counts as local)."""
    if host is None:
        return True
    low = host.lower()
    return low in LOOPBACK_NAMES or low.startswith("127.") or low == "::1"


def listen_matches(pool_addr, target_addr, local_addresses=()):
    """True when a connection to ``target_addr`` reaches a pool listening on ``pool_addr``
    (both parsed as above)."""
    if pool_addr is None or target_addr is None:
        return False
    if pool_addr[0] != target_addr[0]:
        return False
    if pool_addr[0] == "unix":
        return pool_addr[1] == target_addr[1]
    dummy, p_host, p_port = pool_addr
    dummy, t_host, t_port = target_addr
    if p_port != t_port:
        return False
    local = is_loopback(t_host) or (t_host in local_addresses)
    if p_host is None:  # wildcard: every local address
        return local
    if p_host == t_host:
        return True
    if is_loopback(p_host) and is_loopback(t_host):
        # localhost resolves to 127.0.0.1 (and ::1); 127.x are all one interface here
        p_low, t_low = p_host.lower(), t_host.lower()
        if "::1" in (p_low, t_low) and p_low not in LOOPBACK_NAMES and t_low not in LOOPBACK_NAMES:
            return p_low == t_low
        return True
    return False


def connect_address(listen):
    """Where to connect to reach a php-fpm ``listen`` value: ``(AF_UNIX, path)`` or
    ``(AF_INET|AF_INET6, (host, port))``; a wildcard listen is reached on loopback.

    Raises ValueError naming the offending value.
    """
    if not isinstance(listen, str) or not listen.strip():
        raise ValueError("socket address is empty: %r" % (listen,))
    value = listen.strip()
    if value.startswith("unix:"):
        value = value[len("unix:"):]
    if value.startswith("/"):
        return (socket.AF_UNIX, value)
    if value.isdigit():
        return (socket.AF_INET, ("127.0.0.1", _port(value, listen)))
    if value.startswith("["):
        end = value.find("]")
        if end < 0 or value[end + 1:end + 2] != ":":
            raise ValueError("bad IPv6 socket address %r: expected [addr]:port" % (listen,))
        host = value[1:end]
        port = _port(value[end + 2:], listen)
        if host in ("", "::"):
            host = "::1"
        return (socket.AF_INET6, (host, port))
    if ":" in value:
        host, dummy, port_text = value.rpartition(":")
        if ":" in host:
            raise ValueError("bad socket address %r: IPv6 must be written [addr]:port" % (listen,))
        port = _port(port_text, listen)
        if host in ("", "*", "0.0.0.0"):
            host = "127.0.0.1"
        return (socket.AF_INET, (host, port))
    raise ValueError("bad socket address %r: expected a unix path, port, host:port or [v6]:port"
                     % (listen,))


def _port(text, listen):
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError("bad port in socket address %r" % (listen,))
    return int(text)


def normalize_upstream(value):
    """One key for an upstream however it is written (log field, fastcgi_pass, listen):
    ``fastcgi://unix:/run/x.sock:`` and ``http://unix:/run/x.sock:/index.php`` ->
    ``unix:/run/x.sock``; ``/run/x.sock`` -> ``unix:/run/x.sock``;
    ``fastcgi://127.0.0.1:9000`` -> ``127.0.0.1:9000``; ``http://10.0.0.1:8080/path`` ->
    ``10.0.0.1:8080``; ``[::1]:9000/uri`` -> ``[::1]:9000``. None and "" give None."""
    if not value:
        return None
    v = str(value).strip().strip('"')
    m = _SCHEME_RE.match(v)
    if m:
        v = v[m.end():]
    if v.startswith("/"):
        v = "unix:" + v
    if v.startswith("unix:"):
        path = v[5:]
        # nginx prints "unix:/path:" (fastcgi) or "unix:/path:/uri" (http)
        colon = path.find(":")
        if colon >= 0:
            path = path[:colon]
        return "unix:" + path
    if v.startswith("["):
        end = v.find("]")
        port = re.match(r":\d+", v[end + 1:])
        return v[:end + 1] + (port.group(0) if port else "")
    return v.split("/", 1)[0] or None


def nginx_listen_port(listen):
    """The port of an nginx ``listen`` directive (``80``, ``[::]:443 ssl``, ``*:8080``,
    ``127.0.0.1`` -> 80); None for a unix socket."""
    first = (listen or "").split()[0] if listen else ""
    if first.startswith("unix:"):
        return None
    tail = first.rsplit("]:", 1)[-1] if first.startswith("[") else first.rsplit(":", 1)[-1]
    try:
        return int(tail)
    except ValueError:
        return 80 if not tail.isdigit() else None
