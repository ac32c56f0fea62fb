# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""nginx routing: which server block, location and php-fpm pool serve a probe URL.

Private to opcache-fleet. Standard library only, Python 3.8+.

Works on fpm_discover's ``nginx`` answer (servers, locations, fastcgi_targets):

* :func:`select_server` (Host + port -> server block), :func:`match_location` (nginx's
  location rules), :func:`select_fastcgi_target` (-> the pool's master), :func:`order_target_pools` (the
  serving pool first in an opcache_control target) and :func:`serving_target` (both).
"""
from __future__ import absolute_import, division, print_function

import os
import re

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.culprit.errors import HuntError
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.addresses import nginx_listen_port
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.targets import targets_from_discovery

__metaclass__ = type


def _location_kind(text):
    text = (text or "").strip()
    for mod in ("^~", "~*", "=", "~"):
        if text.startswith(mod):
            return mod, text[len(mod):].strip()
    if text.startswith("@"):
        return "@", text
    return "", text


def match_location(locations, uri):
    """The location nginx picks for ``uri`` (exact, then longest prefix with ``^~``, then the
    first matching regex in order, then the longest prefix). Returns (location, warnings)."""
    warnings = []
    best_prefix, best_len = None, -1
    regexes = []
    for loc in locations or []:
        mod, arg = _location_kind(loc.get("location"))
        if mod == "@":
            continue
        if mod == "=":
            if uri == arg:
                return loc, warnings
        elif mod in ("~", "~*"):
            regexes.append((mod, arg, loc))
        elif uri.startswith(arg) and len(arg) > best_len:
            best_prefix, best_len = (loc, mod), len(arg)
    if best_prefix is not None and best_prefix[1] == "^~":
        return best_prefix[0], warnings
    for mod, arg, loc in regexes:
        try:
            rx = re.compile(arg, re.I if mod == "~*" else 0)
        except re.error as exc:
            warnings.append("nginx location %r: regex not understood here (%s); skipped" % (arg, exc))
            continue
        if rx.search(uri):
            return loc, warnings
    return (best_prefix[0] if best_prefix else None), warnings


def _name_matches(name, host):
    name = (name or "").lower()
    if not name or name == "_":
        return False
    if name.startswith("~"):
        try:
            return re.search(name[1:], host, re.I) is not None
        except re.error:
            return False
    if name.startswith("*."):
        return host.endswith(name[1:])
    if name.startswith("."):
        return host == name[1:] or host.endswith(name)
    if name.endswith(".*"):
        return host.startswith(name[:-1])
    return host == name


def select_server(servers, host, port):
    """The nginx server block for (Host, port): name match, else default_server, else first."""
    on_port = []
    for srv in servers or []:
        listens = srv.get("listen") or ["80"]
        ports = [nginx_listen_port(lst) for lst in listens]
        if port in ports:
            on_port.append((srv, listens))
    if not on_port:
        return None
    host = (host or "").lower()
    for srv, _l in on_port:
        if any(_name_matches(n, host) for n in (srv.get("server_names") or [srv.get("server_name")])):
            return srv
    for srv, listens in on_port:
        if any("default_server" in (lst or "").split() or " default" in (lst or "") for lst in listens):
            return srv
    return on_port[0][0]


def select_fastcgi_target(nginx, request):
    """Which php-fpm pool nginx passes ``request`` to.

    Returns {master_pid, config, pool, target, location, root, script_filename, server_name}
    or raises HuntError naming what is missing.
    """
    nginx = nginx or {}
    servers = nginx.get("servers") or []
    if not servers:
        raise HuntError("nginx was not found or its configuration could not be read (fpm_discover: %s); "
                        "give socket" % ("; ".join(nginx.get("errors") or []) or "no servers"), "nginx")
    srv = select_server(servers, request["host"], request["port"])
    if srv is None:
        raise HuntError("no nginx server listens on port %s for %s" % (request["port"], request["url"]),
                        "nginx_server")
    loc, warnings = match_location(srv.get("locations") or [], request["uri"])
    if loc is None or not loc.get("fastcgi_pass"):
        raise HuntError("%s is served by nginx location %r of server %s, which does not pass requests to "
                        "php-fpm (no fastcgi_pass)" % (request["url"], (loc or {}).get("location"),
                                                       srv.get("server_name")), "nginx_location")
    chosen = None
    for t in nginx.get("fastcgi_targets") or []:
        if t.get("location") == loc.get("location") and t.get("target") == loc.get("fastcgi_pass") \
                and (t.get("server_name") in (None, srv.get("server_name"))):
            chosen = t
            break
    if chosen is None:
        for t in nginx.get("fastcgi_targets") or []:
            if t.get("target") == loc.get("fastcgi_pass") or t.get("via") == loc.get("fastcgi_pass"):
                chosen = t
                break
    if chosen is None or not chosen.get("master_pid"):
        raise HuntError("nginx location %r passes %s to %s, which matches no running php-fpm pool "
                        "(unmatched_targets: %s); give socket"
                        % (loc.get("location"), request["uri"], loc.get("fastcgi_pass"),
                           nginx.get("unmatched_targets")), "fastcgi_target")
    root = loc.get("root") or srv.get("root") or chosen.get("root")
    script = None
    if root and loc.get("alias") is None and request["uri"].endswith(".php"):
        script = os.path.normpath(root.rstrip("/") + "/" + request["uri"].lstrip("/"))
    return {"master_pid": chosen.get("master_pid"), "config": chosen.get("config"),
            "pool": chosen.get("pool"), "target": chosen.get("target"), "location": loc.get("location"),
            "root": root, "script_filename": script, "server_name": srv.get("server_name"),
            "warnings": warnings}


def order_target_pools(target, pool_name):
    """Put the pool serving the URL first in an opcache_control target (same cache either way)."""
    names = [p.get("name") for p in target.get("pools") or []]
    if pool_name not in names:
        return target
    i = names.index(pool_name)
    out = dict(target)
    out["pools"] = [target["pools"][i]] + [p for j, p in enumerate(target["pools"]) if j != i]
    out["sockets"] = [target["sockets"][i]] + [s for j, s in enumerate(target["sockets"]) if j != i]
    return out


def serving_target(discovered, request, document_roots=()):
    """(target, mapping): the opcache_control target of the master nginx passes ``request``
    to (fpm_discover's answer), its serving pool first, ``document_roots`` added to its own.
    Raises HuntError naming what is missing."""
    mapping = select_fastcgi_target(discovered.get("nginx"), request)
    targets = targets_from_discovery(discovered, [str(mapping["master_pid"])])
    if not targets:
        raise HuntError("nginx passes it to master %s, which discovery did not describe" % mapping["master_pid"],
                        "master")
    target = order_target_pools(targets[0], mapping["pool"])
    target["document_roots"] = sorted(set(target["document_roots"]) | set(document_roots or ()))
    return target, mapping
