# SPDX-License-Identifier: GPL-3.0-or-later
import errno
import os
import socket
import struct
import time

import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache import fastcgi as f

from fake_fcgi import FakePeer, end, record, stderr, stdout


@pytest.fixture
def peer(tmp_path):
    peers = []

    def make(handler, read=True):
        p = FakePeer(str(tmp_path / ("p%d.sock" % len(peers))), handler, read)
        peers.append(p)
        return p
    yield make
    for p in peers:
        p.close()


# ------------------------------------------------------------------ encoding

def test_params_use_four_byte_lengths_over_127():
    name, value = b"N" * 200, b"v" * 70000
    data = f.encode_params([(name, value), (b"A", b"")])
    assert data[0] & 0x80 and struct.unpack("!I", data[:4])[0] & 0x7FFFFFFF == 200
    assert struct.unpack("!I", data[4:8])[0] & 0x7FFFFFFF == 70000
    assert f.decode_params(data) == [(name, value), (b"A", b"")]
    assert f.encode_params({"A": "b"}) == b"\x01\x01Ab"


def test_stream_split_and_padding():
    data = bytes(range(256)) * 600  # 153600 bytes
    out = f.encode_stream(f.FCGI_STDIN, data)
    reader = f.RecordReader()
    reader.feed(out)
    recs = list(reader.records())
    assert [len(c) for dummy, dummy, c in recs] == [65535, 65535, 153600 - 131070, 0]
    assert b"".join(c for dummy, dummy, c in recs) == data
    # every record header + content + padding is a multiple of 8
    pos = 0
    while pos < len(out):
        dummy, dummy, dummy, length, pad = f.HEADER.unpack_from(out, pos)
        assert (length + pad) % 8 == 0
        pos += 8 + length + pad


def test_record_too_big_refused():
    with pytest.raises(ValueError):
        f.encode_record(f.FCGI_STDIN, b"x" * 65536)


def test_reader_handles_byte_by_byte_and_bad_version():
    data = record(f.FCGI_STDOUT, b"hello") + record(f.FCGI_STDERR, b"warn")
    reader = f.RecordReader()
    got = []
    for i in range(len(data)):
        reader.feed(data[i:i + 1])
        got.extend(reader.records())
    assert [(t, c) for t, dummy, c in got] == [(f.FCGI_STDOUT, b"hello"), (f.FCGI_STDERR, b"warn")]
    reader = f.RecordReader("sock")
    reader.feed(b"HTTP/1.1 200 OK\r\n")
    with pytest.raises(f.FastCGIProtocolError, match="invalid record version 72"):
        list(reader.records())


@pytest.mark.parametrize("raw,status,headers,body", [
    (b"Status: 404 Not Found\r\nContent-type: text/html\r\n\r\nNo input file specified.\n", 404,
     [("Content-type", "text/html")], b"No input file specified.\n"),
    (b"Content-Type: application/json\n\n{}", 200, [("Content-Type", "application/json")], b"{}"),
    (b"Location: /x\r\n\r\n", 302, [("Location", "/x")], b""),
    (b"just a body", 200, [], b"just a body"),
    (b"no header line\n\nbody", 200, [], b"no header line\n\nbody"),
])
def test_parse_cgi_response(raw, status, headers, body):
    s, dummy, h, b = f.parse_cgi_response(raw)
    assert (s, h, b) == (status, headers, body)


# ------------------------------------------------------------------ against the fake peer

def test_request_round_trip_large_params_and_stdin(peer):
    big = "v" * 70000
    stdin = b"x" * 200000

    def handler(req):
        body = b"Status: 201 Created\r\nX-A: 1\r\n\r\n" + req["stdin"][:10]
        out = stdout(body[:7]) + stderr(b"PHP message: one") + stdout(body[7:]) + stderr(b" two") + end(3)
        # send in awkward pieces: split headers and records across reads
        return [out[i:i + 5] for i in range(0, len(out), 5)]
    p = peer(handler)
    r = f.request(p.path, {"SCRIPT_FILENAME": "/x.php", "BIG": big}, stdin, timeout=5)
    req = p.requests[0]
    assert req["begin"] == (f.FCGI_RESPONDER, 0)  # responder, keep_conn=0
    assert req["params"][b"BIG"] == big.encode() and req["stdin"] == stdin
    stdin_records = [n for t, n in req["records"] if t == f.FCGI_STDIN]
    assert stdin_records == [65535, 65535, 65535, 200000 - 3 * 65535, 0]
    assert [n for t, n in req["records"] if t == f.FCGI_PARAMS][-1] == 0
    assert (r.status, r.reason, r.header("x-a"), r.body) == (201, "Created", "1", b"xxxxxxxxxx")
    assert r.stderr == b"PHP message: one two" and r.app_status == 3


def test_garbage_reply(peer):
    p = peer(lambda req: [b"HTTP/1.1 400 Bad Request\r\n\r\n"])
    with pytest.raises(f.FastCGIProtocolError) as exc:
        f.request(p.path, {}, timeout=5)
    assert exc.value.cause == "protocol" and p.path in str(exc.value)
    assert "invalid record version" in str(exc.value)


def test_peer_closes_before_end_request(peer):
    p = peer(lambda req: [stdout(b"Content-Type: text/html\r\n\r\npartial"), ("close",)])
    with pytest.raises(f.FastCGIProtocolError) as exc:
        f.request(p.path, {}, timeout=5)
    assert exc.value.cause == "truncated" and "before END_REQUEST" in str(exc.value)


def test_truncated_in_the_middle_of_a_record(peer):
    p = peer(lambda req: [stdout(b"abcdefgh")[:11], ("close",)])
    with pytest.raises(f.FastCGIProtocolError, match="truncated"):
        f.request(p.path, {}, timeout=5)


@pytest.mark.parametrize("proto,cause", [(2, "overloaded"), (3, "unknown_role"), (1, "cant_mpx_conn"),
                                         (9, "protocol_status_9")])
def test_rejected_protocol_status(peer, proto, cause):
    p = peer(lambda req: [end(0, proto)])
    with pytest.raises(f.FastCGIRequestRejected) as exc:
        f.request(p.path, {}, timeout=5)
    assert exc.value.cause == cause


def test_unexpected_record_type(peer):
    p = peer(lambda req: [record(f.FCGI_GET_VALUES_RESULT, b"")])
    with pytest.raises(f.FastCGIProtocolError, match="unexpected record type 10"):
        f.request(p.path, {}, timeout=5)


def test_total_deadline_when_peer_is_silent(peer):
    p = peer(lambda req: [("sleep", 2)])
    t0 = time.monotonic()
    with pytest.raises(f.FastCGITimeout) as exc:
        f.request(p.path, {}, timeout=0.3)
    assert exc.value.cause == "timeout" and time.monotonic() - t0 < 1.5


def test_total_deadline_when_peer_trickles(peer):
    # each piece arrives well within any per-read timeout; the TOTAL deadline must still hit
    p = peer(lambda req: [x for i in range(40) for x in (stdout(b"x"), ("sleep", 0.05))])
    with pytest.raises(f.FastCGITimeout):
        f.request(p.path, {}, timeout=0.5)


def test_enoent(tmp_path):
    with pytest.raises(f.FastCGIConnectError) as exc:
        f.request(str(tmp_path / "missing.sock"), {}, timeout=1)
    assert exc.value.cause == "ENOENT" and "missing.sock" in str(exc.value)


def test_econnrefused_stale_socket_file(tmp_path):
    path = str(tmp_path / "dead.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.close()  # the file stays, nobody listens: what a killed php-fpm leaves behind
    with pytest.raises(f.FastCGIConnectError) as exc:
        f.request(path, {}, timeout=1)
    assert exc.value.cause == "ECONNREFUSED" and "nothing listening" in str(exc.value)


def test_econnrefused_tcp():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(f.FastCGIConnectError) as exc:
        f.request(str(port), {}, timeout=1)
    assert exc.value.cause == "ECONNREFUSED" and exc.value.socket == str(port)


def test_not_a_socket(tmp_path):
    path = tmp_path / "plain"
    path.write_text("x")
    with pytest.raises(f.FastCGIConnectError) as exc:
        f.request(str(path), {}, timeout=1)
    assert exc.value.cause in ("ECONNREFUSED", "ENOTSOCK")


def test_eacces_message():
    exc = f._connect_error("/run/php/x.sock", OSError(errno.EACCES, "Permission denied"))
    assert exc.cause == "EACCES" and "listen.owner" in str(exc) and "/run/php/x.sock" in str(exc)


def test_bad_address_is_a_connect_error():
    with pytest.raises(f.FastCGIConnectError) as exc:
        f.request("nowhere", {}, timeout=1)
    assert exc.value.cause == "address"


def test_php_params_point_at_the_script_only():
    p = f.php_params("/var/lib/opcache-fleet/ab/cd.php", content_length=12)
    assert p["SCRIPT_FILENAME"] == "/var/lib/opcache-fleet/ab/cd.php"
    assert p["DOCUMENT_ROOT"] == "/var/lib/opcache-fleet/ab" and p["CONTENT_LENGTH"] == "12"
    assert p["REQUEST_METHOD"] == "POST"


# ------------------------------------------------------------------ issue 11: hostile peers

def test_default_answer_cap_refuses_a_runaway_answer(peer):
    # finding 7: 17 MiB of stdout is far beyond any helper answer (10,000 scripts: ~2.5 MB)
    chunk = stdout(b"x" * 65535)
    p = peer(lambda req: [chunk] * 272 + [end()])
    with pytest.raises(f.FastCGIProtocolError) as exc:
        f.request(p.path, {}, timeout=10)
    assert exc.value.cause == "too_large" and str(f.DEFAULT_MAX_RESPONSE) in str(exc.value)
    assert f.DEFAULT_MAX_RESPONSE <= 32 * 1024 * 1024


def test_stderr_kept_is_bounded_and_says_what_was_cut(peer):
    big = b"PHP Warning: " + b"A" * (3 * 65535)
    p = peer(lambda req: [stderr(big[i:i + 65535]) for i in range(0, len(big), 65535)] +
             [stdout(b"Content-Type: text/plain\r\n\r\nok"), end()])
    r = f.request(p.path, {}, timeout=5)
    assert len(r.stderr) == f.DEFAULT_MAX_STDERR and r.stderr == big[:f.DEFAULT_MAX_STDERR]
    assert r.stderr_cut == len(big) - f.DEFAULT_MAX_STDERR
    assert len(r.stderr_text) < f.DEFAULT_MAX_STDERR + 100
    assert ("%d bytes cut" % r.stderr_cut) in r.stderr_text and r.body == b"ok"


def test_record_with_another_request_id_is_an_error(peer):
    # finding 9: we send request id 1, one request per connection: anything else is garbage
    p = peer(lambda req: [record(f.FCGI_STDOUT, b"Content-Type: text/plain\r\n\r\nforged", rid=2),
                          stdout(b"Content-Type: text/plain\r\n\r\nok"), end()])
    with pytest.raises(f.FastCGIProtocolError) as exc:
        f.request(p.path, {}, timeout=5)
    assert exc.value.cause == "protocol" and "request id 2" in str(exc.value)
    p2 = peer(lambda req: [stdout(b"Content-Type: text/plain\r\n\r\nok"),
                           record(f.FCGI_END_REQUEST, b"\0" * 8, rid=7)])
    with pytest.raises(f.FastCGIProtocolError, match="request id 7"):
        f.request(p2.path, {}, timeout=5)


def ok_answer(req):
    return [stdout(b"Content-Type: text/plain\r\n\r\nok"), end()]


def test_peer_credentials_are_given_to_the_check(peer):
    seen = []
    p = peer(ok_answer)
    r = f.request(p.path, {}, timeout=5, peer_check=seen.append)
    # the fake peer listens in this process: its credentials are ours
    assert r.body == b"ok" and seen == [(os.getpid(), os.geteuid(), os.getegid())]


def test_unexpected_peer_is_refused_before_sending(peer):
    p = peer(ok_answer)

    def refuse(cred):
        raise f.FastCGIPeerError(p.path, "peer", "peer pid %d uid %d is not php-fpm master 1" % cred[:2])
    with pytest.raises(f.FastCGIPeerError) as exc:
        f.request(p.path, {"SECRET": "x"}, timeout=5, peer_check=refuse)
    assert exc.value.cause == "peer" and ("pid %d" % os.getpid()) in str(exc.value)
    time.sleep(0.05)
    assert p.requests == [{"begin": None, "params": {}, "stdin": b"", "records": [], "raw": b""}]
