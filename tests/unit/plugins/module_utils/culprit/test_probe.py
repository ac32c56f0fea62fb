# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""culprit/probe.py: probe URLs, incident replay, judging answers and nginx error-log lines, the real probe."""
import os

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.culprit import probe
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.culprit.errors import HuntError
from unit_paths import FIXTURES_ROOT


def _error_line(name):
    """One nginx error-log line of fixtures/culprit (a connect failure or a worker reset)."""
    with open(os.path.join(FIXTURES_ROOT, "culprit", name)) as f:
        return f.read().rstrip("\n")


CONNECT_LINE = _error_line("nginx_error_connect.log")
RESET_LINE = _error_line("nginx_error_reset.log")


@pytest.mark.parametrize("url,expect", [
    ("http://127.0.0.1/a/report.php", {"host": "127.0.0.1", "port": 80, "path": "/a/report.php",
                                       "host_header": "127.0.0.1"}),
    ("https://shop.example.com:8443/x.php?q=1", {"host": "shop.example.com", "port": 8443,
                                                 "path": "/x.php?q=1", "uri": "/x.php",
                                                 "host_header": "shop.example.com:8443"}),
    ("http://[::1]:8080/", {"host": "::1", "port": 8080, "host_header": "[::1]:8080", "path": "/"}),
    ("http://example.com", {"path": "/", "port": 80}),
])
def test_parse_probe_url(url, expect):
    req = probe.parse_probe_url(url)
    for k, v in expect.items():
        assert req[k] == v
    assert req["connect_address"] == "127.0.0.1"


@pytest.mark.parametrize("url,text", [
    ("ftp://x/y", "must start with http:// or https://"),
    ("/a/report.php", "must start with http://"),
    ("http:///x", "url has no host"),
    ("http://x:99999/", "invalid port"),
    ("", "absolute http:// or https:// URL"),
])
def test_parse_probe_url_errors(url, text):
    with pytest.raises(HuntError) as err:
        probe.parse_probe_url(url)
    assert text in str(err.value) and err.value.cause == "url"


def test_incident_probe():
    inc = {"requests": [{"method": "POST", "path": "/a/save.php"},
                        {"method": "GET", "path": "/a/report.php", "upstream": "fastcgi://unix:/x.sock:"}]}
    assert probe.incident_probe(inc) == ("http://127.0.0.1/a/report.php", "fastcgi://unix:/x.sock:")
    assert probe.incident_probe({"request_paths": ["/b/x.php"]})[0] == "http://127.0.0.1/b/x.php"
    assert probe.incident_probe({"requests": [{"method": "GET", "path": "/x", "host": "shop.example"}]})[0] == \
        "http://shop.example/x"


@pytest.mark.parametrize("inc,text", [
    ({"requests": [{"method": "POST", "path": "/a/save.php"}]}, "only GET and HEAD requests are replayed"),
    ({"requests": []}, "incident has no request with a path"),
    ("GET /x", "incident must be a dict"),
])
def test_incident_probe_errors(inc, text):
    with pytest.raises(HuntError) as err:
        probe.incident_probe(inc)
    assert text in str(err.value)


@pytest.mark.parametrize("status,error,outcome", [
    (200, None, "pass"), (502, None, "crash"), (None, "reset", "crash"), (None, "connect", "connect_error"),
    (None, "timeout", "timeout"), (404, None, "other"), (500, None, "other"), (503, None, "other"),
])
def test_classify_response(status, error, outcome):
    assert probe.classify_response(status, error, 200) == outcome


def test_classify_log_lines():
    assert probe.classify_log_lines([RESET_LINE], "/a/x.php") == "crash"
    assert probe.classify_log_lines([CONNECT_LINE], "/a/x.php") == "connect"
    assert probe.classify_log_lines([RESET_LINE], "/b/other.php") is None
    assert probe.classify_log_lines([RESET_LINE, CONNECT_LINE], None) == "connect"
    assert probe.classify_log_lines(["garbage"], None) is None
    prem = RESET_LINE.replace("recv() failed (104: Connection reset by peer)",
                              "upstream prematurely closed connection")
    assert probe.classify_log_lines([prem], "/a/x.php") == "crash"


def test_log_watch_reads_appended_and_rotated(tmp_path):
    log = tmp_path / "error.log"
    log.write_text("old line\n")
    w = probe.LogWatch([str(log), str(tmp_path / "missing.log")])
    assert w.readable() == [str(log)]
    w.mark()
    with open(str(log), "a") as f:
        f.write("new line\n")
    assert w.new_lines() == ["new line"]
    w.mark()
    log.write_text("x\n")          # rotated: smaller than the mark
    assert w.new_lines() == ["x"]


def test_http_probe_against_a_local_server():
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    seen = {}

    class H(BaseHTTPRequestHandler):
        def do_GET(self):
            seen["host"] = self.headers.get("Host")
            if self.path == "/reset":
                self.connection.close()     # no response at all: like a worker reset
                return
            self.send_response(502 if self.path == "/bad" else 200)
            self.end_headers()
            self.wfile.write(b"x")

        def log_message(self, *a):
            pass

    srv = HTTPServer(("127.0.0.1", 0), H)
    port = srv.server_address[1]
    th = threading.Thread(target=srv.serve_forever)
    th.daemon = True
    th.start()
    try:
        ok = probe.http_probe(probe.parse_probe_url("http://vhost.example:%d/ok" % port), timeout=5)
        assert ok["status"] == 200 and ok["error"] is None and seen["host"] == "vhost.example:%d" % port
        assert probe.http_probe(probe.parse_probe_url("http://127.0.0.1:%d/bad" % port))["status"] == 502
        assert probe.http_probe(probe.parse_probe_url("http://127.0.0.1:%d/reset" % port))["error"] == "reset"
    finally:
        srv.shutdown()
        srv.server_close()
    dead = probe.http_probe(probe.parse_probe_url("http://127.0.0.1:%d/" % port), timeout=2)
    assert dead["error"] == "connect"


def test_https_probe_sends_the_vhost_name_and_checks_the_certificate(tmp_path, monkeypatch):
    """Over https the probe connects to 127.0.0.1 but sends the URL's host as the TLS server name
    (nginx picks the vhost and its certificate by it) and checks the certificate against that
    name; a self-signed one is accepted only with validate_certs=false (issue 10)."""
    import ssl
    import subprocess
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    cert, key = str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", key,
                    "-out", cert, "-subj", "/CN=vhost.test", "-addext", "subjectAltName=DNS:vhost.test"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    names = []

    class H(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = HTTPServer(("127.0.0.1", 0), H)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.sni_callback = lambda sock, name, c: names.append(name)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    port = srv.server_address[1]
    th = threading.Thread(target=srv.serve_forever)
    th.daemon = True
    th.start()
    try:
        url = "https://vhost.test:%d/ok" % port
        refused = probe.http_probe(probe.parse_probe_url(url), timeout=5)
        assert refused["error"] == "connect" and refused["status"] is None
        assert "TLS certificate of vhost.test was not accepted" in refused["detail"]
        assert "validate_certs=false" in refused["detail"]
        accepted = probe.http_probe(probe.parse_probe_url(url, validate_certs=False), timeout=5)
        assert accepted["status"] == 200 and names[-1] == "vhost.test"
        # trusted (as a CA the host trusts would be): checked against the name, and it matches
        monkeypatch.setenv("SSL_CERT_FILE", cert)
        assert probe.http_probe(probe.parse_probe_url(url), timeout=5)["status"] == 200
        other = probe.http_probe(probe.parse_probe_url("https://other.test:%d/ok" % port), timeout=5)
        assert other["status"] is None and "other.test" in other["detail"] and names[-1] == "other.test"
    finally:
        srv.shutdown()
        srv.server_close()
