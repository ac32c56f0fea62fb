# -*- coding: utf-8 -*-
"""OPcache status and verified resets per php-fpm master (logic of the opcache_status
and opcache_reset modules). Private to opcache-fleet; standard library only.

A *target* is one master with the pools/sockets through which it can be reached::

    {master_pid, config, php_version, systemd_unit, opcache: {directive: value},
     pools: [pool dicts as fpm_discover reports them], sockets: [listen, ...]}

Built by :func:`targets_from_discovery` (fpm_discover's ``masters``) or
:func:`explicit_target` (a given ``socket``). All pools of one master share one
OPcache: every action below talks to ONE working pool per master.

Entry points (``session_factory(socket, pool=..., master_pid=...)`` returns a
context manager with ``call(action, args)``, by default
:class:`opcache_helper.HelperSession`; tests inject fakes)::

    master_status(target, scripts=False, ...) -> master dict (status, configuration, scripts)
    reset_master(target, mode, files=(), patterns=(), ...) -> result dict (before, after,
        files, changed, verified)
"""
from __future__ import absolute_import, division, print_function

import fnmatch
import json
import os
import re
import shutil
import stat
import time

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.helper import (
    DEFAULT_BASE_DIR,
    HelperError,
    HelperSession,
)

MODES = ("full", "files", "glob", "stale")
STATS_KEYS = ("num_cached_scripts", "num_cached_keys", "max_cached_keys", "hits", "misses",
              "opcache_hit_rate", "start_time", "last_restart_time", "oom_restarts",
              "hash_restarts", "manual_restarts", "blacklist_misses")
HELPER_PATH_RE = re.compile(r"/[0-9a-f]{32}/[0-9a-f]{32}\.[A-Za-z0-9]+$")
STATE_FILE = "invalidated.json"
# Connection-level causes: the pool cannot be used at all; try the next pool.
CONNECT_CAUSES = ("ENOENT", "ECONNREFUSED", "EACCES", "EPERM", "ENOTSOCK", "address", "connect",
                  "timeout", "truncated", "overloaded", "ECONNRESET")
REFUSED_DIRS = ("/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib64", "/opt", "/proc",
                "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var", "/var/lib",
                "/var/tmp", "/var/www", "/var/log", "/var/cache", "/usr/local")


class ControlError(Exception):
    """A master could not be read or reset; ``cause`` names the setting or condition."""

    def __init__(self, msg, cause="error", details=None):
        super(ControlError, self).__init__(msg)
        self.cause = cause
        self.details = details or {}


# ----------------------------------------------------------------- targets

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


# ----------------------------------------------------------------- pure figures

def summarize_status(status):
    """The status figures the modules report, from opcache_get_status(false)."""
    if not status:
        return None
    stats = status.get("opcache_statistics") or {}
    return {
        "opcache_enabled": status.get("opcache_enabled"),
        "cache_full": status.get("cache_full"),
        "restart_pending": status.get("restart_pending"),
        "restart_in_progress": status.get("restart_in_progress"),
        "memory_usage": dict(status.get("memory_usage") or {}),
        "interned_strings_usage": dict(status.get("interned_strings_usage") or {}),
        "opcache_statistics": dict((k, stats.get(k)) for k in STATS_KEYS if k in stats),
    }


def summarize_configuration(conf):
    if not conf:
        return None
    return {
        "directives": conf.get("directives") or {},
        "blacklist": conf.get("blacklist") or [],
        "version": (conf.get("version") or {}).get("version"),
    }


def cache_ref_time(status):
    """When the cache last (re)started: last_restart_time, else start_time."""
    stats = (status or {}).get("opcache_statistics") or {}
    return stats.get("last_restart_time") or stats.get("start_time") or 0


def classify_scripts(scripts, status, invalidated=None):
    """Mark each CACHED script ``stale``: certain | possible | fresh | unknown.

    * certain: the entry has a ``timestamp`` (validate_timestamps=1) that differs
      from the file's mtime, or the file is gone;
    * possible: no timestamp (validate_timestamps=0) and the file was modified at or
      after the cache's last (re)start (or our last invalidation of that file);
    * unknown: the mtime could not be read (open_basedir, permissions);
    * fresh otherwise. Entries not cached (invalidated) and helper files are skipped.
    """
    ref = cache_ref_time(status)
    invalidated = invalidated or {}
    out = []
    for s in scripts or []:
        path = s.get("full_path") or ""
        if not s.get("cached") or HELPER_PATH_RE.search(path):
            continue
        entry = dict(s)
        mtime = s.get("mtime")
        if "timestamp" in s and s["timestamp"] is not None:
            if mtime is None:
                entry["stale"], entry["reason"] = "unknown", "mtime unreadable"
            elif mtime != s["timestamp"]:
                entry["stale"], entry["reason"] = "certain", "cached timestamp %s != mtime %s" % (
                    s["timestamp"], mtime)
            else:
                entry["stale"], entry["reason"] = "fresh", "cached timestamp equals mtime"
        elif mtime is None:
            entry["stale"], entry["reason"] = "unknown", "mtime unreadable (missing file or open_basedir)"
        else:
            inv = invalidated.get(path) or 0
            since = max(ref, inv)
            # at or after the (re)start: same-second changes may predate the compile; after our
            # own invalidation strictly later only, so a second run right after is idempotent
            if (mtime > inv) if inv >= ref else (mtime >= ref):
                entry["stale"], entry["reason"] = "possible", "modified at %s, cache (re)started or file " \
                    "invalidated at %s, timestamps not validated" % (mtime, since)
            else:
                entry["stale"], entry["reason"] = "fresh", "not modified since %s" % since
        out.append(entry)
    return out


def stale_counts(classified):
    counts = {"certain": 0, "possible": 0, "fresh": 0, "unknown": 0}
    for e in classified:
        counts[e["stale"]] = counts.get(e["stale"], 0) + 1
    return counts


def match_patterns(paths, patterns):
    """Paths matching any shell pattern (fnmatch, ``*`` also crosses '/')."""
    return [p for p in paths if any(fnmatch.fnmatchcase(p, pat) for pat in patterns)]


def full_reset_verified(before, after):
    """Success of opcache_reset(): restart no longer pending AND the cache restarted
    (manual_restarts up, last_restart_time moved, or start_time changed)."""
    if not after or after.get("restart_pending") or after.get("restart_in_progress"):
        return False
    b = (before or {}).get("opcache_statistics") or {}
    a = after.get("opcache_statistics") or {}
    return bool(
        (a.get("manual_restarts") or 0) > (b.get("manual_restarts") or 0)
        or (a.get("last_restart_time") or 0) > (b.get("last_restart_time") or 0)
        or a.get("start_time") != b.get("start_time"))


def target_verified(invalidate_entry, later_entry):
    """Verdict for one file target.

    opcache_is_script_cached() is false for an invalidated (corrupted) entry, for good.
    So when the invalidating request itself saw the file not cached, the old entry is
    dead: a LATER request that sees it not cached confirms it; one that sees it cached
    again sees a NEW entry compiled from the current source by traffic ("recompiled").
    """
    if invalidate_entry.get("invalidated") and not invalidate_entry.get("cached"):
        if later_entry.get("cached"):
            return True, "recompiled after invalidation"
        return True, "not cached"
    if not later_entry.get("cached"):
        return True, "not cached"
    return False, "still cached"


# ----------------------------------------------------------------- invalidation state

def state_key(answer):
    stats = ((answer or {}).get("status") or {}).get("opcache_statistics") or {}
    return "%s:%s" % (answer.get("master_pid"), stats.get("start_time"))


def load_state(base_dir, key, status):
    """Our last invalidation time per file for this cache generation (empty if none)."""
    path = os.path.join(base_dir, STATE_FILE)
    try:
        with open(path) as f:
            data = json.load(f)
    except (IOError, OSError, ValueError):
        return {}
    entry = data.get(key) or {}
    stats = (status or {}).get("opcache_statistics") or {}
    if entry.get("last_restart_time") != stats.get("last_restart_time"):
        return {}
    return dict(entry.get("files") or {})


def save_state(base_dir, key, status, files_at):
    """Record invalidation times (keeps only live cache generations of this key)."""
    path = os.path.join(base_dir, STATE_FILE)
    try:
        with open(path) as f:
            data = json.load(f)
    except (IOError, OSError, ValueError):
        data = {}
    stats = (status or {}).get("opcache_statistics") or {}
    entry = data.get(key) or {}
    if entry.get("last_restart_time") != stats.get("last_restart_time"):
        entry = {"last_restart_time": stats.get("last_restart_time"), "files": {}}
    entry["files"].update(files_at)
    pid = key.split(":")[0]
    data = dict((k, v) for k, v in data.items() if k.split(":")[0] != pid)
    data[key] = entry
    if not os.path.isdir(base_dir):
        os.makedirs(base_dir, 0o711)
    tmp = path + ".tmp.%d" % os.getpid()
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.chmod(tmp, 0o600)
    os.rename(tmp, path)


# ----------------------------------------------------------------- file cache purge

def file_cache_plan(directory, root_prefix=""):
    """Files to delete for ``purge_file_cache``: ``*.bin`` files below the
    per-build system-id subdirectories (32 hex chars) of ``opcache.file_cache``.
    Refuses suspicious directories. Returns (real_dir, [files], [dirs])."""
    if not directory:
        return None, [], []
    norm = os.path.normpath(directory)
    if not os.path.isabs(norm) or norm in REFUSED_DIRS or norm.count("/") < 2 and norm in REFUSED_DIRS:
        raise ControlError("purge_file_cache: refusing opcache.file_cache=%r (a system directory)"
                           % directory, "opcache.file_cache")
    real = (root_prefix.rstrip("/") + norm) if root_prefix else norm
    if not os.path.isdir(real) or os.path.islink(real):
        raise ControlError("purge_file_cache: opcache.file_cache=%r is not a directory" % directory,
                           "opcache.file_cache")
    files, dirs = [], []
    for name in os.listdir(real):
        top = os.path.join(real, name)
        if not re.match(r"^[0-9a-f]{32}$", name) or os.path.islink(top) or not os.path.isdir(top):
            raise ControlError("purge_file_cache: %s holds %r, which is not an OPcache file-cache "
                               "entry; refusing to purge opcache.file_cache=%r" % (real, name, directory),
                               "opcache.file_cache")
        for cur, subdirs, names in os.walk(top, topdown=False):
            for n in names:
                p = os.path.join(cur, n)
                if not n.endswith(".bin") or os.path.islink(p):
                    raise ControlError("purge_file_cache: unexpected file %s in opcache.file_cache=%r; "
                                       "refusing" % (p, directory), "opcache.file_cache")
                files.append(p)
            dirs.append(cur)
    return real, files, dirs


def purge_file_cache(directory, root_prefix="", check_mode=False):
    real, files, dirs = file_cache_plan(directory, root_prefix)
    if not check_mode:
        for p in files:
            try:
                os.unlink(p)
            except OSError:
                pass
        for d in dirs:
            try:
                os.rmdir(d)
            except OSError:
                pass
    return {"directory": directory, "path": real, "files": len(files), "purged": not check_mode and bool(files)}


# ----------------------------------------------------------------- reload fallback

def parse_cgroup_unit(text):
    """The systemd ``*.service`` from /proc/PID/cgroup text (v1 name=systemd or v2)."""
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3 and parts[1] in ("", "name=systemd"):
            for comp in reversed(parts[2].split("/")):
                if comp.endswith(".service"):
                    return comp
    return None


def children_of(pid, proc="/proc"):
    kids = []
    for name in os.listdir(proc):
        if not name.isdigit():
            continue
        try:
            with open(os.path.join(proc, name, "stat")) as f:
                data = f.read()
        except (IOError, OSError):
            continue
        fields = data.rsplit(")", 1)[-1].split()
        if len(fields) > 2 and fields[1] == str(pid):
            kids.append(int(name))
    return sorted(kids)


def reload_master(target, run_command, timeout=30.0, proc="/proc", sleep=time.sleep,
                  read_start_time=None, wall_clock=time.time, clock=time.monotonic):
    """Graceful reload through systemd, verified.

    ``read_start_time()`` returns OPcache's ``start_time`` of this master read through one
    of its pools (or raises/returns None while it cannot be read). A reload re-executes the
    master (SIGUSR2) and creates a new OPcache, so the reload is verified when ``start_time``
    is at or after the moment the reload was asked for (and differs from ``before`` when
    known): ``verified_by: start_time``. When OPcache stays unreadable (the reason for the
    fallback may persist), the weaker proof is kept: the master is alive and every old worker
    was replaced (``verified_by: workers replaced``).
    """
    pid = target.get("master_pid")
    unit = target.get("systemd_unit")
    if pid and not os.path.exists(os.path.join(proc, str(pid))):
        raise ControlError("fallback=reload: master %s is not running (php-fpm stopped?): there is nothing "
                           "to reload; start php-fpm%s" % (pid, " (systemctl start %s)" % unit if unit else ""),
                           "not_running")
    if not unit and pid:
        try:
            with open(os.path.join(proc, str(pid), "cgroup")) as f:
                unit = parse_cgroup_unit(f.read())
        except (IOError, OSError):
            unit = None
    if not unit:
        raise ControlError("fallback=reload: no systemd unit known for master %s (give master_pid "
                           "of a systemd-managed php-fpm)" % pid, "systemd_unit")
    old = children_of(pid, proc) if pid else []
    asked = int(wall_clock())
    rc, out, err = run_command(["systemctl", "reload", unit])
    if rc != 0:
        raise ControlError("fallback=reload: systemctl reload %s failed (rc=%s): %s" % (unit, rc, err.strip()),
                           "systemctl")
    deadline = clock() + timeout
    info = {"unit": unit, "old_workers": old, "verified": False, "verified_by": None,
            "reload_asked_at": asked, "start_time": None}
    replaced = False
    while True:
        alive = pid and os.path.exists(os.path.join(proc, str(pid)))
        now = children_of(pid, proc) if alive else []
        replaced = bool(alive and now and not set(old) & set(now))
        if read_start_time is not None:
            try:
                start = read_start_time()
            except (ControlError, HelperError) as exc:
                start = None
                info["start_time_error"] = str(exc)
                if replaced and exc.cause not in CONNECT_CAUSES:
                    # A setting blocks the helper for good: the reload is proven as far as it can be.
                    break
            if start is not None:
                info["start_time"] = start
                if start >= asked:
                    info.update(verified=True, verified_by="start_time")
                    info.pop("start_time_error", None)
                    break
        elif replaced:
            info.update(verified=True, verified_by="workers replaced")
            break
        if clock() >= deadline:
            break
        sleep(0.2)
    if not info["verified"] and replaced:
        info.update(verified=True, verified_by="workers replaced")
    info["workers_replaced"] = replaced
    return info


def read_start_time(target, session_factory=None, timeout=5.0, helper_dir=None):
    """OPcache ``start_time`` of one master (one status request through its first usable pool)."""
    session, answer, _ = open_master(target, session_factory, timeout, helper_dir)
    session.close()
    stats = (answer.get("status") or {}).get("opcache_statistics") or {}
    return stats.get("start_time")


# ----------------------------------------------------------------- talking to a master

def default_session_factory(socket, pool=None, **kwargs):
    return HelperSession(socket, pool=pool, **kwargs)


def open_master(target, session_factory=None, timeout=10.0, helper_dir=None):
    """A session on the first usable pool of ``target`` plus the first status answer.

    Tries pools in order (easiest first) when a pool cannot be reached. Returns
    (session, answer, tried); raises ControlError naming the cause when none works.
    """
    factory = session_factory or default_session_factory
    tried = []
    last = None
    for sock, pool in zip(target["sockets"], target["pools"]):
        session = factory(sock, pool=pool, timeout=timeout, base_dir=helper_dir,
                          document_roots=target.get("document_roots") or (),
                          master_pid=target.get("master_pid"))
        try:
            answer = session.call("status", {"scripts": False})
            return session, answer, tried
        except HelperError as exc:
            session.close()
            tried.append({"socket": sock, "cause": exc.cause, "msg": str(exc)})
            last = exc
            if exc.cause not in CONNECT_CAUSES:
                # A setting blocks the helper in this pool; another pool may not have it.
                continue
    if last is None:
        raise ControlError("master %s (%s) has no pool with a listen address (its config was not read?)"
                           % (target.get("master_pid"), target.get("config") or "config unknown"), "no_socket")
    raise ControlError("master %s: %s" % (target.get("master_pid") or target["sockets"][0], last),
                       last.cause, {"tried": tried, "stderr": last.stderr})


def _master_header(target, answer):
    return {
        "master_pid": target.get("master_pid") or answer.get("master_pid"),
        "config": target.get("config"),
        "php_version": target.get("php_version") or answer.get("php_version"),
        "pools": target.get("pool_names") or ([answer.get("pool")] if answer.get("pool") else []),
        "sockets": list(target.get("sockets") or []),
        "socket": answer.get("socket"),
        "pool": answer.get("pool"),
    }


def master_status(target, scripts=False, session_factory=None, timeout=10.0, helper_dir=None):
    """The opcache_status entry for one master."""
    session, answer, tried = open_master(target, session_factory, timeout, helper_dir)
    try:
        if scripts:
            answer = session.call("status", {"scripts": True})
        else:
            answer = session.call("status", {"scripts": False}) if answer.get("configuration") is None \
                else answer
    finally:
        session.close()
    result = _master_header(target, answer)
    result["status"] = summarize_status(answer.get("status"))
    result["configuration"] = summarize_configuration(answer.get("configuration"))
    result["round_trip"] = round(answer.get("elapsed") or 0, 6)
    # Where the (already removed) helper ran: shows placement under opcache.restrict_api.
    result["helper_path"] = answer.get("helper_path")
    if tried:
        result["unusable_sockets"] = tried
    if scripts:
        base = helper_dir or DEFAULT_BASE_DIR
        invalidated = load_state(base, state_key(answer), answer.get("status"))
        if answer.get("scripts") is None:
            result["scripts"] = None
            result["scripts_note"] = "no script list (restart pending or OPcache disabled)"
        else:
            result["scripts"] = classify_scripts(answer["scripts"], answer.get("status"), invalidated)
            result["stale_counts"] = stale_counts(result["scripts"])
    warnings = getattr(session, "warnings", [])
    if warnings:
        result["warnings"] = list(warnings)
    return result


def _figures(status):
    s = summarize_status(status) or {}
    stats = s.get("opcache_statistics") or {}
    return {
        "opcache_enabled": s.get("opcache_enabled"),
        "restart_pending": s.get("restart_pending"),
        "num_cached_scripts": stats.get("num_cached_scripts"),
        "hits": stats.get("hits"),
        "misses": stats.get("misses"),
        "manual_restarts": stats.get("manual_restarts"),
        "start_time": stats.get("start_time"),
        "last_restart_time": stats.get("last_restart_time"),
        "used_memory": (s.get("memory_usage") or {}).get("used_memory"),
        "wasted_memory": (s.get("memory_usage") or {}).get("wasted_memory"),
    }


def reset_master(target, mode, files=(), patterns=(), check_mode=False, timeout=30.0,
                 request_timeout=10.0, purge=False, session_factory=None, helper_dir=None,
                 sleep=time.sleep, clock=time.monotonic):
    """Reset ONE master once and verify it in later requests. See module docs."""
    if mode not in MODES:
        raise ValueError("mode must be one of %s, got %r" % (", ".join(MODES), mode))
    base = helper_dir or DEFAULT_BASE_DIR
    t_start = time.monotonic()
    session, first, tried = open_master(target, session_factory, request_timeout, helper_dir)
    result = {}
    try:
        result = _master_header(target, first)
        if tried:
            result["unusable_sockets"] = tried
        result.update({"mode": mode, "changed": False, "verified": False, "files": []})
        if mode == "full":
            _reset_full(session, first, result, check_mode, timeout, purge, target, sleep, clock)
        else:
            _reset_targets(session, result, mode, files, patterns, check_mode, timeout, base, sleep, clock)
    finally:
        session.close()
        result["seconds"] = round(time.monotonic() - t_start, 4)
        warnings = list(getattr(session, "warnings", [])) + result.get("warnings", [])
        if warnings:
            result["warnings"] = warnings
    return result


# A verification poll that fails this way did not reach a verdict: the worker died or the
# pool was momentarily full. The reset itself was already done, so the poll is retried (a new
# connection reaches another worker) until the verification timeout. Seen on the lab: a
# worker that served the previous requests died with SIGSEGV on the first request after
# opcache_reset() (about 1 in 100 resets of a warm cache).
TRANSIENT_POLL_CAUSES = ("truncated", "ECONNRESET", "timeout", "overloaded")


def _poll(session, action, args, result):
    """One verification request; None (and the error recorded) when it died transiently."""
    try:
        return session.call(action, args)
    except HelperError as exc:
        if exc.cause not in TRANSIENT_POLL_CAUSES:
            raise
        result.setdefault("poll_errors", []).append(str(exc))
        result.setdefault("warnings", []).append(
            "master %s: a verification request failed (%s); retried. A worker that dies right after a "
            "reset is crash evidence: check the php-fpm log" % (result.get("master_pid"), exc.cause))
        return None


def _reset_full(session, first, result, check_mode, timeout, purge, target, sleep, clock):
    before = first.get("status")
    if not before:
        raise ControlError("master %s: OPcache is disabled in pool %s (opcache.enable=0), nothing to reset"
                           % (result["master_pid"], first.get("pool")), "opcache.enable")
    result["before"] = _figures(before)
    file_cache = (first.get("ini") or {}).get("opcache.file_cache") or ""
    if purge:
        root = "/proc/%s/root" % result["master_pid"] if result.get("master_pid") and \
            os.path.isdir("/proc/%s/root" % result["master_pid"]) else ""
        result["file_cache"] = purge_file_cache(file_cache, root, check_mode) if file_cache else \
            {"directory": None, "files": 0, "purged": False}
    if check_mode:
        result["would"] = "opcache_reset() once, then verify restart_pending false and manual_restarts up"
        result["changed"] = True
        result["verified"] = None
        return
    reset = session.call("reset", {})
    if not reset.get("reset"):
        raise ControlError("master %s: opcache_reset() returned false (OPcache disabled or restricted: "
                           "opcache.enable / opcache.restrict_api)" % result["master_pid"], "opcache_reset")
    result["changed"] = True
    started = clock()
    delay = 0.02
    after = None
    polls = 0
    while True:
        answer = _poll(session, "status", {"scripts": False}, result)
        polls += 1
        if answer is not None:
            after = answer.get("status")
        if answer is not None and full_reset_verified(before, after):
            result["verified"] = True
            break
        if clock() - started >= timeout:
            break
        sleep(delay)
        delay = min(delay * 2, 0.5)
    result["after"] = _figures(after)
    result["polls"] = polls
    result["verify_seconds"] = round(clock() - started, 4)
    if not result["verified"]:
        raise ControlError("master %s: reset scheduled but not verified within %ss: restart_pending=%s "
                           "(requests still in flight keep the restart pending)"
                           % (result["master_pid"], timeout, (after or {}).get("restart_pending")),
                           "verify_timeout", {"result": result})


def _reset_targets(session, result, mode, files, patterns, check_mode, timeout, base, sleep, clock):
    answer = session.call("status", {"scripts": True})
    status = answer.get("status")
    if not status:
        raise ControlError("master %s: OPcache is disabled in pool %s (opcache.enable=0)"
                           % (result["master_pid"], answer.get("pool")), "opcache.enable")
    if answer.get("scripts") is None:
        raise ControlError("master %s: OPcache gives no script list (a restart is pending); retry or "
                           "use mode=full" % result["master_pid"], "restart_pending")
    result["before"] = _figures(status)
    key = state_key(answer)
    invalidated = load_state(base, key, status)
    classified = classify_scripts(answer["scripts"], status, invalidated)
    by_path = dict((e["full_path"], e) for e in classified)
    if mode == "files":
        targets = [f for f in files if f in by_path]
        result["not_cached"] = [f for f in files if f not in by_path]
    elif mode == "glob":
        targets = match_patterns(sorted(by_path), patterns)
    else:
        targets = sorted(p for p, e in by_path.items() if e["stale"] in ("certain", "possible"))
        result["stale_counts"] = stale_counts(classified)
    result["files"] = [{"path": p, "stale": by_path[p]["stale"], "reason": by_path[p].get("reason")}
                       for p in targets]
    if not targets:
        result["verified"] = True
        result["after"] = result["before"]
        return
    if check_mode:
        result["changed"] = True
        result["verified"] = None
        return
    inv = session.call("invalidate", {"files": targets, "force": True})
    t_inv = inv.get("time") or int(time.time())
    failed = [p for p, r in (inv.get("files") or {}).items() if not r.get("invalidated")]
    if failed:
        result["not_invalidated"] = failed
    result["changed"] = True
    try:
        save_state(base, key, status, dict((p, t_inv) for p in targets))
    except (IOError, OSError) as exc:
        result.setdefault("warnings", []).append("cannot record invalidations in %s: %s" % (base, exc))
    started = clock()
    delay = 0.02
    pending = list(targets)
    inv_files = inv.get("files") or {}
    verdicts = {}
    while True:
        later = _poll(session, "is_cached", {"files": pending}, result)
        still = [] if later is not None else list(pending)
        for p in (pending if later is not None else ()):
            ok, why = target_verified(inv_files.get(p, {}), (later.get("files") or {}).get(p, {}))
            verdicts[p] = why
            if not ok:
                still.append(p)
        pending = still
        if not pending or clock() - started >= timeout:
            break
        sleep(delay)
        delay = min(delay * 2, 0.5)
    for entry in result["files"]:
        entry["verdict"] = verdicts.get(entry["path"])
    final = _poll(session, "status", {"scripts": False}, result) or {}
    result["after"] = _figures(final.get("status"))
    result["verified"] = not pending
    if pending:
        result["unverified"] = pending
        raise ControlError("master %s: %d file(s) still cached after invalidation: %s"
                           % (result["master_pid"], len(pending), ", ".join(pending[:5])),
                           "verify_timeout", {"result": result})
