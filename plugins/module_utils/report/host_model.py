# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The per-host view of the raw diagnose results: masters, pools, release folders, OPcache.

Private to opcache-fleet. Standard library only. The input is what the diagnose role
registered on a host (fpm_discover, fpm_evidence, opcache_status, php_class_collisions, the
release folders under the document roots and opcache_reset's invalidated.json). Nothing
here reads files or the clock.
"""
from __future__ import absolute_import, division, print_function

import base64
import json
import posixpath
import re

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.addresses import normalize_upstream
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.identity import master_key
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.figures import as_int, plural

__metaclass__ = type

# Names a document root may have when its sub-directories are release folders.
RELEASES_DIR_RE = re.compile(r"^(releases?|deploy(s|ments)?|versions?|builds?)$", re.I)


def release_roots(docroot, subdirs):
    """The code roots to scan for one document root: its release folders when the root is
    named like a releases directory (``/srv/app/releases`` -> ``a``, ``b``, ``c``), else the root."""
    base = posixpath.basename(docroot.rstrip("/"))
    subs = set(s.rstrip("/") for s in (subdirs or []) if s)
    if RELEASES_DIR_RE.match(base) and subs:
        return sorted(s if s.startswith("/") else posixpath.join(docroot, s) for s in subs)
    return [docroot]


def is_under(path, root):
    if not path or not root:
        return False
    root = root.rstrip("/") + "/"
    return path.startswith(root)


def location_matches(location, uri):
    """Does an nginx location (as fpm_discover reports it) match ``uri``? None when unknown."""
    if not location:
        return None
    loc = location.strip()
    try:
        if loc.startswith("~*"):
            return re.search(loc[2:].strip(), uri, re.I) is not None
        if loc.startswith("~"):
            return re.search(loc[1:].strip(), uri) is not None
    except re.error:
        return None
    if loc.startswith("="):
        return uri == loc[1:].strip()
    if loc.startswith("^~"):
        loc = loc[2:].strip()
    if loc.startswith("@"):
        return False
    return uri.startswith(loc)


class HostModel(object):
    """What one host's raw results say, organised by master, pool and release folder."""

    def __init__(self, raw):
        self.raw = raw or {}
        self.host = self.raw.get("host")
        self.discovery = self.raw.get("discovery") or {}
        self.evidence = self.raw.get("evidence") or {}
        self.opcache = self.raw.get("opcache") or {}
        self.collisions = self.raw.get("collisions") or {}
        self.releases = self.raw.get("releases") or {}
        # deploy sites and their releases, read from the disk (diagnose/deploys.py)
        self.deploys = [d for d in (self.raw.get("deploys") or []) if isinstance(d, dict)]
        self.nginx = self.discovery.get("nginx") or {}
        self.masters = [m for m in (self.discovery.get("masters") or []) if isinstance(m, dict)]
        self.upstream_pool = self._upstream_map()
        self.events = [e for e in (self.evidence.get("events") or [])
                       if isinstance(e, dict) and e.get("category") != "lifecycle"]
        self.incidents = [i for i in (self.evidence.get("incidents") or []) if isinstance(i, dict)]
        self.invalidations, self.invalidations_error = load_invalidations(self.raw.get("opcache_invalidations"))
        # diagnose_host's connect() to the local fastcgi targets no pool was found on.
        self.upstream_probes = [p for p in (self.raw.get("upstream_probes") or []) if isinstance(p, dict)]
        self._cache_events = {}

    def _upstream_map(self):
        out = {}
        for t in self.nginx.get("fastcgi_targets") or []:
            key = normalize_upstream(t.get("target"))
            if key and t.get("pool") and key not in out:
                out[key] = {"pool": t.get("pool"), "master_pid": t.get("master_pid"), "config": t.get("config"),
                            "master": master_key(t)}
        for m in self.masters:
            for p in m.get("pools") or []:
                listen = p.get("listen")
                if not listen:
                    continue
                key = normalize_upstream(listen)
                if p.get("listen_kind") == "tcp" and key and ":" not in key:
                    key = "127.0.0.1:" + key
                out.setdefault(key, {"pool": p.get("name"), "master_pid": m.get("master_pid"),
                                     "config": m.get("config"), "master": master_key(m)})
        masters = self.raw.get("upstream_masters") or {}
        for k, v in (self.raw.get("upstream_pools") or {}).items():
            key = normalize_upstream(k)
            if key:
                out.setdefault(key, {"pool": v, "master_pid": None, "config": None, "master": masters.get(k)})
        return out

    # -- pools: a pool is (master key, pool name) (discovery/identity.py) ----------------
    def _owners(self, pool):
        """The masters that have a pool named ``pool``."""
        return [m for m in self.masters if any(p.get("name") == pool for p in m.get("pools") or [])]

    def _owner(self, master, pool):
        """The master key of pool ``pool``: ``master`` when the record named it, else the
        only master with a pool of that name; None when several have one (which of them
        is not known) or none."""
        if master is not None:
            return master
        owners = self._owners(pool)
        return master_key(owners[0]) if len(owners) == 1 else None

    def pool_of_event(self, ev):
        """``(master key or None, pool name)`` of an event: its own pool line, else the pool
        behind its nginx upstream; None when not known."""
        if ev.get("pool"):
            return (self._owner(ev.get("master"), ev["pool"]), ev["pool"])
        hit = self.upstream_pool.get(normalize_upstream(ev.get("upstream")))
        return (self._owner(hit["master"], hit["pool"]), hit["pool"]) if hit else None

    def pool_of_incident(self, inc):
        """``(master key or None, pool name)`` of a crash; None without a pool."""
        return (self._owner(inc.get("master"), inc["pool"]), inc["pool"]) if inc.get("pool") else None

    def pool_label(self, ref):
        """A pool as people read it: its name, with its master's config when another master
        on the host has a pool of the same name."""
        key, name = ref
        return name if key is None or len(self._owners(name)) < 2 else "%s (%s)" % (name, key)

    def fpm_sources(self):
        """evidence.fpm_sources: per php-fpm master, where its crash lines are and whether they
        were read (``status`` scanned / not_read, ``source``, ``reason``); None for a record
        made before diagnose_host reported them (what was read is then not known)."""
        entries = self.evidence.get("fpm_sources")
        if not isinstance(entries, list):
            return None
        return [e for e in entries if isinstance(e, dict)]

    def master_of_pool(self, ref):
        """The discovered master of pool ``ref`` (master key, name); None when not known."""
        key = self._owner(ref[0], ref[1]) if ref else None
        for m in self.masters:
            if key is not None and master_key(m) == key:
                return m
        return None

    # -- OPcache signs -----------------------------------------------------------------
    def opcache_masters(self):
        return [m for m in (self.opcache.get("masters") or []) if isinstance(m, dict)]

    def stale_scripts(self, root=None, pids=None):
        out = []
        for m in self.opcache_masters():
            if pids is not None and m.get("master_pid") not in pids:
                continue
            for s in m.get("scripts") or m.get("stale_scripts") or []:
                if s.get("stale") in ("certain", "possible") and s.get("cached", True) is not False:
                    path = s.get("full_path") or s.get("path")
                    if root is None or is_under(path, root):
                        out.append(s)
        return out

    def stale_total(self, pids=None):
        total = 0
        for m in self.opcache_masters():
            if pids is not None and m.get("master_pid") not in pids:
                continue
            sc = m.get("stale_counts") or {}
            if sc:
                total += as_int(sc.get("certain")) + as_int(sc.get("possible"))
            else:
                total += len([s for s in m.get("scripts") or [] if s.get("stale") in ("certain", "possible")])
        return total

    def opcache_master(self, pid):
        for m in self.opcache_masters():
            if m.get("master_pid") == pid:
                return m
        return None

    def cache_events(self, pid):
        """What OPcache of master ``pid`` says happened to its cache (see master_cache_events)."""
        if pid not in self._cache_events:
            om = self.opcache_master(pid)
            self._cache_events[pid] = master_cache_events(om, self.invalidations) if om else []
        return self._cache_events[pid]

    def pid_of_pool(self, ref):
        m = self.master_of_pool(ref) if ref else None
        return m.get("master_pid") if m else None

    def collision_items(self, root=None, loaded_only=False):
        """Class names declared twice in one code root (not across release folders, which one
        request never loads together). ``loaded_only``: without those declared only under
        vendor/ (two packages shipping the same polyfill, of which the autoloader loads one):
        what a verdict may rest on."""
        items = [c for c in (self.collisions.get("collisions") or []) if isinstance(c, dict)]
        items = [c for c in items if not c.get("across_releases")]
        if loaded_only:
            items = [c for c in items if not c.get("all_vendor")]
        if root is not None:
            items = [c for c in items if (c.get("root") or "").rstrip("/") == root.rstrip("/")]
        return items


def load_invalidations(value):
    """opcache_reset's ``invalidated.json`` as the diagnose role read it -> (data, error).

    ``value``: the slurp result (``content`` base64; ``failed``/``msg`` when the file is absent:
    no invalidation recorded, not an error) or ``{"data": {...}}`` (tests, raw-hosts.json)."""
    if not isinstance(value, dict):
        return {}, None
    if isinstance(value.get("data"), dict):
        return value["data"], None
    content = value.get("content")
    if not content:
        return {}, None
    try:
        data = json.loads(base64.b64decode(content).decode("utf-8"))
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        return {}, "invalidated.json is not readable JSON: %s" % exc
    if not isinstance(data, dict):
        return {}, "invalidated.json is not a JSON object"
    return data, None


def master_cache_events(om, invalidations=None):
    """Times at which OPcache of one master lost cached code, oldest first:
    ``[{kind, time (epoch), text, files}]`` with kind ``start`` (master started or reloaded:
    a new cache), ``reset`` (opcache_reset(), last_restart_time with manual_restarts),
    ``restart`` (OPcache restarted itself: out of memory or keys) or ``invalidate`` (files
    invalidated by opcache_reset stale/files/glob or the culprit hunt, in this cache generation).
    ``om``: the opcache_status entry of the master."""
    stats = ((om or {}).get("status") or {}).get("opcache_statistics") or {}
    out = []
    start = as_int(stats.get("start_time"))
    if start:
        out.append({"kind": "start", "time": start, "files": [],
                    "text": "OPcache started (php-fpm master started or reloaded)"})
    last = as_int(stats.get("last_restart_time"))
    if last:
        manual, auto = as_int(stats.get("manual_restarts")), as_int(stats.get("oom_restarts")) + as_int(stats.get("hash_restarts"))
        if manual and not auto:
            out.append({"kind": "reset", "time": last, "files": [], "text": "OPcache reset (opcache_reset())"})
        elif auto and not manual:
            out.append({"kind": "restart", "time": last, "files": [],
                        "text": "OPcache restarted itself (out of memory or keys)"})
        else:
            out.append({"kind": "reset", "time": last, "files": [],
                        "text": "OPcache reset (opcache_reset() or an automatic restart)"})
    entry = (invalidations or {}).get("%s:%s" % ((om or {}).get("master_pid"), stats.get("start_time")))
    # The record belongs to this cache generation only while last_restart_time is unchanged
    # (a later reset emptied the cache anyway: the reset above covers it).
    if isinstance(entry, dict) and as_int(entry.get("last_restart_time")) == last:
        by_time = {}
        for path, t in sorted((entry.get("files") or {}).items()):
            if as_int(t):
                by_time.setdefault(as_int(t), []).append(path)
        for t, files in sorted(by_time.items()):
            out.append({"kind": "invalidate", "time": t, "files": files,
                        "text": "%s invalidated (opcache_reset stale/files or the culprit hunt)"
                                % plural(len(files), "cached file")})
    out.sort(key=lambda e: (e["time"], e["kind"] == "invalidate"))
    return out


def sections_of(model):
    """Release folders served under a request path prefix: [{prefix, root, docroot}]."""
    out, seen = [], set()
    for docroot, subdirs in sorted((model.releases or {}).items()):
        # The role lists sub-directories only for roots named like a releases directory.
        roots = sorted(set(s if s.startswith("/") else posixpath.join(docroot, s) for s in subdirs or [] if s))
        for r in roots:
            rel = r[len(docroot.rstrip("/")):].strip("/")
            prefix = "/" + rel + "/"
            if prefix in seen:
                continue
            seen.add(prefix)
            out.append({"prefix": prefix, "root": r, "docroot": docroot})
    return out


def same_pool(a, b):
    """Are pool references ``a`` and ``b`` (master key or None, name) the same pool? An
    unknown master matches any master of that name: which one it was cannot be told."""
    return (a is not None and b is not None and a[1] == b[1]
            and (a[0] is None or b[0] is None or a[0] == b[0]))


def section_pools(model, section):
    """The pools serving a release folder, as (master key, pool name)."""
    pools = []
    for t in model.nginx.get("fastcgi_targets") or []:
        if (t.get("root") or "").rstrip("/") != section["docroot"].rstrip("/"):
            continue
        if location_matches(t.get("location"), section["prefix"] + "index.php") is False:
            continue
        ref = (master_key(t), t.get("pool"))
        if t.get("pool") and ref not in pools:
            pools.append(ref)
    return pools


def _serves(use, root, prefix):
    """Can requests of the release folder ``root`` (URLs under ``prefix``) go through this nginx
    use of a target? Its root must hold the folder and its location not rule the URLs out."""
    if not use.get("root") or not (root == use["root"].rstrip("/") or is_under(root, use["root"])):
        return False
    return location_matches(use.get("location"), (prefix or "/") + "index.php") is not False


def down_targets(model, root=None, prefix=None):
    """Probed fastcgi targets where nothing listens (php-fpm stopped or elsewhere), as
    ``[{target, detail, uses}]``; with ``root`` (and ``prefix``), only those that serve that
    release folder."""
    out = []
    for p in model.upstream_probes:
        if p.get("state") not in ("refused", "missing"):
            continue
        uses = [u for u in p.get("uses") or [] if isinstance(u, dict)]
        if root is not None:
            uses = [u for u in uses if _serves(u, root, prefix)]
            if not uses:
                continue
        out.append({"target": p.get("target"), "detail": p.get("detail"), "uses": uses})
    return out
