# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Cached scripts of a release that the site's ``current`` link no longer points to.

Private to opcache-fleet. Standard library only.

Deployer, Capistrano, Envoyer and Laravel Envoy deploy into ``<site>/releases/<name>/``
and switch ``<site>/current`` (a symlink) to the new release. OPcache keys a script by
the path it was first reached through (``.../current/public/index.php`` when nginx
passes ``$document_root``) and lists it under its resolved path (``releases/<old>/...``).
After the switch that key still maps to the old release's entry, and each worker's
realpath cache resolves ``current`` to the old release for up to ``realpath_cache_ttl``
seconds: the old code keeps being served. Its files did not change, so no staleness test
sees it. This module finds those entries from the cached paths and the links on disk
(read at run time, never from URLs).

Only opcache_reset() clears both (each worker cleans its realpath cache when it sees the
cache restart); invalidating the old entries makes the workers compile the old release
again until their realpath cache expires. See docs/emergency_reset.md.
"""
from __future__ import absolute_import, division, print_function

import os

__metaclass__ = type

__all__ = ["LIVE_LINKS", "RELEASES_DIR", "live_release", "release_candidates", "superseded_releases"]

RELEASES_DIR = "releases"
# The name of the link to the live release in the usual deploy tools.
LIVE_LINKS = ("current",)


def release_candidates(path):
    """``(site, release dir)`` for each ``/releases/<name>/`` component of ``path``, from
    the left (``/var/www/shop/releases/7/src/A.php`` -> ``/var/www/shop``, ``.../releases/7``)."""
    parts = path.split("/")
    out = []
    for i in range(1, len(parts) - 2):
        if parts[i] == RELEASES_DIR and parts[i + 1] not in ("", ".", ".."):
            site = "/".join(parts[:i]) or "/"
            out.append((site, "/".join(parts[:i + 2])))
    return out


def live_release(site, realpath, islink, lstat):
    """``(link, resolved target, switched at)`` of the site's live link, or None."""
    for name in LIVE_LINKS:
        link = os.path.join(site, name)
        try:
            if not islink(link):
                continue
            target = realpath(link)
            switched = lstat(link).st_mtime
        except (OSError, ValueError):
            continue
        return link, target, switched
    return None


def superseded_releases(scripts, served_roots=(), realpath=os.path.realpath, islink=os.path.islink, lstat=os.lstat):
    """The cached scripts (dicts with ``full_path``, optionally ``last_used_timestamp``,
    ``hits``) that lie in ``<site>/releases/<x>/`` while ``<site>/current`` resolves to
    another directory. One dict per (site, old release): ``site``, ``live_link``,
    ``live_release`` (its resolved target), ``release`` (the old one), ``switched_at``
    (the link's mtime: when it was last switched), ``scripts`` (paths, sorted), ``count``
    and ``used_since_switch``: how many of them OPcache served after the switch (their
    ``last_used_timestamp`` is later): the old release is still being served.

    ``served_roots``: document roots nginx serves; a release that one of them resolves into
    (a preview vhost with ``root .../releases/<x>/public``) is served on purpose, not superseded."""
    served = []
    for r in served_roots or ():
        try:
            served.append(realpath(r).rstrip("/") + "/")
        except (OSError, ValueError):
            continue
    live = {}
    reals = {}              # release dir -> resolved path: one lookup per release, not per script
    groups = {}
    for s in scripts or ():
        path = s.get("full_path") or ""
        for site, rel in release_candidates(path):
            if site not in live:
                live[site] = live_release(site, realpath, islink, lstat)
            if live[site] is None:
                continue
            link, target, switched = live[site]
            real_rel = reals.get(rel)
            if real_rel is None:
                try:
                    real_rel = realpath(rel)
                except (OSError, ValueError):
                    real_rel = rel
                reals[rel] = real_rel
            if real_rel == target or target.startswith(real_rel.rstrip("/") + "/") \
                    or real_rel.startswith(target.rstrip("/") + "/"):
                break           # the live release (or a directory of it)
            if any(r.startswith(real_rel.rstrip("/") + "/") for r in served):
                break           # nginx serves this release itself
            g = groups.get((site, rel))
            if g is None:
                g = groups[(site, rel)] = {"site": site, "live_link": link, "live_release": target,
                                           "release": rel, "switched_at": int(switched), "scripts": [],
                                           "count": 0, "used_since_switch": 0}
            g["scripts"].append(path)
            g["count"] += 1
            used = s.get("last_used_timestamp")
            if isinstance(used, (int, float)) and used > switched:
                g["used_since_switch"] += 1
            break
    out = []
    for key in sorted(groups):
        g = groups[key]
        g["scripts"].sort()
        out.append(g)
    return out
