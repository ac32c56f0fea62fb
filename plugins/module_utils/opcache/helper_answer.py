# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the helper answered: its error, the check of a decoded answer, the classification of
an answer that is not JSON.

Private to opcache-fleet. Standard library only, Python 3.8+.

The peer behind a pool socket is not trusted (issue 11): every answer is checked for the
shape the helper writes before any of it is used, so a hostile or broken peer gives a
:class:`HelperError` (``bad_answer``) and never an AttributeError past the cleanup; and
whatever of the peer's text goes into a message is bounded (:func:`clip`).
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Longest piece of peer text put into one message.
MAX_QUOTE = 200

_SCALAR = (str, bool, type(None))
_NUMBER = (int, float, type(None))
# Top-level fields of an answer and the JSON types each may have (bool is an int in Python:
# it is refused where a number is expected by the explicit test in check_shape).
ANSWER_FIELDS = {
    "ini": (dict,),
    "warnings": (list,),
    "status": (dict, type(None)),
    "configuration": (dict, type(None)),
    "scripts": (list, type(None)),
    "files": (dict,),
    "reset": (bool,),
    "restricted": (bool,),
    "error": (str,),
    "pid": _NUMBER,
    "master_pid": _NUMBER,
    "time": _NUMBER,
    "pool": (str, type(None)),
    "helper_path": (str, type(None)),
    "php_version": (str, type(None)),
}


class HelperError(Exception):
    """The helper could not run or answer.

    ``cause`` names the blocking setting when one is known (``open_basedir``,
    ``opcache.restrict_api``, ``security.limit_extensions``, ``chroot``,
    ``PrivateTmp``, ``opcache.enable``) or a short code (ENOENT, ECONNREFUSED,
    EACCES, timeout, truncated, protocol, permissions, nonce, bad_answer, peer,
    forbidden, expired, helper_dir, ...).
    """

    def __init__(self, sock, cause, detail, stderr=None, status=None):
        self.socket = sock
        self.cause = cause
        self.detail = detail
        self.stderr = stderr
        self.status = status
        super(HelperError, self).__init__("%s: %s [cause: %s]" % (sock, detail, cause))

    def as_dict(self):
        return {"socket": self.socket, "cause": self.cause, "msg": str(self),
                "stderr": self.stderr, "status": self.status}


def clip(value, limit=MAX_QUOTE):
    """``repr`` of a value from the peer, cut to ``limit`` characters (with a note)."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return "%s... (%d characters cut)" % (text[:limit], len(text) - limit)


def first_line(text, limit=MAX_QUOTE):
    """The first non-empty line of ``text``, at most ``limit`` characters."""
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line if len(line) <= limit else "%s... (%d characters cut)" % (line[:limit], len(line) - limit)
    return ""


def classify_error(sock, response, script_filename):
    """Map a non-JSON php-fpm answer to a HelperError naming the blocking setting."""
    err = response.stderr_text
    body = response.body[:300].decode("utf-8", "replace")
    status = response.status
    if "security.limit_extensions" in err:
        return HelperError(sock, "security.limit_extensions",
                           "php-fpm refused to run %s: its extension is not allowed by the pool's "
                           "security.limit_extensions" % script_filename, err, status)
    if "open_basedir" in err or ("Unable to open primary script" in err and "Operation not permitted" in err):
        return HelperError(sock, "open_basedir",
                           "the pool's open_basedir excludes the helper %s (set helper_dir to a "
                           "directory inside open_basedir and outside every document root)"
                           % script_filename, err, status)
    if "Unable to open primary script" in err and "Permission denied" in err:
        return HelperError(sock, "permissions",
                           "the pool user cannot read the helper %s (helper directory mode, pool "
                           "user/group)" % script_filename, err, status)
    if "Primary script unknown" in err or "No such file or directory" in err or \
            "No input file specified" in body:
        return HelperError(sock, "chroot/PrivateTmp",
                           "the pool does not see the helper at %s: a chroot (pool 'chroot'), a "
                           "private mount namespace (systemd PrivateTmp/ProtectSystem) or a "
                           "container hides it" % script_filename, err, status)
    if "restrict_api" in err:
        return HelperError(sock, "opcache.restrict_api",
                           "opcache.restrict_api forbids the helper at %s" % script_filename, err, status)
    first = first_line(err) or first_line(body)
    return HelperError(sock, "bad_answer",
                       "the helper did not answer JSON (HTTP status %s, app status %s): %s"
                       % (status, response.app_status, first), err, status)


def check_shape(sock, answer):
    """Refuse an answer whose fields do not have the types the helper writes."""
    if not isinstance(answer, dict):
        raise HelperError(sock, "bad_answer", "the answer is a JSON %s, not an object: %s"
                          % (type(answer).__name__, clip(answer)))
    for name, types in ANSWER_FIELDS.items():
        if name not in answer:
            continue
        value = answer[name]
        wrong = not isinstance(value, types) or (types is _NUMBER and isinstance(value, bool))
        if wrong:
            raise HelperError(sock, "bad_answer", "the answer's %r is a JSON %s: %s"
                              % (name, type(value).__name__, clip(value)))
    for key, value in (answer.get("ini") or {}).items():
        if not isinstance(value, _SCALAR):
            raise HelperError(sock, "bad_answer", "the answer's ini[%s] is a JSON %s: %s"
                              % (clip(key), type(value).__name__, clip(value)))
    for entry in answer.get("scripts") or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("full_path"), str):
            raise HelperError(sock, "bad_answer", "a script entry of the answer is not an object with "
                              "a full_path: %s" % clip(entry))
    for path, entry in (answer.get("files") or {}).items():
        if not isinstance(entry, dict):
            raise HelperError(sock, "bad_answer", "the answer's entry for %s is a JSON %s, not an object"
                              % (clip(path), type(entry).__name__))


def check_answer(sock, answer, nonce, action):
    """Validate a decoded answer: it is ours (nonce), well formed, OPcache works and is reachable."""
    if not isinstance(answer, dict) or answer.get("helper") != "opcache-fleet":
        raise HelperError(sock, "bad_answer", "the answer is not from the opcache-fleet helper: %s"
                          % clip(answer))
    if answer.get("error") == "forbidden":
        raise HelperError(sock, "forbidden", "the helper refused the request: its token did not match "
                          "(a helper file not written by this run?)")
    if answer.get("error") == "expired":
        raise HelperError(sock, "expired", "the helper refused the request: its file is older than the "
                          "helper accepts (10 minutes; clocks of the pool and of this host differ?)")
    if answer.get("nonce") != nonce:
        raise HelperError(sock, "nonce", "the answer carries nonce %s, expected %r: not our request"
                          % (clip(answer.get("nonce"), 40), nonce))
    check_shape(sock, answer)
    if answer.get("error") == "opcache_not_loaded":
        raise HelperError(sock, "opcache.enable",
                          "OPcache is not loaded in this pool (zend_extension=opcache missing)")
    if answer.get("restricted"):
        raise HelperError(sock, "opcache.restrict_api",
                          "opcache.restrict_api=%s forbids the helper at %s"
                          % (clip((answer.get("ini") or {}).get("opcache.restrict_api")),
                             clip(answer.get("helper_path"))))
    if answer.get("error"):
        raise HelperError(sock, answer["error"][:40], "the helper refused action %r: %s"
                          % (action, clip(answer["error"])))
    return answer
