# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Targets: which php-fpm masters to talk to, and through which pools.

Private to opcache-fleet. Standard library only, Python 3.8+.

A *target* is one master with the pools/sockets through which it can be reached::

    {master_pid, config, php_version, systemd_unit, opcache: {directive: value},
     pools: [pool dicts as fpm_discover reports them], sockets: [listen, ...]}

Built by :func:`targets_from_discovery` (fpm_discover's ``masters``) or
:func:`explicit_target` (a given ``socket``). All pools of one master share one
OPcache, so the pools are ordered by how easily the helper can use them
(:func:`pool_ease`) and every action talks to the first one that works.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type


def _root_values(obj, sink):
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key in ("root", "alias") and isinstance(value, str) and value.startswith("/"):
                sink.add(value.rstrip("/") or "/")
            else:
                _root_values(value, sink)
    elif isinstance(obj, list):
        for item in obj:
            _root_values(item, sink)


def document_roots(nginx):
    """Every nginx ``root``/``alias`` found in fpm_discover's nginx report."""
    roots = set()
    _root_values(nginx or {}, roots)
    return sorted(roots)


def pool_ease(pool):
    """Sort key: pools where the helper runs most easily come first."""
    return (
        1 if pool.get("chroot") else 0,
        1 if pool.get("open_basedir") else 0,
        1 if (pool.get("php_admin_values") or {}).get("opcache.restrict_api") else 0,
        1 if (pool.get("listen_kind") == "tcp") else 0,
    )


def helper_pool(pool, master_opcache=None):
    """Reduce a discovered pool to what HelperSession needs."""
    admin = pool.get("php_admin_values") or {}
    values = pool.get("php_values") or {}
    restrict = admin.get("opcache.restrict_api") or values.get("opcache.restrict_api") or \
        (master_opcache or {}).get("opcache.restrict_api")
    limit = pool.get("security_limit_extensions")
    return {
        "name": pool.get("name"),
        "chroot": pool.get("chroot"),
        "group": pool.get("group"),
        # the pool's user: a socket held by it is accepted when the master's pid is unknown
        "user": pool.get("user"),
        "open_basedir": pool.get("open_basedir") or pool.get("open_basedir_effective"),
        "opcache.restrict_api": restrict or None,
        "security.limit_extensions": " ".join(limit) if isinstance(limit, list) else limit,
    }


def targets_from_discovery(discovered, select=None):
    """Targets from fpm_discover's result. ``select``: list of master pids or config
    paths to keep (None = all)."""
    roots = document_roots(discovered.get("nginx"))
    targets = []
    for master in discovered.get("masters", []):
        if select and str(master.get("master_pid")) not in [str(s) for s in select] and \
                master.get("config") not in select:
            continue
        pools = sorted([p for p in master.get("pools", []) if p.get("listen")], key=pool_ease)
        targets.append({
            "master_pid": master.get("master_pid"),
            "config": master.get("config"),
            "php_version": master.get("php_version"),
            "systemd_unit": master.get("systemd_unit"),
            # where its workers' deaths are written (the cure's watch reads them)
            "error_log": master.get("error_log"),
            "error_log_kind": master.get("error_log_kind"),
            "syslog_ident": master.get("syslog_ident"),
            "opcache": master.get("opcache") or {},
            "pools": [helper_pool(p, master.get("opcache")) for p in pools],
            "pool_names": [p.get("name") for p in master.get("pools", [])],
            "sockets": [p.get("listen") for p in pools],
            "document_roots": roots,
        })
    return targets


def explicit_target(socket, master_pid=None, pool=None, config=None, systemd_unit=None,
                    document_roots_=()):
    """A target from an explicit socket (and optional pool facts)."""
    pool = dict(pool or {})
    pool.setdefault("name", None)
    return {
        "master_pid": master_pid,
        "config": config,
        "php_version": None,
        "systemd_unit": systemd_unit,
        "opcache": {},
        "pools": [helper_pool(pool) if "security_limit_extensions" in pool else pool],
        "pool_names": [pool["name"]] if pool.get("name") else [],
        "sockets": [socket],
        "document_roots": list(document_roots_ or []),
    }
