# SPDX-License-Identifier: GPL-3.0-or-later
"""A fake FastCGI peer for unit tests: one thread, one unix socket in a temp dir.

``handler(request) -> list of actions`` where ``request`` is a dict
{begin: (role, flags), params: {bytes: bytes}, stdin: bytes, records: [(type, len, pad)]}
and an action is ``bytes`` (sent as is), ``("sleep", seconds)`` or ``("close",)``.
"""
import os
import socket
import struct
import threading
import time

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache import fastcgi as f


def record(rtype, content=b"", rid=1, padding=None):
    pad = (-len(content) % 8) if padding is None else padding
    return struct.pack("!BBHHBx", 1, rtype, rid, len(content), pad) + content + b"\0" * pad


def stdout(data):
    return record(f.FCGI_STDOUT, data)


def stderr(data):
    return record(f.FCGI_STDERR, data)


def end(app=0, proto=0):
    return record(f.FCGI_END_REQUEST, struct.pack("!IB3x", app, proto))


def read_request(conn):
    reader = f.RecordReader("peer")
    req = {"begin": None, "params": b"", "stdin": b"", "records": [], "raw": b""}
    done = {"params": False, "stdin": False}
    while not (done["params"] and done["stdin"]):
        chunk = conn.recv(65536)
        if not chunk:
            break
        req["raw"] += chunk
        reader.feed(chunk)
        for rtype, rid, content in reader.records():
            req["records"].append((rtype, len(content)))
            if rtype == f.FCGI_BEGIN_REQUEST:
                req["begin"] = struct.unpack("!HB5x", content)
            elif rtype == f.FCGI_PARAMS:
                if content:
                    req["params"] += content
                else:
                    done["params"] = True
            elif rtype == f.FCGI_STDIN:
                if content:
                    req["stdin"] += content
                else:
                    done["stdin"] = True
    req["params"] = dict(f.decode_params(req["params"]))
    return req


class FakePeer(object):
    def __init__(self, path, handler, read=True):
        self.path = path
        self.handler = handler
        self.read = read
        self.requests = []
        self.errors = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(8)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                conn, dummy = self.sock.accept()
            except OSError:
                return
            try:
                req = read_request(conn) if self.read else {}
                self.requests.append(req)
                for action in self.handler(req):
                    if isinstance(action, bytes):
                        conn.sendall(action)
                    elif action[0] == "sleep":
                        time.sleep(action[1])
                    elif action[0] == "close":
                        break
            except Exception as exc:  # pragma: no cover - shown by tests on failure
                self.errors.append(exc)
            finally:
                try:
                    conn.close()
                except OSError:
                    pass

    def close(self):
        self.sock.close()
        if os.path.exists(self.path):
            os.unlink(self.path)


def helper_leftovers(base):
    """Every directory and file left under a helper base directory (empty when it is gone):
    what a helper run must not leave behind."""
    if not os.path.isdir(base):
        return []
    return [os.path.join(d, n) for d, dirs, names in os.walk(base) for n in dirs + names]
