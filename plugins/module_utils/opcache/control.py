# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""OPcache status and verified resets per php-fpm master (logic of the opcache_status
and opcache_reset modules). Private to opcache-fleet; standard library only.

Targets are built in opcache/targets.py; the figures and stale detection live in
opcache/status_summary.py, the state file and file-cache purge in opcache/state.py, the
reload fallback in opcache/reload.py.

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

import os
import time

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.apcu import apcu_figures, clear_verified, summarize_apcu
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.errors import ControlError
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.helper import (
    DEFAULT_BASE_DIR,
    HelperError,
    HelperSession,
)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.releases import superseded_releases
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.state import load_state, master_root, purge_file_cache, save_state, state_key
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.status_summary import (
    classify_scripts,
    full_reset_verified,
    match_patterns,
    stale_counts,
    summarize_configuration,
    summarize_status,
    target_verified,
)

__metaclass__ = type

MODES = ("full", "files", "glob", "stale")
# Connection-level causes: the pool cannot be used at all; try the next pool.
CONNECT_CAUSES = ("ENOENT", "ECONNREFUSED", "EACCES", "EPERM", "ENOTSOCK", "address", "connect",
                  "timeout", "truncated", "overloaded", "ECONNRESET")


def default_session_factory(socket, pool=None, **kwargs):
    return HelperSession(socket, pool=pool, **kwargs)


def open_master(target, session_factory=None, timeout=10.0, helper_dir=None, max_answer=None):
    """A session on the first usable pool of ``target`` plus the first status answer.

    Tries pools in order (easiest first) when a pool cannot be reached. Returns
    (session, answer, tried); raises ControlError naming the cause when none works.
    The session is closed (its helper removed) on any failure here.
    """
    factory = session_factory or default_session_factory
    tried = []
    last = None
    extra = {"max_answer": max_answer} if max_answer else {}
    for sock, pool in zip(target["sockets"], target["pools"]):
        session = factory(sock, pool=pool, timeout=timeout, base_dir=helper_dir,
                          document_roots=target.get("document_roots") or (),
                          master_pid=target.get("master_pid"), **extra)
        try:
            answer = session.call("status", {"scripts": False})
            return session, answer, tried
        except BaseException as exc:
            session.close()
            if not isinstance(exc, HelperError):
                raise
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


def first_answer(target, timeout=10.0, helper_dir=None, max_answer=None, session_factory=None):
    """One status answer of ``target`` through its first usable pool, the session closed
    (its helper removed): the settings, the start time, the file cache it reports."""
    session, answer, dummy = open_master(target, session_factory, timeout, helper_dir, max_answer)
    session.close()
    return answer


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


def master_status(target, scripts=False, session_factory=None, timeout=10.0, helper_dir=None,
                  max_answer=None):
    """The opcache_status entry for one master."""
    session, answer, tried = open_master(target, session_factory, timeout, helper_dir, max_answer)
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
    result["apcu"] = summarize_apcu(answer.get("apcu"))
    zext = answer.get("zend_extensions")
    result["zend_extensions"] = [z for z in zext if isinstance(z, str)] if isinstance(zext, list) else None
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
                 sleep=time.sleep, clock=time.monotonic, max_answer=None, apcu=False):
    """Reset ONE master once and verify it in later requests; with ``apcu``, then clear its
    APCu and verify that too. See module docs."""
    if mode not in MODES:
        raise ValueError("mode must be one of %s, got %r" % (", ".join(MODES), mode))
    base = helper_dir or DEFAULT_BASE_DIR
    t_start = time.monotonic()
    session, first, tried = open_master(target, session_factory, request_timeout, helper_dir, max_answer)
    result = {}
    try:
        result = _master_header(target, first)
        if tried:
            result["unusable_sockets"] = tried
        result.update({"mode": mode, "changed": False, "verified": False, "files": []})
        if mode == "full":
            _reset_full(session, first, result, check_mode, timeout, purge, target, sleep, clock)
        else:
            escalate = _reset_targets(session, result, mode, files, patterns, check_mode, timeout, base, sleep,
                                      clock, target)
            if escalate is not None:
                _reset_full(session, escalate, result, check_mode, timeout, False, target, sleep, clock)
        if apcu:
            _clear_apcu(session, result, check_mode, timeout, sleep, clock)
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


def _poll_status_until(session, result, verdict, timeout, sleep, clock):
    """Status requests, with growing pauses, until ``verdict(answer)`` holds or ``timeout``
    passes: (the last answer that arrived or None, whether the verdict held, requests sent)."""
    started, delay, last, polls = clock(), 0.02, None, 0
    while True:
        answer = _poll(session, "status", {"scripts": False}, result)
        polls += 1
        if answer is not None:
            last = answer
            if verdict(answer):
                return last, True, polls
        if clock() - started >= timeout:
            return last, False, polls
        sleep(delay)
        delay = min(delay * 2, 0.5)


def _clear_apcu(session, result, check_mode, timeout, sleep, clock):
    """Clear the master's APCu (one cache for all its pools) and verify it in later requests:
    a ``start_time`` other than the one read just before the clear (opcache/apcu.py). An empty cache, or a master
    without APCu, is left alone and says why: nothing cleared is nothing verified."""
    # the first request after a reset may meet a worker that dies (TRANSIENT_POLL_CAUSES): retried
    first, answered, _polls = _poll_status_until(session, result, lambda a: True, timeout, sleep, clock)
    if not answered:
        raise ControlError("master %s: no request after the OPcache reset answered within %ss, so APCu was not "
                           "read and not cleared" % (result["master_pid"], timeout), "verify_timeout",
                           {"result": result})
    before = summarize_apcu(first.get("apcu"))
    entry = {"before": apcu_figures(before), "cleared": False, "verified": None}
    result["apcu"] = entry
    if not before or not before.get("loaded"):
        entry["skipped"] = "APCu is not loaded in this master"
    elif not before.get("enabled"):
        entry["skipped"] = "APCu is loaded but disabled (apc.enabled=0)"
    elif before.get("entries") is None or before.get("start_time") is None:
        raise ControlError("master %s: APCu's figures could not be read (apcu_cache_info), so a clear could not "
                           "be verified: not cleared" % result["master_pid"], "apcu_unreadable")
    elif before["entries"] == 0:
        entry["skipped"] = "APCu holds no entries: nothing to clear"
    elif check_mode:
        entry["would"] = "apcu_clear_cache() once (%d entries), then verify a new start_time" % before["entries"]
        result["changed"] = True
    else:
        answer = session.call("apcu_clear", {})
        if answer.get("cleared") is not True:
            raise ControlError("master %s: apcu_clear_cache() did not run (answer: %r)"
                               % (result["master_pid"], answer.get("cleared")), "apcu_clear")
        entry["cleared"] = True
        entry["clear_time"] = answer.get("clear_time")
        result["changed"] = True
        # the figures of the clearing request itself, just before it cleared
        before = summarize_apcu(answer.get("apcu_before")) or before
        entry["before"] = apcu_figures(before)
        later, entry["verified"], _polls = _poll_status_until(
            session, result, lambda a: clear_verified(before, summarize_apcu(a.get("apcu"))), timeout, sleep, clock)
        after = summarize_apcu((later or {}).get("apcu"))
        entry["after"] = apcu_figures(after)
        if not entry["verified"]:
            raise ControlError("master %s: apcu_clear_cache() ran but no later request saw the cleared cache "
                               "within %ss (APCu start_time still %s)"
                               % (result["master_pid"], timeout, (after or {}).get("start_time")),
                               "verify_timeout", {"result": result})


def configured_file_cache(target, answer):
    """The file-cache directory to purge: the one the master's configuration names (read by
    root through discovery), never one taken from the pool's answer alone; the pool must
    report the same one (a pool user can make its helper answer anything)."""
    configured = str((target.get("opcache") or {}).get("opcache.file_cache") or "").strip()
    reported = (answer.get("ini") or {}).get("opcache.file_cache") or ""
    reported = reported.strip() if isinstance(reported, str) else ""
    if not configured and not reported:
        return ""
    if not configured:
        raise ControlError("master %s: purge_file_cache: the pool reports opcache.file_cache=%r but the "
                           "master's configuration read by discovery names none (an explicit socket gives "
                           "no configuration): refusing to purge a directory named only by the pool"
                           % (target.get("master_pid"), reported), "opcache.file_cache")
    if os.path.normpath(configured) != os.path.normpath(reported or "/"):
        raise ControlError("master %s: purge_file_cache: the master's configuration says opcache.file_cache=%r "
                           "but the pool reports %r: refusing to purge either"
                           % (target.get("master_pid"), configured, reported), "opcache.file_cache")
    return configured


def _reset_full(session, first, result, check_mode, timeout, purge, target, sleep, clock):
    before = first.get("status")
    if not before:
        raise ControlError("master %s: OPcache is disabled in pool %s (opcache.enable=0), nothing to reset"
                           % (result["master_pid"], first.get("pool")), "opcache.enable")
    result["before"] = _figures(before)
    if purge:
        file_cache = configured_file_cache(target, first)
        root = master_root(result.get("master_pid"))[0]
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
    last, result["verified"], polls = _poll_status_until(
        session, result, lambda a: full_reset_verified(before, a.get("status")), timeout, sleep, clock)
    after = (last or {}).get("status")
    result["after"] = _figures(after)
    result["polls"] = polls
    result["verify_seconds"] = round(clock() - started, 4)
    if not result["verified"]:
        raise ControlError("master %s: reset scheduled but not verified within %ss: restart_pending=%s "
                           "(requests still in flight keep the restart pending)"
                           % (result["master_pid"], timeout, (after or {}).get("restart_pending")),
                           "verify_timeout", {"result": result})


def cached_spellings(files, by_path, realpath=os.path.realpath):
    """requested file -> the key OPcache caches it under, or None. OPcache keys a script by
    its resolved path: a file reached through a deploy's ``current`` symlink is cached as
    ``releases/<x>/...``. So a file is looked up by the path given, then by its resolved
    path, then among the keys whose own resolved path is the same file (a key cached under
    a symlinked spelling, opcache.revalidate_path or a path given already resolved)."""
    out = {}
    reverse = None
    for f in files:
        if f in by_path:
            out[f] = f
            continue
        real = realpath(f)
        if real in by_path:
            out[f] = real
            continue
        if reverse is None:
            reverse = {}
            for k in sorted(by_path):
                reverse.setdefault(realpath(k), k)
        out[f] = reverse.get(real)
    return out


def resolved_patterns(patterns, realpath=os.path.realpath):
    """The patterns, and each again with its directory part (up to the first wildcard)
    resolved: ``/var/www/site/current/src/*`` also as ``/var/www/site/releases/7/src/*``."""
    out = list(patterns)
    for pat in patterns:
        cut = min([i for i in (pat.find("*"), pat.find("?"), pat.find("[")) if i >= 0] or [len(pat)])
        head = pat[:pat.rfind("/", 0, cut) + 1] if "/" in pat[:cut] else ""
        if not head or head == "/":
            continue
        real = realpath(head.rstrip("/")) + "/"
        if real != head and real + pat[len(head):] not in out:
            out.append(real + pat[len(head):])
    return out


def _reset_targets(session, result, mode, files, patterns, check_mode, timeout, base, sleep, clock, target=None):
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
        found = cached_spellings(files, by_path)
        targets = sorted(set(k for k in found.values() if k is not None))
        result["not_cached"] = [f for f in files if found.get(f) is None]
        aliases = dict((f, k) for f, k in found.items() if k is not None and k != f)
        if aliases:
            result["cached_as"] = aliases
    elif mode == "glob":
        targets = match_patterns(sorted(by_path), resolved_patterns(patterns))
    else:
        targets = sorted(p for p, e in by_path.items() if e["stale"] in ("certain", "possible"))
        result["stale_counts"] = stale_counts(classified)
        old = superseded_releases(classified, (target or {}).get("document_roots") or ())
        if old:
            # the old release is reached through keys OPcache keeps and through each worker's
            # realpath cache: only a reset clears both (opcache/releases.py)
            result["superseded_releases"] = [dict(g, scripts=g["scripts"][:20]) for g in old]
            result["escalated"] = {
                "to": "full",
                "reason": "%d cached script(s) of %s (%d served since the switch), which %s no longer points "
                          "to (it resolves to %s): OPcache can keep serving them through the current/ spelling "
                          "and each worker's realpath cache; a full reset clears both, invalidating them does not"
                          % (old[0]["count"], old[0]["release"], old[0]["used_since_switch"], old[0]["live_link"],
                             old[0]["live_release"])
                          + ("" if len(old) == 1 else " (and %d more superseded release(s))" % (len(old) - 1)),
                "stale_files": len(targets),
            }
            return answer
    result["files"] = [{"path": p, "stale": by_path[p]["stale"], "reason": by_path[p].get("reason")}
                       for p in targets]
    if not targets:
        # nothing was invalidated: nothing is verified (a reset that did nothing is no cure)
        result["verified"] = False
        result["after"] = result["before"]
        if mode == "files":
            result["note"] = ("none of the requested files is cached by this master, under the path given "
                              "or its resolved path")
        else:
            result["note"] = "nothing to invalidate: no cached script %s" % (
                "matches the patterns" if mode == "glob" else "is stale")
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
