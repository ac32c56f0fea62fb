# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""A small FastCGI client (responder role), standard library only.

Private to opcache-fleet. Speaks to one php-fpm pool socket, one request per
connection (PHP does not multiplex), with a total deadline.

Addresses are accepted the way php-fpm's ``listen`` writes them:

* ``/run/php/php8.2-fpm.sock`` (also ``unix:/run/...`` as nginx writes it)
* ``9000`` (port alone: 127.0.0.1)
* ``127.0.0.1:9000``, ``localhost:9000``, ``*:9000`` / ``0.0.0.0:9000`` (-> 127.0.0.1)
* ``[::1]:9000``, ``[::]:9000`` (-> ::1)

Errors are :class:`FastCGIError` subclasses carrying ``socket`` (the address as
given) and ``cause`` (a short code: ENOENT, ECONNREFUSED, EACCES, ENOTSOCK,
timeout, protocol, truncated, too_large, peer, overloaded, unknown_role, cant_mpx_conn, ...).

The peer is not trusted (issue 11): an answer is capped (:data:`DEFAULT_MAX_RESPONSE`), the
stderr kept is capped (:data:`DEFAULT_MAX_STDERR`, the rest counted in ``stderr_cut``), a record
for another request id is a protocol error, and on unix sockets the peer's credentials
(SO_PEERCRED) go to ``peer_check`` before anything is sent.
"""
from __future__ import absolute_import, division, print_function

import errno
import os
import socket as _socket
import struct
import time

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.addresses import connect_address

FCGI_VERSION_1 = 1

FCGI_BEGIN_REQUEST = 1
FCGI_ABORT_REQUEST = 2
FCGI_END_REQUEST = 3
FCGI_PARAMS = 4
FCGI_STDIN = 5
FCGI_STDOUT = 6
FCGI_STDERR = 7
FCGI_DATA = 8
FCGI_GET_VALUES = 9
FCGI_GET_VALUES_RESULT = 10
FCGI_UNKNOWN_TYPE = 11

FCGI_RESPONDER = 1

FCGI_REQUEST_COMPLETE = 0
FCGI_CANT_MPX_CONN = 1
FCGI_OVERLOADED = 2
FCGI_UNKNOWN_ROLE = 3

PROTOCOL_STATUS_NAMES = {
    FCGI_REQUEST_COMPLETE: "request_complete",
    FCGI_CANT_MPX_CONN: "cant_mpx_conn",
    FCGI_OVERLOADED: "overloaded",
    FCGI_UNKNOWN_ROLE: "unknown_role",
}

MAX_CONTENT = 65535
HEADER = struct.Struct("!BBHHBx")  # version, type, request id, content length, padding
END_BODY = struct.Struct("!IB3x")  # app status, protocol status
BEGIN_BODY = struct.Struct("!HB5x")  # role, flags

DEFAULT_TIMEOUT = 10.0
# Refuse to buffer more than this from one response (a runaway or hostile peer). The helper's
# status answer with 10,000 cached scripts measures about 2.5 MB of JSON (some 250 bytes a
# script with realistic vendor paths); 16 MiB leaves room for about 65,000 scripts. Callers
# with bigger caches pass ``max_response`` (modules: option max_answer_size).
DEFAULT_MAX_RESPONSE = 16 * 1024 * 1024
# stderr kept from one response: enough for PHP's messages, never a copy of a flood
# (a 52 MB stderr once became 210 MB of module output).
DEFAULT_MAX_STDERR = 4096
# Records a client sees with request id 0 (the management records): both are errors for us anyway.
MANAGEMENT_TYPES = (FCGI_GET_VALUES_RESULT, FCGI_UNKNOWN_TYPE)
_PEERCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


class FastCGIError(Exception):
    """Any failure talking FastCGI to ``socket``; ``cause`` is a short code."""

    def __init__(self, sock, cause, detail):
        self.socket = sock
        self.cause = cause
        self.detail = detail
        super(FastCGIError, self).__init__(
            "FastCGI %s: %s (%s)" % (sock, detail, cause))


class FastCGIConnectError(FastCGIError):
    """The socket could not be reached (missing, refused, permission, bad address)."""


class FastCGITimeout(FastCGIError):
    """The total deadline passed while connecting, sending or reading."""


class FastCGIProtocolError(FastCGIError):
    """The peer answered with something that is not a valid FastCGI stream."""


class FastCGIPeerError(FastCGIError):
    """The process holding the socket is not the one expected (SO_PEERCRED); nothing was sent."""


class FastCGIRequestRejected(FastCGIError):
    """END_REQUEST with a protocol status other than REQUEST_COMPLETE."""

    def __init__(self, sock, cause, detail, response=None):
        self.response = response
        super(FastCGIRequestRejected, self).__init__(sock, cause, detail)


# ----------------------------------------------------------------- encoding

def _length(n):
    if n < 128:
        return struct.pack("!B", n)
    if n > 0x7FFFFFFF:
        raise ValueError("FastCGI name or value too long: %d bytes" % n)
    return struct.pack("!I", n | 0x80000000)


def _bytes(value):
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8", "surrogateescape")


def encode_params(params):
    """Encode a mapping (or list of pairs) as FastCGI name-value pairs."""
    items = params.items() if hasattr(params, "items") else params
    out = []
    for name, value in items:
        n, v = _bytes(name), _bytes(value)
        out.append(_length(len(n)) + _length(len(v)) + n + v)
    return b"".join(out)


def decode_params(data):
    """Decode FastCGI name-value pairs (used by tests and GET_VALUES)."""
    pairs = []
    i = 0
    while i < len(data):
        lens = []
        for dummy in range(2):
            if i >= len(data):
                raise ValueError("truncated name-value length")
            if data[i] & 0x80:
                if i + 4 > len(data):
                    raise ValueError("truncated 4-byte name-value length")
                lens.append(struct.unpack("!I", data[i:i + 4])[0] & 0x7FFFFFFF)
                i += 4
            else:
                lens.append(data[i])
                i += 1
        end = i + lens[0] + lens[1]
        if end > len(data):
            raise ValueError("truncated name-value data")
        pairs.append((data[i:i + lens[0]], data[i + lens[0]:end]))
        i = end
    return pairs


def encode_record(rtype, content=b"", request_id=1):
    """One record: header, content (<= 65535 bytes), padding to a multiple of 8."""
    if len(content) > MAX_CONTENT:
        raise ValueError("record content over %d bytes" % MAX_CONTENT)
    padding = -len(content) % 8
    return HEADER.pack(FCGI_VERSION_1, rtype, request_id, len(content), padding) + content + b"\0" * padding


def encode_stream(rtype, data, request_id=1):
    """A stream (PARAMS, STDIN): records of at most 65535 bytes, then an empty terminator."""
    out = []
    for start in range(0, len(data), MAX_CONTENT):
        out.append(encode_record(rtype, data[start:start + MAX_CONTENT], request_id))
    out.append(encode_record(rtype, b"", request_id))
    return b"".join(out)


def encode_request(params, stdin=b"", request_id=1):
    """The full byte stream of one responder request with keep_conn=0."""
    begin = encode_record(FCGI_BEGIN_REQUEST, BEGIN_BODY.pack(FCGI_RESPONDER, 0), request_id)
    return begin + encode_stream(FCGI_PARAMS, encode_params(params), request_id) + \
        encode_stream(FCGI_STDIN, stdin, request_id)


# ----------------------------------------------------------------- decoding

class RecordReader(object):
    """Incremental record parser: feed bytes, take complete records.

    Records may arrive split across reads in any way.
    """

    def __init__(self, sock_name="?"):
        self.buf = bytearray()
        self.sock_name = sock_name

    def feed(self, data):
        self.buf.extend(data)

    def records(self):
        while True:
            if len(self.buf) < HEADER.size:
                return
            version, rtype, request_id, length, padding = HEADER.unpack_from(bytes(self.buf[:HEADER.size]))
            if version != FCGI_VERSION_1:
                raise FastCGIProtocolError(
                    self.sock_name, "protocol",
                    "invalid record version %d (first bytes %r): not a FastCGI peer?"
                    % (version, bytes(self.buf[:16])))
            total = HEADER.size + length + padding
            if len(self.buf) < total:
                return
            content = bytes(self.buf[HEADER.size:HEADER.size + length])
            del self.buf[:total]
            yield rtype, request_id, content

    @property
    def pending(self):
        return len(self.buf)


class FastCGIResponse(object):
    """Outcome of one request.

    ``stdout``/``stderr`` are raw bytes; ``status`` (int), ``reason``, ``headers``
    (list of (name, value)) and ``body`` come from the CGI headers in stdout.
    """

    def __init__(self, stdout, stderr, app_status, protocol_status, elapsed, stderr_cut=0):
        self.stdout = stdout
        self.stderr = stderr
        # bytes of stderr the peer sent beyond what was kept (DEFAULT_MAX_STDERR)
        self.stderr_cut = stderr_cut
        self.app_status = app_status
        self.protocol_status = protocol_status
        self.elapsed = elapsed
        self.status, self.reason, self.headers, self.body = parse_cgi_response(stdout)

    def header(self, name, default=None):
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return default

    @property
    def stderr_text(self):
        text = self.stderr.decode("utf-8", "replace")
        if self.stderr_cut:
            text += " [... %d bytes cut]" % self.stderr_cut
        return text

    def as_dict(self):
        return {
            "status": self.status,
            "reason": self.reason,
            "headers": self.headers,
            "app_status": self.app_status,
            "protocol_status": PROTOCOL_STATUS_NAMES.get(self.protocol_status, self.protocol_status),
            "stderr": self.stderr_text,
            "elapsed": self.elapsed,
        }


def parse_cgi_response(stdout):
    """Split CGI output into (status, reason, headers, body).

    ``Status: 404 Not Found`` sets the status; without it the status is 200 (302 when a
    ``Location`` header is present). Headers end at the first empty line (CRLF or LF).
    Output without a header block is returned as body with status 200.
    """
    status, reason = 200, "OK"
    headers = []
    crlf = stdout.find(b"\r\n\r\n")
    lf = stdout.find(b"\n\n")
    if crlf >= 0 and (lf < 0 or crlf <= lf):
        head, body = stdout[:crlf], stdout[crlf + 4:]
    elif lf >= 0:
        head, body = stdout[:lf], stdout[lf + 2:]
    else:
        return status, reason, headers, stdout
    lines = head.decode("latin-1").replace("\r\n", "\n").split("\n")
    if not all(":" in line for line in lines if line):
        return status, reason, [], stdout
    location = False
    explicit = False
    for line in lines:
        if not line:
            continue
        name, dummy, value = line.partition(":")
        name, value = name.strip(), value.strip()
        if name.lower() == "status":
            code, dummy, text = value.partition(" ")
            if code.isdigit():
                status, reason, explicit = int(code), text or "", True
            continue
        if name.lower() == "location":
            location = True
        headers.append((name, value))
    if location and not explicit:
        status, reason = 302, "Found"
    return status, reason, headers, body


# ----------------------------------------------------------------- the request

def _connect_error(sock_name, exc):
    code = errno.errorcode.get(getattr(exc, "errno", None) or 0, "")
    hints = {
        "ENOENT": "no such socket file (php-fpm not running, or wrong path)",
        "ECONNREFUSED": "connection refused (nothing listening: php-fpm stopped or pool absent)",
        "EACCES": "permission denied on the socket (listen.owner/listen.group/listen.mode)",
        "EPERM": "operation not permitted on the socket",
        "ENOTSOCK": "the path exists but is not a socket",
        "ECONNRESET": "connection reset by peer",
        "EHOSTUNREACH": "host unreachable",
        "ENETUNREACH": "network unreachable",
    }
    detail = hints.get(code, "cannot connect: %s" % (exc,))
    return FastCGIConnectError(sock_name, code or "connect", detail)


def peer_credentials(sock):
    """(pid, uid, gid) of the process that listens on a connected unix socket.

    For a listening socket the kernel records the credentials of the process that called
    listen(): for php-fpm, its master (it creates every pool socket before forking). pid is
    as seen in our pid namespace (0 when the peer's is not visible from here).
    """
    raw = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, _PEERCRED.size)
    return _PEERCRED.unpack(raw)


def request(address, params, stdin=b"", timeout=DEFAULT_TIMEOUT, connect_timeout=None,
            max_response=DEFAULT_MAX_RESPONSE, max_stderr=DEFAULT_MAX_STDERR, peer_check=None,
            request_id=1):
    """Send one responder request to ``address`` and read the whole answer.

    ``timeout`` is a total deadline in seconds for connect + send + read;
    ``connect_timeout`` (optional) caps the connect phase alone. ``max_response`` caps the
    bytes read, ``max_stderr`` the stderr kept. ``peer_check((pid, uid, gid))``, for unix
    sockets, is called after connect and before anything is sent; it raises
    :class:`FastCGIPeerError` to refuse the peer (TCP peers cannot be identified this way).
    Returns a :class:`FastCGIResponse`. Raises :class:`FastCGIError` subclasses.
    """
    try:
        family, target = connect_address(address)
    except ValueError as exc:
        raise FastCGIConnectError(str(address), "address", str(exc))
    sock_name = str(address)
    start = time.monotonic()
    deadline = start + float(timeout)
    payload = encode_request(params, _bytes(stdin), request_id)

    def remaining(phase):
        left = deadline - time.monotonic()
        if left <= 0:
            raise FastCGITimeout(sock_name, "timeout", "no complete answer within %.3gs (%s)" % (timeout, phase))
        return left

    sock = _socket.socket(family, _socket.SOCK_STREAM)
    try:
        try:
            ct = remaining("connect")
            if connect_timeout is not None:
                ct = min(ct, float(connect_timeout))
            sock.settimeout(ct)
            sock.connect(target)
        except _socket.timeout:
            raise FastCGITimeout(sock_name, "timeout", "connect timed out (backlog full or host unreachable)")
        except (OSError, IOError) as exc:
            raise _connect_error(sock_name, exc)
        if peer_check is not None and family == _socket.AF_UNIX:
            try:
                cred = peer_credentials(sock)
            except (OSError, IOError) as exc:
                raise FastCGIPeerError(sock_name, "peer", "cannot read the peer's credentials "
                                       "(SO_PEERCRED): %s" % exc)
            peer_check(cred)

        try:
            sock.settimeout(remaining("send"))
            sock.sendall(payload)
        except _socket.timeout:
            raise FastCGITimeout(sock_name, "timeout", "send timed out after %.3gs" % timeout)
        except (OSError, IOError) as exc:
            # The peer may answer and close before reading all our input (e.g. an error
            # page for a bad request): keep reading what it said.
            if getattr(exc, "errno", None) not in (errno.EPIPE, errno.ECONNRESET):
                raise _connect_error(sock_name, exc)

        reader = RecordReader(sock_name)
        stdout, stderr = [], []
        size = 0
        kept_stderr = 0
        cut_stderr = 0
        while True:
            try:
                sock.settimeout(remaining("read"))
                chunk = sock.recv(65536)
            except _socket.timeout:
                raise FastCGITimeout(sock_name, "timeout",
                                     "no complete answer within %.3gs (read %d bytes)" % (timeout, size))
            except (OSError, IOError) as exc:
                if getattr(exc, "errno", None) == errno.ECONNRESET:
                    raise FastCGIProtocolError(
                        sock_name, "truncated",
                        "connection reset by peer before END_REQUEST (worker crashed? read %d bytes)" % size)
                raise _connect_error(sock_name, exc)
            if not chunk:
                raise FastCGIProtocolError(
                    sock_name, "truncated",
                    "peer closed the connection before END_REQUEST (worker crashed or killed? read %d bytes)"
                    % size)
            size += len(chunk)
            if size > max_response:
                raise FastCGIProtocolError(sock_name, "too_large",
                                           "answer exceeds %d bytes (max_answer_size)" % max_response)
            reader.feed(chunk)
            for rtype, rid, content in reader.records():
                if rid != request_id and rtype not in MANAGEMENT_TYPES:
                    # One request per connection: a record for another id is not an answer to
                    # ours (the spec binds the application to the request id it was given).
                    raise FastCGIProtocolError(
                        sock_name, "protocol", "record type %d for request id %d, expected %d"
                        % (rtype, rid, request_id))
                if rtype == FCGI_STDOUT:
                    stdout.append(content)
                elif rtype == FCGI_STDERR:
                    keep = content[:max(0, max_stderr - kept_stderr)]
                    stderr.append(keep)
                    kept_stderr += len(keep)
                    cut_stderr += len(content) - len(keep)
                elif rtype == FCGI_END_REQUEST:
                    if len(content) < END_BODY.size:
                        raise FastCGIProtocolError(sock_name, "protocol", "short END_REQUEST body")
                    app_status, proto = END_BODY.unpack(content[:END_BODY.size])
                    response = FastCGIResponse(b"".join(stdout), b"".join(stderr), app_status, proto,
                                               time.monotonic() - start, cut_stderr)
                    if proto != FCGI_REQUEST_COMPLETE:
                        name = PROTOCOL_STATUS_NAMES.get(proto, "protocol_status_%d" % proto)
                        raise FastCGIRequestRejected(
                            sock_name, name, "request rejected by the peer: %s" % name, response)
                    return response
                elif rtype == FCGI_UNKNOWN_TYPE:
                    raise FastCGIProtocolError(sock_name, "protocol", "peer did not understand a record type")
                else:
                    raise FastCGIProtocolError(sock_name, "protocol", "unexpected record type %d" % rtype)
    finally:
        sock.close()


def php_params(script_filename, method="POST", content_length=0, content_type="application/json",
               script_name=None, extra=None):
    """The CGI params php-fpm needs to run ``script_filename`` directly.

    ``extra`` is merged last (it may override). ``DOCUMENT_ROOT`` is the script's
    directory so nothing points into a site's document root.
    """
    script_name = script_name or "/" + os.path.basename(script_filename)
    params = {
        "GATEWAY_INTERFACE": "FastCGI/1.0",
        "SERVER_SOFTWARE": "opcache-fleet",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "SERVER_NAME": "localhost",
        "SERVER_ADDR": "127.0.0.1",
        "SERVER_PORT": "0",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "0",
        "REQUEST_METHOD": method,
        "SCRIPT_FILENAME": script_filename,
        "SCRIPT_NAME": script_name,
        "REQUEST_URI": script_name,
        "DOCUMENT_URI": script_name,
        "DOCUMENT_ROOT": os.path.dirname(script_filename) or "/",
        "QUERY_STRING": "",
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(content_length),
    }
    if extra:
        params.update(extra)
    return params
