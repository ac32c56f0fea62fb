# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: opcache-fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Everything diagnose.yml needs from one host, in one module call (diagnose_host).

The steps are those of the small modules, run in-process on their own code: discovery
(fpm_discover) with a connect() to each local nginx fastcgi target no pool was found on
(upstreams.py: a stopped php-fpm), crash evidence (fpm_evidence), OPcache status with stale scripts
(opcache_status), the record of invalidated files, release folders, and the class-name
scan (php_class_collisions). Discovery is run once and its result feeds the others.
A step that fails is recorded as that step's ``{"failed": true, "msg": ...}`` and the
others still run; the result is the role's per-host record (``diagnose_result``), which
the fleet report reads. Private to opcache-fleet."""
from __future__ import absolute_import, division, print_function

import base64
import json
import os
import re
import time

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.diagnose.deploys import deploy_sites, release_script_counts
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.diagnose.upstreams import probe_unmatched
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.identity import master_key
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.masters import discover
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.collect import EVIDENCE_ARGS, collect_evidence
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.fpm_sources import plan_sources
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.readers import open_regular
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.control import master_status
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.releases import superseded_releases
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.errors import ControlError
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.helper import path_within
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.targets import targets_from_discovery
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.php.class_collisions import find_collisions

STALE_KINDS = ("certain", "possible")
# diagnose_host's options; evidence_bundle runs diagnose() with their defaults.
DIAGNOSE_ARGS = dict(
    fpm_error_logs=dict(type="list", elements="path"),
    nginx_error_logs=dict(type="list", elements="path"),
    since=dict(type="str", default="24h"),
    until=dict(type="str"),
    correlation_window=dict(type="float", default=2.0),
    kernel=dict(type="bool", default=True),
    max_events=dict(type="int", default=3000),
    stale_cap=dict(type="int", default=50),
    release_dir_pattern=dict(type="str", default=r"/(releases?|deploys?|deployments|versions?|builds?)/*$"),
    extra_code_roots=dict(type="list", elements="path", default=[]),
    collision_max_files=dict(type="int", default=50000),
    collision_max_seconds=dict(type="float", default=60.0),
    helper_dir=dict(type="path", default="/var/lib/opcache-fleet"),
    request_timeout=dict(type="float", default=10.0),
    skip=dict(type="list", elements="str", choices=["opcache", "collisions"], default=[]),
)
# invalidated.json is written by opcache_reset and the hunt: a few KiB; more is not ours.
MAX_INVALIDATIONS_BYTES = 16 * 1024 * 1024
INVALIDATIONS_FILE = "invalidated.json"


class StepError(Exception):
    """A step could not run; its message is the step's ``msg``."""


def failed_step(exc):
    return {"failed": True, "msg": str(exc) or exc.__class__.__name__}


def upstream_pools(discovery):
    """nginx fastcgi_pass target -> pool name, for the targets discovery tied to a pool."""
    out = {}
    for t in (discovery.get("nginx") or {}).get("fastcgi_targets") or []:
        if t.get("pool") and t.get("target") is not None:
            out[t["target"]] = t["pool"]
    return out


def upstream_masters(discovery):
    """nginx fastcgi_pass target -> key of the master whose pool listens there (a pool
    is its master and its name: two masters may both have [www])."""
    out = {}
    for t in (discovery.get("nginx") or {}).get("fastcgi_targets") or []:
        key = master_key(t) if t.get("pool") else None
        if key is not None and t.get("target") is not None:
            out[t["target"]] = key
    return out


def slowlog_masters(discovery):
    """Each pool's slowlog -> key of its master (a slowlog two masters share is left out
    by collect_evidence: whose lines they are cannot be told)."""
    return [(p["slowlog"], master_key(m)) for m in discovery.get("masters") or []
            for p in m.get("pools") or [] if p.get("slowlog")]


def slowlogs(discovery):
    out = []
    for m in discovery.get("masters") or []:
        for p in m.get("pools") or []:
            if p.get("slowlog") and p["slowlog"] not in out:
                out.append(p["slowlog"])
    return out


def evidence_params(discovery, opts):
    """fpm_evidence's options for the discovered logs and the window of ``opts``."""
    p = dict((k, v.get("default")) for k, v in EVIDENCE_ARGS.items())
    p.update(
        nginx_error_logs=list((discovery.get("nginx") or {}).get("error_logs") or []),
        fpm_logs=list(discovery.get("fpm_error_logs") or []),
        slowlogs=slowlogs(discovery),
        since=opts["since"],
        until=opts.get("until") or None,
        upstream_pools=upstream_pools(discovery),
        correlation_window=opts["correlation_window"],
        kernel=opts["kernel"],
        include_events=True,
        max_events=opts["max_events"],
    )
    return p


def opcache_state(discovery, helper_dir, stale_cap, timeout, deploys=None):
    """opcache_status of every discovered master with only its stale scripts (at most
    ``stale_cap``), as the role kept them: ``{msg, failed_masters, masters}``; with the
    number of cached scripts per release of the ``deploys`` sites (``release_scripts``)."""
    targets = targets_from_discovery(discovery)
    if not targets:
        return {"msg": "no running php-fpm master found", "failed_masters": [], "masters": []}
    masters, failed = [], []
    served = document_roots(discovery)
    for target in targets:
        try:
            status = master_status(target, scripts=True, timeout=timeout, helper_dir=helper_dir)
        except ControlError as exc:
            failed.append({"master_pid": target.get("master_pid"), "config": target.get("config"),
                           "sockets": target.get("sockets"), "cause": exc.cause, "msg": str(exc),
                           "tried": exc.details.get("tried")})
            continue
        scripts = status.get("scripts") or []
        stale = [s for s in scripts if s.get("stale") in STALE_KINDS]
        status["scripts"] = stale[:stale_cap]
        status["release_scripts"] = release_script_counts(deploys, scripts)
        # cached scripts of a release that current/ no longer points to: unchanged files, so
        # no staleness test sees them, but workers may still serve them (opcache/releases.py)
        status["superseded_releases"] = [dict(g, scripts=g["scripts"][:10]) for g in superseded_releases(scripts, served)]
        masters.append(status)
    msg = "; ".join(f["msg"] for f in failed) if failed else None
    return {"msg": msg, "failed_masters": failed, "masters": masters}


def read_invalidations(helper_dir):
    """invalidated.json as the report reads it: ``{content: base64}``, or ``{failed, msg}``
    when it is absent (nothing was invalidated) or cannot be read."""
    path = os.path.join(helper_dir, INVALIDATIONS_FILE)
    try:
        fd, st = open_regular(path)
    except (OSError, IOError, ValueError) as exc:
        return failed_step(exc if not isinstance(exc, (OSError, IOError)) or exc.strerror is None
                           else "%s: %s" % (path, exc.strerror))
    with os.fdopen(fd, "rb") as f:
        if st.st_size > MAX_INVALIDATIONS_BYTES:
            return {"failed": True, "msg": "%s: %d bytes, more than the %d this tool writes; not read"
                    % (path, st.st_size, MAX_INVALIDATIONS_BYTES)}
        data = f.read(MAX_INVALIDATIONS_BYTES + 1)
    return {"content": base64.b64encode(data).decode("ascii"), "source": path, "encoding": "base64"}


def document_roots(discovery):
    """nginx roots that reach php-fpm and the pools' chdir, without a trailing slash, once each."""
    out = []
    for t in (discovery.get("nginx") or {}).get("fastcgi_targets") or []:
        if t.get("root"):
            out.append(t["root"])
    for m in discovery.get("masters") or []:
        for p in m.get("pools") or []:
            if p.get("chdir"):
                out.append(p["chdir"])
    roots = []
    for r in out:
        r = re.sub(r"(.)/+$", r"\1", r)
        if r not in roots:
            roots.append(r)
    return roots


def release_folders(path):
    """The visible sub-directories of ``path`` (not symlinks: ``current`` is a name for one
    of them), sorted; [] when ``path`` is not a directory that can be listed."""
    try:
        entries = list(os.scandir(path))
    except OSError:
        return []
    return sorted(e.path for e in entries
                  if not e.name.startswith(".") and e.is_dir(follow_symlinks=False))


def code_roots(discovery, release_dir_pattern, extra_roots):
    """``(releases, roots)``: ``{releases dir: [folders]}`` for document roots named like a
    releases directory, and the code roots to scan: each release folder, every other root
    (and a releases dir with no folders) as its application root (see app_roots), and
    ``extra_roots``."""
    docroots = document_roots(discovery)
    pattern = re.compile(release_dir_pattern)
    releases = dict((d, release_folders(d)) for d in docroots if pattern.search(d))
    roots = [p for folders in releases.values() for p in folders]
    for d in docroots:
        if not releases.get(d):
            roots.extend(app_roots(d))
    roots += list(extra_roots or [])
    return releases, sorted(set(roots))


# The usual web roots of front-controller applications (Laravel, Symfony: public/; older
# Symfony, Drupal: web/; Magento: pub/): their code (src/, app/, vendor/) is one level up.
WEB_DIRS = ("public", "web", "pub", "htdocs", "public_html", "www")
APP_MARKERS = ("composer.json", "src", "app", "vendor", "artisan", "bin/console")


def app_roots(docroot):
    """The code roots of a document root: the application above it when the root is its
    web directory (``/var/www/shop/public`` -> ``/var/www/shop``, holding composer.json,
    src/, vendor/ ...), plus the directories its composer.json autoloads that lie outside
    it; else the document root itself."""
    base = docroot.rstrip("/") or "/"
    root = base
    if os.path.basename(base) in WEB_DIRS:
        parent = os.path.dirname(base)
        if parent not in ("", "/") and any(os.path.exists(os.path.join(parent, m)) for m in APP_MARKERS):
            root = parent
    if os.path.isdir(root):
        # by its resolved path: a deploy's current/ is the release it points to, and two roots
        # reaching one application through a symlink are one root
        root = os.path.realpath(root)
    return [root] + [d for d in composer_autoload_dirs(root) if not path_within(d, root)]


def composer_autoload_dirs(root, max_bytes=1 << 20):
    """The existing directories that ``root/composer.json`` autoloads (psr-4, psr-0,
    classmap of autoload and autoload-dev), as absolute normalised paths; [] when there is
    no readable composer.json."""
    try:
        with open(os.path.join(root, "composer.json"), "rb") as f:
            data = json.loads(f.read(max_bytes).decode("utf-8", "replace"))
    except (IOError, OSError, ValueError):
        return []
    out = []
    for section in ("autoload", "autoload-dev"):
        spec = data.get(section) if isinstance(data, dict) else None
        if not isinstance(spec, dict):
            continue
        dirs = []
        for kind in ("psr-4", "psr-0"):
            for v in (spec.get(kind) or {}).values() if isinstance(spec.get(kind), dict) else ():
                dirs.extend(v if isinstance(v, list) else [v])
        if isinstance(spec.get("classmap"), list):
            dirs.extend(spec["classmap"])
        for d in dirs:
            if isinstance(d, str):
                full = os.path.normpath(os.path.join(root, d))
                if os.path.isdir(full) and full not in out:
                    out.append(full)
    return out


# Never code roots: a pool with chdir = / (or /usr, /var ...) would send the class scan
# over the whole system. They are listed in the result (roots_refused) instead.
SYSTEM_DIRS = frozenset(("/", "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/proc", "/run",
                         "/sbin", "/sys", "/tmp", "/usr", "/var", "/root", "/home", "/opt", "/srv", "/mnt",
                         "/media", "/snap"))


def collisions(roots, max_files=0, max_seconds=0):
    refused = [{"path": r, "reason": "a system directory, not the code of a site (a pool's chdir?): not scanned"}
               for r in roots if os.path.normpath(r) in SYSTEM_DIRS]
    roots = [r for r in roots if os.path.normpath(r) not in SYSTEM_DIRS]
    if not roots:
        result = {"skipped": True, "skip_reason": "no code roots found"}
    else:
        result = find_collisions(roots, scope="per_root", max_files=max_files, max_seconds=max_seconds)
        result["warnings_found"] = result.pop("warnings", [])
    if refused:
        result["roots_refused"] = refused
        result.setdefault("warnings_found", []).extend("code root %s refused: %s" % (r["path"], r["reason"])
                                                       for r in refused)
    return result


def diagnose(module, run_command, opts):
    """The per-host record of diagnose.yml. ``opts``: the module's params. Raises StepError
    when discovery fails (nothing else can run without it)."""
    timings = {}
    started = time.monotonic()
    overrides = {"fpm_error_logs": opts.get("fpm_error_logs"), "nginx_error_logs": opts.get("nginx_error_logs")}
    try:
        found = discover(run_command, overrides=overrides)
    except (OSError, IOError, ValueError) as exc:
        raise StepError("discovery failed: %s" % exc)
    discovery = {"masters": found["masters"], "nginx": found["nginx"],
                 "fpm_error_logs": found["fpm_error_logs"], "warnings_found": found["warnings"]}
    timings["discovery"] = round(time.monotonic() - started, 3)
    record = {"status": "ok", "error": None, "discovery": discovery,
              "upstream_pools": upstream_pools(discovery), "upstream_masters": upstream_masters(discovery),
              "upstream_probes": probe_unmatched(discovery.get("nginx"))}

    step = time.monotonic()
    try:
        plans = plan_sources(discovery.get("masters"), overridden=bool(opts.get("fpm_error_logs")))
        record["evidence"] = collect_evidence(module, evidence_params(discovery, opts), fpm_plans=plans,
                                              source_masters=slowlog_masters(discovery),
                                              upstream_masters=upstream_masters(discovery))
    except (OSError, IOError, ValueError) as exc:
        record["evidence"] = failed_step(exc)
    timings["evidence"] = round(time.monotonic() - step, 3)

    step = time.monotonic()
    record["deploys"] = deploy_sites(document_roots(discovery))
    if "opcache" in opts["skip"]:
        record["opcache"], record["opcache_invalidations"] = {"msg": "skipped"}, {}
    else:
        try:
            record["opcache"] = opcache_state(discovery, opts["helper_dir"], opts["stale_cap"],
                                              opts["request_timeout"], record["deploys"])
        except (OSError, IOError, ValueError) as exc:
            record["opcache"] = failed_step(exc)
        record["opcache_invalidations"] = read_invalidations(opts["helper_dir"])
    timings["opcache"] = round(time.monotonic() - step, 3)

    step = time.monotonic()
    record["releases"], roots = code_roots(discovery, opts["release_dir_pattern"], opts["extra_code_roots"])
    if "collisions" in opts["skip"]:
        record["collisions"], record["collision_roots"] = {"skipped": True, "skip_reason": "skipped on request"}, []
    else:
        record["collision_roots"] = roots
        try:
            record["collisions"] = collisions(roots, opts.get("collision_max_files") or 0,
                                              opts.get("collision_max_seconds") or 0)
        except (OSError, IOError, ValueError) as exc:
            record["collisions"] = failed_step(exc)
    timings["collisions"] = round(time.monotonic() - step, 3)
    timings["total"] = round(time.monotonic() - started, 3)
    record["timings"] = timings
    return record
