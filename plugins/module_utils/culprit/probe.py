# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The probe: the HTTP(S) request the culprit hunt sends to a page, and how its answer is judged.

Private to opcache-fleet. Standard library only, Python 3.8+.

* :func:`parse_probe_url`, :func:`incident_probe` -> probe request description
* :func:`http_probe` (the real request, always sent to the LOCAL nginx)
* :func:`classify_response` (pass | crash | connect_error | timeout | other)
* :func:`classify_log_lines` and :class:`LogWatch` (what nginx's error log says about a 502)
"""
from __future__ import absolute_import, division, print_function

import os
import socket as socketlib
import ssl
import time

try:  # Python 3
    import http.client as httplib
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover - Python 2 is not supported by the project
    import httplib  # type: ignore
    from urlparse import urlsplit  # type: ignore

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.culprit.errors import HuntError
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.categories import CONNECT_FAILED, CRASH_502

__metaclass__ = type

CRASH_STATUSES = (502,)
# nginx error-log categories (evidence-categories.md) that say a 502 was a timeout (the crash
# and connect groups are evidence/categories.py's CRASH_502 and CONNECT_FAILED).
LOG_TIMEOUT = ("upstream_timeout",)
LOCAL_HOSTS = ("127.0.0.1", "::1", "localhost")
USER_AGENT = "opcache-fleet-culprit/1"


# ----------------------------------------------------------------- the probe request

def parse_probe_url(url, connect_address="127.0.0.1", validate_certs=True):
    """Describe the probe request for ``url``; it is always sent to the LOCAL nginx.

    The URL's host becomes the ``Host`` header (the nginx virtual host) and, for https, the
    TLS server name (SNI) and the name the certificate is checked against (unless
    ``validate_certs`` is false: a self-signed certificate, accepted because the user said
    so); its port is the port connected to on ``connect_address``. Returns a dict {url,
    scheme, host, port, path (with query), uri (path only), connect_address, validate_certs}.
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
            "port": port, "path": path, "uri": uri, "connect_address": connect_address,
            "validate_certs": bool(validate_certs)}


class _LocalHTTPS(httplib.HTTPSConnection):
    """HTTPS to the local nginx (``connect_address``) with the virtual host's name as the TLS
    server name (SNI) and as the name its certificate must carry: nginx picks the server
    block, and its certificate, by that name; connecting to 127.0.0.1 would send none."""

    def __init__(self, address, port, server_name, timeout, context):
        httplib.HTTPSConnection.__init__(self, address, port, timeout=timeout, context=context)
        self.server_name = server_name

    def connect(self):
        sock = socketlib.create_connection((self.host, self.port), self.timeout)
        try:
            self.sock = self._context.wrap_socket(sock, server_hostname=self.server_name)
        except BaseException:
            sock.close()
            raise


def tls_context(validate_certs=True):
    """The TLS context of a probe: the system's trusted CAs and the host name checked, or
    nothing checked when the user accepted a self-signed certificate."""
    ctx = ssl.create_default_context()
    if not validate_certs:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


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
            conn = _LocalHTTPS(request["connect_address"], request["port"], request["host"], timeout,
                               tls_context(request.get("validate_certs", True)))
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
    except ssl.SSLCertVerificationError as exc:
        error, detail = "connect", ("the TLS certificate of %s was not accepted (%s); if it is self-signed and "
                                    "you trust this host, set validate_certs=false" % (request["host"], exc))
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
        if category in CRASH_502:
            found.append("crash")
        elif category in CONNECT_FAILED:
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
