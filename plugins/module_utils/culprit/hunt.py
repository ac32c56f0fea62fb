# -*- coding: utf-8 -*-
"""Find the cached PHP file that crashes php-fpm workers (logic of opcache_culprit).

Private to opcache-fleet. Standard library only, Python 3.8+.

The search is destructive: invalidating the guilty file cures the page, so it can be
done once. Everything that can be learned without invalidating is therefore learned
first, and candidates are invalidated in ranked order, one (or ``group_size``) at a
time, with a probe after each, stopping at the first probe that passes.

The ranking signal (ARCHITECTURE.md, "Observed on real php-fpm 8.2 + OPcache"):
OPcache sets ``last_used_timestamp`` of every script a request looks up to that
request's start second, and a request that crashes mid-way updates the files it
reached before the crash (the guilty one included: it is looked up, then run). So
after a failing probe made in second S, the scripts with ``last_used_timestamp == S``
are the crashing request's include set plus whatever other requests used in S.
Intersecting the sets of several failing probes made in different seconds removes
the others; scripts seen used in a second in which we made no probe were used by
other requests and are ranked after the rest of the include set.

Ranking key, first to last:
  1. in the include set (when probes were made), then not;
  2. within that, not seen used by other requests, then seen;
  3. stale ``certain``, ``possible``, ``unknown``, then ``fresh`` (opcache_control);
  4. declares a class that another file of the same code root also declares;
  5. most recently modified first; the path breaks ties.

Entry points:

* :func:`parse_probe_url`, :func:`incident_probe` -> probe request description
* :func:`select_fastcgi_target` (nginx server/location selection from fpm_discover's
  ``nginx``), :func:`match_location`
* :func:`classify_response`, :func:`classify_log_lines`
* :func:`include_set`, :func:`used_elsewhere`, :func:`rank_candidates`, :func:`groups`
* :func:`hunt` (orchestration with injected probe, helper session, clock, sleep)
* :func:`http_probe` and :class:`LogWatch` (the real probe and nginx log reader)
"""
from __future__ import absolute_import, division, print_function

import os
import re
import socket as socketlib
import ssl
import time

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.addresses import nginx_listen_port

try:  # Python 3
    import http.client as httplib
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover - Python 2 is not supported by the project
    import httplib  # type: ignore
    from urlparse import urlsplit  # type: ignore

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.control import HELPER_PATH_RE, classify_scripts
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.helper import HelperError

STALE_ORDER = {"certain": 0, "possible": 1, "unknown": 2, "fresh": 3}
CRASH_STATUSES = (502,)
# nginx error-log categories (evidence-categories.md) and what they say about a 502.
LOG_CRASH = ("upstream_reset", "upstream_prematurely_closed")
LOG_CONNECT = ("upstream_connect_refused", "upstream_connect_eagain", "upstream_connect_enoent",
               "upstream_connect_eacces", "upstream_connect_other", "no_live_upstreams",
               "upstream_disabled")
LOG_TIMEOUT = ("upstream_timeout",)
LOCAL_HOSTS = ("127.0.0.1", "::1", "localhost")
USER_AGENT = "opcache-fleet-culprit/1"
RETRY_CAUSES = ("truncated", "ECONNRESET")


class HuntError(Exception):
    """The hunt cannot start or go on; ``cause`` is a short code, ``details`` a dict."""

    def __init__(self, msg, cause="error", details=None):
        super(HuntError, self).__init__(msg)
        self.cause = cause
        self.details = details or {}


# ----------------------------------------------------------------- the probe request

def parse_probe_url(url, connect_address="127.0.0.1"):
    """Describe the probe request for ``url``; it is always sent to the LOCAL nginx.

    The URL's host becomes the ``Host`` header (the nginx virtual host), its port the
    port connected to on ``connect_address``. Returns a dict {url, scheme, host, port,
    path (with query), uri (path only), connect_address}.
    """
    if not isinstance(url, str) or not url.strip():
        raise HuntError("url must be an absolute http:// or https:// URL, got %r" % (url,), "url")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise HuntError("url must start with http:// or https://, got %r" % url, "url")
    if not parts.hostname:
        raise HuntError("url has no host: %r" % url, "url")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise HuntError("url has an invalid port: %r" % url, "url")
    uri = parts.path or "/"
    path = uri + ("?" + parts.query if parts.query else "")
    host = parts.hostname
    host_header = ("[%s]" % host if ":" in host else host)
    if parts.port:
        host_header += ":%d" % parts.port
    return {"url": url.strip(), "scheme": parts.scheme, "host": host, "host_header": host_header,
            "port": port, "path": path, "uri": uri, "connect_address": connect_address}


def incident_probe(incident, connect_address="127.0.0.1"):
    """A probe URL from an fpm_evidence incident (its first GET/HEAD request with a path).

    Returns (url, upstream) where upstream is the nginx ``upstream`` field when known.
    """
    if not isinstance(incident, dict):
        raise HuntError("incident must be a dict (one entry of fpm_evidence's incidents)", "incident")
    requests = [r for r in (incident.get("requests") or []) if isinstance(r, dict) and r.get("path")]
    if not requests:
        paths = [p for p in (incident.get("request_paths") or []) if isinstance(p, str) and p]
        requests = [{"method": "GET", "path": p} for p in paths]
    if not requests:
        raise HuntError("incident has no request with a path (requests[].path or request_paths): "
                        "give url instead", "incident")
    for req in requests:
        method = (req.get("method") or "GET").upper()
        if method not in ("GET", "HEAD"):
            continue
        path = req["path"]
        if not path.startswith("/"):
            continue
        host = req.get("host") or connect_address
        if ":" in host and not host.startswith("["):
            host = "[%s]" % host
        return "http://%s%s" % (host, path), req.get("upstream")
    raise HuntError("incident requests are not GET/HEAD (%s): only GET and HEAD requests are replayed; "
                    "give url instead" % ", ".join(sorted(set((r.get("method") or "?") for r in requests))),
                    "incident")


def classify_response(status, error, expected_status):
    """Outcome of one probe: pass | crash | connect_error | timeout | other."""
    if error == "connect":
        return "connect_error"
    if error == "timeout":
        return "timeout"
    if error == "reset":
        return "crash"
    if status == expected_status:
        return "pass"
    if status in CRASH_STATUSES:
        return "crash"
    return "other"


def http_probe(request, timeout=10.0):
    """GET ``request`` (from :func:`parse_probe_url`) through the local nginx.

    Returns {status, error (None|connect|reset|timeout|other), detail, t0, t1, seconds}.
    The body is read (at most 64 KiB kept) and discarded.
    """
    t0 = time.time()
    m0 = time.monotonic()
    status, error, detail = None, None, None
    conn = None
    try:
        if request["scheme"] == "https":
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            conn = httplib.HTTPSConnection(request["connect_address"], request["port"], timeout=timeout,
                                           context=ctx)
        else:
            conn = httplib.HTTPConnection(request["connect_address"], request["port"], timeout=timeout)
        conn.putrequest("GET", request["path"], skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", request["host_header"])
        conn.putheader("User-Agent", USER_AGENT)
        conn.putheader("Cache-Control", "no-cache")
        conn.putheader("Connection", "close")
        conn.endheaders()
        resp = conn.getresponse()
        status = resp.status
        try:
            resp.read(65536)
        except (httplib.HTTPException, OSError):
            pass
    except ConnectionRefusedError as exc:
        error, detail = "connect", str(exc)
    except socketlib.timeout as exc:
        error, detail = "timeout", str(exc) or "timed out"
    except (ConnectionResetError, BrokenPipeError, httplib.RemoteDisconnected, httplib.BadStatusLine,
            httplib.IncompleteRead) as exc:
        error, detail = "reset", "%s: %s" % (type(exc).__name__, exc)
    except (OSError, httplib.HTTPException, ssl.SSLError) as exc:
        error, detail = ("connect" if status is None else "other"), "%s: %s" % (type(exc).__name__, exc)
    finally:
        if conn is not None:
            conn.close()
    t1 = time.time()
    return {"status": status, "error": error, "detail": detail, "t0": t0, "t1": t1,
            "seconds": round(time.monotonic() - m0, 4)}


# ----------------------------------------------------------------- nginx log evidence

def classify_log_lines(lines, uri=None):
    """What new nginx error-log lines say about a 502: crash | connect | timeout | None.

    Only lines for ``uri`` count when the line names its request. Uses the project's
    signature table (log_parse + log_signatures); falls back to phrases when absent.
    """
    try:
        from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.parse import parse_record
        from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.signatures import Matcher
        matcher = Matcher()
    except ImportError:  # pragma: no cover - both ship with the project
        parse_record, matcher = None, None
    found = []
    for line in lines:
        if uri and ("request: \"" in line) and (" %s" % uri) not in line and (" %s?" % uri) not in line:
            continue
        category = None
        if matcher is not None:
            rec = parse_record(line.rstrip("\n"))
            hit = matcher.match(rec.kind, rec.message, rec.tag)
            category = hit[0] if hit else None
        if category is None:
            if "Connection reset by peer" in line or "prematurely closed" in line:
                category = "upstream_reset"
            elif "connect() " in line and "failed" in line:
                category = "upstream_connect_other"
        if category in LOG_CRASH:
            found.append("crash")
        elif category in LOG_CONNECT:
            found.append("connect")
        elif category in LOG_TIMEOUT:
            found.append("timeout")
    for verdict in ("connect", "timeout", "crash"):
        if verdict in found:
            return verdict
    return None


class LogWatch(object):
    """Remembers where log files end; :meth:`new_lines` returns what was appended since."""

    MAX_READ = 1024 * 1024

    def __init__(self, paths):
        self.paths = [p for p in (paths or []) if p]
        self.marks = {}

    def readable(self):
        return [p for p in self.paths if os.path.isfile(p) and os.access(p, os.R_OK)]

    def mark(self):
        for p in self.paths:
            try:
                self.marks[p] = os.path.getsize(p)
            except OSError:
                self.marks[p] = None

    def new_lines(self):
        lines = []
        for p in self.paths:
            start = self.marks.get(p)
            if start is None:
                continue
            try:
                size = os.path.getsize(p)
                if size < start:      # rotated: read the new file from its start
                    start = 0
                with open(p, "rb") as f:
                    f.seek(max(start, size - self.MAX_READ))
                    data = f.read(self.MAX_READ)
            except (IOError, OSError):
                continue
            lines.extend(data.decode("utf-8", "replace").splitlines())
        return lines


# ----------------------------------------------------------------- nginx: which pool serves the URL

def _location_kind(text):
    text = (text or "").strip()
    for mod in ("^~", "~*", "=", "~"):
        if text.startswith(mod):
            return mod, text[len(mod):].strip()
    if text.startswith("@"):
        return "@", text
    return "", text


def match_location(locations, uri):
    """The location nginx picks for ``uri`` (exact, then longest prefix with ``^~``, then the
    first matching regex in order, then the longest prefix). Returns (location, warnings)."""
    warnings = []
    best_prefix, best_len = None, -1
    regexes = []
    for loc in locations or []:
        mod, arg = _location_kind(loc.get("location"))
        if mod == "@":
            continue
        if mod == "=":
            if uri == arg:
                return loc, warnings
        elif mod in ("~", "~*"):
            regexes.append((mod, arg, loc))
        elif uri.startswith(arg) and len(arg) > best_len:
            best_prefix, best_len = (loc, mod), len(arg)
    if best_prefix is not None and best_prefix[1] == "^~":
        return best_prefix[0], warnings
    for mod, arg, loc in regexes:
        try:
            rx = re.compile(arg, re.I if mod == "~*" else 0)
        except re.error as exc:
            warnings.append("nginx location %r: regex not understood here (%s); skipped" % (arg, exc))
            continue
        if rx.search(uri):
            return loc, warnings
    return (best_prefix[0] if best_prefix else None), warnings


def _name_matches(name, host):
    name = (name or "").lower()
    if not name or name == "_":
        return False
    if name.startswith("~"):
        try:
            return re.search(name[1:], host, re.I) is not None
        except re.error:
            return False
    if name.startswith("*."):
        return host.endswith(name[1:])
    if name.startswith("."):
        return host == name[1:] or host.endswith(name)
    if name.endswith(".*"):
        return host.startswith(name[:-1])
    return host == name


def select_server(servers, host, port):
    """The nginx server block for (Host, port): name match, else default_server, else first."""
    on_port = []
    for srv in servers or []:
        listens = srv.get("listen") or ["80"]
        ports = [nginx_listen_port(lst) for lst in listens]
        if port in ports:
            on_port.append((srv, listens))
    if not on_port:
        return None
    host = (host or "").lower()
    for srv, _l in on_port:
        if any(_name_matches(n, host) for n in (srv.get("server_names") or [srv.get("server_name")])):
            return srv
    for srv, listens in on_port:
        if any("default_server" in (lst or "").split() or " default" in (lst or "") for lst in listens):
            return srv
    return on_port[0][0]


def select_fastcgi_target(nginx, request):
    """Which php-fpm pool nginx passes ``request`` to.

    Returns {master_pid, config, pool, target, location, root, script_filename, server_name}
    or raises HuntError naming what is missing.
    """
    nginx = nginx or {}
    servers = nginx.get("servers") or []
    if not servers:
        raise HuntError("nginx was not found or its configuration could not be read (fpm_discover: %s); "
                        "give socket" % ("; ".join(nginx.get("errors") or []) or "no servers"), "nginx")
    srv = select_server(servers, request["host"], request["port"])
    if srv is None:
        raise HuntError("no nginx server listens on port %s for %s" % (request["port"], request["url"]),
                        "nginx_server")
    loc, warnings = match_location(srv.get("locations") or [], request["uri"])
    if loc is None or not loc.get("fastcgi_pass"):
        raise HuntError("%s is served by nginx location %r of server %s, which does not pass requests to "
                        "php-fpm (no fastcgi_pass)" % (request["url"], (loc or {}).get("location"),
                                                      srv.get("server_name")), "nginx_location")
    chosen = None
    for t in nginx.get("fastcgi_targets") or []:
        if t.get("location") == loc.get("location") and t.get("target") == loc.get("fastcgi_pass") \
                and (t.get("server_name") in (None, srv.get("server_name"))):
            chosen = t
            break
    if chosen is None:
        for t in nginx.get("fastcgi_targets") or []:
            if t.get("target") == loc.get("fastcgi_pass") or t.get("via") == loc.get("fastcgi_pass"):
                chosen = t
                break
    if chosen is None or not chosen.get("master_pid"):
        raise HuntError("nginx location %r passes %s to %s, which matches no running php-fpm pool "
                        "(unmatched_targets: %s); give socket"
                        % (loc.get("location"), request["uri"], loc.get("fastcgi_pass"),
                           nginx.get("unmatched_targets")), "fastcgi_target")
    root = loc.get("root") or srv.get("root") or chosen.get("root")
    script = None
    if root and loc.get("alias") is None and request["uri"].endswith(".php"):
        script = os.path.normpath(root.rstrip("/") + "/" + request["uri"].lstrip("/"))
    return {"master_pid": chosen.get("master_pid"), "config": chosen.get("config"),
            "pool": chosen.get("pool"), "target": chosen.get("target"), "location": loc.get("location"),
            "root": root, "script_filename": script, "server_name": srv.get("server_name"),
            "warnings": warnings}


def order_target_pools(target, pool_name):
    """Put the pool serving the URL first in an opcache_control target (same cache either way)."""
    names = [p.get("name") for p in target.get("pools") or []]
    if pool_name not in names:
        return target
    i = names.index(pool_name)
    out = dict(target)
    out["pools"] = [target["pools"][i]] + [p for j, p in enumerate(target["pools"]) if j != i]
    out["sockets"] = [target["sockets"][i]] + [s for j, s in enumerate(target["sockets"]) if j != i]
    return out


# ----------------------------------------------------------------- the ranking

def probe_seconds(probe):
    """The whole seconds a probe's request may carry as its start time."""
    return sorted(set([int(probe["t0"]), int(probe["t1"])]))


def include_set(scripts, seconds):
    """Cached scripts last used in one of ``seconds`` (helper files excluded)."""
    secs = set(seconds)
    return set(s["full_path"] for s in scripts or []
               if s.get("cached") and s.get("last_used_timestamp") in secs
               and not HELPER_PATH_RE.search(s.get("full_path") or ""))


def used_elsewhere(snapshots, since, probe_secs):
    """Scripts seen used in a second >= ``since`` in which no probe of ours ran: other
    requests use them (the helper's own file is excluded)."""
    secs = set(probe_secs)
    out = set()
    for scripts in snapshots:
        for s in scripts or []:
            lu = s.get("last_used_timestamp")
            path = s.get("full_path") or ""
            if lu is None or HELPER_PATH_RE.search(path):
                continue
            if lu >= since and lu not in secs:
                out.add(path)
    return out


def collision_files(result):
    """Files of real collisions (not only between release folders) from find_collisions()."""
    out = set()
    for c in (result or {}).get("collisions") or []:
        if c.get("across_releases"):
            continue
        for f in c.get("files") or []:
            out.add(f.get("path"))
    return out


def collision_roots_for(paths, script_filename=None, fallback=None):
    """Code roots to scan for collisions: the deepest common directory of the include set
    (at least two levels deep), else the release folder or directory of the page script."""
    from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.php.class_collisions import release_of
    paths = [p for p in paths or [] if p and p.startswith("/")]
    if paths:
        common = os.path.commonpath([os.path.dirname(p) for p in paths])
        if common.count("/") >= 2:
            return [common]
    if script_filename:
        rel = release_of(script_filename)
        return [rel or os.path.dirname(script_filename)]
    return [fallback] if fallback else []


def rank_candidates(classified, include=None, shared=None, collisions=None):
    """Order cached scripts (opcache_control.classify_scripts output) for invalidation.

    Returns a list of dicts {rank, path, in_include_set, used_elsewhere, stale, collision,
    mtime, last_used_timestamp, reasons}.
    """
    shared = shared or set()
    collisions = collisions or set()
    rows = []
    for e in classified:
        path = e["full_path"]
        inc = include is not None and path in include
        row = {
            "path": path,
            "in_include_set": inc if include is not None else None,
            "used_elsewhere": path in shared,
            "stale": e.get("stale"),
            "collision": path in collisions,
            "mtime": e.get("mtime"),
            "last_used_timestamp": e.get("last_used_timestamp"),
        }
        reasons = []
        if inc:
            reasons.append("in the crashing request's include set")
        if row["used_elsewhere"]:
            reasons.append("also used by other requests")
        if row["stale"] in ("certain", "possible", "unknown"):
            reasons.append("stale %s: %s" % (row["stale"], e.get("reason")))
        if row["collision"]:
            reasons.append("declares a class another file also declares")
        row["reasons"] = reasons
        rows.append(row)
    rows.sort(key=lambda r: (0 if (include is None or r["in_include_set"]) else 1,
                             1 if r["used_elsewhere"] else 0,
                             STALE_ORDER.get(r["stale"], 3),
                             0 if r["collision"] else 1,
                             -(r["mtime"] or 0),
                             r["path"]))
    for i, r in enumerate(rows):
        r["rank"] = i + 1
    return rows


def groups(paths, size):
    size = max(1, int(size))
    return [paths[i:i + size] for i in range(0, len(paths), size)]


# ----------------------------------------------------------------- the hunt

def _generation(answer):
    stats = ((answer or {}).get("status") or {}).get("opcache_statistics") or {}
    return (stats.get("start_time"), stats.get("last_restart_time"), answer.get("master_pid"))


def _public_probe(p, outcome, start):
    out = {"status": p.get("status"), "outcome": outcome, "seconds": p.get("seconds"),
           "at": round(p["t0"] - start, 4), "second": int(p["t0"])}
    if p.get("error"):
        out["error"] = p["error"]
        out["detail"] = p.get("detail")
    if p.get("log"):
        out["log"] = p["log"]
    return out


class Hunt(object):
    """One hunt on one master. All side effects go through injected callables:

    * ``probe()`` -> dict as :func:`http_probe` returns;
    * ``session.call(action, args)`` -> helper answers (opcache_helper.HelperSession);
    * ``log_watch`` (optional) with ``mark()`` / ``new_lines()``;
    * ``find_collisions(roots)`` (optional) -> class_collisions.find_collisions result;
    * ``clock()`` wall time (float seconds), ``sleep(seconds)``.
    """

    def __init__(self, probe, session, expected_status=200, ranking_probes=2, group_size=1,
                 max_probes=50, check_mode=False, check_mode_probes=True, log_watch=None,
                 find_collisions=None, collision_roots=None, script_filename=None, uri=None,
                 ranking_limit=50, on_invalidated=None, clock=time.time, sleep=time.sleep):
        self.probe_fn = probe
        self.session = session
        self.expected = expected_status
        self.ranking_probes = ranking_probes
        self.group_size = group_size
        self.max_probes = max_probes
        self.check_mode = check_mode
        self.check_mode_probes = check_mode_probes
        self.log_watch = log_watch
        self.find_collisions = find_collisions
        self.collision_roots = collision_roots
        self.script_filename = script_filename
        self.uri = uri
        self.ranking_limit = ranking_limit
        self.on_invalidated = on_invalidated
        self.first_answer = None
        self.clock = clock
        self.sleep = sleep
        self.probes = 0
        self.probe_log = []
        self.warnings = []
        self.invalidated = {}
        self.start = None

    # -- pieces
    def _call(self, action, args):
        """A helper call, retried once when the worker that took it died (a crashing request
        may take the worker down while the helper's connection is being accepted)."""
        try:
            return self.session.call(action, args)
        except HelperError as exc:
            if exc.cause not in RETRY_CAUSES:
                raise
            self.warnings.append("helper %s: %s; retried once" % (action, exc))
            self.sleep(0.05)
            return self.session.call(action, args)

    def _snapshot(self, generation=None):
        answer = self._call("status", {"scripts": True})
        if not answer.get("status"):
            raise HuntError("OPcache is disabled in pool %s (opcache.enable=0): no cached file can be the "
                            "culprit" % answer.get("pool"), "opcache.enable")
        if answer.get("scripts") is None:
            raise HuntError("OPcache gives no script list (a restart is pending): the poisoned entry may be "
                            "gone already; probe again later", "restart_pending")
        if generation is not None and _generation(answer) != generation:
            raise HuntError("the OPcache of master %s restarted during the hunt (start_time/last_restart_time "
                            "changed from %s to %s: a reload, a reset or php-fpm's emergency restart); the "
                            "cached entries under test are gone, so no culprit can be named"
                            % (answer.get("master_pid"), generation[:2], _generation(answer)[:2]),
                            "cache_restarted")
        return answer

    def _wait_for_fresh_second(self, not_before):
        """Sleep until a second >= not_before starts, and early enough in it that a short
        probe stays inside it."""
        while True:
            now = self.clock()
            sec = int(now)
            if sec >= not_before and now - sec < 0.7:
                return
            target = float(max(not_before, sec + 1)) + 0.01
            self.sleep(max(0.0, target - now))

    def _probe(self, check_log=False):
        if self.log_watch is not None and check_log:
            self.log_watch.mark()
        p = dict(self.probe_fn())
        self.probes += 1
        outcome = classify_response(p.get("status"), p.get("error"), self.expected)
        if outcome == "crash" and check_log and self.log_watch is not None and p.get("status") == 502:
            verdict = classify_log_lines(self.log_watch.new_lines(), self.uri)
            p["log"] = verdict or "no matching nginx error-log line"
            if verdict == "connect":
                outcome = "connect_error"
            elif verdict == "timeout":
                outcome = "timeout"
        p["outcome"] = outcome
        self.probe_log.append(p)
        return p

    def _fail_on_first(self, p):
        status = p.get("status")
        if p["outcome"] == "connect_error" and status is None:
            raise HuntError("the probe could not connect to nginx (%s): a connect error, not a crash; nothing "
                            "was changed" % (p.get("detail") or "refused"), "probe_connect")
        if p["outcome"] == "connect_error":
            raise HuntError("the probe answered HTTP 502 because nginx could not connect to php-fpm (nginx "
                            "error log: connect() failed): a connect error, not a crash; nothing was changed",
                            "upstream_connect")
        if p["outcome"] == "timeout":
            raise HuntError("the probe timed out (%s): a timeout, not a crash; nothing was changed"
                            % (p.get("detail") or "HTTP %s" % status), "probe_timeout")
        raise HuntError("the probe answered HTTP %s (expected %s): not a crash (502 or connection reset); "
                        "nothing was changed" % (status if status is not None else p.get("detail"),
                                                 self.expected), "probe_not_crash")

    # -- the whole thing
    def run(self):
        self.start = self.clock()
        result = {"culprit": None, "found": False, "crashing": None, "changed": False, "steps": [],
                  "ranking": [], "candidates_considered": 0, "include_set": None, "probes": 0}
        first = self._snapshot()
        self.first_answer = first
        generation = _generation(first)
        result["master_pid"] = first.get("master_pid")
        result["pool"] = first.get("pool")
        result["socket"] = first.get("socket")
        result["cached_scripts"] = len([s for s in first["scripts"] if s.get("cached")])
        since = int(first.get("time") or self.clock())
        snaps, answers, sets, probe_secs = [], [first], [], []
        may_probe = not self.check_mode or self.check_mode_probes
        n_rank = self.ranking_probes if may_probe else 0
        last_sec = None
        for i in range(n_rank):
            if i == 1:
                # a probe-free gap second between the first two probes: a snapshot at its end
                # shows which scripts other requests use
                gap = last_sec + 1
                now = self.clock()
                if now < gap + 0.9:
                    self.sleep(gap + 0.9 - now)
                if int(self.clock()) == gap:
                    snaps.append(self._snapshot(generation)["scripts"])
            self._wait_for_fresh_second(0 if last_sec is None else last_sec + (2 if i == 1 else 1))
            p = self._probe(check_log=True)
            result["probes"] = self.probes
            if i == 0 and p["outcome"] == "pass":
                result.update(self._finish(crashing=False, msg="the probe answers HTTP %s as expected: nothing "
                                           "crashes, so there is no culprit to find" % p["status"]))
                return result
            if p["outcome"] != "crash":
                if i == 0:
                    self._fail_on_first(p)
                result.update(self._finish(crashing=False, msg="the crash is not reproducible: probe 1 crashed, "
                                           "probe %d answered %s; no culprit can be named and nothing was "
                                           "changed" % (i + 1, p.get("status") or p.get("error"))))
                result["intermittent"] = True
                return result
            secs = probe_seconds(p)
            probe_secs.extend(secs)
            last_sec = secs[-1]
            snap = self._snapshot(generation)
            answers.append(snap)
            snaps.append(snap["scripts"])
            sets.append(include_set(snap["scripts"], secs))
        result["crashing"] = True if n_rank else None
        latest = answers[-1]
        include = None
        if sets:
            include = set.intersection(*sets)
            if not include:
                self.warnings.append("the failing probes share no script with the same last_used_timestamp "
                                     "(clock or request-time mismatch?): ranking without the include set")
                include = None
        shared = used_elsewhere(snaps, since, probe_secs) if snaps else set()
        classified = classify_scripts(latest["scripts"], latest.get("status"))
        coll = set()
        if self.find_collisions is not None:
            roots = self.collision_roots or collision_roots_for(sorted(include or []), self.script_filename)
            if roots:
                try:
                    found = self.find_collisions(roots)
                    coll = collision_files(found)
                    result["collision_roots"] = roots
                except (ValueError, OSError) as exc:
                    self.warnings.append("class collision scan of %s failed: %s" % (roots, exc))
        ranking = rank_candidates(classified, include, shared, coll)
        result["include_set"] = sorted(include) if include is not None else None
        result["used_elsewhere"] = sorted(shared)
        result["candidates_considered"] = len(ranking)
        result["ranking"] = ranking[:self.ranking_limit] if self.ranking_limit else ranking
        result["ranking_seconds"] = round(self.clock() - self.start, 4)
        if self.check_mode:
            msg = "check mode: ranking only, nothing invalidated"
            if not may_probe:
                msg += " (no probe made: check_mode_probes=false, so no include set)"
            result.update(self._finish(crashing=result["crashing"], msg=msg))
            return result
        if not ranking:
            result.update(self._finish(crashing=True, msg="no cached script to invalidate: the crash does not "
                                       "come from a cached file; no culprit"))
            return result
        self._invalidate_in_order(result, ranking, generation, probe_secs)
        return result

    def _invalidate_in_order(self, result, ranking, generation, probe_secs):
        paths = [r["path"] for r in ranking]
        for number, group in enumerate(groups(paths, self.group_size), 1):
            if self.probes >= self.max_probes:
                self.warnings.append("max_probes=%d reached after %d invalidation step(s)"
                                     % (self.max_probes, number - 1))
                break
            t_inv = self.clock()
            inv = self._call("invalidate", {"files": group, "force": True})
            inv_s = round(self.clock() - t_inv, 4)
            files = inv.get("files") or {}
            for path in group:
                self.invalidated[path] = int(inv.get("time") or t_inv)
            result["changed"] = True
            p = self._probe(check_log=False)
            step = {"step": number, "invalidated": group, "invalidate_seconds": inv_s,
                    "not_invalidated": [f for f in group if not (files.get(f) or {}).get("invalidated")],
                    "probe": _public_probe(p, p["outcome"], self.start)}
            result["steps"].append(step)
            result["probes"] = self.probes
            if p["outcome"] in ("pass", "other") and p.get("status") is not None:
                step["passed"] = p["outcome"] == "pass"
                culprit = group[0] if self.group_size == 1 else list(group)
                if p["outcome"] == "other":
                    self.warnings.append("after invalidating %s the page no longer crashes but answers HTTP %s "
                                         "(expected %s)" % (group, p["status"], self.expected))
                result["culprit"] = culprit
                result["found"] = True
                result.update(self._finish(crashing=True, msg="culprit: %s (cured by invalidating step %d; %d "
                                           "probe(s))" % (culprit, number, self.probes)))
                return
            step["passed"] = False
            if p["outcome"] != "crash":
                self.warnings.append("probe after step %d: %s (%s); going on" % (number, p["outcome"],
                                                                                 p.get("detail")))
                continue
            # still crashing: the cache must not have restarted under us
            self._snapshot(generation)
        result.update(self._finish(crashing=True, msg="no candidate cured the probe (%d invalidation step(s), "
                                   "%d probe(s)): no culprit is claimed" % (len(result["steps"]), self.probes)))

    def _finish(self, crashing, msg):
        if self.invalidated and self.on_invalidated is not None:
            try:
                self.on_invalidated(self.first_answer, dict(self.invalidated))
            except (IOError, OSError) as exc:
                self.warnings.append("cannot record the invalidations: %s" % exc)
        out = {"crashing": crashing, "msg": msg, "probes": self.probes,
               "probe_log": [_public_probe(p, p["outcome"], self.start) for p in self.probe_log],
               "seconds": round(self.clock() - self.start, 4)}
        if self.warnings:
            out["warnings"] = list(self.warnings)
        return out


def hunt(probe, session, **kwargs):
    """Run one hunt (see :class:`Hunt`); returns the result dict."""
    return Hunt(probe, session, **kwargs).run()
