# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: opcache-fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deploy sites and their releases, modelled from the code on disk (issue 10 point 4).

Deployer, Capistrano, Envoyer and Laravel Envoy keep ``<site>/releases/<name>/`` (a
timestamp or a number) and a symlink ``<site>/current`` to the live one; nginx serves
``<site>/current/public``. Request URLs carry no release name, so a release is known
from the disk: the nginx roots (and pools' chdir) that go through ``<site>/current`` or
lie in ``<site>/releases/<x>``, the releases directory listed, the link resolved, and
OPcache's cached paths counted per release (``release_script_counts``). Read at run
time on the host; nothing is written. Private to opcache-fleet. Standard library only.
"""
from __future__ import absolute_import, division, print_function

import os

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.helper import path_within
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.releases import (
    LIVE_LINKS, RELEASES_DIR, live_release, release_candidates,
)

__metaclass__ = type

# The most recent releases listed per site (Deployer keeps 5 by default, Capistrano 5;
# a site that never cleans up can hold hundreds).
MAX_RELEASES = 30


def site_of_root(root, realpath=os.path.realpath, islink=os.path.islink, isdir=os.path.isdir):
    """The deploy site of a document root: ``<site>`` when the root goes through the
    symlink ``<site>/current`` or lies in ``<site>/releases/<x>`` (as written or once
    resolved), and ``<site>/releases`` is a directory; else None."""
    parts = root.rstrip("/").split("/")
    for i in range(1, len(parts)):
        if parts[i] in LIVE_LINKS:
            site = "/".join(parts[:i]) or "/"
            if islink("/".join(parts[:i + 1])) and isdir(os.path.join(site, RELEASES_DIR)):
                return site
    for spelled in (root, realpath(root)):
        for site, dummy in release_candidates(spelled.rstrip("/") + "/-"):
            if isdir(os.path.join(site, RELEASES_DIR)):
                return site
    return None


def _release_order(name):
    # Deployer numbers its releases (1, 2, ... 10): by number, not as text
    return (0, int(name), "") if name.isdigit() else (1, 0, name)


def _release_names(releases_dir):
    return sorted((e.name for e in os.scandir(releases_dir)
                   if not e.name.startswith(".") and e.is_dir(follow_symlinks=False)), key=_release_order)


def deploy_sites(roots, realpath=os.path.realpath, islink=os.path.islink, lstat=os.lstat):
    """One entry per deploy site that a root in ``roots`` belongs to: ``site``,
    ``live_link`` / ``live_release`` (the link and its resolved target; None without a
    link), ``switched_at`` (the link's mtime), ``roots`` (those of ``roots`` in the site),
    ``releases_total`` and ``releases``, the most recent MAX_RELEASES, oldest first:
    ``{name, path, resolved, live, served_by}`` (``served_by``: the roots that resolve into
    it). A releases directory that cannot be listed gives ``error`` and no releases."""
    by_site = {}
    for r in roots or ():
        site = site_of_root(r, realpath, islink)
        if site is not None and r not in by_site.setdefault(site, []):
            by_site[site].append(r)
    out = []
    for site in sorted(by_site):
        served = [(r, realpath(r)) for r in by_site[site]]
        live = live_release(site, realpath, islink, lstat)
        entry = {"site": site, "live_link": live[0] if live else None, "live_release": live[1] if live else None,
                 "switched_at": int(live[2]) if live else None, "roots": by_site[site],
                 "releases_total": 0, "releases": [], "error": None}
        releases_dir = os.path.join(site, RELEASES_DIR)
        try:
            names = _release_names(releases_dir)
        except OSError as exc:
            entry["error"] = "%s: %s" % (releases_dir, exc.strerror or exc)
            out.append(entry)
            continue
        entry["releases_total"] = len(names)
        for name in names[-MAX_RELEASES:]:
            path = os.path.join(releases_dir, name)
            real = realpath(path)
            entry["releases"].append({
                "name": name, "path": path, "resolved": real,
                "live": live is not None and path_within(live[1], real),
                "served_by": [r for r, rr in served if path_within(rr, real)],
            })
        out.append(entry)
    return out


def release_script_counts(sites, scripts):
    """Cached scripts per release (``{release path: n}``, releases holding none left out),
    from OPcache's script list of one master (``full_path``: the resolved path, or the
    spelling first reached for a script cached before the link moved)."""
    tops = [(rel["path"], rel["path"].rstrip("/") + "/", rel["resolved"].rstrip("/") + "/")
            for s in sites or () for rel in s.get("releases") or ()]
    counts = {}
    for sc in scripts or ():
        path = sc.get("full_path") or ""
        for key, spelled, resolved in tops:
            if path.startswith(resolved) or path.startswith(spelled):
                counts[key] = counts.get(key, 0) + 1
                break
    return counts
