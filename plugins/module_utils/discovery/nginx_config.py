# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""nginx configuration as ``nginx -T`` dumps it: error logs, servers, fastcgi_pass targets.

Private helper of opcache-fleet (standard library only, Python 3.8+).

``nginx -T`` prints every configuration file it read, each after a line
``# configuration file PATH:``, with the ``include`` directives left in place. This
module tokenises each file, splices included files back where they were included
(matching glob patterns against the dumped paths), and walks the resulting tree.

Matching a ``fastcgi_pass`` target to a php-fpm pool is done on listen addresses:
``unix:/run/php/x.sock`` vs pool listen ``/run/php/x.sock``; ``127.0.0.1:9001`` vs
``9001``, ``127.0.0.1:9001``, ``0.0.0.0:9001`` or ``[::]:9001``.
"""
from __future__ import absolute_import, division, print_function

import fnmatch
import os
import re

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.nginx_listen import listen_endpoint
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.addresses import parse_nginx_target

__metaclass__ = type

_FILE_HEADER_RE = re.compile(r"^# configuration file (.+):[ \t]*$", re.M)
_V_OPTION_RE = re.compile(r"--([a-z-]+)=(\S+)")

DEFAULT_PREFIX = "/usr/share/nginx"
DEFAULT_ERROR_LOG = "/var/log/nginx/error.log"


class NginxParseError(ValueError):
    pass


class Directive:
    __slots__ = ("name", "args", "block", "file", "line")

    def __init__(self, name, args, block, file, line):
        self.name = name
        self.args = args
        self.block = block
        self.file = file
        self.line = line

    def __repr__(self):  # pragma: no cover - debugging aid
        return "Directive(%r, %r, %s)" % (self.name, self.args,
                                          "{...}" if self.block is not None else ";")


# ---------------------------------------------------------------------------------------
# dump and tokens


def split_dump(text):
    """``nginx -T`` stdout -> ordered list of ``(path, content)``."""
    files = []
    matches = list(_FILE_HEADER_RE.finditer(text))
    for idx, m in enumerate(matches):
        end = matches[idx + 1].start() if idx + 1 < len(matches) else len(text)
        content = text[m.end():end]
        if content.startswith("\n"):
            content = content[1:]
        files.append((m.group(1).strip(), content))
    return files


def tokenize(text):
    """Yield ``(token, line, quoted)``; ``{``, ``}``, ``;`` are their own tokens."""
    i = 0
    n = len(text)
    line = 1
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
            continue
        if c.isspace():
            i += 1
            continue
        if c == "#":
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if c in "{};":
            yield c, line, False
            i += 1
            continue
        if c in "\"'":
            quote = c
            j = i + 1
            buf = []
            start_line = line
            while j < n and text[j] != quote:
                if text[j] == "\\" and j + 1 < n:
                    nxt = text[j + 1]
                    if nxt in (quote, "\\"):
                        buf.append(nxt)
                    elif nxt == "n":
                        buf.append("\n")
                    elif nxt == "t":
                        buf.append("\t")
                    else:
                        buf.append("\\" + nxt)
                    j += 2
                    continue
                if text[j] == "\n":
                    line += 1
                buf.append(text[j])
                j += 1
            yield "".join(buf), start_line, True
            i = j + 1
            continue
        j = i
        buf = []
        while j < n and not text[j].isspace() and text[j] not in ";{}":
            if text[j] == "\\" and j + 1 < n:
                buf.append(text[j:j + 2])
                j += 2
                continue
            # "${var}" keeps its braces
            if text[j] == "$" and j + 1 < n and text[j + 1] == "{":
                k = text.find("}", j)
                if k > 0:
                    buf.append(text[j:k + 1])
                    j = k + 1
                    continue
            buf.append(text[j])
            j += 1
        yield "".join(buf), line, False
        i = j


def parse_block(text, path="<string>"):
    """Parse one file's text into a list of :class:`Directive`."""
    root = []
    stack = [root]
    args = []
    start_line = None
    for token, line, quoted in tokenize(text):
        if not quoted and token == ";":
            if args:
                stack[-1].append(Directive(args[0], args[1:], None, path, start_line))
            args = []
            continue
        if not quoted and token == "{":
            if not args:
                raise NginxParseError("%s:%d: block without a directive name" % (path, line))
            block = []
            stack[-1].append(Directive(args[0], args[1:], block, path, start_line))
            stack.append(block)
            args = []
            continue
        if not quoted and token == "}":
            if len(stack) == 1:
                raise NginxParseError("%s:%d: unexpected '}'" % (path, line))
            stack.pop()
            args = []
            continue
        if not args:
            start_line = line
        args.append(token)
    if len(stack) != 1:
        raise NginxParseError("%s: unexpected end of file, expecting '}'" % path)
    return root


def parse_version_output(text):
    """``nginx -V`` (stderr) -> ``{version, prefix, conf_path, error_log_path}``."""
    info = {"version": None, "prefix": None, "conf_path": None, "error_log_path": None}
    m = re.search(r"nginx version: \S+?/(\S+)", text)
    if m:
        info["version"] = m.group(1)
    for key, value in _V_OPTION_RE.findall(text):
        if key == "prefix":
            info["prefix"] = value
        elif key == "conf-path":
            info["conf_path"] = value
        elif key == "error-log-path":
            info["error_log_path"] = value
    return info


def load_dump(text, conf_path=None, conf_prefix=None):
    """Parse ``nginx -T`` output into a tree with includes spliced in.

    Returns ``(tree, files, errors)``; ``files`` is the list of dumped paths.
    """
    dumped = split_dump(text)
    if not dumped:
        raise NginxParseError("no '# configuration file' section in nginx -T output")
    parsed = {}
    order = []
    errors = []
    for path, content in dumped:
        order.append(path)
        try:
            parsed[path] = parse_block(content, path)
        except NginxParseError as exc:
            errors.append(str(exc))
            parsed[path] = []
    main = conf_path if conf_path in parsed else order[0]
    conf_prefix = conf_prefix or os.path.dirname(main)

    def expand(directives, depth):
        out = []
        for d in directives:
            if d.name == "include" and d.block is None and d.args:
                pattern = d.args[0]
                if not pattern.startswith("/"):
                    pattern = os.path.join(conf_prefix, pattern)
                matched = sorted(p for p in order if fnmatch.fnmatchcase(p, pattern))
                if not matched and not any(c in pattern for c in "*?["):
                    errors.append("%s:%s: include %s not found in the dump" % (d.file, d.line, pattern))
                if depth > 20:
                    errors.append("%s:%s: include nesting too deep" % (d.file, d.line))
                    continue
                for path in matched:
                    out.extend(expand(parsed[path], depth + 1))
                continue
            if d.block is not None:
                d = Directive(d.name, d.args, expand(d.block, depth), d.file, d.line)
            out.append(d)
        return out

    return expand(parsed[main], 0), order, errors


# ---------------------------------------------------------------------------------------
# analysis


def _first(block, name):
    for d in block:
        if d.name == name and d.block is None:
            return d
    return None


def _all(block, name):
    return [d for d in block if d.name == name]


def _error_log_entry(d, context, prefix, server_name=None):
    target = d.args[0] if d.args else ""
    level = d.args[1] if len(d.args) > 1 else "error"
    if target.startswith("syslog:"):
        kind = "syslog"
    elif target.startswith("memory:"):
        kind = "memory"
    elif target == "stderr":
        kind = "stderr"
    elif target == "/dev/null":
        kind = "null"
    else:
        kind = "file"
        if not target.startswith("/"):
            target = os.path.join(prefix, target)
    return {"path": target, "kind": kind, "level": level, "context": context,
            "server_name": server_name, "file": d.file, "line": d.line}


def _script_filename(block, inherited):
    """The ``SCRIPT_FILENAME`` fastcgi_param in effect in ``block``: ``{value, file, line}`` or
    None. As nginx inherits fastcgi_param: from the level above only when the block has no
    fastcgi_param of its own (includes are expanded in place); the last one of a level wins."""
    params = [d for d in block if d.name == "fastcgi_param" and d.block is None]
    if not params:
        return inherited
    found = None
    for d in params:
        if d.args and d.args[0] == "SCRIPT_FILENAME" and len(d.args) > 1:
            found = {"value": d.args[1], "file": d.file, "line": d.line}
    return found


def _walk_locations(block, inherited_root, path, server_name, prefix, sink, inherited_sf=None):
    """Collect locations (nested, including ``if`` blocks) with their fastcgi_pass and the
    SCRIPT_FILENAME they pass."""
    for d in block:
        if d.block is None:
            continue
        if d.name == "location":
            loc_name = " ".join(d.args)
            root_d = _first(d.block, "root")
            alias_d = _first(d.block, "alias")
            root = root_d.args[0] if root_d and root_d.args else inherited_root
            sf = _script_filename(d.block, inherited_sf)
            location = {
                "location": loc_name,
                "root": root,
                "alias": alias_d.args[0] if alias_d and alias_d.args else None,
                "fastcgi_pass": None,
                "error_logs": [_error_log_entry(e, "location", prefix, server_name)
                               for e in _all(d.block, "error_log")],
                "file": d.file,
                "line": d.line,
                "script_filename": sf,
            }
            passes = _find_fastcgi_pass(d.block)
            if passes:
                location["fastcgi_pass"] = passes[0]
            sink.append(location)
            _walk_locations(d.block, root, path + [loc_name], server_name, prefix, sink, sf)


def _find_fastcgi_pass(block):
    found = []
    for d in block:
        if d.name == "fastcgi_pass" and d.block is None and d.args:
            found.append(d.args[0])
        elif d.name == "if" and d.block is not None:
            found.extend(_find_fastcgi_pass(d.block))
    return found


def _upstreams(http_block):
    result = {}
    for d in _all(http_block, "upstream"):
        if d.block is None or not d.args:
            continue
        servers = []
        for s in _all(d.block, "server"):
            if s.args:
                servers.append({"address": s.args[0], "flags": s.args[1:]})
        result[d.args[0]] = servers
    return result


def analyse(tree, prefix=DEFAULT_PREFIX, default_error_log=DEFAULT_ERROR_LOG):
    """Walk a parsed tree: ``{error_log_entries, servers, upstreams}``."""
    entries = []
    main_logs = _all(tree, "error_log")
    if main_logs:
        entries.extend(_error_log_entry(d, "main", prefix) for d in main_logs)
    else:
        # compiled default (nginx -V --error-log-path); Debian builds say "stderr"
        entries.append({"path": default_error_log,
                        "kind": "stderr" if default_error_log == "stderr" else "file",
                        "level": "error",
                        "context": "main", "server_name": None, "file": None,
                        "line": None, "default": True})
    servers = []
    upstreams = {}
    for http in _all(tree, "http"):
        if http.block is None:
            continue
        entries.extend(_error_log_entry(d, "http", prefix) for d in _all(http.block, "error_log"))
        upstreams.update(_upstreams(http.block))
        http_root_d = _first(http.block, "root")
        http_root = http_root_d.args[0] if http_root_d and http_root_d.args else None
        http_sf = _script_filename(http.block, None)
        for srv in _all(http.block, "server"):
            if srv.block is None:
                continue
            names = []
            for sn in _all(srv.block, "server_name"):
                names.extend(sn.args)
            listens = [" ".join(l.args) for l in _all(srv.block, "listen")]
            root_d = _first(srv.block, "root")
            root = root_d.args[0] if root_d and root_d.args else (http_root or "html")
            if not root.startswith("/"):
                root = os.path.join(prefix, root)
            primary = names[0] if names else ""
            server_logs = [_error_log_entry(e, "server", prefix, primary)
                           for e in _all(srv.block, "error_log")]
            entries.extend(server_logs)
            locations = []
            server_sf = _script_filename(srv.block, http_sf)
            _walk_locations(srv.block, root, [], primary, prefix, locations, server_sf)
            for loc in locations:
                entries.extend(loc["error_logs"])
                if loc["root"] and not loc["root"].startswith("/"):
                    loc["root"] = os.path.join(prefix, loc["root"])
            server_pass = _first(srv.block, "fastcgi_pass")
            ssl_d = _first(srv.block, "ssl")
            servers.append({
                "ssl_on": bool(ssl_d and ssl_d.args and ssl_d.args[0] == "on"),
                "server_name": primary,
                "server_names": names,
                "listen": listens or ["80"],
                "root": root,
                "fastcgi_pass": server_pass.args[0] if server_pass and server_pass.args else None,
                "script_filename": server_sf,
                "locations": locations,
                "file": srv.file,
                "line": srv.line,
            })
    return {"error_log_entries": entries, "servers": servers, "upstreams": upstreams}


# ---------------------------------------------------------------------------------------
# addresses


def resolve_targets(analysis):
    """Every fastcgi_pass use: ``[{target, via, server_name, root, location}]``.

    Upstream names are expanded to their servers; ``via`` then names the upstream.
    """
    upstreams = analysis.get("upstreams", {})
    uses = []
    for srv in analysis["servers"]:
        candidates = []
        if srv.get("fastcgi_pass"):
            candidates.append((srv["fastcgi_pass"], srv["root"], None, srv.get("script_filename")))
        for loc in srv["locations"]:
            if loc["fastcgi_pass"]:
                candidates.append((loc["fastcgi_pass"], loc["alias"] or loc["root"], loc["location"],
                                   loc.get("script_filename")))
        for address, root, location, sf in candidates:
            parsed = parse_nginx_target(address)
            targets = [(address, None, parsed)]
            if parsed[0] == "name" and address in upstreams:
                targets = [(s["address"], address, parse_nginx_target(s["address"]))
                           for s in upstreams[address]]
            for target, via, taddr in targets:
                uses.append({
                    "target": target,
                    "via": via,
                    "address": taddr,
                    "server_name": srv["server_name"],
                    "server_names": list(srv.get("server_names") or []),
                    "listen": list(srv.get("listen") or []),
                    "endpoint": listen_endpoint(srv.get("listen"), srv.get("ssl_on")),
                    "root": root,
                    "location": location,
                    "script_filename": sf,
                })
    return uses


def error_log_paths(entries):
    """Unique file paths of error log entries, in order."""
    seen = []
    for e in entries:
        if e["kind"] == "file" and e["path"] not in seen:
            seen.append(e["path"])
    return seen


def parse_local_addresses(fib_trie_text="", if_inet6_text=""):
    """Local IPv4 (``/proc/net/fib_trie`` LOCAL entries) and IPv6 (``if_inet6``) addresses."""
    addrs = set()
    last_ip = None
    for line in fib_trie_text.splitlines():
        m = re.search(r"\|--\s+(\d+\.\d+\.\d+\.\d+)", line)
        if m:
            last_ip = m.group(1)
            continue
        if "/32 host LOCAL" in line and last_ip:
            addrs.add(last_ip)
    for line in if_inet6_text.splitlines():
        parts = line.split()
        if parts and len(parts[0]) == 32:
            raw = parts[0]
            groups = [raw[i:i + 4] for i in range(0, 32, 4)]
            addrs.add(_compress_v6(groups))
    return addrs


def _compress_v6(groups):
    try:
        import ipaddress
        return str(ipaddress.IPv6Address(":".join(groups)))
    except ValueError:  # pragma: no cover
        return ":".join(groups)
