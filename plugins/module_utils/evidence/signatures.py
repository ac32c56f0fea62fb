# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: opcache-fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Matching records against the signature table (private helper of fpm_evidence).

The table itself is data, in evidence/signature_table.py; here it is compiled once
(``Matcher``) and each record's message is tried against the entries of its kind,
first match wins, and the named groups become the event's fields.
"""

from __future__ import absolute_import, division, print_function

import re

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.parse import nginx_message_text
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.signature_table import SIGNAL_NAMES, SIGNATURES

__all__ = ["Matcher", "signature_by_id"]

_SIGNUM = dict((v, k) for k, v in SIGNAL_NAMES.items())

_INT_FIELDS = frozenset(("pid", "errno", "signal_number", "exit_code", "uid", "max_children", "spawning",
                         "idle", "total", "config_line"))
_FLOAT_FIELDS = frozenset(("uptime_s", "elapsed_s"))
_LIFECYCLE = {
    "fpm is running": "start", "ready to handle": "ready", "Reloading": "reload", "reloading": "reload",
    "Terminating": "stop", "Finishing": "stop", "exiting": "exit", "error log": "log_reopen",
    "using inherited": "start", "systemd monitor": "start",
    # why no master serves (see the lifecycle entry of the signature table)
    "configuration file": "config_ok", "[": "config_error", "failed to load": "config_error",
    "failed to post": "config_error", "'request_slowlog": "config_error",
    "FPM initialization": "init_failed", "unable to bind": "listen_failed", "failed to listen": "listen_failed",
    "failed to create": "listen_failed", "An": "already_listening", "failed to reload": "reload_failed",
    "'user'": "directive_ignored", "'group'": "directive_ignored", "user ": "directive_ignored",
    "group ": "directive_ignored", "Failed implicitly": "ipv6_fallback",
}
_RE_REQ = re.compile(r"(?P<method>[A-Z][A-Z_\-]{0,19}) (?P<uri>\S*)")


def signature_by_id(sig_id):
    for s in SIGNATURES:
        if s["id"] == sig_id:
            return s
    raise KeyError(sig_id)


def _as_tuple(v):
    return v if isinstance(v, tuple) else (v,)


_EXTRA_KEYS = frozenset(("module_base", "module_size", "target", "syscall", "phase", "what", "trap", "hint", "op",
                         "reason", "core_path", "detail", "stderr"))


class _Compiled(object):
    __slots__ = ("id", "source_kind", "prefilter", "regexes", "fields", "tags", "groups")

    def __init__(self, entry):
        self.id = entry["id"]
        self.source_kind = entry["source_kind"]
        # a literal that holds another of the same entry adds nothing to "one of them is in
        # the text" (the shorter one is there too): fewer to try per record, same answer
        lits = [p.decode("ascii") for p in _as_tuple(entry["prefilter"])]
        self.prefilter = tuple(p for p in lits if not any(o != p and o in p for o in lits))
        self.regexes = tuple(re.compile(r) for r in _as_tuple(entry["regex"]))
        self.fields = tuple(entry["fields"])
        self.tags = entry.get("tags")
        # per regex, its groups in order as (group, output key, conversion); groups whose
        # key is neither a field nor an extra key are left out (see Matcher._fields)
        self.groups = {}
        for rx in self.regexes:
            plan = []
            for name in sorted(rx.groupindex, key=rx.groupindex.get):
                k = name
                if k[-1].isdigit():      # alias of a group used twice in one regex
                    k = k.rstrip("0123456789")
                elif k == "master_pid":
                    k = "pid"
                if k not in self.fields and k not in _EXTRA_KEYS:
                    continue
                conv = int if k in _INT_FIELDS else float if k in _FLOAT_FIELDS else None
                plan.append((rx.groupindex[name], k, conv))
            # keyed by identity: hashing a compiled pattern hashes its whole program each time
            self.groups[id(rx)] = tuple(plan)


class Matcher(object):
    """Compiled signature table. ``match(kind, message, tag)`` -> (category, source_kind,
    fields) or None; ``kind`` is the record kind from evidence/parse.py ('nginx', 'php-fpm',
    'other': kernel and coredump signatures are tried on 'other')."""

    CACHE_SIZE = 4096
    CACHE_TEXT = 512        # longer texts are matched each time (the cache stays a few MB)

    def __init__(self, signatures=SIGNATURES, cache=True):
        # nginx's own words of a record (its text before ", client: ") repeat: the same
        # "recv() failed (104: ...) while reading response header from upstream" on every
        # failed request. Their match is kept per text (the fields are a function of the
        # text alone, see _fields), and each caller gets its own copy of the fields.
        self.cache = {} if cache else None
        self.by_kind = {"nginx": [], "php-fpm": [], "other": []}
        self._tried = {}
        for entry in signatures:
            c = _Compiled(entry)
            key = c.source_kind if c.source_kind in ("nginx", "php-fpm") else "other"
            self.by_kind[key].append(c)

    def match(self, kind, message, tag=None, kinds=None, cut_ok=True):
        """First matching signature for a record. Records without a recognised header
        ('other': kernel, syslog, pasted fragments) are tried against the kernel and
        coredump signatures first, then the nginx and php-fpm ones. ``kinds`` (source
        kinds the file is searched for; None: all): signatures of other kinds are not
        tried at all, so a record of a file can only be evidence its source writes.
        ``cut_ok``: whether a match of a record cut before its phase (the ``cut`` group
        of signature_table._cut_after_errno) counts; the caller knows the record's header."""
        if kinds is not None and not isinstance(kinds, frozenset):
            kinds = frozenset(kinds)        # a key of the caches below
        if kind == "nginx" and self.cache is not None:
            text = nginx_message_text(message)
            if len(text) > self.CACHE_TEXT:
                return self._match(kind, text, tag, kinds, cut_ok, text_only=True)
            key = (text, tag, kinds, cut_ok)
            res = self.cache.get(key)
            if res is None:
                res = self._match(kind, text, tag, kinds, cut_ok, text_only=True) or ()
                if len(self.cache) >= self.CACHE_SIZE:
                    self.cache.clear()
                self.cache[key] = res
            return (res[0], res[1], dict(res[2])) if res else None
        if kind == "other":
            for k in ("other", "nginx", "php-fpm"):
                res = self._match(k, message, tag, kinds, cut_ok)
                if res is not None:
                    return res
            return None
        return self._match(kind, message, tag, kinds, cut_ok)

    def _match(self, kind, message, tag, kinds=None, cut_ok=True, text_only=False):
        if kind == "nginx" and not text_only:
            # only nginx's own words: request, host and referrer are the client's
            message = nginx_message_text(message)
        sigs = self._tried.get((kind, kinds))
        if sigs is None:
            # the entries of a record kind that the file's kinds allow, in table order
            sigs = self._tried[(kind, kinds)] = tuple(
                sig for sig in self.by_kind.get(kind, ()) if kinds is None or sig.source_kind in kinds)
        for sig in sigs:
            for p in sig.prefilter:
                if p in message:
                    break
            else:
                continue
            if sig.tags is not None and tag is not None and tag not in sig.tags:
                continue
            for rx in sig.regexes:
                m = rx.search(message)
                if m is not None:
                    if not cut_ok and "cut" in rx.groupindex and m.group("cut") is not None:
                        continue
                    return sig.id, sig.source_kind, self._fields(sig, m, message)
        return None

    @staticmethod
    def _fields(sig, m, message):
        out = dict.fromkeys(sig.fields)
        groups = m.groups()
        for gi, k, conv in sig.groups[id(m.re)]:
            v = groups[gi - 1]
            if v is None:
                continue
            if conv is not None:
                try:
                    v = conv(v)
                except ValueError:
                    continue
            out[k] = v
        cid = sig.id
        if "core_dumped" in out:
            out["core_dumped"] = "core dumped" in message
        if "signal_number" in out or "signal_name" in out:
            num, name = out.get("signal_number"), out.get("signal_name")
            if name and not name.startswith("SIG"):
                # systemd writes the short name: "Caught <SEGV>, dumped core as pid 9102."
                name = out["signal_name"] = "SIG" + name
            if num is None and name:
                out["signal_number"] = _SIGNUM.get(name)
            if name is None and num is not None:
                out["signal_name"] = SIGNAL_NAMES.get(num)
        if "module" in out and out["module"] is not None:
            mod = out["module"].strip()
            if mod.endswith(" (deleted)"):
                mod = mod[:-10]
            out["module"] = mod or None
        if "is_php" in out:
            proc = out.get("process") or ""
            out["is_php"] = "php" in proc.lower()
        if cid == "lifecycle":
            names = m.re.groupindex
            ev = m.group("child_event") if "child_event" in names else None
            if ev:
                out["lifecycle_event"] = "child_started" if ev == "started" else "child_recycled"
            else:
                phrase = (m.group("phrase") if "phrase" in names else None) or ""
                for k, v in _LIFECYCLE.items():
                    if phrase.startswith(k):
                        out["lifecycle_event"] = v
                        break
        if "request" in out and out.get("request") and "method" in out:
            rm = _RE_REQ.match(out["request"])
            if rm:
                out["method"] = rm.group("method")
                out["path"] = rm.group("uri").split("?", 1)[0]
        return out
