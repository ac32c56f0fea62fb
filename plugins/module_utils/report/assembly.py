# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Assembly of the fleet report (docs/report-schema.md): host entries, fleet summary, text lines.

Private to opcache-fleet. Standard library only. Pure functions: evaluate_host turns one
host's raw results into its ``hosts[]`` entry (judging the host, each pool and each release
folder), build_report puts the fleet together, summary_lines prints it short.
"""
from __future__ import absolute_import, division, print_function

import posixpath

import re

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.identity import master_key
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.categories import GATEWAY_502
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.deploys import deploy_entries
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.figures import as_int, top_paths
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.host_model import (
    HostModel, section_pools, sections_of,
)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.judge import (
    host_stats, judge, pool_stats, priority_of, section_stats, signs_for,
)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.next_steps import CommandContext, next_steps
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.reset_check import (
    apply_reset_check, pools_reset_check, reset_check, scope_crashes, scope_gateways,
)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.times import iso_time, report_tz

__metaclass__ = type

SCHEMA_VERSION = 2
# A host that gave no result has one of these instead of a verdict.
HOST_STATES = ("ok", "unreachable", "failed", "no_result")


def _status_summary(m):
    st = m.get("status") or {}
    mem = st.get("memory_usage") or {}
    stats = st.get("opcache_statistics") or {}
    return {
        "enabled": st.get("opcache_enabled"), "cache_full": st.get("cache_full"),
        "restart_pending": st.get("restart_pending"),
        "used_memory": mem.get("used_memory"), "free_memory": mem.get("free_memory"),
        "wasted_memory": mem.get("wasted_memory"),
        "num_cached_scripts": stats.get("num_cached_scripts"), "hit_rate": stats.get("opcache_hit_rate"),
        "start_time": stats.get("start_time"), "last_restart_time": stats.get("last_restart_time"),
        "oom_restarts": stats.get("oom_restarts"), "hash_restarts": stats.get("hash_restarts"),
        "manual_restarts": stats.get("manual_restarts"),
    }


def evaluate_host(raw, ctx=None, thresholds=None, stale_cap=50):
    """The report entry of one host (see docs/report-schema.md, ``hosts[]``)."""
    ctx = ctx or CommandContext()
    raw = raw or {}
    name = raw.get("host") or "?"
    status = raw.get("status") or "ok"
    entry = {"name": name, "status": status, "error": raw.get("error"), "errors": list(raw.get("errors") or []),
             "verdict": None, "confidence": None, "priority": None, "resolved_by_reset": False,
             "reset_check": None, "reasons": [], "notes": [], "also": [], "next_steps": [],
             "masters": [], "pools": [], "sections": [], "deploys": [], "evidence": None, "collisions": None,
             "discovery_warnings": []}
    if status != "ok":
        entry["verdict"] = status
        entry["reasons"] = [{"code": status, "text": raw.get("error") or "no result from this host"}]
        return entry
    model = HostModel(raw)
    hs = host_stats(model)
    host_j = judge(hs, signs_for(model), thresholds)
    host_chk = reset_check(model, scope_crashes(model, model.incidents), scope_gateways(model, model.events))
    apply_reset_check(host_j, host_chk)

    # Pools
    suspect_masters = []
    for m in model.masters:
        for p in m.get("pools") or []:
            ref = (master_key(m), p.get("name"))
            ps = pool_stats(model, ref)
            pj = judge(ps, signs_for(model, pids={m.get("master_pid")}), thresholds)
            apply_reset_check(pj, pools_reset_check(model, [ref]))
            if pj["verdict"] == "opcache_suspect" and not pj["resolved_by_reset"] and m not in suspect_masters:
                suspect_masters.append(m)
            entry["pools"].append({
                "name": p.get("name"), "master_pid": m.get("master_pid"), "config": m.get("config"),
                "listen": p.get("listen"), "pm": p.get("pm"), "pm_max_children": p.get("pm_max_children"),
                "verdict": pj["verdict"], "confidence": pj["confidence"],
                "priority": priority_of(pj["verdict"], pj["resolved_by_reset"], pj["also"], pj["reasons"]),
                "resolved_by_reset": pj["resolved_by_reset"], "reset_check": pj["reset_check"],
                "reasons": pj["reasons"], "notes": pj["notes"], "crashes": ps["crashes"], "tied_502s": ps["tied_502s"],
                "top_crash_paths": top_paths(ps["crash_paths"]), "counts": ps["counts"],
                "opcache_overrides": [dict(directive=d, **(v if isinstance(v, dict) else {"value": v}))
                                      for d, v in sorted((p.get("opcache_overrides") or {}).items())],
                "extension_overrides": list(p.get("extension_overrides") or []),
            })

    # Release folders
    for sec in sections_of(model):
        pools = section_pools(model, sec)
        pids = None
        if pools:
            pids = set(m.get("master_pid") for m in (model.master_of_pool(p) for p in pools) if m) or None
        ss = section_stats(model, sec["prefix"], sec["root"], pids)
        sj = judge(ss, signs_for(model, pids=pids, root=sec["root"]), thresholds)

        def match(path, prefix=sec["prefix"]):
            return path.startswith(prefix)
        apply_reset_check(sj, reset_check(model, scope_crashes(model, model.incidents, match),
                                          scope_gateways(model, model.events, path_filter=match)))
        entry["sections"].append(dict(sec, pools=[model.pool_label(r) for r in pools], verdict=sj["verdict"], confidence=sj["confidence"],
                                      priority=priority_of(sj["verdict"], sj["resolved_by_reset"], sj["also"], sj["reasons"]),
                                      resolved_by_reset=sj["resolved_by_reset"], reset_check=sj["reset_check"],
                                      reasons=sj["reasons"], notes=sj["notes"], crashes=ss["crashes"],
                                      tied_502s=ss["tied_502s"], crash_paths=top_paths(ss["crash_paths"]),
                                      counts=ss["counts"]))

    entry.update(verdict=host_j["verdict"], confidence=host_j["confidence"], reasons=host_j["reasons"],
                 notes=host_j["notes"], also=host_j["also"],
                 priority=priority_of(host_j["verdict"], host_j["resolved_by_reset"], host_j["also"], host_j["reasons"]),
                 resolved_by_reset=host_j["resolved_by_reset"], reset_check=host_j["reset_check"])
    entry["next_steps"] = next_steps(name, host_j["verdict"], hs, model, ctx, suspect_masters, host_chk,
                                     also=host_j["also"])

    # Masters: discovery + OPcache
    by_pid = dict((m.get("master_pid"), m) for m in model.opcache_masters())
    for m in model.masters:
        om = by_pid.get(m.get("master_pid")) or {}
        stale = model.stale_scripts(pids={m.get("master_pid")})
        failed = [f for f in (model.opcache.get("failed_masters") or []) if f.get("master_pid") == m.get("master_pid")]
        thr = as_int(m.get("emergency_restart_threshold"))
        entry["masters"].append({
            "master_pid": m.get("master_pid"), "config": m.get("config"), "php_version": m.get("php_version"),
            "systemd_unit": m.get("systemd_unit"), "error_log": m.get("error_log"),
            "pools": [p.get("name") for p in m.get("pools") or []],
            "emergency_restart_threshold": thr, "emergency_restart_interval": as_int(m.get("emergency_restart_interval")),
            "opcache_settings": dict(m.get("opcache") or {}),
            "opcache": _status_summary(om) if om else None,
            "opcache_error": (failed[0].get("msg") if failed else (None if om else (model.opcache.get("msg")
                                                                                    or "no OPcache status"))),
            "stale_counts": om.get("stale_counts"),
            "apcu": om.get("apcu"),
            "stale_scripts": [{"path": s.get("full_path") or s.get("path"), "stale": s.get("stale"),
                               "reason": s.get("reason")} for s in stale[:stale_cap]],
            "stale_scripts_truncated": len(stale) > stale_cap,
            "cache_events": [{"kind": e["kind"], "time": iso_time(e["time"], report_tz(model)), "text": e["text"],
                              "files": e["files"][:20]} for e in model.cache_events(m.get("master_pid"))],
        })
        for f in (om.get("apcu") or {}).get("findings") or []:
            entry["notes"].append({"code": f.get("code"), "text": "master %s (%s): %s"
                                   % (m.get("master_pid"), m.get("config"), f.get("text"))})
        if not thr and host_j["verdict"] == "opcache_suspect":
            entry["notes"].append({"code": "no_emergency_restart", "text": "master %s (%s): emergency_restart_threshold "
                                   "is not set, php-fpm will not reload itself after repeated crashes"
                                   % (m.get("master_pid"), m.get("config"))})
    if model.invalidations_error:
        entry["notes"].append({"code": "invalidations_unreadable", "text": "%s/invalidated.json (the record of "
                               "opcache_reset's invalidations): %s" % ("helper_dir", model.invalidations_error)})
    for text in _failed_starts(model.evidence.get("events")):
        entry["notes"].append({"code": "fpm_failed_start", "text": text})
    entry["discovery_warnings"] = list(model.discovery.get("warnings_found") or [])
    ev = model.evidence
    gateway = [e for e in model.events if e.get("category") in GATEWAY_502 or e.get("category") == "upstream_timeout"]
    entry["evidence"] = {
        "error": None if "counts" in ev else (ev.get("msg") or "no evidence result"),
        "window": ev.get("window"), "counts": ev.get("counts") or {}, "correlation": ev.get("correlation"),
        "incidents_total": as_int(ev.get("incidents_total")), "crashes": hs["crashes"], "tied_crashes": hs["tied_crashes"],
        "tied_502s": hs["tied_502s"], "untied_502s": hs["untied_502s"],
        "fpm_sources": _fpm_sources(model.fpm_sources()), "top_crash_paths": ev.get("top_crash_paths") or {},
        "crashes_per_hour": ev.get("crashes_per_hour") or {}, "first_seen": ev.get("first_seen") or {},
        "last_seen": ev.get("last_seen") or {}, "unmatched": ev.get("unmatched") or {},
        "files": [dict((k, f.get(k)) for k in ("path", "status", "lines", "events", "reason", "error"))
                  for f in ev.get("files") or []],
        "missing": list(ev.get("missing") or []), "kernel_sources": list(ev.get("kernel_sources") or []),
        "events_total": as_int(ev.get("events_total")), "events_truncated": bool(ev.get("events_truncated")),
        "php_messages": _php_messages(ev.get("php_messages")),
        "incidents": [_incident_summary(i, model.master_of_pool(model.pool_of_incident(i)))
                      for i in model.incidents[-20:]],
        "recent_gateway_errors": [dict((k, e.get(k)) for k in ("timestamp", "category", "request", "upstream",
                                                               "client", "host"))
                                  for e in gateway[-20:]],
    }
    entry["timeline"] = timeline_points(model)
    entry["collisions"] = {
        "error": (model.collisions.get("msg") or ("skipped" if model.collisions.get("skipped") else None))
        if "collisions" not in model.collisions else None,
        "roots": list(raw.get("collision_roots") or []), "files_scanned": model.collisions.get("files_scanned"),
        "total": len(model.collision_items()),
        "items": [{"name": c.get("name"), "root": c.get("root"), "all_vendor": c.get("all_vendor"),
                   "files": [f.get("path") for f in c.get("files") or []][:10]}
                  for c in model.collision_items()[:50]],
        "partial": bool(model.collisions.get("truncated")),
        "truncated_by": model.collisions.get("truncated_by"),
        "files_not_read": as_int(model.collisions.get("files_not_read")),
        "roots_refused": [dict((k, r.get(k)) for k in ("path", "reason"))
                          for r in model.collisions.get("roots_refused") or [] if isinstance(r, dict)],
    }
    entry["notes"].extend(collision_scan_notes(model.collisions))
    entry["notes"].extend(document_root_notes(model.discovery))
    entry["notes"].extend(superseded_release_notes(model.opcache_masters()))
    entry["deploys"] = deploy_entries(model, thresholds, report_tz(model))
    return entry


def document_root_notes(discovery):
    """nginx passing ``$document_root`` in SCRIPT_FILENAME while the root goes through a symlink
    (a deploy's ``current``): one note per nginx line and root, with the fix."""
    notes, seen = [], set()
    for t in ((discovery or {}).get("nginx") or {}).get("fastcgi_targets") or []:
        sf, root, real = t.get("script_filename") or {}, t.get("root"), t.get("root_resolved")
        if not root or not real or "$document_root" not in (sf.get("value") or ""):
            continue
        if posixpath.normpath(root) == real or (sf.get("file"), sf.get("line"), root) in seen:
            continue
        seen.add((sf.get("file"), sf.get("line"), root))
        notes.append({"code": "document_root_symlink", "text": (
            "nginx %s:%s passes SCRIPT_FILENAME %s while the root %s is a symlink to %s: PHP opens scripts by "
            "the symlinked path, and after a deploy moves the symlink workers can keep running the old release "
            "(PHP's per-worker realpath cache, realpath_cache_ttl; with opcache.validate_timestamps=0 until a "
            "reset); pass fastcgi_param SCRIPT_FILENAME $realpath_root$fastcgi_script_name (and DOCUMENT_ROOT "
            "$realpath_root)" % (sf.get("file") or "?", sf.get("line") or "?", sf.get("value"), root, real))})
    return notes


def superseded_release_notes(masters):
    """Cached scripts of a release that the site's current link no longer points to (diagnose_host,
    opcache/releases.py): one note per master and old release, saying whether OPcache served
    them after the switch, and the cure."""
    notes = []
    for m in masters:
        for g in m.get("superseded_releases") or []:
            if not isinstance(g, dict):
                continue
            used = as_int(g.get("used_since_switch"))
            notes.append({"code": "old_release_served" if used else "old_release_cached", "text": (
                "master %s (%s): %d cached script(s) of %s, while %s points to %s (switched at %s)%s; "
                "emergency_reset.yml in its default mode=stale resets this master in full, the one cure that "
                "also clears the workers' realpath cache" % (
                    m.get("master_pid"), m.get("config") or "config unknown", as_int(g.get("count")),
                    g.get("release"), g.get("live_link"), g.get("live_release"),
                    iso_time(g["switched_at"], None) if isinstance(g.get("switched_at"), (int, float)) else "?",
                    (": %d of them served since the switch, the old release is still being served" % used)
                    if used else ": none served since the switch"))})
    return notes


def collision_scan_notes(col):
    """Notes of a class scan that did not cover everything: a budget ran out (the result is
    partial: collisions may be missing), code roots refused (a pool's chdir = /)."""
    notes = []
    if col.get("truncated"):
        by = col.get("truncated_by") or "max_files"
        text = "class scan partial: its %s budget ran out after %s files read" % (
            "time" if by == "max_seconds" else "file", as_int(col.get("files_scanned")))
        if as_int(col.get("files_not_read")):
            text += " (%d listed files not read)" % as_int(col.get("files_not_read"))
        notes.append({"code": "class_scan_partial", "text": text + "; class names declared twice may be missing "
                      "(diagnose_collision_max_files, diagnose_collision_max_seconds)"})
    for r in col.get("roots_refused") or []:
        if isinstance(r, dict):
            notes.append({"code": "class_scan_root_refused", "text": "code root %s not scanned: %s"
                          % (r.get("path"), r.get("reason"))})
    return notes


FPM_SOURCE_KEYS = ("master_pid", "config", "error_log", "error_log_kind", "source", "status", "events", "reason")


def _fpm_sources(entries):
    """evidence.fpm_sources of the report: per php-fpm master, what of its crash log was read
    (None: a record from before diagnose_host reported it); ``truncated`` when only part of a
    journal window was read."""
    if entries is None:
        return None
    out = []
    for e in entries:
        item = dict((k, as_int(e.get(k)) if k == "events" else e.get(k)) for k in FPM_SOURCE_KEYS)
        if e.get("truncated"):
            item["truncated"] = e["truncated"]
        out.append(item)
    return out


def _incident_summary(inc, master=None):
    """One crash as the report lists it; ``master``: the discovered master of its pool
    (None when not known, as when two masters have a pool of that name and its log is shared)."""
    return {"timestamp": inc.get("timestamp"), "pool": inc.get("pool"), "pid": inc.get("pid"),
            "master_pid": (master or {}).get("master_pid"), "config": (master or {}).get("config"),
            "signal_name": inc.get("signal_name"), "signal_number": inc.get("signal_number"),
            "core_dumped": inc.get("core_dumped"), "module": inc.get("module"),
            "request_paths": list(inc.get("request_paths") or []), "requests": len(inc.get("requests") or [])}


def timeline_points(model):
    """Time stamps of 502s and crashes: [{t, kind}] with kind 502 or crash, oldest first."""
    pts = []
    for e in model.events:
        if e.get("timestamp") and e.get("category") in GATEWAY_502:
            pts.append({"t": e["timestamp"], "kind": "502"})
    have_crash_events = False
    for e in model.events:
        if e.get("timestamp") and (e.get("category") == "heap_corruption" or (
                e.get("category") == "child_signal" and as_int(e.get("signal_number")) in (4, 6, 7, 8, 11))):
            pts.append({"t": e["timestamp"], "kind": "crash"})
            have_crash_events = True
    if not have_crash_events:
        for i in model.incidents:
            if i.get("timestamp") and i.get("crash") is not False:
                pts.append({"t": i["timestamp"], "kind": "crash"})
    if not any(p["kind"] == "502" for p in pts):
        for i in model.incidents:
            for r in i.get("requests") or []:
                if r.get("timestamp"):
                    pts.append({"t": r["timestamp"], "kind": "502"})
    pts.sort(key=lambda p: p["t"])
    tz = report_tz(model)
    resets = []
    for m in model.masters:
        for e in model.cache_events(m.get("master_pid")):
            resets.append({"t": iso_time(e["time"], tz), "kind": e["kind"], "master_pid": m.get("master_pid")})
    resets.sort(key=lambda r: r["t"])
    return {"points": pts, "partial": bool(model.evidence.get("events_truncated")), "resets": resets}


def build_report(hosts, generated_at, window=None, ctx=None, thresholds=None, check_mode=False, stale_cap=50):
    """The whole report (docs/report-schema.md). ``hosts`` = raw host records, in inventory order."""
    entries = [evaluate_host(h, ctx=ctx, thresholds=thresholds, stale_cap=stale_cap) for h in hosts]
    counts = {}
    for e in entries:
        counts[e["verdict"]] = counts.get(e["verdict"], 0) + 1
    steps = []
    # Hosts whose 502s go on first (a master down first of all), hosts whose crashes stopped
    # after a reset last (inventory order within each priority).
    rank = {"high": 0, "medium": 1, None: 1, "low": 2}
    for e in sorted(entries, key=lambda x: (rank.get(x.get("priority"), 1), x.get("verdict") != "down")):
        for s in e["next_steps"][:1]:
            steps.append(dict(s, host=e["name"], priority=e.get("priority")))
    return {
        "schema_version": SCHEMA_VERSION,
        "generator": "opcache-fleet diagnose",
        "generated_at": generated_at,
        "window": window or {},
        "check_mode": bool(check_mode),
        "fleet": {"hosts_total": len(entries), "verdict_counts": counts, "next_steps": steps,
                  "resolved_by_reset": [e["name"] for e in entries if e.get("resolved_by_reset")],
                  "crashes_after_reset": [e["name"] for e in entries
                                          if (e.get("reset_check") or {}).get("state") == "crashes_after_reset"]},
        "hosts": entries,
    }


def summary_lines(report):
    """The short text printed at the end of the play."""
    f = report["fleet"]
    lines = ["fleet: %d host(s): %s" % (f["hosts_total"], ", ".join(
        "%s %d" % (k, v) for k, v in sorted(f["verdict_counts"].items())) or "none")]
    for h in report["hosts"]:
        line = "%s: %s" % (h["name"], h["verdict"])
        if h.get("confidence"):
            line += " (%s)" % h["confidence"]
        if h.get("resolved_by_reset"):
            line += ", resolved by reset, priority low"
        if h["reasons"]:
            text = h["reasons"][0]["text"]
            line += " - " + (text if len(text) <= 240 else text[:237] + "...")
        lines.append(_printable(line))
        for s in h.get("sections") or []:
            if s["verdict"] != "healthy":
                lines.append(_printable("  %s %s: %s%s%s" % (s["prefix"], s["root"], s["verdict"], (
                    " (resolved by reset)" if s.get("resolved_by_reset") else ""), (
                    " - " + ", ".join(p["path"] for p in s["crash_paths"][:3])) if s["crash_paths"] else "")))
        for st in h.get("next_steps") or []:
            lines.append(_printable("  next: " + st["command"]))
    return lines


_CTRL = re.compile(u"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _printable(s):
    """No terminal control characters from logs in what is printed."""
    return _CTRL.sub(lambda m: "\\x%02x" % ord(m.group(0)), s)


def _php_messages(pm):
    """The PHP messages nginx logged from FastCGI stderr (fpm_evidence php_messages):
    counts per severity and the 10 most frequent (severity, script) pairs."""
    pm = pm if isinstance(pm, dict) else {}
    return {"total": as_int(pm.get("total")) or 0,
            "by_severity": dict((str(k), as_int(v) or 0) for k, v in (pm.get("by_severity") or {}).items()),
            "top": [{"severity": t.get("severity"), "script": t.get("script"), "count": as_int(t.get("count")) or 0}
                    for t in (pm.get("top") or [])[:10] if isinstance(t, dict)],
            "distinct": as_int(pm.get("distinct")) or 0}


# php-fpm lifecycle records that say why no master serves a pool: what explains a storm of
# "connect() failed" or 502s better than any crash (evidence/signature_table.py lifecycle)
_FAILED_START = ("config_error", "init_failed", "listen_failed", "already_listening", "reload_failed")


def _failed_starts(events, cap=5):
    """Note texts for the last ``cap`` failed php-fpm starts, config tests and reloads."""
    out = []
    for e in events or []:
        if not isinstance(e, dict) or e.get("category") != "lifecycle" or e.get("lifecycle_event") not in _FAILED_START:
            continue
        what = [str(e["lifecycle_event"]).replace("_", " ")]
        if e.get("config_file"):
            what.append("%s%s" % (e["config_file"], ":%s" % e["config_line"] if e.get("config_line") else ""))
        for k in ("directive", "listen", "reason"):
            if e.get(k):
                what.append("%s %s" % (k, e[k]))
        when = e.get("timestamp") or "an unknown time"
        out.append("php-fpm %s at %s (%s:%s)" % (", ".join(what), when, e.get("file"), e.get("line_no")))
    return out[-cap:]
