# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The cure path of one php-fpm master: which steps of the ladder stale -> full -> reload ->
restart can cure it, decided from its OPcache settings before anything is done.

Private to opcache-fleet. Standard library only, Python 3.8+.

Why the settings decide (docs/cure.md has the sources):

* ``opcache.preload``: after ``opcache_reset()`` OPcache puts the preloaded scripts back
  (php-src ZendAccelerator.c, preload_restart; the preload RFC: "opcache_reset() is not going
  to reload preloaded files") and their classes stay linked in every worker. Operators
  report that a reset did not help and a restart did (cachetool #259, deployer #3590), and on
  the lab a verified full reset left a preloaded crashing class crashing. So the full reset is
  left out. The reload stays: it re-executes the master, which maps new shared
  memory and runs the preload script again, as a restart does, without cutting requests.
  Stale invalidation stays too: it is cheap and cures the scripts that are not preloaded.
* ``opcache.file_cache``: the second-level cache survives a reset, a reload and a restart,
  and a corrupt one is loaded again (php-src GH-9874): every step from the full reset on
  empties it first.
* ``opcache.file_cache_only=1``: there is no shared memory to reset, so the full reset is left
  out; the reload and restart empty the file cache.
* OPcache disabled for this master: nothing is cached, so stale and full cannot cure it.
* JIT: a reset frees the JIT buffer too, so JIT does not change the ladder. A crash that comes
  back after a clean cache with the tracing JIT on points at the JIT (php-src #7817 and
  later): :func:`advice` says so when no step cured.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

STEPS = ("stale", "full", "reload", "restart")
# What each step does, for reports and check mode.
STEP_ACTIONS = {
    "stale": "opcache_invalidate() of the stale scripts (nothing else is evicted)",
    "full": "opcache_reset(): every script is compiled again",
    "reload": "systemctl reload: php-fpm re-executes its master, new workers, a new OPcache",
    "restart": "systemctl restart: php-fpm stops and starts, in-flight requests are cut",
}
OFF_WORDS = ("", "0", "off", "no", "false", "none", "disable", "disabled")


def _flag(value):
    if isinstance(value, bool):
        return value
    return str(value if value is not None else "").strip().lower() not in OFF_WORDS


def _text(value):
    return value.strip() if isinstance(value, str) else ""


def _size(value):
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    text = _text(value).upper()
    factor = 1
    if text[-1:] in ("K", "M", "G"):
        factor = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}[text[-1]]
        text = text[:-1]
    try:
        return int(text) * factor
    except ValueError:
        return 0


def cure_settings(directives, status):
    """The settings that decide the path, from the pool's opcache_get_configuration()
    directives and opcache_get_status() (``status`` None: OPcache off in this pool)."""
    directives = directives or {}
    jit = (status or {}).get("jit") if isinstance(status, dict) else None
    jit_mode = _text(directives.get("opcache.jit"))
    if isinstance(jit, dict) and "on" in jit:
        jit_active = bool(jit.get("on"))
    else:
        jit_active = _size(directives.get("opcache.jit_buffer_size")) > 0 and _flag(jit_mode) \
            and jit_mode.lower() not in ("disable", "off")
    return {
        "enabled": bool(status) and _flag(directives.get("opcache.enable", True)),
        "preload": _text(directives.get("opcache.preload")) or None,
        "file_cache": _text(directives.get("opcache.file_cache")) or None,
        "file_cache_only": _flag(directives.get("opcache.file_cache_only", False)),
        "jit": jit_mode or None,
        "jit_active": jit_active,
    }


def _skip_reason(step, settings):
    if step in ("stale", "full") and not settings["enabled"]:
        return "OPcache is disabled in this master: nothing is cached, %s cannot cure it" % step
    if step == "full" and settings["file_cache_only"]:
        return "opcache.file_cache_only=1: there is no shared memory to reset"
    if step == "full" and settings["preload"]:
        return ("opcache.preload=%s: opcache_reset() puts the preloaded scripts back and their classes stay "
                "linked in every worker; only a new master (reload or restart) drops preloaded code"
                % settings["preload"])
    return None


def plan_path(settings, steps=STEPS):
    """The ladder for one master, in order: [{step, action, skipped?, purge_file_cache}].

    ``steps``: the steps the operator allows (a subset of :data:`STEPS`, kept in ladder
    order whatever order they were given in)."""
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        raise ValueError("unknown cure step(s) %s: the steps are %s" % (", ".join(unknown), ", ".join(STEPS)))
    plan = []
    for step in STEPS:
        if step not in steps:
            continue
        entry = {"step": step, "action": STEP_ACTIONS[step], "purge_file_cache": False}
        reason = _skip_reason(step, settings)
        if reason:
            entry["skipped"] = reason
        elif settings["file_cache"] and step != "stale":
            entry["purge_file_cache"] = True
        plan.append(entry)
    return plan


def advice(settings, plan):
    """What to do when no step cured (the ladder is exhausted)."""
    out = []
    if settings["jit_active"]:
        out.append("the tracing JIT is on (opcache.jit=%s): crashes that survive a clean cache are often JIT bugs "
                   "(php-src #7817); set opcache.jit=disable (or function) with opcache_config.yml"
                   % (settings["jit"] or "?"))
    if any(e.get("skipped") for e in plan):
        out.append("steps were skipped: %s" % "; ".join("%s (%s)" % (e["step"], e["skipped"])
                                                        for e in plan if e.get("skipped")))
    out.append("find the crashing file and keep it out of OPcache: culprit_hunt.yml; collect evidence for a bug "
               "report: evidence_bundle.yml")
    return out
