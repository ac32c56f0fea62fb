# -*- coding: utf-8 -*-
# opcache-fleet: turn one host's diagnose results into verdicts, reasons and next steps.
#
# Pure functions, standard library only, no Ansible: the input is what the diagnose role
# registered on a host (fpm_discover, fpm_evidence, opcache_status, php_class_collisions and
# the release folders found under the document roots); the output is the host entry of the
# fleet report (docs/report-schema.md). Nothing here reads files or the clock.
from __future__ import absolute_import, division, print_function

import base64
import datetime
import json
import posixpath
import re

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.addresses import normalize_upstream

try:
    from shlex import quote as _shell_quote
except ImportError:  # pragma: no cover - Python 2 only
    from pipes import quote as _shell_quote

SCHEMA_VERSION = 1

VERDICTS = ("opcache_suspect", "misconfig", "capacity", "timeouts", "healthy")
# A host that gave no result has one of these instead of a verdict.
HOST_STATES = ("ok", "unreachable", "failed", "no_result")

# nginx categories that answer the client with 502 (504 for the timeout).
GATEWAY_502 = frozenset((
    "upstream_reset", "upstream_prematurely_closed", "upstream_connect_refused",
    "upstream_connect_eagain", "upstream_connect_enoent", "upstream_connect_eacces",
    "upstream_connect_other", "upstream_too_big_header", "upstream_send_failed",
    "upstream_invalid_response", "no_live_upstreams",
))
CRASH_502 = frozenset(("upstream_reset", "upstream_prematurely_closed"))
CAPACITY = ("max_children", "seems_busy", "upstream_connect_eagain")
TIMEOUTS = ("upstream_timeout", "exec_timeout")
MISCONFIG = ("upstream_connect_eacces", "upstream_connect_enoent", "upstream_connect_refused",
             "primary_script_unknown")
CATEGORY_TEXT = {
    "max_children": "pool reached pm.max_children",
    "seems_busy": "pool seems busy (spawning children hard)",
    "upstream_connect_eagain": "connect() to php-fpm failed with EAGAIN (listen backlog full)",
    "upstream_timeout": "nginx timed out waiting for php-fpm (504)",
    "exec_timeout": "request_terminate_timeout killed a request",
    "upstream_connect_eacces": "connect() to the php-fpm socket denied (EACCES: socket permissions)",
    "upstream_connect_enoent": "php-fpm socket file missing (ENOENT)",
    "upstream_connect_refused": "connect() to php-fpm refused (nothing listens)",
    "primary_script_unknown": "php-fpm could not find the script (Primary script unknown)",
}
# Names a document root may have when its sub-directories are release folders.
RELEASES_DIR_RE = re.compile(r"^(releases?|deploy(s|ments)?|versions?|builds?)$", re.I)
DEFAULT_PLAYBOOKS = {
    "reset": "playbooks/emergency_reset.yml",
    "hunt": "playbooks/culprit_hunt.yml",
    "diagnose": "playbooks/diagnose.yml",
}


# ---------------------------------------------------------------------------- helpers

def _n(value):
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _plural(n, word, many=None):
    return "%d %s" % (n, word if n == 1 else (many or word + "s"))


def release_roots(docroot, subdirs):
    """The code roots to scan for one document root: its release folders when the root is
    named like a releases directory (``/srv/app/releases`` -> ``a``, ``b``, ``c``), else the root."""
    base = posixpath.basename(docroot.rstrip("/"))
    subs = set(s.rstrip("/") for s in (subdirs or []) if s)
    if RELEASES_DIR_RE.match(base) and subs:
        return sorted(s if s.startswith("/") else posixpath.join(docroot, s) for s in subs)
    return [docroot]


def shell_join(words):
    return " ".join(_shell_quote(str(w)) for w in words)


def _under(path, root):
    if not path or not root:
        return False
    root = root.rstrip("/") + "/"
    return path.startswith(root)


def _location_matches(location, uri):
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


# ---------------------------------------------------------------------------- host model

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
        self.nginx = self.discovery.get("nginx") or {}
        self.masters = [m for m in (self.discovery.get("masters") or []) if isinstance(m, dict)]
        self.upstream_pool = self._upstream_map()
        self.events = [e for e in (self.evidence.get("events") or [])
                       if isinstance(e, dict) and e.get("category") != "lifecycle"]
        self.incidents = [i for i in (self.evidence.get("incidents") or []) if isinstance(i, dict)]
        self.invalidations, self.invalidations_error = load_invalidations(self.raw.get("opcache_invalidations"))
        self._cache_events = {}

    def _upstream_map(self):
        out = {}
        for t in self.nginx.get("fastcgi_targets") or []:
            key = normalize_upstream(t.get("target"))
            if key and t.get("pool") and key not in out:
                out[key] = {"pool": t.get("pool"), "master_pid": t.get("master_pid"), "config": t.get("config")}
        for m in self.masters:
            for p in m.get("pools") or []:
                listen = p.get("listen")
                if not listen:
                    continue
                key = normalize_upstream(listen)
                if p.get("listen_kind") == "tcp" and key and ":" not in key:
                    key = "127.0.0.1:" + key
                out.setdefault(key, {"pool": p.get("name"), "master_pid": m.get("master_pid"),
                                     "config": m.get("config")})
        for k, v in (self.raw.get("upstream_pools") or {}).items():
            key = normalize_upstream(k)
            if key:
                out.setdefault(key, {"pool": v, "master_pid": None, "config": None})
        return out

    def pool_of_event(self, ev):
        if ev.get("pool"):
            return ev["pool"]
        hit = self.upstream_pool.get(normalize_upstream(ev.get("upstream")))
        return hit["pool"] if hit else None

    def master_of_pool(self, pool):
        for m in self.masters:
            for p in m.get("pools") or []:
                if p.get("name") == pool:
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
                    if root is None or _under(path, root):
                        out.append(s)
        return out

    def stale_total(self, pids=None):
        total = 0
        for m in self.opcache_masters():
            if pids is not None and m.get("master_pid") not in pids:
                continue
            sc = m.get("stale_counts") or {}
            if sc:
                total += _n(sc.get("certain")) + _n(sc.get("possible"))
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

    def pid_of_pool(self, pool):
        m = self.master_of_pool(pool) if pool else None
        return m.get("master_pid") if m else None

    def collision_items(self, root=None):
        items = [c for c in (self.collisions.get("collisions") or []) if isinstance(c, dict)]
        items = [c for c in items if not c.get("across_releases")]
        if root is not None:
            items = [c for c in items if (c.get("root") or "").rstrip("/") == root.rstrip("/")]
        return items


# ---------------------------------------------------------------------------- scope stats

def _empty_stats():
    return {"counts": {}, "crashes": 0, "tied_crashes": 0, "tied_502s": 0, "crash_paths": {},
            "signals": {}, "opcache_so": 0, "heap_corruption": 0, "hosts_headers": {}}


def _add_incident(stats, inc, path_filter=None):
    if inc.get("crash") is False:
        return  # a child death that is not a crash (exit code, SIGTERM)
    requests = inc.get("requests") or []
    if path_filter is not None:
        requests = [r for r in requests if path_filter(r.get("path") or "")]
        if not requests:
            return
    stats["crashes"] += 1
    sig = inc.get("signal_name") or ("heap corruption" if inc.get("heap_corruption") else inc.get("category"))
    if sig:
        stats["signals"][sig] = stats["signals"].get(sig, 0) + 1
    if inc.get("heap_corruption"):
        stats["heap_corruption"] += 1
    if (inc.get("module") or "").startswith("opcache"):
        stats["opcache_so"] += 1
    if requests:
        stats["tied_crashes"] += 1
        stats["tied_502s"] += len(requests)
        for r in requests:
            p = r.get("path")
            if p:
                stats["crash_paths"][p] = stats["crash_paths"].get(p, 0) + 1
                hh = r.get("host")
                if hh:
                    stats["hosts_headers"].setdefault(p, hh)


def _add_event(stats, ev):
    c = ev.get("category")
    if c:
        stats["counts"][c] = stats["counts"].get(c, 0) + 1


def _top(d, limit=10):
    return [{"path": k, "count": v} for k, v in sorted(d.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]


def host_stats(model):
    """Host-wide figures: counts from the module (complete), crashes from the incidents."""
    st = _empty_stats()
    counts = (model.evidence.get("counts") or {}).get("by_category") or {}
    st["counts"] = dict((k, _n(v)) for k, v in counts.items())
    for inc in model.incidents:
        _add_incident(st, inc)
    # Incidents beyond the module's cap (the oldest) still count as crashes.
    st["crashes"] += max(0, _n(model.evidence.get("incidents_total")) - len(model.incidents))
    kernel = len([ev for ev in model.events
                  if ev.get("category") in ("kernel_segfault", "general_protection")
                  and ev.get("is_php", True) is not False and (ev.get("module") or "").startswith("opcache")])
    st["opcache_so"] = max(st["opcache_so"], kernel)
    return st


def pool_stats(model, pool):
    st = _empty_stats()
    for inc in model.incidents:
        if inc.get("pool") == pool:
            _add_incident(st, inc)
    for ev in model.events:
        if model.pool_of_event(ev) == pool:
            _add_event(st, ev)
    return st


def section_stats(model, prefix, root=None):
    st = _empty_stats()
    match = lambda p: p.startswith(prefix)  # noqa: E731
    for inc in model.incidents:
        _add_incident(st, inc, path_filter=match)
    for ev in model.events:
        if ev.get("source_kind") == "nginx" and match(ev.get("path") or ""):
            _add_event(st, ev)
        elif ev.get("script") and ev.get("category") in TIMEOUTS + ("slow_request",):
            # php-fpm names the script, not the URI: the section's root decides.
            if root and _under(ev["script"], root):
                _add_event(st, ev)
    return st


# ---------------------------------------------------------------------------- judging

def judge(stats, signs=None, thresholds=None):
    """Verdict of one scope (host, pool or release folder).

    ``stats`` as built by host_stats/pool_stats/section_stats; ``signs`` = supporting OPcache
    signs: stale (int), cache_full (bool), oom_restarts, hash_restarts, collisions (list of
    names), overrides (list of "pool: directive=value").
    Returns {verdict, confidence, reasons: [{code, text}], also: [verdicts]}.
    """
    signs = signs or {}
    th = {"misconfig": 1, "capacity": 1, "timeouts": 1}
    th.update(thresholds or {})
    counts = stats.get("counts") or {}
    found = []
    reasons = []

    support = []
    opcache_so = _n(stats.get("opcache_so"))
    if opcache_so:
        support.append(("opcache_so_segfault", "kernel: %s in opcache.so" % _plural(opcache_so, "segfault")))
    if stats.get("heap_corruption"):
        support.append(("heap_corruption", "%s reported zend_mm_heap corrupted" % _plural(stats["heap_corruption"], "worker")))
    if _n(signs.get("stale")):
        support.append(("stale_scripts", "%s still cached although changed on disk (stale)"
                        % _plural(_n(signs["stale"]), "script")))
    if signs.get("cache_full"):
        support.append(("cache_full", "OPcache memory is full"))
    if _n(signs.get("oom_restarts")):
        support.append(("oom_restarts", "OPcache restarted %s for lack of memory (oom_restarts)"
                        % _plural(_n(signs["oom_restarts"]), "time")))
    if _n(signs.get("hash_restarts")):
        support.append(("hash_restarts", "OPcache restarted %s for a full key table (hash_restarts)"
                        % _plural(_n(signs["hash_restarts"]), "time")))
    if signs.get("collisions"):
        names = signs["collisions"]
        support.append(("class_collisions", "%s declared in more than one file: %s"
                        % (_plural(len(names), "class name"), ", ".join(names[:5]) + (" ..." if len(names) > 5 else ""))))
    if signs.get("overrides"):
        support.append(("pool_opcache_overrides", "per-pool OPcache/extension overrides (tied to php-src crashes "
                        "GH-23355, GH-23288): " + ", ".join(signs["overrides"][:5])))

    tied, crashes = _n(stats.get("tied_crashes")), _n(stats.get("crashes"))
    if tied or crashes or opcache_so:
        found.append("opcache_suspect")
        sigs = ", ".join(sorted((stats.get("signals") or {}).keys()))
        if tied:
            pages = _top(stats.get("crash_paths") or {}, 3)
            reasons.append({"code": "crashes_tied_to_502", "text": "%s tied to %d of %s%s; pages: %s" % (
                _plural(_n(stats.get("tied_502s")), "nginx 502"), tied,
                _plural(crashes, "php-fpm worker crash", "php-fpm worker crashes"),
                " (%s)" % sigs if sigs else "",
                ", ".join("%s (%d)" % (p["path"], p["count"]) for p in pages) or "-")})
        elif crashes:
            reasons.append({"code": "worker_crashes", "text": "%s without a 502 tied to them%s" % (
                _plural(crashes, "php-fpm worker crash", "php-fpm worker crashes"), " (%s)" % sigs if sigs else "")})
        reasons.extend({"code": c, "text": t} for c, t in support)
    for name, cats in (("misconfig", MISCONFIG), ("capacity", CAPACITY), ("timeouts", TIMEOUTS)):
        hits = [(c, _n(counts.get(c))) for c in cats if _n(counts.get(c))]
        if sum(n for _, n in hits) >= th[name]:
            found.append(name)
            for c, n in hits:
                reasons.append({"code": c, "text": "%s: %s" % (CATEGORY_TEXT.get(c, c), _plural(n, "time"))})
    order = [v for v in VERDICTS if v in found]
    verdict = order[0] if order else "healthy"
    if verdict == "opcache_suspect":
        confidence = "high" if (tied and support) else ("medium" if tied or opcache_so else "low")
    else:
        confidence = None
    notes = []
    if verdict != "opcache_suspect":
        notes = [{"code": c, "text": t} for c, t in support]
    if verdict == "healthy":
        g = sum(_n(counts.get(c)) for c in GATEWAY_502)
        reasons.append({"code": "no_faults", "text": "no worker crashes, 502s tied to crashes, capacity, timeout "
                        "or socket errors in the window" + ("" if not g else " (%s not tied to a crash)" % _plural(g, "other 502"))})
    return {"verdict": verdict, "confidence": confidence, "reasons": reasons, "notes": notes, "also": order[1:]}


# ---------------------------------------------------------------------------- time: crashes against resets
#
# A reset that worked leaves the crashes in the window: the report must not keep saying "reset
# it" for them. What OPcache tells about its own past (start_time: master started or reloaded;
# last_restart_time with manual_restarts: opcache_reset(); oom/hash restarts) and what
# opcache_reset (stale/files) and the culprit hunt recorded of their invalidations
# (helper_dir/invalidated.json, per master and cache generation) are compared with the time of
# the last crash of each scope. OPcache times are whole epoch seconds of the host clock, log
# times whole seconds of the same clock: a crash in the same second as a reset counts as before it.

RESET_STATES = ("resolved_by_reset", "crashes_after_reset")


def parse_time(value):
    """ISO 8601 (offset optional, ``Z`` accepted) or epoch seconds -> aware datetime, or None."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return datetime.datetime.fromtimestamp(value, _UTC) if value > 0 else None
    s = str(value).strip()
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    try:
        dt = datetime.datetime.fromisoformat(s)
    except ValueError:
        return None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=_UTC)


_UTC = datetime.timezone.utc


def _epoch(value):
    dt = parse_time(value)
    return dt.timestamp() if dt is not None else None


def _iso(epoch, tz):
    return datetime.datetime.fromtimestamp(epoch, tz or _UTC).replace(microsecond=0).isoformat()


def _clock(epoch, tz, other=None):
    """``17:44:02`` (the date too when ``other`` is on another day), in the logs' time zone."""
    dt = datetime.datetime.fromtimestamp(epoch, tz or _UTC)
    if other is not None and datetime.datetime.fromtimestamp(other, tz or _UTC).date() != dt.date():
        return dt.strftime("%Y-%m-%d %H:%M:%S")
    return dt.strftime("%H:%M:%S")


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
    start = _n(stats.get("start_time"))
    if start:
        out.append({"kind": "start", "time": start, "files": [],
                    "text": "OPcache started (php-fpm master started or reloaded)"})
    last = _n(stats.get("last_restart_time"))
    if last:
        manual, auto = _n(stats.get("manual_restarts")), _n(stats.get("oom_restarts")) + _n(stats.get("hash_restarts"))
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
    if isinstance(entry, dict) and _n(entry.get("last_restart_time")) == last:
        by_time = {}
        for path, t in sorted((entry.get("files") or {}).items()):
            if _n(t):
                by_time.setdefault(_n(t), []).append(path)
        for t, files in sorted(by_time.items()):
            out.append({"kind": "invalidate", "time": t, "files": files,
                        "text": "%s invalidated (opcache_reset stale/files or the culprit hunt)"
                                % _plural(len(files), "cached file")})
    out.sort(key=lambda e: (e["time"], e["kind"] == "invalidate"))
    return out


def _scope_crashes(model, incidents, path_filter=None):
    """[(epoch, tied, paths, master_pid)] of the crash incidents given (undated ones left out)."""
    out = []
    for inc in incidents:
        if inc.get("crash") is False:
            continue
        requests = inc.get("requests") or []
        if path_filter is not None:
            requests = [r for r in requests if path_filter(r.get("path") or "")]
            if not requests:
                continue
        t = _epoch(inc.get("timestamp"))
        if t is None:
            continue
        out.append((t, bool(requests), [r.get("path") for r in requests if r.get("path")],
                    model.pid_of_pool(inc.get("pool"))))
    return out


def _scope_gateways(model, events, path_filter=None, pool=None):
    """[(epoch, master_pid or None, path)] of nginx 502s that a crash makes (reset/closed)."""
    out = []
    for ev in events:
        if ev.get("category") not in CRASH_502:
            continue
        if path_filter is not None and not path_filter(ev.get("path") or ""):
            continue
        p = model.pool_of_event(ev)
        if pool is not None and p not in (pool, None):
            continue
        t = _epoch(ev.get("timestamp"))
        if t is not None:
            out.append((t, model.pid_of_pool(p), ev.get("path")))
    if model.evidence.get("events_truncated"):
        # Only the first events were returned: the module's last_seen says whether a crash 502
        # came later, somewhere on the host (which master is unknown).
        for c in CRASH_502:
            t = _epoch((model.evidence.get("last_seen") or {}).get(c))
            if t is not None:
                out.append((t, None, None))
    return out


def _master_check(crashes, gateways, events, tz):
    """One master: the last cache event after the first crash, and what came after it."""
    if not crashes or not events:
        return None
    trouble = [c for c in crashes if c[1]] or crashes
    first = min(c[0] for c in trouble)
    later = [e for e in events if e["time"] > first]
    if not later:
        return None
    ev = later[-1]
    at = ev["time"]
    before = [c for c in crashes if c[0] <= at]
    tied_before = [c for c in before if c[1]]
    last_crash = max(c[0] for c in (tied_before or before))
    since = [c for c in crashes if c[0] > at]
    gw_since = [g for g in gateways if g[0] > at]
    paths = {}
    for c in since:
        for p in c[2]:
            paths[p] = paths.get(p, 0) + 1
    if not paths:
        for g in gw_since:
            if g[2]:
                paths[g[2]] = paths.get(g[2], 0) + 1
    times_since = [c[0] for c in since] + [g[0] for g in gw_since]
    last_since = max(times_since) if times_since else None
    return {
        "state": "crashes_after_reset" if (since or gw_since) else "resolved_by_reset",
        "master_pid": None, "last_crash": _iso(last_crash, tz), "last_crash_tied": bool(tied_before),
        "reset_at": _iso(at, tz), "reset_kind": ev["kind"], "reset_text": ev["text"],
        "invalidated_files": list(ev["files"]), "crashes_since": len(since), "gateway_502s_since": len(gw_since),
        "last_since": _iso(last_since, tz) if last_since is not None else None,
        "paths_since": _top(paths, 5),
        "_epochs": (last_crash, at, last_since),
    }


def reset_check(model, crashes, gateways):
    """Compare a scope's crashes with the cache events of the master(s) behind them.

    None when no OPcache reset, restart, reload or invalidation happened after the first crash
    on some master with crashes (the verdict stands as it is). Otherwise a dict (the
    ``reset_check`` of the report): ``state`` ``resolved_by_reset`` (every master with crashes
    lost its cached code after its last crash, and no crash or crash 502 was logged since) or
    ``crashes_after_reset`` (a crash or crash 502 came after such a reset on some master)."""
    if not crashes:
        return None
    tz = _report_tz(model)
    pids = []
    for c in crashes:
        if c[3] not in pids:
            pids.append(c[3])
    checks = []
    for pid in pids:
        mine = [c for c in crashes if c[3] == pid]
        gws = [g for g in gateways if g[1] in (pid, None)]
        chk = _master_check(mine, gws, model.cache_events(pid) if pid is not None else [], tz)
        if chk is None:
            checks.append(None)
            continue
        chk["master_pid"] = pid
        checks.append(chk)
    failed = [c for c in checks if c and c["state"] == "crashes_after_reset"]
    if failed:
        out = max(failed, key=lambda c: (c["crashes_since"] + c["gateway_502s_since"], c["reset_at"]))
    elif checks and all(checks):
        out = max(checks, key=lambda c: c["_epochs"][0])
    else:
        return None
    out = dict(out)
    if len([c for c in checks if c]) > 1:
        out["masters"] = [dict((k, v) for k, v in c.items() if k != "_epochs") for c in checks if c]
    out["reasons_text"] = _reset_text(out, tz)
    return out


def _reset_text(chk, tz):
    last_crash, at, last_since = chk["_epochs"]
    what = {
        "start": "php-fpm master (re)started or reloaded (new OPcache)",
        "reset": "OPcache reset",
        "restart": "OPcache restarted itself",
        "invalidate": "cached files invalidated (%s)" % ", ".join(
            posixpath.basename(f) for f in chk["invalidated_files"][:3])
                      + (" ..." if len(chk["invalidated_files"]) > 3 else ""),
    }[chk["reset_kind"]]
    crash = "last crash %s%s" % (_clock(last_crash, tz), " (tied to 502s)" if chk["last_crash_tied"] else "")
    when = "%s at %s" % (what, _clock(at, tz, last_crash))
    if chk["state"] == "resolved_by_reset":
        return ("%s; %s; no crash or crash 502 logged since (request the page to confirm: no crash can also "
                "mean no request)" % (crash, when))
    since = []
    if chk["crashes_since"]:
        since.append(_plural(chk["crashes_since"], "crash", "crashes"))
    if chk["gateway_502s_since"]:
        since.append(_plural(chk["gateway_502s_since"], "crash 502"))
    pages = ", ".join("%s (%d)" % (p["path"], p["count"]) for p in chk["paths_since"][:3])
    if chk["reset_kind"] == "invalidate":
        why = ("the invalidated files were not (all) the culprit: another cached file crashes, or it is not a "
               "stale cache")
    else:
        why = ("the cache was emptied and the crash came back: not a stale-cache problem (the code on disk, an "
               "extension, or opcache.file_cache serving old code)")
    return "THE RESET DID NOT CURE IT: %s after the %s, %s since (last %s%s): %s" % (
        when, crash, " and ".join(since), _clock(last_since, tz, at), ("; " + pages) if pages else "", why)


def apply_reset_check(j, chk):
    """Add ``resolved_by_reset`` / ``reset_check`` to a judgement (and its first reason)."""
    j["resolved_by_reset"] = False
    j["reset_check"] = None
    if j["verdict"] != "opcache_suspect" or not chk:
        return j
    text = chk.get("reasons_text")
    j["reset_check"] = dict((k, v) for k, v in chk.items() if not k.startswith("_") and k != "reasons_text")
    j["resolved_by_reset"] = chk["state"] == "resolved_by_reset"
    j["reasons"] = [{"code": chk["state"], "text": text}] + list(j["reasons"])
    return j


def priority_of(verdict, resolved, also):
    """How soon a scope needs a human: high (502s now: crashes, socket errors), medium (capacity,
    timeouts), low (crashes stopped after a reset), None (healthy, no result)."""
    if verdict == "opcache_suspect" and resolved:
        return priority_of(also[0], False, also[1:]) if also else "low"
    return {"opcache_suspect": "high", "misconfig": "high", "capacity": "medium", "timeouts": "medium"}.get(verdict)


# ---------------------------------------------------------------------------- next steps

class CommandContext(object):
    """How the commands in next steps are written (inventory, target, playbook paths)."""

    def __init__(self, inventory_args=None, target=None, playbooks=None):
        self.inventory_args = list(inventory_args or [])
        self.target = target
        self.playbooks = dict(DEFAULT_PLAYBOOKS)
        self.playbooks.update(playbooks or {})

    def playbook(self, kind, host, extra):
        words = ["ansible-playbook", self.playbooks[kind]] + self.inventory_args + ["-l", host]
        if self.target and self.target != "webservers":
            words += ["-e", "target=" + self.target]
        for e in extra:
            words += ["-e", e]
        return shell_join(words)


def _crash_url(stats, path):
    hh = (stats.get("hosts_headers") or {}).get(path) or "127.0.0.1"
    return "http://%s%s" % (hh, path)


def _verify_command(host, ctx, stats, path):
    """``ansible HOST -m ansible.builtin.uri`` of the page through the host's own nginx (fails unless 200)."""
    hh = (stats.get("hosts_headers") or {}).get(path)
    args = {"url": "http://127.0.0.1%s" % path}
    if hh and hh not in ("127.0.0.1", "localhost"):
        args["headers"] = {"Host": hh}
    return shell_join(["ansible", host] + ctx.inventory_args + ["-m", "ansible.builtin.uri", "-a",
                                                               json.dumps(args, sort_keys=True)])


def _reset_step(host, model, ctx, suspect_masters, force_full=False):
    pids = set(m.get("master_pid") for m in (suspect_masters or []))
    stale = 0 if force_full else model.stale_total(pids or None)
    extra = ["mode=" + ("stale" if stale else "full")]
    if suspect_masters and len(model.masters) > 1:
        cfgs = sorted(set(m.get("config") for m in suspect_masters if m.get("config")))
        if cfgs:
            extra.append("masters=" + ",".join(cfgs))
    if force_full:
        why = ("invalidating files did not stop the crashes: a full reset of the OPcache of the master(s) behind "
               "them, verified (after the hunt: it needs the failing page)")
    elif stale:
        why = "invalidates the %s stale cached script(s) and verifies it (stops the 502s now)" % stale
    else:
        why = "nothing looks stale: a full reset of the OPcache of the master(s) behind the crashes, verified"
    return {"kind": "reset", "command": ctx.playbook("reset", host, extra), "why": why}


def next_steps(host, verdict, stats, model, ctx, suspect_masters=None, check=None):
    steps = []
    if verdict == "opcache_suspect" and check and check.get("state") == "resolved_by_reset":
        top = _top(stats.get("crash_paths") or {}, 1)
        path = top[0]["path"] if top else None
        if path:
            steps.append({"kind": "inspect", "command": _verify_command(host, ctx, stats, path),
                          "why": "the crashes stopped after the OPcache reset at %s: request %s through the host's "
                                 "nginx (the command fails unless it answers 200); no crash logged can also mean "
                                 "no request" % (check["reset_at"], path)})
            steps.append({"kind": "hunt", "command": ctx.playbook("hunt", host, ["url=" + _crash_url(stats, path),
                                                                                 "blacklist=true"]),
                          "why": "so it does not come back: if %s fails again, run this at once instead of another "
                                 "reset; it finds the cached file that crashes and blacklists it (on a page that "
                                 "answers 200 it finds nothing and changes nothing)%s" % (path, (
                                     "; the reset invalidated %s: changed on disk after being cached, so deploys "
                                     "need a reset (emergency_reset.yml mode=stale) while validate_timestamps=0"
                                     % ", ".join(check["invalidated_files"][:3]))
                                     if check.get("reset_kind") == "invalidate" and check.get("invalidated_files")
                                     else "")})
        else:
            steps.append({"kind": "inspect", "command": ctx.playbook("diagnose", host, ["since=1h"]),
                          "why": "the crashes stopped after the OPcache reset at %s; re-run diagnose later to "
                                 "confirm none come back" % check["reset_at"]})
        return steps
    if verdict == "opcache_suspect" and check and check.get("state") == "crashes_after_reset":
        paths = check.get("paths_since") or _top(stats.get("crash_paths") or {}, 1)
        if paths:
            path = paths[0]["path"]
            steps.append({"kind": "hunt", "command": ctx.playbook("hunt", host, ["url=" + _crash_url(stats, path)]),
                          "why": "%s still crashes after the reset: finds the cached file that crashes it now, while "
                                 "it fails (add -e blacklist=true to keep it out of OPcache); 'no candidate cured the "
                                 "probe' means the code on disk crashes, not the cache" % path})
        if check.get("reset_kind") == "invalidate":
            steps.append(_reset_step(host, model, ctx, suspect_masters, force_full=True))
        else:
            steps.append({"kind": "inspect", "command": ctx.playbook("diagnose", host, ["since=1h"]),
                          "why": "an emptied cache did not help: read the php-fpm log of the pool, the kernel and "
                                 "core dump lines (which module crashed), the page's code on disk and "
                                 "opcache.file_cache; another reset will not cure it"})
        return steps
    if verdict == "opcache_suspect":
        steps.append(_reset_step(host, model, ctx, suspect_masters))
        top = _top(stats.get("crash_paths") or {}, 1)
        if top:
            path = top[0]["path"]
            steps.append({"kind": "hunt", "command": ctx.playbook("hunt", host, ["url=" + _crash_url(stats, path)]),
                          "why": "finds the cached file that crashes %s and can blacklist it; run it while the page "
                                 "still fails (before the reset) to keep the evidence" % path})
    elif verdict == "misconfig":
        steps.append({"kind": "inspect", "command": shell_join(
            ["ansible", host] + ctx.inventory_args + ["-m", "fpm_discover"]),
            "why": "compare nginx fastcgi_pass targets with the pools' listen, listen.owner/group/mode and the "
                   "document roots; fix the socket permissions, the missing socket or SCRIPT_FILENAME"})
    elif verdict == "capacity":
        steps.append({"kind": "inspect", "command": ctx.playbook("diagnose", host, ["since=1h"]),
                      "why": "raise pm.max_children (or fix slow requests holding workers) in the pool named in "
                             "the reasons, then reload php-fpm; re-run diagnose to confirm"})
    elif verdict == "timeouts":
        steps.append({"kind": "inspect", "command": ctx.playbook("diagnose", host, ["since=1h"]),
                      "why": "read the pool slowlog for the scripts that run too long; align "
                             "request_terminate_timeout with nginx fastcgi_read_timeout"})
    return steps


# ---------------------------------------------------------------------------- assembly

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


def _signs_for(model, pids=None, root=None):
    ms = [m for m in model.opcache_masters() if pids is None or m.get("master_pid") in pids]
    full = any((m.get("status") or {}).get("cache_full") for m in ms)
    oom = sum(_n(((m.get("status") or {}).get("opcache_statistics") or {}).get("oom_restarts")) for m in ms)
    hsh = sum(_n(((m.get("status") or {}).get("opcache_statistics") or {}).get("hash_restarts")) for m in ms)
    stale = len(model.stale_scripts(root=root, pids=pids)) if root else model.stale_total(pids)
    cols = model.collision_items(root) if root else model.collision_items()
    overrides = []
    for m in model.masters:
        if pids is not None and m.get("master_pid") not in pids:
            continue
        for p in m.get("pools") or []:
            for d, v in sorted((p.get("opcache_overrides") or {}).items()):
                val = v.get("value") if isinstance(v, dict) else v
                overrides.append("%s: %s=%s" % (p.get("name"), d, val))
            for e in p.get("extension_overrides") or []:
                overrides.append("%s: %s=%s" % (p.get("name"), e.get("directive"), e.get("value")))
    return {"cache_full": full, "oom_restarts": oom, "hash_restarts": hsh, "stale": stale,
            "collisions": sorted(set(c.get("name") or c.get("key") for c in cols)), "overrides": overrides}


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


def _section_pools(model, section):
    pools = []
    for t in model.nginx.get("fastcgi_targets") or []:
        if (t.get("root") or "").rstrip("/") != section["docroot"].rstrip("/"):
            continue
        if _location_matches(t.get("location"), section["prefix"] + "index.php") is False:
            continue
        if t.get("pool") and t.get("pool") not in pools:
            pools.append(t["pool"])
    return pools


def evaluate_host(raw, ctx=None, thresholds=None, stale_cap=50):
    """The report entry of one host (see docs/report-schema.md, ``hosts[]``)."""
    ctx = ctx or CommandContext()
    raw = raw or {}
    name = raw.get("host") or "?"
    status = raw.get("status") or "ok"
    entry = {"name": name, "status": status, "error": raw.get("error"), "errors": list(raw.get("errors") or []),
             "verdict": None, "confidence": None, "priority": None, "resolved_by_reset": False,
             "reset_check": None, "reasons": [], "notes": [], "also": [], "next_steps": [],
             "masters": [], "pools": [], "sections": [], "evidence": None, "collisions": None,
             "discovery_warnings": []}
    if status != "ok":
        entry["verdict"] = status
        entry["reasons"] = [{"code": status, "text": raw.get("error") or "no result from this host"}]
        return entry
    model = HostModel(raw)
    hs = host_stats(model)
    host_j = judge(hs, _signs_for(model), thresholds)
    host_chk = reset_check(model, _scope_crashes(model, model.incidents), _scope_gateways(model, model.events))
    apply_reset_check(host_j, host_chk)

    # Pools
    suspect_masters = []
    for m in model.masters:
        for p in m.get("pools") or []:
            ps = pool_stats(model, p.get("name"))
            pj = judge(ps, _signs_for(model, pids={m.get("master_pid")}), thresholds)
            mine = [i for i in model.incidents if i.get("pool") == p.get("name")]
            apply_reset_check(pj, reset_check(model, _scope_crashes(model, mine),
                                              _scope_gateways(model, model.events, pool=p.get("name"))))
            if pj["verdict"] == "opcache_suspect" and not pj["resolved_by_reset"] and m not in suspect_masters:
                suspect_masters.append(m)
            entry["pools"].append({
                "name": p.get("name"), "master_pid": m.get("master_pid"), "config": m.get("config"),
                "listen": p.get("listen"), "pm": p.get("pm"), "pm_max_children": p.get("pm_max_children"),
                "verdict": pj["verdict"], "confidence": pj["confidence"],
                "priority": priority_of(pj["verdict"], pj["resolved_by_reset"], pj["also"]),
                "resolved_by_reset": pj["resolved_by_reset"], "reset_check": pj["reset_check"],
                "reasons": pj["reasons"], "notes": pj["notes"], "crashes": ps["crashes"], "tied_502s": ps["tied_502s"],
                "top_crash_paths": _top(ps["crash_paths"]), "counts": ps["counts"],
                "opcache_overrides": [dict(directive=d, **(v if isinstance(v, dict) else {"value": v}))
                                      for d, v in sorted((p.get("opcache_overrides") or {}).items())],
                "extension_overrides": list(p.get("extension_overrides") or []),
            })

    # Release folders
    for sec in sections_of(model):
        ss = section_stats(model, sec["prefix"], sec["root"])
        pools = _section_pools(model, sec)
        pids = None
        if pools:
            pids = set(m.get("master_pid") for m in (model.master_of_pool(p) for p in pools) if m) or None
        sj = judge(ss, _signs_for(model, pids=pids, root=sec["root"]), thresholds)
        match = lambda path, prefix=sec["prefix"]: path.startswith(prefix)  # noqa: E731
        apply_reset_check(sj, reset_check(model, _scope_crashes(model, model.incidents, match),
                                          _scope_gateways(model, model.events, path_filter=match)))
        entry["sections"].append(dict(sec, pools=pools, verdict=sj["verdict"], confidence=sj["confidence"],
                                      priority=priority_of(sj["verdict"], sj["resolved_by_reset"], sj["also"]),
                                      resolved_by_reset=sj["resolved_by_reset"], reset_check=sj["reset_check"],
                                      reasons=sj["reasons"], notes=sj["notes"], crashes=ss["crashes"],
                                      tied_502s=ss["tied_502s"], crash_paths=_top(ss["crash_paths"]),
                                      counts=ss["counts"]))

    entry.update(verdict=host_j["verdict"], confidence=host_j["confidence"], reasons=host_j["reasons"],
                 notes=host_j["notes"], also=host_j["also"],
                 priority=priority_of(host_j["verdict"], host_j["resolved_by_reset"], host_j["also"]),
                 resolved_by_reset=host_j["resolved_by_reset"], reset_check=host_j["reset_check"])
    entry["next_steps"] = next_steps(name, host_j["verdict"], hs, model, ctx, suspect_masters, host_chk)

    # Masters: discovery + OPcache
    by_pid = dict((m.get("master_pid"), m) for m in model.opcache_masters())
    for m in model.masters:
        om = by_pid.get(m.get("master_pid")) or {}
        stale = model.stale_scripts(pids={m.get("master_pid")})
        failed = [f for f in (model.opcache.get("failed_masters") or []) if f.get("master_pid") == m.get("master_pid")]
        thr = _n(m.get("emergency_restart_threshold"))
        entry["masters"].append({
            "master_pid": m.get("master_pid"), "config": m.get("config"), "php_version": m.get("php_version"),
            "systemd_unit": m.get("systemd_unit"), "error_log": m.get("error_log"),
            "pools": [p.get("name") for p in m.get("pools") or []],
            "emergency_restart_threshold": thr, "emergency_restart_interval": _n(m.get("emergency_restart_interval")),
            "opcache_settings": dict(m.get("opcache") or {}),
            "opcache": _status_summary(om) if om else None,
            "opcache_error": (failed[0].get("msg") if failed else (None if om else (model.opcache.get("msg")
                                                                                      or "no OPcache status"))),
            "stale_counts": om.get("stale_counts"),
            "stale_scripts": [{"path": s.get("full_path") or s.get("path"), "stale": s.get("stale"),
                               "reason": s.get("reason")} for s in stale[:stale_cap]],
            "stale_scripts_truncated": len(stale) > stale_cap,
            "cache_events": [{"kind": e["kind"], "time": _iso(e["time"], _report_tz(model)), "text": e["text"],
                              "files": e["files"][:20]} for e in model.cache_events(m.get("master_pid"))],
        })
        if not thr and host_j["verdict"] == "opcache_suspect":
            entry["notes"].append({"code": "no_emergency_restart", "text": "master %s (%s): emergency_restart_threshold "
                                   "is not set, php-fpm will not reload itself after repeated crashes"
                                   % (m.get("master_pid"), m.get("config"))})
    if model.invalidations_error:
        entry["notes"].append({"code": "invalidations_unreadable", "text": "%s/invalidated.json (the record of "
                               "opcache_reset's invalidations): %s" % ("helper_dir", model.invalidations_error)})
    entry["discovery_warnings"] = list(model.discovery.get("warnings_found") or [])
    ev = model.evidence
    gateway = [e for e in model.events if e.get("category") in GATEWAY_502 or e.get("category") == "upstream_timeout"]
    entry["evidence"] = {
        "error": None if "counts" in ev else (ev.get("msg") or "no evidence result"),
        "window": ev.get("window"), "counts": ev.get("counts") or {}, "correlation": ev.get("correlation"),
        "incidents_total": _n(ev.get("incidents_total")), "crashes": hs["crashes"], "tied_crashes": hs["tied_crashes"],
        "tied_502s": hs["tied_502s"], "top_crash_paths": ev.get("top_crash_paths") or {},
        "crashes_per_hour": ev.get("crashes_per_hour") or {}, "first_seen": ev.get("first_seen") or {},
        "last_seen": ev.get("last_seen") or {}, "unmatched": ev.get("unmatched") or {},
        "files": [dict((k, f.get(k)) for k in ("path", "status", "lines", "events", "reason", "error"))
                  for f in ev.get("files") or []],
        "missing": list(ev.get("missing") or []), "kernel_sources": list(ev.get("kernel_sources") or []),
        "events_total": _n(ev.get("events_total")), "events_truncated": bool(ev.get("events_truncated")),
        "incidents": [_incident_summary(i) for i in model.incidents[-20:]],
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
    }
    return entry


def _report_tz(model):
    """The time zone of the host's log stamps (UTC when there are none)."""
    for i in model.incidents:
        dt = parse_time(i.get("timestamp"))
        if dt is not None:
            return dt.tzinfo
    return _UTC


def _incident_summary(inc):
    return {"timestamp": inc.get("timestamp"), "pool": inc.get("pool"), "pid": inc.get("pid"),
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
                e.get("category") == "child_signal" and _n(e.get("signal_number")) in (4, 6, 7, 8, 11))):
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
    tz = _report_tz(model)
    resets = []
    for m in model.masters:
        for e in model.cache_events(m.get("master_pid")):
            resets.append({"t": _iso(e["time"], tz), "kind": e["kind"], "master_pid": m.get("master_pid")})
    resets.sort(key=lambda r: r["t"])
    return {"points": pts, "partial": bool(model.evidence.get("events_truncated")), "resets": resets}


def build_report(hosts, generated_at, window=None, ctx=None, thresholds=None, check_mode=False, stale_cap=50):
    """The whole report (docs/report-schema.md). ``hosts`` = raw host records, in inventory order."""
    entries = [evaluate_host(h, ctx=ctx, thresholds=thresholds, stale_cap=stale_cap) for h in hosts]
    counts = {}
    for e in entries:
        counts[e["verdict"]] = counts.get(e["verdict"], 0) + 1
    steps = []
    # Hosts whose 502s go on first, hosts whose crashes stopped after a reset last (inventory
    # order within each priority).
    rank = {"high": 0, "medium": 1, None: 1, "low": 2}
    for e in sorted(entries, key=lambda x: rank.get(x.get("priority"), 1)):
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
